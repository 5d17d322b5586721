//! The key repository: the one writer of key records, versions (EKTs),
//! aliases and grants. It owns the store handle, the caches of key
//! metadata, EKTs, alias targets and grants, and the per-key locks
//! (`key_locks`). Every write takes the [`Change`] that permits it, goes
//! through the store, and leaves the caches right: a saved record comes
//! back with its new revision and is what the next read sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use strongroom_hsm_proto::{Ekt, KeyRef};
use strongroom_store::prelude::*;
use strongroom_store::{AliasRecord, GrantRecord, KeyRecord, KeyVersionRecord, StoreError};
use uuid::Uuid;

use super::Change;
use super::key_locks::{KeyGuard, KeyLocks, LockId};
use super::store_access::StoreReads;

/// An alias's identity: (account, region, name).
type AliasName = (String, String, String);

/// Why a write was not made.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The change does not cover the key written: a bug in the handler.
    #[error("a change to key {0} was attempted under another key's authorization")]
    NotCovered(Uuid),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// When a store read began, counted in writes that forget cached entries
/// (`KeyRepository::stamp`): what it read is cached only if none came
/// since, so a read that raced a revocation, an alias move or a deletion
/// cannot put back what that write forgot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadStamp(u64);

/// Hits and misses of the repository's caches.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Key metadata.
    pub keys: crate::telemetry::CacheCounters,
    /// EKTs (wrapped key material).
    pub ekts: crate::telemetry::CacheCounters,
}

/// Key records, their versions, aliases and grants: store and caches.
pub struct KeyRepository {
    store: Arc<dyn Store>,
    /// Key metadata by row id. Each record carries its account and
    /// region, which `resolve` checks against the request's on every use.
    keys: DashMap<Uuid, (Instant, Arc<KeyRecord>)>,
    /// EKTs by key row and version (a multi-Region key's copies each have
    /// their own), each with the revision of the key record it was read
    /// under: a copy is used only under that same revision.
    ekts: DashMap<KeyRef, (u64, Ekt)>,
    /// Alias targets by (account, region, name).
    aliases: DashMap<AliasName, (Instant, Uuid)>,
    /// Grants by key (an empty list is cached too).
    grants: DashMap<Uuid, (Instant, Arc<Vec<GrantRecord>>)>,
    /// How long cached entries are trusted (`None`: for ever, when this
    /// frontend is the store's only writer).
    cache_ttl: Option<Duration>,
    /// Hits and misses (metrics).
    stats: CacheStats,
    /// Per-key (and per-alias) locks for read-modify-write.
    locks: KeyLocks,
    /// Writes that forgot cached grants, aliases or deleted keys so far.
    forgets: AtomicU64,
}

