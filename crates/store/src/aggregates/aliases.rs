//! Aliases (`alias/...`) naming keys within an account and region.

use async_trait::async_trait;
use uuid::Uuid;

use super::{execute, insert, select};
use crate::backend::Backend;
use crate::sql::params;
use crate::sql::statements::aliases;
use crate::{AliasRecord, StoreError, StoreResult};

/// Aliases (`alias/...`) naming keys within an account and region: every
/// lookup names both, and a name is unique per (account, region).
#[async_trait]
pub trait AliasStore: Send + Sync + 'static {
    /// Creates an alias; `AlreadyExists` if the name is taken in the
    /// account and region.
    async fn create_alias(&self, alias: &AliasRecord) -> StoreResult<()>;
    /// Points an alias at another key; `NotFound` if there is no such alias.
    async fn update_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()>;
    /// Deletes an alias; `NotFound` if there is no such alias.
    async fn delete_alias(&self, account_id: &str, region: &str, name: &str) -> StoreResult<()>;
    /// One alias.
    async fn get_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>>;
    /// An account's aliases in `region` by name (optionally only those of `key_id`),
    /// starting after `after`.
    async fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>>;
}

/// `NotFound(name)` unless the statement changed a row.
fn changed(n: u64, name: &str) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(name.to_owned()))
    } else {
        Ok(())
    }
}

#[async_trait]
impl<B: Backend> AliasStore for B {
    async fn create_alias(&self, a: &AliasRecord) -> StoreResult<()> {
        insert(self, &aliases::INSERT, a, &a.name).await
    }

    async fn update_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        let p = params![account_id, region, name, key_id, now];
        changed(execute(self, &aliases::UPDATE, p).await?, name)
    }

    async fn delete_alias(&self, account_id: &str, region: &str, name: &str) -> StoreResult<()> {
        let p = params![account_id, region, name];
        changed(execute(self, &aliases::DELETE, p).await?, name)
    }

    async fn get_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>> {
        let p = params![account_id, region, name];
        Ok(select(self, &aliases::GET, p).await?.pop())
    }

    async fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let p = params![
            account_id,
            region,
            after.unwrap_or(""),
            key_id,
            limit as i64
        ];
        select(self, &aliases::LIST, p).await
    }
}
