//! Importing customer key material (BYOK): RSA wrapping keys made in the
//! module, handed out only as an import token (the private key sealed under
//! the domain as its own token kind, bound to the KMS key, the wrapping
//! algorithm and an expiry, and MACed), and unwrapping of the material into
//! a normal EKT. The wrapping key is a [`WrappingKeyEkt`]: no signing or
//! decryption path takes one, and its kind is bound into its AEAD, so its
//! bytes presented as an EKT do not open.
//!
//! Import token: `encode(ImportTokenBody)` (format version byte ‖
//! postcard) ‖ HMAC-SHA256 (32 bytes) under the domain's import subkey.

use crate::scope::Requester;
use serde::{Deserialize, Serialize};
use strongroom_crypto::{AsymmetricKey, OaepHash, SecretKey256};
use strongroom_hsm_proto::admin::{decode, encode};
use strongroom_hsm_proto::{HsmError, KeyRef, KeySpecCode, Response};
use uuid::Uuid;

use crate::DomainKey;
use crate::ekt::{self, WrappingKeyEkt};
use crate::module::{Module, now_secs};

#[derive(Serialize, Deserialize)]
struct ImportTokenBody {
    key_id: Uuid,
    algorithm: String,
    valid_to: u64,
    wrapping_key: WrappingKeyEkt,
}

/// How the material is wrapped.
enum Wrapping {
    Oaep(OaepHash),
    RsaAes(OaepHash),
}

fn wrapping(name: &str) -> Result<Wrapping, HsmError> {
    Ok(match name {
        "RSAES_OAEP_SHA_1" => Wrapping::Oaep(OaepHash::Sha1),
        "RSAES_OAEP_SHA_256" => Wrapping::Oaep(OaepHash::Sha256),
        "RSA_AES_KEY_WRAP_SHA_1" => Wrapping::RsaAes(OaepHash::Sha1),
        "RSA_AES_KEY_WRAP_SHA_256" => Wrapping::RsaAes(OaepHash::Sha256),
        other => {
            return Err(HsmError::InvalidRequest(format!(
                "unsupported wrapping algorithm {other}"
            )));
        }
    })
}

/// An import token that checked out, with its wrapping key opened.
pub(crate) struct OpenedImportToken {
    /// The RSA wrapping key pair.
    pub(crate) pair: AsymmetricKey,
    wrapping: Wrapping,
    /// Domain and generation the wrapping key is sealed under.
    pub(crate) domain: Uuid,
    pub(crate) generation: u32,
}

/// Encodes and MACs an import token under `dk`'s import subkey.
pub(crate) fn seal_token(
    dk: &DomainKey,
    key_id: Uuid,
    algorithm: String,
    valid_to: u64,
    wrapping_key: WrappingKeyEkt,
) -> Vec<u8> {
    let body = encode(&ImportTokenBody {
        key_id,
        algorithm,
        valid_to,
        wrapping_key,
    });
    let mut token = body.clone();
    token.extend_from_slice(&dk.import_mac().sign(&body));
    token
}

/// Checks an import token for `key_id` at `now` (shape, MAC under the
/// domain key `domain_key` finds for its wrapping key, binding, expiry)
/// and opens its wrapping key (of the wrapping-key kind only).
pub(crate) fn open_token<'a>(
    token: &[u8],
    key_id: Uuid,
    now: u64,
    domain_key: impl FnOnce(Uuid, u32) -> Result<&'a DomainKey, HsmError>,
) -> Result<OpenedImportToken, HsmError> {
    if token.len() < 32 {
        return Err(HsmError::InvalidImportToken);
    }
    let (body_bytes, mac) = token.split_at(token.len() - 32);
    let body: ImportTokenBody = decode(body_bytes).map_err(|_| HsmError::InvalidImportToken)?;
    let (domain, generation) =
        ekt::domain_of_kind(&body.wrapping_key).map_err(|_| HsmError::InvalidImportToken)?;
    let dk = domain_key(domain, generation)?;
    if !dk.import_mac().verify(body_bytes, mac) || body.key_id != key_id {
        return Err(HsmError::InvalidImportToken);
    }
    if body.valid_to < now {
        return Err(HsmError::ExpiredImportToken);
    }
    let opened =
        ekt::open_wrapping_key(dk, &body.wrapping_key).map_err(|_| HsmError::InvalidImportToken)?;
    let asym = opened
        .spec
        .asymmetric()
        .ok_or(HsmError::InvalidImportToken)?;
    if opened.key.key_id != key_id {
        return Err(HsmError::InvalidImportToken);
    }
    let pair = AsymmetricKey::from_pkcs8(asym, &opened.material)
        .map_err(|_| HsmError::InvalidImportToken)?;
    Ok(OpenedImportToken {
        pair,
        wrapping: wrapping(&body.algorithm)?,
        domain,
        generation,
    })
}

/// The expiry an import token's body states (unverified), for the fuzzer.
#[cfg(feature = "fuzzing")]
pub(crate) fn token_valid_to(token: &[u8]) -> Option<u64> {
    let body_bytes = token.get(..token.len().checked_sub(32)?)?;
    decode::<ImportTokenBody>(body_bytes)
        .ok()
        .map(|b| b.valid_to)
}

