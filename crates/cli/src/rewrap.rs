//! Domain-key rotation, the frontend's part: walk every stored EKT and
//! sealed secret, have a module re-seal those under an older generation to
//! the newest, and write them back (compare-and-swap, so it is safe to run
//! twice, resume after a crash, or race a key deletion). `status` counts
//! what still needs an old generation, which RetireDomainKey requires be 0.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use strongroom_hsm_proto::{Ekt, HsmClient, Request, Response};
use strongroom_store::Store;

/// Sealed material by domain-key generation.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct RewrapStatus {
    /// EKTs per generation.
    pub ekts_by_generation: BTreeMap<u32, u64>,
    /// Sealed secret access keys per generation.
    pub credentials_by_generation: BTreeMap<u32, u64>,
    /// EKTs of revoked keys per generation: never re-wrapped, they die
    /// when their generation is retired (not counted above).
    pub revoked_ekts_by_generation: BTreeMap<u32, u64>,
}

/// Whether a key is revoked, remembered per run.
async fn is_revoked(
    store: &dyn Store,
    seen: &mut std::collections::HashMap<uuid::Uuid, bool>,
    id: uuid::Uuid,
) -> anyhow::Result<bool> {
    if let Some(&r) = seen.get(&id) {
        return Ok(r);
    }
    let r = store
        .get_key(id)
        .await?
        .is_some_and(|k| k.state == strongroom_store::KeyState::Revoked);
    seen.insert(id, r);
    Ok(r)
}

impl RewrapStatus {
    /// Items still under a generation older than `newest`.
    pub fn older_than(&self, newest: u32) -> u64 {
        self.ekts_by_generation
            .iter()
            .chain(&self.credentials_by_generation)
            .filter(|(g, _)| **g < newest)
            .map(|(_, n)| n)
            .sum()
    }

    /// Items still under generation `g` (for RetireDomainKey).
    pub fn under(&self, g: u32) -> u64 {
        self.ekts_by_generation.get(&g).copied().unwrap_or(0)
            + self.credentials_by_generation.get(&g).copied().unwrap_or(0)
    }
}

/// The generation an EKT names (docs/formats.md).
fn ekt_generation(ekt: &[u8]) -> Option<u32> {
    strongroom_hsm_proto::Ekt(ekt.to_vec())
        .sealed_under()
        .map(|(_, generation)| generation)
}

/// The generation a sealed credential names (bytes 1..5).
fn credential_generation(sealed: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(sealed.get(1..5)?.try_into().ok()?))
}

/// Counts stored material by generation.
pub async fn status(store: &dyn Store) -> anyhow::Result<RewrapStatus> {
    let mut s = RewrapStatus::default();
    let mut revoked = std::collections::HashMap::new();
    let mut after = None;
    loop {
        let page = store.list_key_versions(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.key_id, last.version));
        for v in page.iter().filter(|v| !v.ekt.is_empty()) {
            let g = ekt_generation(&v.ekt).unwrap_or(0);
            let bucket = if is_revoked(store, &mut revoked, v.key_id).await? {
                &mut s.revoked_ekts_by_generation
            } else {
                &mut s.ekts_by_generation
            };
            *bucket.entry(g).or_default() += 1;
        }
    }
    let mut after: Option<String> = None;
    loop {
        let page = store.list_all_access_keys(after.as_deref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.access_key_id.clone());
        for k in &page {
            *s.credentials_by_generation
                .entry(credential_generation(&k.sealed_secret).unwrap_or(0))
                .or_default() += 1;
        }
    }
    Ok(s)
}

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
        let Response::Ekts(new) = hsm.call(Request::RewrapKeys { ekts }).await? else {
            anyhow::bail!("unexpected module answer to RewrapKeys");
        };
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
        let Response::SealedCredentials(new) =
            hsm.call(Request::RewrapCredentials { credentials }).await?
        else {
            anyhow::bail!("unexpected module answer to RewrapCredentials");
        };
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
