//! SuspendKey / ReinstateKey (extension): a key's material, every version,
//! handed to its owner wrapped to their RSA public key, then dropped here;
//! taken back only re-wrapped to a fresh import key, and only if it is the
//! very material that left (a MAC under the domain, kept by the frontend).
//!
//! Suspended blob: u16 BE length L ‖ RSA-OAEP-SHA256(AES-256 key) (L bytes)
//! ‖ 12-byte IV ‖ AES-256-GCM(bundle) with AAD `"strongroom suspended key
//! v1" ‖ key UUID`. The bundle is `encode { key_id, versions: [{ version,
//! spec, material }] }` (format version byte ‖ postcard); the owner passes
//! it back as it is.

use crate::scope::Requester;
use serde::{Deserialize, Serialize};
use strongroom_crypto::{Aes256GcmKey, Iv, OaepHash, SecretKey256, rsa_oaep_encrypt};
use strongroom_hsm_proto::admin::{decode, encode};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Response};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::ekt;
use crate::module::Module;

const LABEL: &[u8] = b"strongroom suspended key v1";
const FINGERPRINT_LABEL: &[u8] = b"suspended bundle v1";

#[derive(Serialize, Deserialize)]
struct SuspendedVersion {
    version: u32,
    spec: u8,
    material: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct SuspendedBundle {
    key_id: Uuid,
    versions: Vec<SuspendedVersion>,
}

impl Drop for SuspendedBundle {
    fn drop(&mut self) {
        for v in &mut self.versions {
            zeroize::Zeroize::zeroize(&mut v.material);
        }
    }
}

fn internal(e: impl std::fmt::Display) -> HsmError {
    HsmError::Internal(e.to_string())
}

impl Module {
    /// SuspendKey: wraps every version to `owner_key` (RSA, DER SPKI) and
    /// drops every cached copy. Answers the blob and the bundle's MAC.
    pub(crate) fn suspend_key(
        &mut self,
        caller: &Requester,
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        owner_key: &[u8],
    ) -> Result<Response, HsmError> {
        let mut bundle = SuspendedBundle {
            key_id,
            versions: Vec::new(),
        };
        for (key, token) in versions {
            if key.key_id != key_id {
                return Err(HsmError::InvalidKeyToken);
            }
            let (domain, generation) = ekt::domain_of(&token)?;
            let dk = self.domain_key(caller, domain, generation)?;
            let spec = ekt::spec_of(&token)?;
            let (opened, material) = if spec.asymmetric().is_some() {
                let (k, _, m) = ekt::open_material(dk, &token)?;
                (k, m)
            } else {
                let (k, _, s) = ekt::open(dk, &token)?;
                (k, Zeroizing::new(s.expose().to_vec()))
            };
            if opened != key {
                return Err(HsmError::InvalidKeyToken);
            }
            bundle.versions.push(SuspendedVersion {
                version: key.version,
                spec: spec as u8,
                material: material.to_vec(),
            });
        }
        let bytes = Zeroizing::new(encode(&bundle));
        let aes = SecretKey256::generate().map_err(internal)?;
        let wrapped =
            rsa_oaep_encrypt(owner_key, OaepHash::Sha256, aes.expose()).map_err(|_| {
                HsmError::InvalidRequest(
                    "PublicKey must be an RSA public key (DER SubjectPublicKeyInfo)".into(),
                )
            })?;
        let mut blob = (wrapped.len() as u16).to_be_bytes().to_vec();
        blob.extend_from_slice(&wrapped);
        let iv = Iv::random().map_err(internal)?;
        blob.extend_from_slice(&iv.bytes());
        let mut aad = LABEL.to_vec();
        aad.extend_from_slice(key_id.as_bytes());
        Aes256GcmKey::new(&aes)
            .seal_append(iv, &aad, &bytes, &mut blob)
            .map_err(internal)?;
        let fingerprint = self.bundle_mac(caller, &bytes)?;
        self.vault.forget(key_id, caller.domain);
        self.asymmetric.forget(key_id, caller.domain);
        Ok(Response::Suspended { blob, fingerprint })
    }

    fn bundle_mac(&self, caller: &Requester, bundle: &[u8]) -> Result<Vec<u8>, HsmError> {
        let dk = self.current_domain(caller)?;
        let mut m = FINGERPRINT_LABEL.to_vec();
        m.extend_from_slice(bundle);
        Ok(dk.import_mac().sign(&m).to_vec())
    }

    /// ReinstateKey: unwraps the bundle (re-wrapped by the owner to an
    /// import key), checks it is what was suspended, and seals every
    /// version again.
    pub(crate) fn reinstate_key(
        &mut self,
        caller: &Requester,
        key_id: Uuid,
        token: &[u8],
        encrypted: &[u8],
        expected: &[u8],
    ) -> Result<Response, HsmError> {
        let (bytes, _, _) = self.unwrap_with_token(caller, key_id, token, encrypted)?;
        if !strongroom_crypto::constant_time_eq(&self.bundle_mac(caller, &bytes)?, expected) {
            return Err(HsmError::IncorrectKeyMaterial(
                "this is not the key material that was suspended".into(),
            ));
        }
        let bundle: SuspendedBundle = decode(&bytes)
            .map_err(|_| HsmError::IncorrectKeyMaterial("malformed bundle".into()))?;
        if bundle.key_id != key_id {
            return Err(HsmError::IncorrectKeyMaterial(
                "the bundle is another key's".into(),
            ));
        }
        let dk = self.current_domain(caller)?;
        let mut out = Vec::new();
        for v in &bundle.versions {
            let key = KeyRef {
                key_id,
                version: v.version,
            };
            let spec = KeySpecCode::from_u8(v.spec)
                .ok_or_else(|| HsmError::IncorrectKeyMaterial("unknown key spec".into()))?;
            let token = if spec.asymmetric().is_some() {
                ekt::seal_material(dk, key, spec, &v.material)?
            } else {
                let secret = SecretKey256::from_slice(&v.material)
                    .map_err(|_| HsmError::IncorrectKeyMaterial("bad material length".into()))?;
                ekt::seal(dk, key, spec, &secret)?
            };
            out.push((key, token));
        }
        Ok(Response::Reinstated(out))
    }
}
