//! Importing customer key material (BYOK): RSA wrapping keys made in the
//! module, handed out only as an import token (the private key sealed under
//! the domain, bound to the KMS key, the wrapping algorithm and an expiry,
//! and MACed), and unwrapping of the material into a normal EKT.
//!
//! Import token: `bincode(ImportTokenBody)` ‖ HMAC-SHA256 (32 bytes) under
//! the domain's import subkey.

use serde::{Deserialize, Serialize};
use strongroom_crypto::{AsymmetricKey, OaepHash, SecretKey256};
use strongroom_hsm_proto::admin::{decode, encode};
use strongroom_hsm_proto::{Caller, Ekt, HsmError, KeyRef, KeySpecCode, Response};
use uuid::Uuid;

use crate::module::{Module, now_secs};
use crate::{DomainKey, ekt};

#[derive(Serialize, Deserialize)]
struct ImportTokenBody {
    key_id: Uuid,
    algorithm: String,
    valid_to: u64,
    wrapping_key: Ekt,
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
    wrapping_key: Ekt,
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
/// and opens its wrapping key.
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
        ekt::domain_of(&body.wrapping_key).map_err(|_| HsmError::InvalidImportToken)?;
    let dk = domain_key(domain, generation)?;
    if !dk.import_mac().verify(body_bytes, mac) || body.key_id != key_id {
        return Err(HsmError::InvalidImportToken);
    }
    if body.valid_to < now {
        return Err(HsmError::ExpiredImportToken);
    }
    let (bound, spec, pkcs8) =
        ekt::open_material(dk, &body.wrapping_key).map_err(|_| HsmError::InvalidImportToken)?;
    let asym = spec.asymmetric().ok_or(HsmError::InvalidImportToken)?;
    if bound.key_id != key_id {
        return Err(HsmError::InvalidImportToken);
    }
    let pair = AsymmetricKey::from_pkcs8(asym, &pkcs8).map_err(|_| HsmError::InvalidImportToken)?;
    Ok(OpenedImportToken {
        pair,
        wrapping: wrapping(&body.algorithm)?,
        domain,
        generation,
    })
}

impl Module {
    /// PrepareImport.
    pub(crate) fn prepare_import(
        &mut self,
        caller: &Caller,
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
        let wrapping_key = ekt::seal_material(
            dk,
            KeyRef { key_id, version: 0 },
            wrapping_spec,
            pair.expose_pkcs8(),
        )?;
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
        caller: &Caller,
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
        caller: &Caller,
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
        self.vault
            .insert(key, domain_id, KeySpecCode::SymmetricDefault, &secret);
        Ok(Response::Imported {
            ekt: token,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use strongroom_crypto::AsymmetricSpec;

    use super::*;

    fn token(dk: &DomainKey, key_id: Uuid, valid_to: u64) -> Vec<u8> {
        let pair = AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap();
        let wrapping = ekt::seal_material(
            dk,
            KeyRef { key_id, version: 0 },
            KeySpecCode::Rsa2048,
            pair.expose_pkcs8(),
        )
        .unwrap();
        seal_token(dk, key_id, "RSAES_OAEP_SHA_256".into(), valid_to, wrapping)
    }

    fn open(dk: &DomainKey, t: &[u8], key_id: Uuid, now: u64) -> Result<(Uuid, u32), HsmError> {
        open_token(t, key_id, now, |_, _| Ok(dk)).map(|o| (o.domain, o.generation))
    }

    #[test]
    fn sealed_token_opens_for_its_key_until_it_expires() {
        let dk = DomainKey::generate().unwrap();
        let key_id = Uuid::new_v4();
        let t = token(&dk, key_id, 100);
        assert_eq!(open(&dk, &t, key_id, 100).unwrap(), (dk.id(), 1));
        assert_eq!(
            open(&dk, &t, key_id, 101).unwrap_err(),
            HsmError::ExpiredImportToken
        );
        assert_eq!(
            open(&dk, &t, Uuid::new_v4(), 100).unwrap_err(),
            HsmError::InvalidImportToken
        );
    }

    #[test]
    fn forged_truncated_or_foreign_import_tokens_are_refused() {
        let dk = DomainKey::generate().unwrap();
        let key_id = Uuid::new_v4();
        let t = token(&dk, key_id, 100);
        for i in [0, t.len() / 2, t.len() - 1] {
            let mut bad = t.clone();
            bad[i] ^= 1;
            assert!(open(&dk, &bad, key_id, 0).is_err(), "flip at {i}");
        }
        assert!(open(&dk, &t[..31], key_id, 0).is_err());
        assert!(open(&dk, &t[..t.len() - 1], key_id, 0).is_err());
        let other = DomainKey::generate().unwrap();
        assert_eq!(
            open(&other, &t, key_id, 0).unwrap_err(),
            HsmError::InvalidImportToken
        );
    }
}
