//! Keys, their versions (EKTs) and rotations.

use async_trait::async_trait;
use uuid::Uuid;

use super::{select, select_with};
use crate::backend::{Backend, Conn, exists_as, run, transaction};
use crate::sql::codec::{Codec, key_update_values};
use crate::sql::statements::{aliases, grants, keys};
use crate::sql::{Sql, ToValue, params};
use crate::{KeyRecord, KeyVersionRecord, RotationRecord, StoreError, StoreResult};

/// Keys, their versions (EKTs) and rotations.
///
/// # What deletion must purge
///
/// Deleting key material is a security operation (crypto-shredding,
/// scheduled deletion, expired imports), so every backend must meet these
/// requirements, which the conformance suite checks on both:
///
/// - [`KeyStore::delete_key`] removes the key, every version (EKT), every
///   alias to it and every grant on it, in one transaction;
///   [`KeyStore::delete_key_versions`] removes every version and keeps the
///   key. Afterwards no table the store can read holds the EKT bytes.
/// - Both then purge freed storage ([`crate::SealedMaterialStore::purge_freed`]),
///   as does any caller after replacing EKTs. What that achieves:
///   - **SQLite**: the database runs with `secure_delete`, so freed cells
///     and pages are zeroed, and the purge checkpoints the write-ahead log
///     into the database and truncates it (`wal_checkpoint(TRUNCATE)`). The
///     bytes are then absent from the database and WAL files (tested on the
///     files themselves). Copies the filesystem or the disk keeps of
///     overwritten blocks are out of reach.
///   - **PostgreSQL** has no secure delete. The purge runs `VACUUM` on the
///     tables that hold sealed material, which marks the dead rows' space
///     reusable but does not overwrite it: the bytes can stay in table
///     pages until reused, and in WAL segments, base backups and replicas
///     until those are recycled. (`VACUUM FULL` would rewrite the table
///     but locks it against every read for as long as it runs.) What makes
///     such copies useless is that every EKT is sealed under a domain key:
///     rotate and retire the domain-key generation (docs/deploy.md, Limits).
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Creates a key with its first version (none for a key awaiting
    /// imported material), atomically; `AlreadyExists` if the id is taken.
    async fn create_key(
        &self,
        key: &KeyRecord,
        first: Option<&KeyVersionRecord>,
    ) -> StoreResult<()>;
    /// One key by UUID (any account and region: callers check both).
    async fn get_key(&self, id: Uuid) -> StoreResult<Option<KeyRecord>>;
    /// Replaces a key's mutable metadata if its revision is still the one
    /// read (`Conflict` otherwise); `NotFound` if it is gone.
    async fn update_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// An account's keys in `region` ordered by UUID, starting after `after`.
    async fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<KeyRecord>>;
    /// One version's EKT.
    async fn get_key_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> StoreResult<Option<KeyVersionRecord>>;
    /// Deletes a key, every version (EKT), every alias to it and every
    /// grant on it, then purges freed storage (see the trait's docs).
    /// Returns whether it existed.
    async fn delete_key(&self, id: Uuid) -> StoreResult<bool>;
    /// Deletes every version (EKT) of a key, keeping the key (imported
    /// material deleted or expired), then purges freed storage.
    async fn delete_key_versions(&self, id: Uuid) -> StoreResult<()>;
    /// Keys pending deletion whose date is at or before `now` (epoch s).
    async fn keys_due_for_deletion(&self, now: i64) -> StoreResult<Vec<Uuid>>;
    /// Keys whose imported material expires at or before `now`.
    async fn keys_with_expired_material(&self, now: i64) -> StoreResult<Vec<Uuid>>;
    /// Adds the next version of a key (made by a rotation of
    /// `rotation_type`) and saves the key's metadata, atomically; refused
    /// with `AlreadyExists` if another writer added that version first.
    async fn rotate_key(
        &self,
        key: &KeyRecord,
        version: &KeyVersionRecord,
        rotation_type: &str,
    ) -> StoreResult<()>;
    /// Adds a version to each of several keys (every region's copy of a
    /// multi-Region key) and saves their metadata, all or nothing: each
    /// key's compare-and-swap must hold and each version must be new.
    async fn rotate_keys(
        &self,
        rotations: &[(KeyRecord, KeyVersionRecord)],
        rotation_type: &str,
    ) -> StoreResult<()>;
    /// Every region's copy of the multi-Region key `multi_region_id` of
    /// `account_id`, ordered by region.
    async fn multi_region_keys(
        &self,
        account_id: &str,
        multi_region_id: Uuid,
    ) -> StoreResult<Vec<KeyRecord>>;
    /// Every version (EKT) of a key, oldest first.
    async fn key_versions(&self, id: Uuid) -> StoreResult<Vec<KeyVersionRecord>>;
    /// Creates `replica` with `versions` (copies of the primary's EKTs),
    /// and saves `primary` by compare-and-swap in the same transaction, so
    /// a rotation of the primary that read it before cannot commit without
    /// the replica (`Conflict`); `AlreadyExists` if the replica's id is
    /// taken.
    async fn create_replica(
        &self,
        primary: &KeyRecord,
        replica: &KeyRecord,
        versions: &[KeyVersionRecord],
    ) -> StoreResult<()>;
    /// Saves several keys' metadata by compare-and-swap, all or nothing
    /// (UpdatePrimaryRegion).
    async fn update_keys(&self, keys: &[KeyRecord]) -> StoreResult<()>;
    /// A key's rotations (versions after the first), oldest first, after
    /// version `after`.
    async fn list_rotations(
        &self,
        id: Uuid,
        after: u32,
        limit: usize,
    ) -> StoreResult<Vec<RotationRecord>>;
    /// Keys with rotation enabled whose next rotation is at or before `now`.
    async fn keys_due_for_rotation(&self, now: i64) -> StoreResult<Vec<Uuid>>;
    /// How many keys there are of each `(state, key spec)`, every account
    /// together (for metrics).
    async fn count_keys_by_state_and_spec(&self) -> StoreResult<Vec<(String, String, u64)>>;
}

