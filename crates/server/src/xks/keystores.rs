//! Which external key store a URI prefix belongs to: a table read from the
//! store (key stores are principals of kind `xks_key_store`, named by their
//! prefix), kept in memory and re-read on a miss, at most once a second,
//! so a flood of made-up prefixes costs one store scan a second. A key
//! store created since is found through the principal of the request's
//! (known, active) access key: one store read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strongroom_store::{PrincipalKind, Store};
use tokio::sync::Mutex;

use crate::error::KmsError;

/// Least time between two reads of the table caused by misses. A hit is
/// never re-read: key stores are neither deleted nor renamed, so the hot
/// path makes no store round trip for the table.
const MISS_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// One external key store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStore {
    /// Its principal's ARN.
    pub arn: String,
    /// Its account.
    pub account_id: String,
    /// Its URI prefix (`/keystores/a`).
    pub prefix: String,
}

struct Table {
    by_prefix: HashMap<String, Arc<KeyStore>>,
    read_at: Option<Instant>,
}

/// The prefix → key store table.
pub struct KeyStores {
    store: Arc<dyn Store>,
    table: Mutex<Table>,
    principal_reads: AtomicU64,
}

/// The principal ARN of the key store of `prefix` (`/keystores/a`) in
/// `account_id`.
pub fn key_store_arn(account_id: &str, prefix: &str) -> String {
    format!(
        "arn:aws:iam::{account_id}:user/xks-key-store/{}",
        prefix.strip_prefix('/').unwrap_or(prefix)
    )
}

/// Every external key store in the store.
pub async fn list_all(store: &dyn Store) -> Result<Vec<KeyStore>, KmsError> {
    let mut out = Vec::new();
    for account in store.list_accounts().await? {
        for p in store.list_principals(&account.id).await? {
            if p.kind == PrincipalKind::XksKeyStore {
                out.push(KeyStore {
                    arn: p.arn,
                    account_id: p.account_id,
                    prefix: p.name,
                });
            }
        }
    }
    Ok(out)
}

impl KeyStores {
    /// An empty table over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            table: Mutex::new(Table {
                by_prefix: HashMap::new(),
                read_at: None,
            }),
            principal_reads: AtomicU64::new(0),
        }
    }

    /// The key store of `prefix` if `principal_arn` (the principal of the
    /// request's access key) is it; remembered in the table.
    pub async fn find_by_principal(
        &self,
        prefix: &str,
        account_id: &str,
        principal_arn: &str,
    ) -> Result<Option<Arc<KeyStore>>, KmsError> {
        // Only the principal this prefix's key store would have is worth a
        // store read: a made-up prefix (unauthenticated, routed before the
        // signature is checked) must cost none.
        if principal_arn != key_store_arn(account_id, prefix) {
            return Ok(None);
        }
        self.principal_reads.fetch_add(1, Ordering::Relaxed);
        let Some(p) = self.store.get_principal(principal_arn).await? else {
            return Ok(None);
        };
        if p.kind != PrincipalKind::XksKeyStore || p.name != prefix {
            return Ok(None);
        }
        let ks = Arc::new(KeyStore {
            arn: p.arn,
            account_id: p.account_id,
            prefix: p.name,
        });
        self.table
            .lock()
            .await
            .by_prefix
            .insert(prefix.to_owned(), ks.clone());
        Ok(Some(ks))
    }

    /// Principals read by [`Self::find_by_principal`] so far.
    pub fn principal_reads(&self) -> u64 {
        self.principal_reads.load(Ordering::Relaxed)
    }

    /// The key store of `prefix`, if there is one.
    pub async fn find(&self, prefix: &str) -> Result<Option<Arc<KeyStore>>, KmsError> {
        {
            let mut t = self.table.lock().await;
            let hit = t.by_prefix.get(prefix).cloned();
            let due = t
                .read_at
                .is_none_or(|at| at.elapsed() >= MISS_REFRESH_INTERVAL);
            if hit.is_some() || !due {
                return Ok(hit);
            }
            // Claimed before reading, so concurrent misses read once.
            t.read_at = Some(Instant::now());
        }
        // Read without the lock: requests for known prefixes must not wait
        // for a store read an unknown one caused.
        let all = list_all(self.store.as_ref()).await?;
        let mut t = self.table.lock().await;
        // Merged, not replaced: key stores are never deleted, and one found
        // meanwhile through its principal stays.
        for k in all {
            t.by_prefix.insert(k.prefix.clone(), Arc::new(k));
        }
        Ok(t.by_prefix.get(prefix).cloned())
    }
}