impl Module {
    /// PrepareImport.
    pub(crate) fn prepare_import(
        &mut self,
        caller: &Requester,
        key_id: Uuid,
        wrapping_spec: KeySpecCode,
        algorithm: String,
        valid_to: u64,
    ) -> Result<Response, HsmError> {
        wrapping(&algorithm)?;
        let spec = wrapping_spec
            .asymmetric()
            .filter(|s| s.is_rsa())
            .ok_or_else(|| HsmError::InvalidRequest("the wrapping key must be RSA".into()))?;
        let pair = AsymmetricKey::generate(spec).map_err(|e| HsmError::Internal(e.to_string()))?;
        let dk = self.current_domain(caller)?;
        let wrapping_key = ekt::seal_wrapping_key(dk, key_id, wrapping_spec, pair.expose_pkcs8())?;
        let token = seal_token(dk, key_id, algorithm, valid_to, wrapping_key);
        Ok(Response::ImportParameters {
            public_key: pair.public_key().to_vec(),
            import_token: token,
        })
    }

    /// Checks an import token for `key_id` and unwraps `encrypted` with
    /// its wrapping key; also returns the domain's import MAC key's owner
    /// (for fingerprints).
    pub(crate) fn unwrap_with_token(
        &mut self,
        caller: &Requester,
        key_id: Uuid,
        token: &[u8],
        encrypted: &[u8],
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, Uuid, u32), HsmError> {
        self.current_domain(caller)?;
        let opened = open_token(token, key_id, now_secs(), |domain, generation| {
            self.domain_key(caller, domain, generation)
        })?;
        let material = match opened.wrapping {
            Wrapping::Oaep(h) => opened.pair.decrypt(h, encrypted),
            Wrapping::RsaAes(h) => opened.pair.unwrap_rsa_aes(h, encrypted),
        }
        .map_err(|_| HsmError::UndecryptableMaterial)?;
        Ok((material, opened.domain, opened.generation))
    }

    /// ImportKeyMaterial: symmetric (256-bit) material only.
    pub(crate) fn import_key_material(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &[u8],
        encrypted: &[u8],
    ) -> Result<Response, HsmError> {
        let (material, domain, generation) =
            self.unwrap_with_token(caller, key.key_id, token, encrypted)?;
        let dk = self.domain_key(caller, domain, generation)?;
        if material.len() != 32 {
            return Err(HsmError::IncorrectKeyMaterial(format!(
                "symmetric key material must be 256 bits, got {} bits",
                material.len() * 8
            )));
        }
        let secret =
            SecretKey256::from_slice(&material).map_err(|e| HsmError::Internal(e.to_string()))?;
        let mut labelled = b"imported material v1".to_vec();
        labelled.extend_from_slice(key.key_id.as_bytes());
        labelled.extend_from_slice(&material);
        let fingerprint = dk.import_mac().sign(&labelled).to_vec();
        zeroize::Zeroize::zeroize(&mut labelled);
        let newest = self.current_domain(caller)?;
        let domain_id = newest.id();
        let token = ekt::seal(newest, key, KeySpecCode::SymmetricDefault, &secret)?;
        // Cached under this token only: if the frontend refuses the import
        // (a fingerprint mismatch), no other token of the version hits it.
        let digest = strongroom_crypto::sha256(&token.0);
        self.vault.insert(
            key,
            domain_id,
            KeySpecCode::SymmetricDefault,
            &secret,
            digest,
        );
        Ok(Response::Imported {
            ekt: token,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ekt::Sealed;

    fn domain() -> DomainKey {
        DomainKey::from_parts(
            Uuid::from_u128(1),
            1,
            SecretKey256::from_slice(&[7; 32]).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn import_token_carrying_a_key_ekt_as_its_wrapping_key_is_refused_even_with_a_valid_mac() {
        let dk = domain();
        let key_id = Uuid::from_u128(2);
        let key = KeyRef { key_id, version: 0 };
        let as_key = ekt::seal_key(&dk, key, KeySpecCode::Rsa2048, &[5; 64], None).unwrap();
        let forged = WrappingKeyEkt::from_bytes(as_key.0);
        let token = seal_token(&dk, key_id, "RSAES_OAEP_SHA_256".into(), 100, forged);
        let r = open_token(&token, key_id, 50, |_, _| Ok(&dk));
        assert!(matches!(r, Err(HsmError::InvalidImportToken)));
    }

    #[test]
    fn import_token_is_refused_after_its_expiry_for_another_key_and_when_truncated() {
        let dk = domain();
        let key_id = Uuid::from_u128(2);
        let w = ekt::seal_wrapping_key(&dk, key_id, KeySpecCode::Rsa2048, &[5; 64]).unwrap();
        let token = seal_token(&dk, key_id, "RSAES_OAEP_SHA_256".into(), 100, w);
        let expired = open_token(&token, key_id, 101, |_, _| Ok(&dk));
        assert!(matches!(expired, Err(HsmError::ExpiredImportToken)));
        let other = open_token(&token, Uuid::from_u128(3), 50, |_, _| Ok(&dk));
        assert!(matches!(other, Err(HsmError::InvalidImportToken)));
        let short = open_token(&token[..31], key_id, 50, |_, _| Ok(&dk));
        assert!(matches!(short, Err(HsmError::InvalidImportToken)));
    }
}