/// Writes a key's mutable metadata (shared by `update_key` and rotation).
async fn update_key_row<C: Conn>(c: &mut C, k: &KeyRecord) -> StoreResult<()> {
    if c.execute(&keys::UPDATE, &key_update_values(k)?).await? == 1 {
        return Ok(());
    }
    Err(match c.query_opt(&keys::EXISTS, &params![k.id]).await? {
        Some(_) => StoreError::Conflict(format!("key {} changed since it was read", k.id)),
        None => StoreError::NotFound(k.id.to_string()),
    })
}

/// The key ids `sql` selects as due at `now`.
async fn due<B: Backend>(b: &B, sql: &'static Sql, now: i64) -> StoreResult<Vec<Uuid>> {
    select_with(b, sql, params![now], |r| r.uuid(0)).await
}

#[async_trait]
impl<B: Backend> KeyStore for B {
    async fn create_key(&self, k: &KeyRecord, v: Option<&KeyVersionRecord>) -> StoreResult<()> {
        let (k, v) = (k.clone(), v.cloned());
        transaction(self, move |c| {
            Box::pin(async move {
                c.execute(&keys::INSERT, &k.values()?)
                    .await
                    .map_err(exists_as(k.id))?;
                if let Some(v) = v {
                    c.execute(&keys::VERSION_INSERT, &v.values()?).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn get_key(&self, id: Uuid) -> StoreResult<Option<KeyRecord>> {
        Ok(select(self, &keys::GET, params![id]).await?.pop())
    }

    async fn update_key(&self, k: &KeyRecord) -> StoreResult<()> {
        let k = k.clone();
        run(self, move |c| {
            Box::pin(async move { update_key_row(c, &k).await })
        })
        .await
    }

    async fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<KeyRecord>> {
        let after = after.map(|u| u.to_string()).unwrap_or_default();
        let p = params![account_id, region, after, limit as i64];
        select(self, &keys::LIST, p).await
    }

    async fn get_key_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> StoreResult<Option<KeyVersionRecord>> {
        Ok(select(self, &keys::VERSION_GET, params![id, version])
            .await?
            .pop())
    }

    async fn delete_key(&self, id: Uuid) -> StoreResult<bool> {
        let existed = transaction(self, move |c| {
            Box::pin(async move {
                for sql in [
                    &aliases::DELETE_OF_KEY,
                    &keys::VERSIONS_DELETE,
                    &grants::DELETE_OF_KEY,
                ] {
                    c.execute(sql, &params![id]).await?;
                }
                Ok(c.execute(&keys::DELETE, &params![id]).await? > 0)
            })
        })
        .await?;
        run(self, |c| c.purge_freed()).await?;
        Ok(existed)
    }

    async fn delete_key_versions(&self, id: Uuid) -> StoreResult<()> {
        run(self, move |c| {
            Box::pin(async move {
                c.execute(&keys::VERSIONS_DELETE, &params![id]).await?;
                c.purge_freed().await
            })
        })
        .await
    }

    async fn keys_due_for_deletion(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        due(self, &keys::DUE_FOR_DELETION, now).await
    }

    async fn keys_with_expired_material(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        due(self, &keys::WITH_EXPIRED_MATERIAL, now).await
    }

    async fn rotate_key(
        &self,
        key: &KeyRecord,
        v: &KeyVersionRecord,
        rotation_type: &str,
    ) -> StoreResult<()> {
        self.rotate_keys(&[(key.clone(), v.clone())], rotation_type)
            .await
    }

    async fn rotate_keys(
        &self,
        rotations: &[(KeyRecord, KeyVersionRecord)],
        rotation_type: &str,
    ) -> StoreResult<()> {
        let (rotations, t) = (rotations.to_vec(), rotation_type.to_owned());
        transaction(self, move |c| {
            Box::pin(async move {
                for (k, v) in &rotations {
                    let mut values = v.values()?;
                    values.push(t.to_value());
                    c.execute(&keys::VERSION_INSERT_ROTATED, &values)
                        .await
                        .map_err(exists_as(format!("version {} of {}", v.version, v.key_id)))?;
                    update_key_row(c, k).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn multi_region_keys(
        &self,
        account_id: &str,
        multi_region_id: Uuid,
    ) -> StoreResult<Vec<KeyRecord>> {
        select(
            self,
            &keys::MULTI_REGION,
            params![account_id, multi_region_id],
        )
        .await
    }

    async fn key_versions(&self, id: Uuid) -> StoreResult<Vec<KeyVersionRecord>> {
        select(self, &keys::VERSIONS_OF, params![id]).await
    }

    async fn create_replica(
        &self,
        primary: &KeyRecord,
        replica: &KeyRecord,
        versions: &[KeyVersionRecord],
    ) -> StoreResult<()> {
        let (p, r, vs) = (primary.clone(), replica.clone(), versions.to_vec());
        transaction(self, move |c| {
            Box::pin(async move {
                update_key_row(c, &p).await?;
                c.execute(&keys::INSERT, &r.values()?)
                    .await
                    .map_err(exists_as(r.id))?;
                for v in &vs {
                    c.execute(&keys::VERSION_INSERT, &v.values()?).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn update_keys(&self, keys: &[KeyRecord]) -> StoreResult<()> {
        let keys = keys.to_vec();
        transaction(self, move |c| {
            Box::pin(async move {
                for k in &keys {
                    update_key_row(c, k).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn list_rotations(
        &self,
        id: Uuid,
        after: u32,
        limit: usize,
    ) -> StoreResult<Vec<RotationRecord>> {
        let p = params![id, after, limit as i64];
        select_with(self, &keys::ROTATIONS, p, RotationRecord::decode).await
    }

    async fn keys_due_for_rotation(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        due(self, &keys::DUE_FOR_ROTATION, now).await
    }

    async fn count_keys_by_state_and_spec(&self) -> StoreResult<Vec<(String, String, u64)>> {
        select_with(self, &keys::COUNT_BY_STATE_AND_SPEC, Vec::new(), |r| {
            Ok((r.text(0)?, r.text(1)?, r.u64(2)?))
        })
        .await
    }
}
