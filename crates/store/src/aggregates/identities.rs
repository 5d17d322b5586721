//! Identities: accounts, their access keys, and the users, roles and
//! service principals below them.

use async_trait::async_trait;

use super::{execute, insert, select};
use crate::backend::Backend;
use crate::sql::statements::identities as sql;
use crate::sql::{json, params};
use crate::{AccessKeyRecord, AccountRecord, PrincipalRecord, StoreError, StoreResult};

/// Identities: accounts, their access keys, and the users, roles and
/// service principals below them.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Creates an account; `AlreadyExists` if the id is taken.
    async fn create_account(&self, account: &AccountRecord) -> StoreResult<()>;
    /// One account.
    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>>;
    /// Every account, by id.
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>>;

    /// Adds an access key (secret sealed by a module).
    async fn put_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()>;
    /// One access key.
    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>>;
    /// An account's access keys.
    async fn list_access_keys(&self, account_id: &str) -> StoreResult<Vec<AccessKeyRecord>>;
    /// Stops an access key from signing, for good; `NotFound` if there is
    /// none. One statement on the key's own row, so concurrent revocations
    /// of different keys never undo each other.
    async fn deactivate_access_key(&self, access_key_id: &str) -> StoreResult<()>;

    /// Creates a user, role or service principal; `AlreadyExists` if taken.
    async fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()>;
    /// Replaces a principal's policy, tags and service name.
    async fn update_principal(&self, p: &PrincipalRecord) -> StoreResult<()>;
    /// One principal by ARN.
    async fn get_principal(&self, arn: &str) -> StoreResult<Option<PrincipalRecord>>;
    /// An account's principals, by ARN.
    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>>;
}

#[async_trait]
impl<B: Backend> IdentityStore for B {
    async fn create_account(&self, a: &AccountRecord) -> StoreResult<()> {
        insert(self, &sql::ACCOUNT_INSERT, a, &a.id).await
    }

    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>> {
        Ok(select(self, &sql::ACCOUNT_GET, params![id]).await?.pop())
    }

    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        select(self, &sql::ACCOUNTS, Vec::new()).await
    }

    async fn put_access_key(&self, k: &AccessKeyRecord) -> StoreResult<()> {
        insert(self, &sql::ACCESS_KEY_INSERT, k, &k.access_key_id).await
    }

    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        let p = params![access_key_id];
        Ok(select(self, &sql::ACCESS_KEY_GET, p).await?.pop())
    }

    async fn list_access_keys(&self, account_id: &str) -> StoreResult<Vec<AccessKeyRecord>> {
        select(self, &sql::ACCESS_KEYS_OF_ACCOUNT, params![account_id]).await
    }

    async fn deactivate_access_key(&self, access_key_id: &str) -> StoreResult<()> {
        match execute(self, &sql::ACCESS_KEY_DEACTIVATE, params![access_key_id]).await? {
            0 => Err(StoreError::NotFound(access_key_id.to_owned())),
            _ => Ok(()),
        }
    }

    async fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        insert(self, &sql::PRINCIPAL_INSERT, p, &p.arn).await
    }

    async fn update_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        let values = params![p.arn, p.policy, json(&p.tags)?, p.service_name];
        match execute(self, &sql::PRINCIPAL_UPDATE, values).await? {
            0 => Err(StoreError::NotFound(p.arn.clone())),
            _ => Ok(()),
        }
    }

    async fn get_principal(&self, arn: &str) -> StoreResult<Option<PrincipalRecord>> {
        let p = params![arn];
        Ok(select(self, &sql::PRINCIPAL_GET, p).await?.pop())
    }

    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>> {
        select(self, &sql::PRINCIPALS_OF_ACCOUNT, params![account_id]).await
    }
}
