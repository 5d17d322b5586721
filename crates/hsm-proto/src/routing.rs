//! Which modules serve a request: each key is placed on R of the domain's
//! modules by rendezvous hashing (every frontend computes the same R from
//! the key id and the modules' names, with no coordination), so its
//! material stays hot in R module caches; requests spread over those R,
//! skip modules that recently failed, and fall back to every other member
//! (any member can open any EKT of the domain).

use std::cell::RefCell;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::ciphertext::CiphertextHeader;
use crate::message::Request;

/// How long a module that failed to answer is tried last.
const DOWN_FOR_MS: u64 = 1000;

/// Placement of keys over a fixed list of modules, and their health.
#[derive(Debug)]
pub struct Placement {
    names: Vec<String>,
    replication: usize,
    next: AtomicUsize,
    down_until_ms: Vec<AtomicU64>,
    /// Each module's placement tags, once read from its Status.
    tags: RwLock<Vec<Option<Vec<String>>>>,
    tags_read_ms: AtomicU64,
}

tokio::task_local! {
    /// Module groups (`KEY=VALUE`) the request in progress is pinned to.
    static PINS: RefCell<Vec<String>>;
}

/// Runs `f` as one request: module groups pinned inside apply to it only.
pub async fn with_pins<F: std::future::Future>(f: F) -> F::Output {
    PINS.scope(RefCell::new(Vec::new()), f).await
}

/// Pins the request in progress to modules tagged `group` (`KEY=VALUE`):
/// no other module will be asked.
pub fn pin(group: &str) {
    let _ = PINS.try_with(|p| {
        let mut p = p.borrow_mut();
        if !p.iter().any(|g| g == group) {
            p.push(group.to_string());
        }
    });
}

/// The groups the request in progress is pinned to.
pub fn pins() -> Vec<String> {
    PINS.try_with(|p| p.borrow().clone()).unwrap_or_default()
}

/// FNV-1a, 64 bit: stable across builds and machines, unlike std's hasher
/// (placement must agree between frontends of different versions).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The key a request is about, if any (Decrypt and ReEncrypt: the key
/// their ciphertext's header names).
pub fn routing_key(r: &Request) -> Option<Uuid> {
    match r {
        Request::GenerateBackingKey { key, .. }
        | Request::GenerateOwnedBackingKey { key, .. }
        | Request::RotateBackingKey { key, .. }
        | Request::GenerateVolatileKey { key, .. }
        | Request::InstallVolatileKey { key, .. }
        | Request::GenerateExposedKey { key, .. }
        | Request::Encrypt { key, .. }
        | Request::GenerateDataKey { key, .. }
        | Request::DeriveKey { key, .. }
        | Request::RevealDerivedKey { key, .. }
        | Request::GenerateMac { key, .. }
        | Request::VerifyMac { key, .. }
        | Request::Sign { key, .. }
        | Request::Verify { key, .. }
        | Request::GetPublicKey { key, .. }
        | Request::AsymmetricDecrypt { key, .. }
        | Request::AsymmetricEncrypt { key, .. }
        | Request::DeriveSharedSecret { key, .. }
        | Request::GenerateDataKeyPair { key, .. }
        | Request::ImportKeyMaterial { key, .. }
        | Request::XksEncrypt { key, .. }
        | Request::XksDecrypt { key, .. } => Some(key.key_id),
        Request::Decrypt { ciphertext, .. } | Request::ReEncrypt { ciphertext, .. } => {
            CiphertextHeader::parse(ciphertext)
                .ok()
                .map(|h| h.key.key_id)
        }
        Request::InDomain { request, .. } => routing_key(request),
        Request::UpdateSuspensionOwner { key_id, .. } => Some(*key_id),
        _ => None,
    }
}

impl Placement {
    /// Placement over modules named `names`, each key on `replication` of them.
    pub fn new(names: Vec<String>, replication: usize) -> Self {
        let n = names.len();
        Self {
            replication: replication.clamp(1, n.max(1)),
            next: AtomicUsize::new(0),
            down_until_ms: (0..n).map(|_| AtomicU64::new(0)).collect(),
            tags: RwLock::new(vec![None; n]),
            tags_read_ms: AtomicU64::new(0),
            names,
        }
    }

    /// Records module `i`'s tags.
    pub fn set_tags(&self, i: usize, tags: Vec<String>) {
        if let Ok(mut t) = self.tags.write()
            && i < t.len()
        {
            t[i] = Some(tags);
        }
        self.tags_read_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Whether tags should be (re)read: never read, or read over 10 s ago.
    pub fn tags_stale(&self) -> bool {
        now_ms().saturating_sub(self.tags_read_ms.load(Ordering::Relaxed)) > 10_000
    }

    /// Whether module `i` carries every group in `pins` (unknown tags: no).
    fn carries(&self, i: usize, pins: &[String]) -> bool {
        pins.is_empty()
            || self.tags.read().is_ok_and(|t| {
                t[i].as_ref()
                    .is_some_and(|tags| pins.iter().all(|p| tags.contains(p)))
            })
    }

    /// The modules a key lives on, most preferred first.
    pub fn replicas(&self, key: Uuid) -> Vec<usize> {
        let mut scored: Vec<(u64, usize)> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| (fnv1a(&[key.as_bytes(), name.as_bytes()]), i))
            .collect();
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(self.replication)
            .map(|(_, i)| i)
            .collect()
    }

