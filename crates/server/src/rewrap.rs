//! Counting stored sealed material by domain-key generation: what a
//! rewrap (`strongroom admin rewrap`) still has to re-seal after a
//! domain-key rotation, shown by `admin rewrap-status` and the console's
//! fleet view. RetireDomainKey requires a generation's count be 0.

use std::collections::BTreeMap;

use serde::Serialize;
use strongroom_store::{Store, StoreError};

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

/// Whether a key is revoked, remembered per run (revoked keys' EKTs are
/// never re-wrapped).
pub async fn is_revoked(
    store: &dyn Store,
    seen: &mut std::collections::HashMap<uuid::Uuid, bool>,
    id: uuid::Uuid,
) -> Result<bool, StoreError> {
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
pub async fn status(store: &dyn Store) -> Result<RewrapStatus, StoreError> {
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
