//! Facts read at scrape time from the store and the modules, cached for
//! [`SCRAPE_CACHE_TTL`] so scrapers (several Prometheus servers, a
//! dashboard) never turn into load on either.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strongroom_hsm_proto::{HsmClient, Request, Response};
use strongroom_store::Store;
use tokio::sync::Mutex;

use crate::clock::now_epoch;

/// How long store and module facts are reused between scrapes.
pub const SCRAPE_CACHE_TTL: Duration = Duration::from_secs(5);
/// Longest one store or module question may take at scrape time.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Key states and specs a label may name; anything else is `other`.
const KEY_STATES: &[&str] = &[
    "Creating",
    "Enabled",
    "Disabled",
    "PendingDeletion",
    "PendingImport",
    "PendingReplicaDeletion",
    "Unavailable",
    "Updating",
];
const KEY_SPECS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
];

/// A bounded label value: `v` if it is in `known`, else `other`.
pub fn bounded(v: &str, known: &[&'static str]) -> &'static str {
    known
        .iter()
        .find(|k| **k == v)
        .copied()
        .unwrap_or(super::labels::OTHER)
}

/// One module's answer to Status.
#[derive(Debug, Clone)]
pub struct ModuleFacts {
    /// The module's name in the fleet (its address).
    pub name: String,
    /// Whether it answered.
    pub up: bool,
    /// Whether it is in use mode.
    pub in_use: bool,
    /// Whether it is a member of the domain this frontend serves (or of
    /// any domain when none is set).
    pub serves_domain: bool,
    /// Keys in its vault and the vault's capacity.
    pub vault: Option<(usize, usize)>,
    /// Why it is not serving, when it is not.
    pub problem: Option<String>,
}

/// What the store says, at scrape time.
#[derive(Debug, Clone, Default)]
pub struct StoreFacts {
    /// `(state, spec, keys)`, labels bounded.
    pub keys: Vec<(&'static str, &'static str, u64)>,
    /// Keys pending deletion whose date has passed.
    pub deletion_backlog: u64,
    /// Keys whose automatic rotation is due.
    pub rotation_backlog: u64,
    /// Whether the store answered.
    pub up: bool,
}

/// Everything read at one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    /// Store facts.
    pub store: StoreFacts,
    /// Module facts, by module.
    pub modules: Vec<ModuleFacts>,
}

/// Asks the store and the modules, at most once per [`SCRAPE_CACHE_TTL`].
pub struct Scraper {
    store: Arc<dyn Store>,
    hsm: HsmClient,
    cached: Mutex<Option<(Instant, Arc<Scraped>)>>,
}

impl Scraper {
    /// A scraper of `store` and the modules `hsm` reaches.
    pub fn new(store: Arc<dyn Store>, hsm: HsmClient) -> Self {
        Self {
            store,
            hsm,
            cached: Mutex::new(None),
        }
    }

    /// The facts, cached or read now.
    pub async fn facts(&self) -> Arc<Scraped> {
        let mut cached = self.cached.lock().await;
        if let Some((at, s)) = cached.as_ref()
            && at.elapsed() < SCRAPE_CACHE_TTL
        {
            return s.clone();
        }
        let fresh = Arc::new(Scraped {
            store: store_facts(self.store.as_ref()).await,
            modules: module_facts(&self.hsm).await,
        });
        *cached = Some((Instant::now(), fresh.clone()));
        fresh
    }
}

/// Counts keys by state and spec, and the sweepers' backlog.
pub async fn store_facts(store: &dyn Store) -> StoreFacts {
    let now = now_epoch();
    let counted = tokio::time::timeout(PROBE_TIMEOUT, async {
        let by = store.count_keys_by_state_and_spec().await?;
        let deletions = store.keys_due_for_deletion(now).await?.len() as u64;
        let rotations = store.keys_due_for_rotation(now).await?.len() as u64;
        Ok::<_, strongroom_store::StoreError>((by, deletions, rotations))
    })
    .await;
    let Ok(Ok((by, deletion_backlog, rotation_backlog))) = counted else {
        return StoreFacts::default();
    };
    let mut keys: Vec<(&'static str, &'static str, u64)> = Vec::new();
    for (state, spec, n) in by {
        let (state, spec) = (bounded(&state, KEY_STATES), bounded(&spec, KEY_SPECS));
        match keys.iter_mut().find(|(a, b, _)| *a == state && *b == spec) {
            Some(k) => k.2 += n,
            None => keys.push((state, spec, n)),
        }
    }
    StoreFacts {
        keys,
        deletion_backlog,
        rotation_backlog,
        up: true,
    }
}

/// Asks every module for its status (each within [`PROBE_TIMEOUT`]).
pub async fn module_facts(hsm: &HsmClient) -> Vec<ModuleFacts> {
    let domain = hsm.domain();
    let mut out = Vec::new();
    for (i, name) in hsm.module_names().into_iter().enumerate() {
        let answer = tokio::time::timeout(PROBE_TIMEOUT, hsm.call_module(i, Request::Status)).await;
        let facts = match answer {
            Ok(Ok(Response::Status(s))) => {
                let in_use = s.mode == "use";
                let serves_domain =
                    domain.is_none_or(|d| s.domains.iter().any(|m| m.domain_id == d));
                let problem = match (in_use, serves_domain) {
                    (true, true) => None,
                    (false, _) => Some(format!("in {} mode", s.mode)),
                    (true, false) => Some("not a member of the served domain".into()),
                };
                ModuleFacts {
                    name,
                    up: true,
                    in_use,
                    serves_domain,
                    vault: Some((s.cached_keys, s.cache_capacity)),
                    problem,
                }
            }
            Ok(Ok(_)) => down(name, "unexpected answer to Status".into()),
            Ok(Err(e)) => down(name, e.to_string()),
            Err(_) => down(name, format!("no answer within {PROBE_TIMEOUT:?}")),
        };
        out.push(facts);
    }
    out
}

fn down(name: String, why: String) -> ModuleFacts {
    ModuleFacts {
        name,
        up: false,
        in_use: false,
        serves_domain: false,
        vault: None,
        problem: Some(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_or_spec_outside_the_lists_is_other() {
        assert_eq!(bounded("Enabled", KEY_STATES), "Enabled");
        assert_eq!(bounded("enabled'; DROP", KEY_STATES), "other");
        assert_eq!(bounded("RSA_2048", KEY_SPECS), "RSA_2048");
        assert_eq!(bounded("123456789012", KEY_SPECS), "other");
    }
}
