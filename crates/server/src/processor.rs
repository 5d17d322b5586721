//! The request processor: resolves KeyIds, keeps key metadata and EKTs in
//! memory so the hot path makes no database round trip, checks key state,
//! and routes cryptographic work to the security module.

use std::sync::Arc;

use strongroom_hsm_proto::{Ekt, HsmClient, KeyRef};
use strongroom_store::{GrantRecord, KeyRecord, Store};
use uuid::Uuid;

use crate::arn;
use crate::error::KmsError;
use crate::protocol::EncryptionContext;

mod authorized;
mod background;
mod change;
mod change_module;
mod key_locks;
mod key_module;
pub(crate) mod key_repository;
mod locking;
mod module_scope;
mod store_access;
mod stored_material;

pub(crate) use authorized::AuthorizedKey;
pub(crate) use change::Change;
pub(crate) use key_locks::KeyGuard;
pub use key_repository::CacheStats;
pub(crate) use key_repository::KeyRepository;
pub(crate) use locking::locked;

/// Largest canonical encryption context accepted, in bytes.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// The frontend's request processor.
pub struct Processor {
    /// Key records, versions, aliases and grants: the store, the caches
    /// and the per-key locks. Handlers read through it (or `reads()`) and
    /// write only through it, each write under a [`Change`].
    pub(crate) repo: KeyRepository,
    /// The module client. Private to the processor: a request handler
    /// reaches it only through an [`AuthorizedKey`] (`module`), a
    /// [`Change`] its request earned (`module_for_change`), or a keyless
    /// row it satisfied (`keyless_module`); background work through
    /// `background`'s system access, which handlers cannot construct.
    module: HsmClient,
    /// The audit trail intents and background service events go to
    /// (`None` for a bare processor: nothing is recorded).
    audit: Option<crate::audit::AuditLog>,
    /// Parsed public keys of asymmetric key versions (Verify in the frontend).
    pub(crate) public_keys: crate::ops::public_keys::PublicKeyCache,
    /// The time, and how long a day of a rotation period lasts.
    clock: Arc<dyn crate::clock::Clock>,
    /// Parsed key policies.
    pub(crate) policies: crate::authz::PolicyCache,
    /// The regions this frontend serves: where ReplicateKey may put a
    /// multi-Region key's replica.
    pub(crate) served_regions: crate::region::RegionSet,
}

pub use crate::validate::required;

