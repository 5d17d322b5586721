//! `strongroom dev --account-from-access-key`: as LocalStack does, an access
//! key id of 12 digits that no access key has names the account to act in,
//! as its root. The signature is still checked, against the secret of the
//! dev server's own root access key (the *template*): suites that switch
//! accounts by access key id share one secret. The account is created the
//! first time a request for it verifies, never for a forged one. Never
//! offered by `strongroom serve`.

use dashmap::DashSet;
use strongroom_store::{AccessKeyRecord, Store};

use crate::error::KmsError;

/// Access key ids standing for accounts, and the template they sign with.
pub struct AccountFromAccessKey {
    template: String,
    /// Account-named ids in use: their records carry the template's sealed
    /// secret, which the module unseals only under the template's id.
    named: DashSet<String>,
    provisioned: DashSet<String>,
}

impl AccountFromAccessKey {
    /// Account-named ids sign with the secret of access key `template`.
    pub fn new(template: String) -> Self {
        Self {
            template,
            named: DashSet::new(),
            provisioned: DashSet::new(),
        }
    }

    /// Whether `id` has the shape of an account id (12 digits).
    pub fn names_account(id: &str) -> bool {
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
    }

    /// The record an account-named `id` verifies with, if `id` is one and
    /// the template exists: root of account `id`, the template's secret.
    pub async fn record_for(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> Result<Option<AccessKeyRecord>, KmsError> {
        if !Self::names_account(id) {
            return Ok(None);
        }
        let Some(template) = store.get_access_key(&self.template).await? else {
            return Ok(None);
        };
        if !template.active {
            return Ok(None);
        }
        self.named.insert(id.to_owned());
        Ok(Some(AccessKeyRecord {
            access_key_id: id.to_owned(),
            account_id: id.to_owned(),
            principal_arn: None,
            expires_at: None,
            session_token_hash: None,
            ..template
        }))
    }

    /// The access key id `key`'s sealed secret is bound to.
    pub fn sealed_under<'a>(&'a self, key: &'a AccessKeyRecord) -> &'a str {
        if self.named.contains(&key.access_key_id) {
            &self.template
        } else {
            &key.access_key_id
        }
    }

    /// Creates the account an account-named `key` stands for, once its
    /// signature verified (a no-op for other keys).
    pub async fn provision(
        &self,
        store: &dyn Store,
        key: &AccessKeyRecord,
    ) -> Result<(), KmsError> {
        if !self.named.contains(&key.access_key_id) || self.provisioned.contains(&key.account_id) {
            return Ok(());
        }
        if store.get_account(&key.account_id).await?.is_none() {
            match crate::admin::create_account(store, Some(key.account_id.clone())).await {
                Ok(_) => {}
                // Another request made it meanwhile.
                Err(_) if store.get_account(&key.account_id).await?.is_some() => {}
                Err(e) => return Err(KmsError::Internal(e.to_string())),
            }
            tracing::info!(account = %key.account_id, "account created from an access key id (--account-from-access-key)");
        }
        self.provisioned.insert(key.account_id.clone());
        Ok(())
    }
}
