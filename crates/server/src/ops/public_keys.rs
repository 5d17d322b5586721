//! Public keys of asymmetric keys, kept parsed beside the key metadata so
//! Verify needs no module call (AWS allows verifying offline with the
//! public key: no secret is involved). Each entry is bound to the very
//! token (EKT) it was read from, so a version whose token changed
//! (re-wrapped under a new domain-key generation, or replaced by a
//! concurrent writer) is read again from a module.

use std::sync::Arc;

use dashmap::DashMap;
use strongroom_crypto::VerifyingKey;
use strongroom_hsm_proto::{Ekt, KeyRef};
use uuid::Uuid;

use crate::error::KmsError;
use crate::ops::asymmetric::spec_of;
use crate::processor::{AuthorizedKey, Processor};

/// Parsed public keys by key version, each with the token it came from.
#[derive(Default)]
pub(crate) struct PublicKeyCache {
    keys: DashMap<KeyRef, (Ekt, Arc<VerifyingKey>)>,
}

impl PublicKeyCache {
    fn get(&self, version: KeyRef, ekt: &Ekt) -> Option<Arc<VerifyingKey>> {
        self.keys
            .get(&version)
            .filter(|e| e.0.0 == ekt.0)
            .map(|e| e.1.clone())
    }

    fn insert(&self, version: KeyRef, ekt: Ekt, key: Arc<VerifyingKey>) {
        self.keys.insert(version, (ekt, key));
    }

    /// Drops every version of a key (it was deleted).
    pub(crate) fn forget(&self, key_id: Uuid) {
        self.keys.retain(|k, _| k.key_id != key_id);
    }
}

impl Processor {
    /// The current version's public key of an asymmetric key: from the
    /// cache, or once from a module (GetPublicKey) and then cached. The
    /// caller has checked the key's state and the caller's permission.
    pub(crate) async fn verifying_key(
        &self,
        key: &AuthorizedKey,
    ) -> Result<Arc<VerifyingKey>, KmsError> {
        let spec = spec_of(key).ok_or_else(|| {
            KmsError::Internal(format!("{} is not asymmetric", self.key_arn(key)))
        })?;
        let (version, ekt) = self.current_ekt(key).await?;
        if let Some(cached) = self.public_keys.get(version, &ekt) {
            return Ok(cached);
        }
        let spki = self
            .with_ekt(key, version, ekt.clone(), |ekt| {
                self.module(key).get_public_key(version, ekt)
            })
            .await?;
        let parsed = VerifyingKey::new(spec, spki).map_err(|_| {
            KmsError::Internal("the module's public key for this key does not parse".into())
        })?;
        let parsed = Arc::new(parsed);
        self.public_keys.insert(version, ekt, parsed.clone());
        Ok(parsed)
    }
}
