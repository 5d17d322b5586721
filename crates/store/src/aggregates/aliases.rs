//! Aliases (`alias/...`) naming keys within an account.

use async_trait::async_trait;
use uuid::Uuid;

use super::{insert, select};
use crate::backend::{Backend, Conn, run};
use crate::sql::params;
use crate::sql::statements::aliases;
use crate::{AliasRecord, StoreError, StoreResult};

/// Aliases (`alias/...`) naming keys within an account.
#[async_trait]
pub trait AliasStore: Send + Sync + 'static {
    /// Creates an alias; `AlreadyExists` if the name is taken in the account.
    async fn create_alias(&self, alias: &AliasRecord) -> StoreResult<()>;
    /// Points an alias at another key; `NotFound` if there is no such alias.
    async fn update_alias(
        &self,
        account_id: &str,
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()>;
    /// Deletes an alias; `NotFound` if there is no such alias.
    async fn delete_alias(&self, account_id: &str, name: &str) -> StoreResult<()>;
    /// One alias.
    async fn get_alias(&self, account_id: &str, name: &str) -> StoreResult<Option<AliasRecord>>;
    /// An account's aliases by name (optionally only those of `key_id`),
    /// starting after `after`.
    async fn list_aliases(
        &self,
        account_id: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>>;
}

/// `NotFound(name)` unless the statement changed a row.
fn changed(n: u64, name: String) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(name))
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
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        let (account, name) = (account_id.to_owned(), name.to_owned());
        run(self, move |c| {
            Box::pin(async move {
                let p = params![account, name, key_id, now];
                changed(c.execute(&aliases::UPDATE, &p).await?, name)
            })
        })
        .await
    }

    async fn delete_alias(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let (account, name) = (account_id.to_owned(), name.to_owned());
        run(self, move |c| {
            Box::pin(async move {
                changed(
                    c.execute(&aliases::DELETE, &params![account, name]).await?,
                    name,
                )
            })
        })
        .await
    }

    async fn get_alias(&self, account_id: &str, name: &str) -> StoreResult<Option<AliasRecord>> {
        let p = params![account_id, name].to_vec();
        Ok(select(self, &aliases::GET, p).await?.pop())
    }

    async fn list_aliases(
        &self,
        account_id: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let p = params![account_id, after.unwrap_or(""), key_id, limit as i64];
        select(self, &aliases::LIST, p.to_vec()).await
    }
}
