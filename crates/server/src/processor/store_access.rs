//! How request handlers reach the store: reads through [`StoreReads`] at
//! any time; writes only through the key repository (`key_repository`),
//! each under a [`super::Change`], which a request earns only once it has
//! made every authorization decision its row names and its intent record
//! is durable. The repository's `store` field is private, so a handler
//! that writes without it does not compile.

use strongroom_store::{AliasRecord, GrantRecord, KeyRecord, RotationRecord, Store, StoreResult};
use uuid::Uuid;

use super::Processor;

/// The read side of the store, for handlers.
#[derive(Clone, Copy)]
pub struct StoreReads<'p> {
    store: &'p dyn Store,
}

impl<'p> StoreReads<'p> {
    /// Reads of `store`.
    pub(super) fn new(store: &'p dyn Store) -> Self {
        Self { store }
    }

    /// One version (EKT) of a key row, as stored now.
    pub async fn get_key_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> StoreResult<Option<strongroom_store::KeyVersionRecord>> {
        self.store.get_key_version(id, version).await
    }

    /// Keys pending deletion whose date is at or before `now`.
    pub async fn keys_due_for_deletion(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.store.keys_due_for_deletion(now).await
    }

    /// Keys whose automatic rotation is due at `now`.
    pub async fn keys_due_for_rotation(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.store.keys_due_for_rotation(now).await
    }

    /// Keys whose imported material expires at or before `now`.
    pub async fn keys_with_expired_material(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.store.keys_with_expired_material(now).await
    }

    /// One key's metadata.
    pub async fn get_key(&self, id: Uuid) -> StoreResult<Option<KeyRecord>> {
        self.store.get_key(id).await
    }

    /// An account's keys in `region` ordered by UUID, starting after `after`.
    pub async fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<KeyRecord>> {
        self.store.list_keys(account_id, region, after, limit).await
    }

    /// Every region's copy of an account's multi-Region key.
    pub async fn multi_region_keys(
        &self,
        account_id: &str,
        shared: Uuid,
    ) -> StoreResult<Vec<KeyRecord>> {
        self.store.multi_region_keys(account_id, shared).await
    }

    /// Every version (EKT) of a key, oldest first.
    pub async fn key_versions(
        &self,
        id: Uuid,
    ) -> StoreResult<Vec<strongroom_store::KeyVersionRecord>> {
        self.store.key_versions(id).await
    }

    /// One alias of an account in `region`.
    pub async fn get_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>> {
        self.store.get_alias(account_id, region, name).await
    }

    /// An account's aliases in `region` by name.
    pub async fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        self.store
            .list_aliases(account_id, region, key_id, after, limit)
            .await
    }

    /// A key's rotations, starting after version `after`.
    pub async fn list_rotations(
        &self,
        id: Uuid,
        after: u32,
        limit: usize,
    ) -> StoreResult<Vec<RotationRecord>> {
        self.store.list_rotations(id, after, limit).await
    }

    /// A key's grants.
    pub async fn list_grants(&self, key_id: Uuid) -> StoreResult<Vec<GrantRecord>> {
        self.store.list_grants(key_id).await
    }

    /// Grants on keys in `region` that `retiring` may retire.
    pub async fn list_retirable_grants(
        &self,
        retiring: &str,
        region: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        self.store.list_retirable_grants(retiring, region).await
    }

    /// The grant a grant token names.
    pub async fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        self.store.grant_by_token(token).await
    }
}

impl Processor {
    /// The store, for reading.
    pub(crate) fn reads(&self) -> StoreReads<'_> {
        self.repo.reads()
    }
}
