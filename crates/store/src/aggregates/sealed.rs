//! Sealed material: EKTs, sealed access-key secrets and the service's own
//! sealed secrets, walked and swapped when a domain-key generation is
//! replaced; and purging what deletes and swaps freed.

use async_trait::async_trait;
use uuid::Uuid;

use super::{execute, select};
use crate::backend::{Backend, Conn, run};
use crate::sql::statements::sealed as sql;
use crate::sql::{Row, Sql, Value, params};
use crate::{AccessKeyRecord, KeyVersionRecord, StoreError, StoreResult};

/// Sealed material: EKTs, sealed access-key secrets and the service's own
/// sealed secrets.
#[async_trait]
pub trait SealedMaterialStore: Send + Sync + 'static {
    /// Every key version of every account, ordered by (key, version),
    /// starting after `after` (for re-wrapping under a new domain key).
    async fn list_key_versions(
        &self,
        after: Option<(Uuid, u32)>,
        limit: usize,
    ) -> StoreResult<Vec<KeyVersionRecord>>;
    /// Replaces a version's EKT if it is still `old`; returns whether it was.
    async fn replace_ekt(
        &self,
        id: Uuid,
        version: u32,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
    /// Every access key of every account by id, starting after `after`.
    async fn list_all_access_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AccessKeyRecord>>;
    /// Replaces a sealed secret if it is still `old`; returns whether it was.
    async fn replace_sealed_secret(
        &self,
        access_key_id: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
    /// Makes storage freed by deleted or replaced sealed material (EKTs,
    /// secrets) unreadable as far as the backend can: on SQLite the freed
    /// pages are zeroed and the write-ahead log is checkpointed and
    /// truncated; on PostgreSQL the tables are vacuumed, which is weaker
    /// (see [`crate::KeyStore`] for what each achieves).
    async fn purge_freed(&self) -> StoreResult<()>;

    /// A secret of the service itself (sealed by a module), by name.
    async fn get_service_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a service secret unless one with that name exists; returns
    /// the one stored (so racing frontends agree on one).
    async fn put_service_secret(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>>;
    /// Replaces a service secret if it is still `old` (after its domain-key
    /// generation was retired); returns the one stored.
    async fn replace_service_secret(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<Vec<u8>>;
}

async fn service_secret<C: Conn>(c: &mut C, name: &str) -> StoreResult<Option<Vec<u8>>> {
    let row = c
        .query_opt(&sql::SERVICE_SECRET_GET, &params![name])
        .await?;
    row.map(|r: Row| r.bytes(0)).transpose()
}

/// Runs `sql` (which may change service secret `name`), then reads it.
async fn write_service_secret<B: Backend>(
    b: &B,
    sql: &'static Sql,
    name: &str,
    p: impl Into<Vec<Value>>,
) -> StoreResult<Vec<u8>> {
    let (name, p) = (name.to_owned(), p.into());
    run(b, move |c| {
        Box::pin(async move {
            c.execute(sql, &p).await?;
            service_secret(c, &name)
                .await?
                .ok_or(StoreError::NotFound(name))
        })
    })
    .await
}

fn epoch_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[async_trait]
impl<B: Backend> SealedMaterialStore for B {
    async fn list_key_versions(
        &self,
        after: Option<(Uuid, u32)>,
        limit: usize,
    ) -> StoreResult<Vec<KeyVersionRecord>> {
        let (id, version) = after.map_or((String::new(), 0), |(id, v)| (id.to_string(), v));
        let p = params![id, version, limit as i64];
        select(self, &sql::VERSIONS_PAGE, p).await
    }

    async fn replace_ekt(
        &self,
        id: Uuid,
        version: u32,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        Ok(execute(self, &sql::EKT_REPLACE, params![id, version, old, new]).await? == 1)
    }

    async fn list_all_access_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        let p = params![after.unwrap_or(""), limit as i64];
        select(self, &sql::ACCESS_KEYS_PAGE, p).await
    }

    async fn replace_sealed_secret(
        &self,
        access_key_id: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let p = params![access_key_id, old, new];
        Ok(execute(self, &sql::SEALED_SECRET_REPLACE, p).await? == 1)
    }

    async fn purge_freed(&self) -> StoreResult<()> {
        run(self, |c| c.purge_freed()).await
    }

    async fn get_service_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let name = name.to_owned();
        run(self, move |c| {
            Box::pin(async move { service_secret(c, &name).await })
        })
        .await
    }

    async fn put_service_secret(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        let p = params![name, sealed, epoch_now()];
        write_service_secret(self, &sql::SERVICE_SECRET_INSERT, name, p).await
    }

    async fn replace_service_secret(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let p = params![name, old, new];
        write_service_secret(self, &sql::SERVICE_SECRET_REPLACE, name, p).await
    }
}
