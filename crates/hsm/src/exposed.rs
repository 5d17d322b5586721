//! Exposed keys (extension): generated and sealed like any key, but their
//! material is also returned once, in clear, to the creator. The frontend
//! marks such a key exposed for ever.

use crate::scope::Requester;
use strongroom_crypto::{AsymmetricKey, HmacKey, SecretKey256};
use strongroom_hsm_proto::ciphertext::CiphertextHeader;
use strongroom_hsm_proto::{HsmError, KeyRef, KeySpecCode, Response};
use zeroize::Zeroizing;

use crate::ekt;
use crate::module::Module;

fn internal(e: impl std::fmt::Display) -> HsmError {
    HsmError::Internal(e.to_string())
}

impl Module {
    /// GenerateExposedKey: the EKT and the material the key's users need
    /// (the AES key, the HMAC key itself, or the private key as PKCS#8).
    pub(crate) fn generate_exposed_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Response, HsmError> {
        if let Some(asym) = spec.asymmetric() {
            let pair = AsymmetricKey::generate(asym).map_err(internal)?;
            let dk = self.current_domain(caller)?;
            let ekt = ekt::seal_material(dk, key, spec, pair.expose_pkcs8())?;
            return Ok(Response::ExposedKey {
                ekt,
                material: Zeroizing::new(pair.expose_pkcs8().to_vec()),
            });
        }
        let secret = SecretKey256::generate().map_err(internal)?;
        let material = match spec.hmac() {
            Some(alg) => Zeroizing::new(
                HmacKey::derive(secret.expose(), alg)
                    .map_err(internal)?
                    .expose()
                    .to_vec(),
            ),
            None => Zeroizing::new(secret.expose().to_vec()),
        };
        let dk = self.current_domain(caller)?;
        let domain = dk.id();
        let ekt = ekt::seal(dk, key, spec, &secret)?;
        self.vault.insert(
            key,
            domain,
            spec,
            &secret,
            strongroom_crypto::sha256(&ekt.0),
        );
        Ok(Response::ExposedKey { ekt, material })
    }

    /// DeriveKey: HKDF of the version's backing key and the context; the
    /// derived key, and its derived-key token under the key (context as
    /// AAD), which no Decrypt opens.
    pub(crate) fn derive_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &strongroom_hsm_proto::Ekt,
        context: &[u8],
        length: u16,
    ) -> Result<Response, HsmError> {
        if !(16..=64).contains(&length) {
            return Err(HsmError::InvalidRequest(
                "derived keys are 16-64 bytes".into(),
            ));
        }
        let backing = self.backing_key(caller, key, ekt)?;
        // Deterministic for (key version, context); different per
        // version, so a rotation derives new keys.
        let mut derived = Zeroizing::new(vec![0u8; usize::from(length)]);
        let mut info = b"strongroom derive key v1".to_vec();
        info.extend_from_slice(key.key_id.as_bytes());
        info.extend_from_slice(&key.version.to_be_bytes());
        info.extend_from_slice(context);
        let okm = strongroom_crypto::hkdf_sha256_bytes(
            backing,
            b"strongroom derive",
            &[&info],
            usize::from(length),
        )
        .map_err(|e| HsmError::Internal(e.to_string()))?;
        derived.copy_from_slice(okm.expose());
        // A token of its own kind: Decrypt and ReEncrypt never open it, so
        // the derived key leaves in clear only through a reveal.
        let ciphertext = crate::symmetric::seal_derived_key_token(backing, key, &derived, context)?;
        Ok(Response::DataKey(strongroom_hsm_proto::DataKey {
            plaintext: Some(derived),
            ciphertext,
        }))
    }

    /// RevealDerivedKey: opens a derived-key token of `key`, the version
    /// its header names, with the context it was made for.
    pub(crate) fn reveal_derived_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &strongroom_hsm_proto::Ekt,
        token: &[u8],
        context: &[u8],
    ) -> Result<Response, HsmError> {
        self.require_use()?;
        let header = CiphertextHeader::parse_derived_key_token(token)
            .map_err(|_| HsmError::InvalidCiphertext)?;
        if header.key != key {
            return Err(HsmError::InvalidCiphertext);
        }
        let backing = self.backing_key(caller, key, ekt)?;
        let derived = crate::symmetric::open_derived_key_token(backing, &header, token, context)?;
        Ok(Response::DataKey(strongroom_hsm_proto::DataKey {
            plaintext: Some(derived),
            ciphertext: token.to_vec(),
        }))
    }
}
