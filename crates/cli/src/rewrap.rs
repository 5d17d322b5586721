//! Domain-key rotation, the frontend's part: walk every stored EKT and
//! sealed secret, have a module re-seal those under an older generation to
//! the newest, and write them back (compare-and-swap, so it is safe to run
//! twice, resume after a crash, or race a key deletion). `status` counts
//! what still needs an old generation, which RetireDomainKey requires be 0.

use std::time::Duration;

use serde::Serialize;
use strongroom_hsm_proto::{Ekt, HsmClient, Request};
use strongroom_store::Store;

use strongroom_server::rewrap::is_revoked;
pub use strongroom_server::rewrap::{RewrapStatus, status};

/// Progress of a run.
#[derive(Debug, Default, Serialize, Clone, Copy)]
pub struct RewrapProgress {
    /// Items looked at.
    pub seen: u64,
    /// Items re-sealed and written back.
    pub rewrapped: u64,
    /// Items left alone: revoked keys' EKTs, or items that changed under
    /// us (deleted, or re-wrapped by another run).
    pub skipped: u64,
}

/// Re-wraps everything, `batch` items per module call, pausing `pause`
/// between batches (throttle); calls `progress` after each batch.
pub async fn run(
    store: &dyn Store,
    hsm: &HsmClient,
    batch: usize,
    pause: Duration,
    mut progress: impl FnMut(RewrapProgress),
) -> anyhow::Result<RewrapProgress> {
    let mut p = RewrapProgress::default();
    let mut revoked = std::collections::HashMap::new();
    let mut after = None;
    loop {
        let page = store.list_key_versions(after, batch.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.key_id, last.version));
        let mut live = Vec::with_capacity(page.len());
        for v in page {
            // Empty: a suspended key's version, held by its owner.
            if v.ekt.is_empty() || is_revoked(store, &mut revoked, v.key_id).await? {
                p.seen += 1;
                p.skipped += 1;
            } else {
                live.push(v);
            }
        }
        let page = live;
        if page.is_empty() {
            continue;
        }
        let ekts = page.iter().map(|v| Ekt(v.ekt.clone())).collect();
        let new = hsm.call(Request::RewrapKeys { ekts }).await?.into_ekts()?;
        for (v, n) in page.iter().zip(new) {
            p.seen += 1;
            if n.0 != v.ekt {
                if store.replace_ekt(v.key_id, v.version, &v.ekt, &n.0).await? {
                    p.rewrapped += 1;
                } else {
                    p.skipped += 1;
                }
            }
        }
        progress(p);
        tokio::time::sleep(pause).await;
    }
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_all_access_keys(after.as_deref(), batch.max(1))
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.access_key_id.clone());
        let credentials = page
            .iter()
            .map(|k| (k.access_key_id.clone(), k.sealed_secret.clone()))
            .collect();
        let new = hsm
            .call(Request::RewrapCredentials { credentials })
            .await?
            .into_sealed_credentials()?;
        for (k, n) in page.iter().zip(new) {
            p.seen += 1;
            if n != k.sealed_secret {
                if store
                    .replace_sealed_secret(&k.access_key_id, &k.sealed_secret, &n)
                    .await?
                {
                    p.rewrapped += 1;
                } else {
                    p.skipped += 1;
                }
            }
        }
        progress(p);
        tokio::time::sleep(pause).await;
    }
    Ok(p)
}

/// A one-line progress bar.
pub fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH) as usize;
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH as usize - filled)
    )
}
