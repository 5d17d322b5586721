//! SuspendKey / ReinstateKey (extension): a key's material, every version,
//! handed to its owner wrapped to their RSA public key, then dropped here;
//! taken back only re-wrapped to a fresh import key, and only if it is the
//! very material that left (a MAC under the domain, kept by the frontend).
//!
//! The owner is not the frontend's to choose: it was bound into every
//! version's EKT when the key was made (crate::owner), and SuspendKey
//! wraps only to the public key whose SHA-256 every version carries. A key
//! with no bound owner cannot be suspended.
//!
//! Suspended blob: u16 BE length L ‖ RSA-OAEP-SHA256(AES-256 key) (L bytes)
//! ‖ 12-byte IV ‖ AES-256-GCM(bundle) with AAD `"strongroom suspended key
//! v1" ‖ key UUID`. The bundle (v2) is `encode { format: 2, key_id, owner,
//! versions: [{ version, spec, material }] }` (format version byte ‖
//! postcard); the owner passes it back as it is.

use crate::scope::Requester;
use serde::{Deserialize, Serialize};
use strongroom_crypto::{Aes256GcmKey, Iv, OaepHash, SecretKey256, rsa_oaep_encrypt};
use strongroom_hsm_proto::admin::{decode, encode};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Response};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::ekt::{self, SuspensionOwner};
use crate::module::Module;

const LABEL: &[u8] = b"strongroom suspended key v1";
const FINGERPRINT_LABEL: &[u8] = b"suspended bundle v1";

#[derive(Serialize, Deserialize)]
struct SuspendedVersion {
    version: u32,
    spec: u8,
    material: Vec<u8>,
}

const BUNDLE_V2: u8 = 2;

#[derive(Serialize, Deserialize)]
struct SuspendedBundle {
    /// [`BUNDLE_V2`]; a v1 bundle starts with the UUID's length (16).
    format: u8,
    key_id: Uuid,
    /// The suspension owner every version was bound to; re-bound on return.
    owner: Option<SuspensionOwner>,
    versions: Vec<SuspendedVersion>,
}

/// A bundle as modules wrote it before owners were bound.
#[derive(Deserialize)]
struct BundleV1 {
    key_id: Uuid,
    versions: Vec<SuspendedVersion>,
}

impl SuspendedBundle {
    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.first() == Some(&BUNDLE_V2) {
            return decode::<SuspendedBundle>(bytes)
                .ok()
                .filter(|b| b.format == BUNDLE_V2);
        }
        let mut v1: BundleV1 = decode(bytes).ok()?;
        Some(SuspendedBundle {
            format: BUNDLE_V2,
            key_id: v1.key_id,
            owner: None,
            versions: std::mem::take(&mut v1.versions),
        })
    }
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

/// The public key offered is not the owner bound into the key.
pub(crate) fn not_the_owner() -> HsmError {
    HsmError::InvalidRequest(
        "PublicKey is not the key's suspension owner (fixed when the key was created)".into(),
    )
}

impl Module {
    /// SuspendKey: wraps every version to `owner_key` (RSA, DER SPKI),
    /// which must be the owner bound into every version at creation, and
    /// drops every cached copy. Answers the blob and the bundle's MAC.
    pub(crate) fn suspend_key(
        &mut self,
        caller: &Requester,
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        owner_key: &[u8],
    ) -> Result<Response, HsmError> {
        if versions.is_empty() {
            return Err(HsmError::InvalidRequest("no versions to suspend".into()));
        }
        let owner = SuspensionOwner::of_public_key(owner_key);
        let mut bundle = SuspendedBundle {
            format: BUNDLE_V2,
            key_id,
            owner: Some(owner),
            versions: Vec::new(),
        };
        for (key, token) in versions {
            if key.key_id != key_id {
                return Err(HsmError::InvalidKeyToken);
            }
            let (domain, generation) = ekt::domain_of(&token)?;
            let dk = self.domain_key(caller, domain, generation)?;
            let opened = ekt::open_key(dk, &token)?;
            if opened.key != key {
                return Err(HsmError::InvalidKeyToken);
            }
            match opened.owner {
                Some(bound) if bound == owner => {}
                Some(_) => return Err(not_the_owner()),
                None => {
                    return Err(HsmError::InvalidRequest(
                        "the key has no suspension owner: only keys created with \
                         SuspensionOwnerPublicKey can be suspended"
                            .into(),
                    ));
                }
            }
            bundle.versions.push(SuspendedVersion {
                version: key.version,
                spec: opened.spec as u8,
                material: opened.material.to_vec(),
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
        let bundle = SuspendedBundle::decode(&bytes)
            .ok_or_else(|| HsmError::IncorrectKeyMaterial("malformed bundle".into()))?;
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
            if spec.asymmetric().is_none() && v.material.len() != 32 {
                return Err(HsmError::IncorrectKeyMaterial("bad material length".into()));
            }
            // The owner comes back with the material: the bundle is MACed.
            out.push((
                key,
                ekt::seal_key(dk, key, spec, &v.material, bundle.owner)?,
            ));
        }
        Ok(Response::Reinstated(out))
    }
}