/// Canonical bytes of an encryption context, validated.
pub fn context_bytes(ctx: &Option<EncryptionContext>) -> Result<Vec<u8>, KmsError> {
    let empty = EncryptionContext::new();
    let ctx = ctx.as_ref().unwrap_or(&empty);
    if ctx.keys().any(|k| k.is_empty()) {
        return Err(KmsError::Validation(
            "Encryption context keys must not be empty.".into(),
        ));
    }
    let bytes =
        strongroom_hsm_proto::context::canonical(ctx.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if bytes.len() > MAX_CONTEXT_BYTES {
        return Err(KmsError::Validation(format!(
            "Encryption context exceeds {MAX_CONTEXT_BYTES} bytes."
        )));
    }
    Ok(bytes)
}

/// Where the EKT cache keeps `version` of the key in row `row`: the row,
/// not the material id, so each copy of a multi-Region key has its own
/// entry under its own revision.
fn ekt_slot(row: Uuid, version: KeyRef) -> KeyRef {
    key_repository::slot(row, version.version)
}

/// Fails unless `version` belongs to the key that was authorized.
fn same_key(authorized: &AuthorizedKey, version: KeyRef) -> Result<(), KmsError> {
    if version.key_id != authorized.material_id() {
        return Err(KmsError::Internal(format!(
            "key material of {} asked for under the authorization of {}",
            version.key_id,
            authorized.arn()
        )));
    }
    Ok(())
}

impl Processor {
    /// A processor over `store` and `hsm`.
    pub fn new(store: Arc<dyn Store>, hsm: HsmClient) -> Self {
        Self {
            repo: KeyRepository::new(store),
            module: hsm,
            audit: None,
            public_keys: Default::default(),
            clock: Arc::new(crate::clock::SystemClock::default()),
            policies: crate::authz::PolicyCache::default(),
            served_regions: crate::region::RegionSet::Any,
        }
    }

    /// Serves only `regions` (ReplicateKey refuses any other).
    pub fn with_regions(mut self, regions: crate::region::RegionSet) -> Self {
        self.served_regions = regions;
        self
    }

    /// Trusts cached metadata for `ttl` only (several frontends share the
    /// store).
    pub fn with_cache_ttl(mut self, ttl: Option<std::time::Duration>) -> Self {
        self.repo.set_cache_ttl(ttl);
        self
    }

    /// Hits and misses of the key metadata and EKT caches (metrics).
    pub fn cache_stats(&self) -> &CacheStats {
        self.repo.stats()
    }

    /// Records intents of state-changing requests and background service
    /// events in `audit`.
    pub fn with_audit(mut self, audit: crate::audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Reads the time from `clock` (the system clock otherwise; tests
    /// shorten its day or move it by hand).
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Epoch seconds now, by this processor's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// This processor's clock.
    pub(crate) fn clock(&self) -> &dyn crate::clock::Clock {
        &*self.clock
    }

    /// The audit trail, if this processor records one.
    pub(crate) fn audit_log(&self) -> Option<&crate::audit::AuditLog> {
        self.audit.as_ref()
    }

    /// The ARN of `key`, in its region (`key/mrk-…` for a multi-Region
    /// key's copy).
    pub fn key_arn(&self, key: &KeyRecord) -> String {
        arn::key_arn_named(
            &key.region,
            &key.account_id,
            &crate::multi_region::key_id(key),
        )
    }

    /// A key's metadata (cache, then store).
    pub(crate) async fn load_key(&self, id: Uuid) -> Result<Option<Arc<KeyRecord>>, KmsError> {
        Ok(self.repo.load(id).await?)
    }

    /// A key's grants (cache, then store).
    pub(crate) async fn grants_of(&self, id: Uuid) -> Result<Arc<Vec<GrantRecord>>, KmsError> {
        Ok(self.repo.grants(id).await?)
    }

    /// The EKT of one version of an authorized key (cache, then store).
    /// A cached copy counts only if it was read under the revision of the
    /// key record the request was authorized on.
    pub(crate) async fn ekt(
        &self,
        authorized: &AuthorizedKey,
        key: KeyRef,
    ) -> Result<Option<Ekt>, KmsError> {
        same_key(authorized, key)?;
        // The row's own copy (a multi-Region key's copies each have theirs).
        let slot = ekt_slot(authorized.id, key);
        Ok(self.repo.ekt(slot, authorized.revision).await?)
    }

    /// Runs a module call with a version's EKT. If no module holds the
    /// domain-key generation that EKT names (it was re-wrapped in the store
    /// and the old generation retired while we cached it), the cached copy
    /// is dropped and the call made once more with the stored EKT.
    pub(crate) async fn with_ekt<T, F, Fut>(
        &self,
        key: &AuthorizedKey,
        version: KeyRef,
        ekt: Ekt,
        call: F,
    ) -> Result<T, KmsError>
    where
        F: Fn(Ekt) -> Fut,
        Fut: std::future::Future<Output = Result<T, strongroom_hsm_proto::HsmError>>,
    {
        same_key(key, version)?;
        match call(ekt).await {
            Err(strongroom_hsm_proto::HsmError::NoDomainKey(_)) => {
                self.repo.forget_ekt(ekt_slot(key.id, version));
                let fresh = self.ekt(key, version).await?.ok_or_else(|| {
                    KmsError::Internal("key material disappeared during the request".into())
                })?;
                Ok(call(fresh).await?)
            }
            r => Ok(r?),
        }
    }

    /// Drops cached EKTs of these versions (after a module said it no
    /// longer holds their generation).
    pub(crate) fn forget_ekts(&self, versions: &[(&AuthorizedKey, KeyRef)]) {
        for (key, v) in versions {
            self.repo.forget_ekt(ekt_slot(key.id, *v));
        }
    }

    /// The current version of `key` and its EKT.
    pub(crate) async fn current_ekt(&self, key: &AuthorizedKey) -> Result<(KeyRef, Ekt), KmsError> {
        let r = KeyRef {
            key_id: key.material_id(),
            version: key.current_version,
        };
        if key.volatile {
            // No EKT exists: the modules hold it in memory, or nobody does.
            return Ok((r, Ekt(Vec::new())));
        }
        let e = self.ekt(key, r).await?.ok_or_else(|| {
            KmsError::Internal(format!("key material for {} is missing", key.arn()))
        })?;
        Ok((r, e))
    }
}