    /// The order in which to try modules for a request about `key`: its
    /// replicas (spread round-robin), then every other module; modules that
    /// just failed go last.
    pub fn order(&self, key: Option<Uuid>) -> Vec<usize> {
        let n = self.names.len();
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let mut order: Vec<usize> = match key {
            Some(k) => {
                let mut replicas = self.replicas(k);
                let r = replicas.len();
                replicas.rotate_left(turn % r.max(1));
                let rest = (0..n).filter(|i| !replicas.contains(i)).collect::<Vec<_>>();
                replicas.into_iter().chain(rest).collect()
            }
            None => (0..n).map(|i| (turn + i) % n).collect(),
        };
        let now = now_ms();
        order.sort_by_key(|i| self.down_until_ms[*i].load(Ordering::Relaxed) > now);
        order
    }

    /// Like [`Self::order`], keeping only modules that carry every group
    /// in `pins` (a pinned key is never served elsewhere).
    pub fn order_pinned(&self, key: Option<Uuid>, pins: &[String]) -> Vec<usize> {
        let mut order = self.order(key);
        order.retain(|i| self.carries(*i, pins));
        order
    }

    /// Notes that module `i` did not answer.
    pub fn mark_down(&self, i: usize) {
        self.down_until_ms[i].store(now_ms() + DOWN_FOR_MS, Ordering::Relaxed);
    }

    /// Notes that module `i` answered.
    pub fn mark_up(&self, i: usize) {
        if self.down_until_ms[i].load(Ordering::Relaxed) != 0 {
            self.down_until_ms[i].store(0, Ordering::Relaxed);
        }
    }

    /// How many modules hold each key.
    pub fn replication(&self) -> usize {
        self.replication
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("10.0.0.{i}:7000")).collect()
    }

    #[test]
    fn replicas_are_stable_spread_and_minimally_moved() {
        let p = Placement::new(names(5), 2);
        let keys: Vec<Uuid> = (0..2000).map(|_| Uuid::new_v4()).collect();
        let mut load = [0usize; 5];
        for k in &keys {
            let r = p.replicas(*k);
            assert_eq!(r.len(), 2);
            assert_ne!(r[0], r[1]);
            // Every frontend computes the same placement.
            assert_eq!(r, Placement::new(names(5), 2).replicas(*k));
            for i in r {
                load[i] += 1;
            }
        }
        // Even spread: each module holds about 2/5 of the keys.
        for l in load {
            assert!((600..=1000).contains(&l), "{load:?}");
        }
        // Removing a module moves only the keys it held.
        let four = Placement::new(names(4), 2);
        let moved = keys
            .iter()
            .filter(|k| {
                let before: Vec<_> = p.replicas(**k).into_iter().filter(|i| *i != 4).collect();
                let after = four.replicas(**k);
                !before.iter().all(|i| after.contains(i))
            })
            .count();
        assert_eq!(moved, 0);
    }

    #[test]
    fn pinned_requests_go_only_to_modules_of_their_group() {
        let p = Placement::new(names(3), 2);
        let k = Uuid::new_v4();
        let eu = vec!["region=eu".to_string()];
        // Tags unknown: nobody qualifies (fail closed).
        assert!(p.order_pinned(Some(k), &eu).is_empty());
        p.set_tags(0, vec!["region=eu".into()]);
        p.set_tags(1, vec!["region=us".into()]);
        p.set_tags(2, vec!["region=eu".into(), "tier=gold".into()]);
        for _ in 0..6 {
            let o = p.order_pinned(Some(k), &eu);
            assert!(
                o.iter().all(|i| *i == 0 || *i == 2) && o.len() == 2,
                "{o:?}"
            );
        }
        let both = vec!["region=eu".to_string(), "tier=gold".to_string()];
        assert_eq!(p.order_pinned(None, &both), vec![2]);
        assert_eq!(p.order_pinned(Some(k), &[]).len(), 3);
    }

    #[tokio::test]
    async fn pins_belong_to_one_request() {
        let inside = with_pins(async {
            pin("region=eu");
            pin("region=eu");
            pins()
        })
        .await;
        assert_eq!(inside, vec!["region=eu".to_string()]);
        assert!(with_pins(async { pins() }).await.is_empty());
        assert!(pins().is_empty());
    }

    #[test]
    fn order_spreads_over_replicas_then_falls_back_and_skips_down_modules() {
        let p = Placement::new(names(3), 2);
        let k = Uuid::new_v4();
        let replicas = p.replicas(k);
        let firsts: std::collections::BTreeSet<usize> =
            (0..4).map(|_| p.order(Some(k))[0]).collect();
        assert_eq!(firsts, replicas.iter().copied().collect());
        let o = p.order(Some(k));
        assert_eq!(o.len(), 3);
        assert!(!replicas.contains(&o[2]), "the non-replica comes last");
        p.mark_down(replicas[0]);
        for _ in 0..4 {
            let o = p.order(Some(k));
            assert_eq!(o[0], replicas[1]);
            assert_eq!(*o.last().unwrap(), replicas[0]);
        }
        p.mark_up(replicas[0]);
        let firsts: std::collections::BTreeSet<usize> =
            (0..4).map(|_| p.order(Some(k))[0]).collect();
        assert_eq!(firsts.len(), 2);
    }
}
