//! Grants: a principal may perform listed operations with a key.

use async_trait::async_trait;
use uuid::Uuid;

use super::{execute, insert, select};
use crate::backend::Backend;
use crate::sql::params;
use crate::sql::statements::grants;
use crate::{GrantRecord, StoreResult};

/// Grants: a principal may perform listed operations with a key.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Adds a grant; `AlreadyExists` if its id is taken.
    async fn create_grant(&self, grant: &GrantRecord) -> StoreResult<()>;
    /// A key's grants, by grant id.
    async fn list_grants(&self, key_id: Uuid) -> StoreResult<Vec<GrantRecord>>;
    /// Grants on keys in `region` that `retiring` (a principal ARN) may
    /// retire, by grant id.
    async fn list_retirable_grants(
        &self,
        retiring: &str,
        region: &str,
    ) -> StoreResult<Vec<GrantRecord>>;
    /// The grant a grant token names.
    async fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>>;
    /// Deletes a grant; returns whether it existed.
    async fn delete_grant(&self, grant_id: &str) -> StoreResult<bool>;
}

#[async_trait]
impl<B: Backend> GrantStore for B {
    async fn create_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        insert(self, &grants::INSERT, g, &g.grant_id).await
    }

    async fn list_grants(&self, key_id: Uuid) -> StoreResult<Vec<GrantRecord>> {
        select(self, &grants::OF_KEY, params![key_id]).await
    }

    async fn list_retirable_grants(
        &self,
        retiring: &str,
        region: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        select(self, &grants::RETIRABLE_BY, params![retiring, region]).await
    }

    async fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        Ok(select(self, &grants::BY_TOKEN, params![token]).await?.pop())
    }

    async fn delete_grant(&self, grant_id: &str) -> StoreResult<bool> {
        Ok(execute(self, &grants::DELETE, params![grant_id]).await? == 1)
    }
}
