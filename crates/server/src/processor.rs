//! The request processor: resolves KeyIds, keeps key metadata and EKTs in
//! memory so the hot path makes no database round trip, checks key state,
//! and routes cryptographic work to the security module.

use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
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
mod key_module;
mod module_scope;
mod store_access;
mod stored_material;

pub(crate) use authorized::AuthorizedKey;
pub(crate) use change::Change;

/// Largest canonical encryption context accepted, in bytes.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// The frontend's request processor.
pub struct Processor {
    /// Private: handlers read through `reads()` and write only through a
    /// [`Change`] (`store_access`).
    store: Arc<dyn Store>,
    /// The module client. Private to the processor: a request handler
    /// reaches it only through an [`AuthorizedKey`] (`module`), a
    /// [`Change`] its request earned (`module_for_change`), or a keyless
    /// row it satisfied (`keyless_module`); background work through
    /// `background`'s system access, which handlers cannot construct.
    module: HsmClient,
    /// The audit trail intents and background service events go to
    /// (`None` for a bare processor: nothing is recorded).
    audit: Option<crate::audit::AuditLog>,
    /// Key metadata by id. Each record carries its account and region,
    /// which `resolve` checks against the request's on every use.
    keys: DashMap<Uuid, (Instant, Arc<KeyRecord>)>,
    /// EKTs by key row and version (`ekt_slot`: a multi-Region key's
    /// copies each have their own), each with the revision of the key
    /// record it was read under: a copy is used only under that same revision, so it
    /// never outlives the cached metadata (UpdateSuspensionOwner bumps the
    /// revision when it re-binds every EKT).
    ekts: DashMap<KeyRef, (u64, Ekt)>,
    /// Parsed public keys of asymmetric key versions (Verify in the frontend).
    pub(crate) public_keys: crate::ops::public_keys::PublicKeyCache,
    /// Alias targets by (account, region, name).
    aliases: DashMap<AliasName, (Instant, Uuid)>,
    /// Serialises metadata writes so the cache always matches the store.
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    /// How long a "day" of a rotation period lasts (one day, except in tests).
    pub(crate) rotation_day: std::time::Duration,
    /// Parsed key policies.
    pub(crate) policies: crate::authz::PolicyCache,
    /// Grants by key (an empty list is cached too).
    grants: DashMap<Uuid, (Instant, Arc<Vec<GrantRecord>>)>,
    /// How long cached key metadata, aliases and grants are trusted
    /// (`None`: for ever, when this frontend is the store's only writer).
    pub(crate) cache_ttl: Option<std::time::Duration>,
    /// Hits and misses of the key metadata and EKT caches (metrics).
    pub cache_stats: CacheStats,
    /// The regions this frontend serves: where ReplicateKey may put a
    /// multi-Region key's replica.
    pub(crate) served_regions: crate::region::RegionSet,
}

/// Hits and misses of the processor's caches.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Key metadata.
    pub keys: crate::telemetry::CacheCounters,
    /// EKTs (wrapped key material).
    pub ekts: crate::telemetry::CacheCounters,
}