impl KeyRepository {
    /// A repository over `store` with empty caches.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            keys: DashMap::new(),
            ekts: DashMap::new(),
            aliases: DashMap::new(),
            grants: DashMap::new(),
            cache_ttl: None,
            stats: CacheStats::default(),
            locks: KeyLocks::default(),
            forgets: AtomicU64::new(0),
        }
    }

    /// Trusts cached entries for `ttl` only (several frontends share the store).
    pub fn set_cache_ttl(&mut self, ttl: Option<Duration>) {
        self.cache_ttl = ttl;
    }

    /// Hits and misses of the caches.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The store, for reading.
    pub fn reads(&self) -> StoreReads<'_> {
        StoreReads::new(&*self.store)
    }

    fn fresh(&self, cached_at: Instant) -> bool {
        self.cache_ttl.is_none_or(|ttl| cached_at.elapsed() < ttl)
    }

    /// Stamps a store read about to begin.
    pub(super) fn stamp(&self) -> ReadStamp {
        ReadStamp(self.forgets.load(Ordering::SeqCst))
    }

    /// Whether no write forgot anything since `stamp` was taken.
    fn current(&self, stamp: ReadStamp) -> bool {
        self.forgets.load(Ordering::SeqCst) == stamp.0
    }

    /// Counts a write that forgets cached entries: after its store write,
    /// before it removes them.
    fn count_forget(&self) {
        self.forgets.fetch_add(1, Ordering::SeqCst);
    }

    // --- locks ---

    /// Locks the keys with these material ids (sorted: no deadlock).
    pub async fn lock_keys(&self, material_ids: &[Uuid]) -> KeyGuard {
        self.locks.lock_keys(material_ids).await
    }

    /// Locks alias `name` of (account, region), whose target is to change.
    pub async fn lock_alias(&self, account: &str, region: &str, name: &str) -> KeyGuard {
        let id = LockId::Alias(account.to_owned(), region.to_owned(), name.to_owned());
        self.locks.lock([id]).await
    }

    // --- reads through the caches ---

    /// A key's metadata (cache, then store).
    pub async fn load(&self, id: Uuid) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if let Some(k) = self.keys.get(&id)
            && self.fresh(k.0)
        {
            self.stats.keys.hit();
            return Ok(Some(k.1.clone()));
        }
        self.stats.keys.miss();
        let stamp = self.stamp();
        let Some(rec) = self.store.get_key(id).await? else {
            return Ok(None);
        };
        Ok(Some(self.cache_read(stamp, rec)))
    }

    /// Caches a record read from the store since `stamp`, unless a writer
    /// cached a newer revision meanwhile (which is returned instead).
    pub(super) fn cache_read(&self, stamp: ReadStamp, rec: KeyRecord) -> Arc<KeyRecord> {
        let rec = Arc::new(rec);
        // Under the entry's lock: a deletion counted after this check
        // removes the entry after this insert.
        match self.keys.entry(rec.id) {
            dashmap::Entry::Occupied(mut e) => {
                let (at, cached) = e.get();
                if cached.revision > rec.revision && self.fresh(*at) {
                    return cached.clone();
                }
                if self.current(stamp) {
                    e.insert((Instant::now(), rec.clone()));
                } else {
                    e.remove();
                }
            }
            dashmap::Entry::Vacant(e) => {
                if self.current(stamp) {
                    e.insert((Instant::now(), rec.clone()));
                }
            }
        }
        rec
    }

    /// A key's metadata as stored now (not cached), refreshing the cache.
    pub async fn load_stored(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError> {
        let Some(rec) = self.store.get_key(id).await? else {
            self.keys.remove(&id);
            return Ok(None);
        };
        self.cache(rec.clone());
        Ok(Some(rec))
    }

    /// The key an alias points to (cache, then store).
    pub async fn alias_target(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let k = (account.to_owned(), region.to_owned(), name.to_owned());
        if let Some(id) = self.aliases.get(&k)
            && self.fresh(id.0)
        {
            return Ok(Some(id.1));
        }
        let stamp = self.stamp();
        let Some(a) = self.store.get_alias(account, region, name).await? else {
            return Ok(None);
        };
        self.remember_alias(stamp, k, a.key_id);
        Ok(Some(a.key_id))
    }

    /// Caches an alias target read from the store since `stamp`.
    pub(super) fn remember_alias(&self, stamp: ReadStamp, alias: AliasName, target: Uuid) {
        // Under the entry's lock, as `cache_read`.
        let entry = self.aliases.entry(alias);
        if self.current(stamp) {
            entry.insert((Instant::now(), target));
        }
    }

    /// A key's grants (cache, then store).
    pub async fn grants(&self, id: Uuid) -> Result<Arc<Vec<GrantRecord>>, StoreError> {
        if let Some(g) = self.grants.get(&id)
            && self.fresh(g.0)
        {
            return Ok(g.1.clone());
        }
        let stamp = self.stamp();
        let g = Arc::new(self.store.list_grants(id).await?);
        self.remember_grants(stamp, id, g.clone());
        Ok(g)
    }

    /// Caches key `id`'s grants as read from the store since `stamp`.
    pub(super) fn remember_grants(
        &self,
        stamp: ReadStamp,
        id: Uuid,
        grants: Arc<Vec<GrantRecord>>,
    ) {
        // Under the entry's lock, as `cache_read`.
        let entry = self.grants.entry(id);
        if self.current(stamp) {
            entry.insert((Instant::now(), grants));
        }
    }

    /// The EKT in `slot` (row and version) read under `revision` of the
    /// row's record (cache, then the row's own stored copy).
    pub async fn ekt(&self, slot: KeyRef, revision: u64) -> Result<Option<Ekt>, StoreError> {
        if let Some(e) = self.ekts.get(&slot)
            && e.0 == revision
        {
            self.stats.ekts.hit();
            return Ok(Some(e.1.clone()));
        }
        self.stats.ekts.miss();
        let Some(v) = self
            .store
            .get_key_version(slot.key_id, slot.version)
            .await?
        else {
            return Ok(None);
        };
        let e = Ekt(v.ekt);
        self.ekts.insert(slot, (revision, e.clone()));
        Ok(Some(e))
    }

    /// Drops the cached EKT in `slot` (a module no longer holds its
    /// domain-key generation).
    pub fn forget_ekt(&self, slot: KeyRef) {
        self.ekts.remove(&slot);
    }

    /// Drops cached EKTs of every version of row `id` (after the modules
    /// dropped the key, or its EKTs changed).
    pub fn forget_key_ekts(&self, id: Uuid) {
        self.ekts.retain(|k, _| k.key_id != id);
    }

    fn cache(&self, key: KeyRecord) -> Arc<KeyRecord> {
        let key = Arc::new(key);
        self.keys.insert(key.id, (Instant::now(), key.clone()));
        key
    }

    // --- key writes ---

    /// Creates `key`, with its first version if it has material (`first`:
    /// the version record, its slot and EKT, cached under revision 0).
    pub async fn create(
        &self,
        change: &Change,
        key: KeyRecord,
        first: Option<(KeyVersionRecord, Ekt)>,
    ) -> Result<Arc<KeyRecord>, WriteError> {
        covered(change, key.id)?;
        let version = first.as_ref().map(|(v, _)| v);
        self.store.create_key(&key, version).await?;
        if let Some((v, ekt)) = first {
            self.ekts
                .insert(slot(key.id, v.version), (key.revision, ekt));
        }
        Ok(self.cache(key))
    }

    /// Saves `key` by compare-and-swap on its revision; returns it with
    /// the next revision. On a conflict our copy is forgotten, so a retry
    /// starts from the store.
    pub async fn save(
        &self,
        change: &Change,
        mut key: KeyRecord,
    ) -> Result<Arc<KeyRecord>, WriteError> {
        covered(change, key.id)?;
        if let Err(e) = self.store.update_key(&key).await {
            self.keys.remove(&key.id);
            return Err(e.into());
        }
        key.revision += 1;
        Ok(self.cache(key))
    }

    /// Saves several keys (a multi-Region key's copies) all or nothing.
    pub async fn save_all(&self, change: &Change, keys: Vec<KeyRecord>) -> Result<(), WriteError> {
        for k in &keys {
            covered(change, k.id)?;
        }
        if let Err(e) = self.store.update_keys(&keys).await {
            for k in &keys {
                self.keys.remove(&k.id);
            }
            return Err(e.into());
        }
        for mut k in keys {
            k.revision += 1;
            self.cache(k);
        }
        Ok(())
    }

    /// Adds a version to each key of `rotations` (the first is the key
    /// rotated, the rest its multi-Region copies) and saves them, in one
    /// transaction; the first's new EKT is cached. Returns the first.
    pub async fn rotate(
        &self,
        change: &Change,
        rotations: Vec<(KeyRecord, KeyVersionRecord)>,
        rotation_type: &str,
        ekt: Ekt,
    ) -> Result<Arc<KeyRecord>, WriteError> {
        let Some((first, version)) = rotations.first() else {
            return Err(StoreError::NotFound("a key to rotate".into()).into());
        };
        covered(change, first.id)?;
        // The other copies of a multi-Region key: by their shared material.
        for (k, _) in &rotations[1..] {
            if k.material_id() != first.material_id() || k.material_id() == k.id {
                return Err(WriteError::NotCovered(k.id));
            }
            covered(change, k.material_id())?;
        }
        let (id, version) = (first.id, version.version);
        self.store.rotate_keys(&rotations, rotation_type).await?;
        let mut out = None;
        for (mut k, _) in rotations {
            k.revision += 1;
            let rev = k.revision;
            let k = self.cache(k);
            if k.id == id {
                self.ekts.insert(slot(id, version), (rev, ekt.clone()));
                out = Some(k);
            }
        }
        out.ok_or_else(|| StoreError::NotFound("the rotated key".into()).into())
    }

    /// Creates `replica` of `primary` (as read from the store) with copies
    /// of its versions; the store refuses if the primary changed since.
    /// Returns the replica.
    pub async fn create_replica(
        &self,
        change: &Change,
        mut primary: KeyRecord,
        replica: KeyRecord,
        versions: &[KeyVersionRecord],
    ) -> Result<Arc<KeyRecord>, WriteError> {
        covered(change, primary.id)?;
        covered(change, replica.id)?;
        self.store
            .create_replica(&primary, &replica, versions)
            .await?;
        primary.revision += 1;
        self.cache(primary);
        Ok(self.cache(replica))
    }

    /// Deletes every version (EKT) of `next.id`, then saves `next` (its
    /// material gone: shredded, or imported material deleted).
    pub async fn drop_versions(
        &self,
        change: &Change,
        next: KeyRecord,
    ) -> Result<Arc<KeyRecord>, WriteError> {
        covered(change, next.id)?;
        let id = next.id;
        self.store.delete_key_versions(id).await?;
        self.forget_key_ekts(id);
        let saved = self.save(change, next).await;
        self.forget_key_ekts(id);
        saved
    }

    /// Swaps version `version`'s EKT of row `id` from `old` to `new` only
    /// if it still holds `old`; whether it did.
    pub async fn replace_ekt(
        &self,
        change: &Change,
        id: Uuid,
        version: u32,
        (old, new): (&[u8], &[u8]),
    ) -> Result<bool, WriteError> {
        covered(change, id)?;
        let swapped = self.store.replace_ekt(id, version, old, new).await?;
        self.forget_key_ekts(id);
        Ok(swapped)
    }

    /// Purges storage freed by emptied EKTs (after a suspension).
    pub async fn purge_freed(&self, change: &Change, id: Uuid) -> Result<(), WriteError> {
        covered(change, id)?;
        Ok(self.store.purge_freed().await?)
    }

    /// Deletes key `id` with its versions, aliases and grants, and forgets
    /// everything cached about it; whether it existed.
    pub async fn delete(&self, change: &Change, id: Uuid) -> Result<bool, WriteError> {
        covered(change, id)?;
        // Forgotten before too: while the store deletes (and purges), a
        // reader finds no cached copy and reads what the store says.
        self.keys.remove(&id);
        let deleted = self.store.delete_key(id).await?;
        self.count_forget();
        self.keys.remove(&id);
        self.forget_key_ekts(id);
        self.aliases.retain(|_, target| target.1 != id);
        self.grants.remove(&id);
        Ok(deleted)
    }

    // --- grants and aliases ---

    /// Creates a grant on a covered key.
    pub async fn create_grant(
        &self,
        change: &Change,
        grant: &GrantRecord,
    ) -> Result<(), WriteError> {
        covered(change, grant.key_id)?;
        let r = self.store.create_grant(grant).await;
        self.forget_grants(grant.key_id);
        Ok(r?)
    }

    /// Deletes grant `grant_id` of covered key `key_id`; whether it existed.
    pub async fn delete_grant(
        &self,
        change: &Change,
        key_id: Uuid,
        grant_id: &str,
    ) -> Result<bool, WriteError> {
        covered(change, key_id)?;
        let r = self.store.delete_grant(grant_id).await;
        self.forget_grants(key_id);
        Ok(r?)
    }

    /// Creates an alias to a covered key.
    pub async fn create_alias(
        &self,
        change: &Change,
        alias: &AliasRecord,
    ) -> Result<(), WriteError> {
        covered(change, alias.key_id)?;
        let r = self.store.create_alias(alias).await;
        self.forget_alias(&alias.account_id, &alias.region, &alias.name);
        Ok(r?)
    }

    /// Points alias `name` of (account, region) at covered key `key_id`.
    pub async fn update_alias(
        &self,
        change: &Change,
        (account, region, name): (&str, &str, &str),
        key_id: Uuid,
        now: i64,
    ) -> Result<(), WriteError> {
        covered(change, key_id)?;
        let r = self
            .store
            .update_alias(account, region, name, key_id, now)
            .await;
        self.forget_alias(account, region, name);
        Ok(r?)
    }

    /// Deletes alias `name` of (account, region), which points to covered
    /// key `key_id`.
    pub async fn delete_alias(
        &self,
        change: &Change,
        (account, region, name): (&str, &str, &str),
        key_id: Uuid,
    ) -> Result<(), WriteError> {
        covered(change, key_id)?;
        let r = self.store.delete_alias(account, region, name).await;
        self.forget_alias(account, region, name);
        Ok(r?)
    }

    fn forget_grants(&self, key_id: Uuid) {
        self.count_forget();
        self.grants.remove(&key_id);
    }

    fn forget_alias(&self, account: &str, region: &str, name: &str) {
        self.count_forget();
        self.aliases
            .remove(&(account.to_owned(), region.to_owned(), name.to_owned()));
    }
}

/// Where the EKT cache keeps `version` of the key in row `row`.
pub(super) fn slot(row: Uuid, version: u32) -> KeyRef {
    KeyRef {
        key_id: row,
        version,
    }
}

fn covered(change: &Change, id: Uuid) -> Result<(), WriteError> {
    if change.includes(id) {
        Ok(())
    } else {
        Err(WriteError::NotCovered(id))
    }
}

#[cfg(test)]
mod tests;