/// An alias's identity: (account, region, name).
type AliasName = (String, String, String);

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
    KeyRef {
        key_id: row,
        version: version.version,
    }
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
            store,
            module: hsm,
            audit: None,
            keys: DashMap::new(),
            ekts: DashMap::new(),
            public_keys: Default::default(),
            aliases: DashMap::new(),
            write_lock: tokio::sync::Mutex::new(()),
            rotation_day: std::time::Duration::from_secs(86_400),
            policies: crate::authz::PolicyCache::default(),
            grants: DashMap::new(),
            cache_ttl: None,
            cache_stats: CacheStats::default(),
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
        self.cache_ttl = ttl;
        self
    }

    /// Records intents of state-changing requests and background service
    /// events in `audit`.
    pub fn with_audit(mut self, audit: crate::audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    fn fresh(&self, cached_at: Instant) -> bool {
        self.cache_ttl.is_none_or(|ttl| cached_at.elapsed() < ttl)
    }

    /// Shortens the rotation-period day (tests of the scheduler only).
    pub fn with_rotation_day(mut self, day: std::time::Duration) -> Self {
        self.rotation_day = day;
        self
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
        if let Some(k) = self.keys.get(&id)
            && self.fresh(k.0)
        {
            self.cache_stats.keys.hit();
            return Ok(Some(k.1.clone()));
        }
        self.cache_stats.keys.miss();
        let Some(rec) = self.store.get_key(id).await? else {
            return Ok(None);
        };
        let rec = Arc::new(rec);
        self.keys.insert(id, (Instant::now(), rec.clone()));
        Ok(Some(rec))
    }

    async fn alias_target(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Uuid>, KmsError> {
        let k = (account.to_owned(), region.to_owned(), name.to_owned());
        if let Some(id) = self.aliases.get(&k)
            && self.fresh(id.0)
        {
            return Ok(Some(id.1));
        }
        let Some(a) = self.store.get_alias(account, region, name).await? else {
            return Ok(None);
        };
        self.aliases.insert(k, (Instant::now(), a.key_id));
        Ok(Some(a.key_id))
    }

    /// A key's grants (cache, then store).
    pub(crate) async fn grants_of(&self, id: Uuid) -> Result<Arc<Vec<GrantRecord>>, KmsError> {
        if let Some(g) = self.grants.get(&id)
            && self.fresh(g.0)
        {
            return Ok(g.1.clone());
        }
        let g = Arc::new(self.store.list_grants(id).await?);
        self.grants.insert(id, (Instant::now(), g.clone()));
        Ok(g)
    }

    /// Forgets the cached grants of a key (after a grant change).
    pub(crate) fn forget_grants(&self, id: Uuid) {
        self.grants.remove(&id);
    }

    /// Caches a key's metadata (a key created without material).
    pub(crate) fn cache_key(&self, key: KeyRecord) -> Arc<KeyRecord> {
        let key = Arc::new(key);
        self.keys.insert(key.id, (Instant::now(), key.clone()));
        key
    }

    /// Drops cached EKTs of every version of a key.
    pub(crate) fn forget_key_ekts(&self, id: Uuid) {
        self.ekts.retain(|k, _| k.key_id != id);
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
        let slot = ekt_slot(authorized.id, key);
        if let Some(e) = self.ekts.get(&slot)
            && e.0 == authorized.revision
        {
            self.cache_stats.ekts.hit();
            return Ok(Some(e.1.clone()));
        }
        self.cache_stats.ekts.miss();
        // The row's own copy (a multi-Region key's copies each have theirs).
        let Some(v) = self
            .store
            .get_key_version(authorized.id, key.version)
            .await?
        else {
            return Ok(None);
        };
        let e = Ekt(v.ekt);
        self.ekts.insert(slot, (authorized.revision, e.clone()));
        Ok(Some(e))
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
                self.ekts.remove(&ekt_slot(key.id, version));
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
            self.ekts.remove(&ekt_slot(key.id, *v));
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

    /// Writes new metadata for a key and refreshes the cache. Hold
    /// `write_lock` while reading-then-writing.
    pub(crate) async fn save_key(
        &self,
        change: &Change,
        mut key: KeyRecord,
    ) -> Result<Arc<KeyRecord>, KmsError> {
        change.covers(key.id)?;
        if let Err(e) = self.store.update_key(&key).await {
            // Another frontend changed it: forget our copy so a retry
            // starts from the store.
            self.keys.remove(&key.id);
            return Err(e.into());
        }
        key.revision += 1;
        let key = Arc::new(key);
        self.keys.insert(key.id, (Instant::now(), key.clone()));
        Ok(key)
    }

    /// Caches a freshly created key.
    pub(crate) fn cache_new_key(
        &self,
        key: KeyRecord,
        version: KeyRef,
        ekt: Ekt,
    ) -> Arc<KeyRecord> {
        let key = Arc::new(key);
        self.keys.insert(key.id, (Instant::now(), key.clone()));
        self.ekts
            .insert(ekt_slot(key.id, version), (key.revision, ekt));
        key
    }

    /// Forgets cached state about an alias.
    pub(crate) fn forget_alias(&self, account: &str, region: &str, name: &str) {
        self.aliases
            .remove(&(account.to_owned(), region.to_owned(), name.to_owned()));
    }
}
