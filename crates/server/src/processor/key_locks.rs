//! Per-key locks for read-modify-write of key metadata in this frontend.
//!
//! A lock is named by a [`LockId`]: a key's material id (every copy of a
//! multi-Region key shares one, so rotating, replicating or moving its
//! primary locks the whole family) or an alias name. Entries live in a
//! table only while someone holds or waits for them. Several locks are
//! always taken in one call, in `LockId` order (aliases before keys, each
//! sorted), so two operations that need the same two locks cannot
//! deadlock; an operation never takes a lock while holding a key lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use uuid::Uuid;

/// What one lock protects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockId {
    /// An alias, by (account, region, name): its target while it changes.
    Alias(String, String, String),
    /// A key, by material id (a multi-Region key's copies share it).
    Key(Uuid),
}

type Table = Mutex<HashMap<LockId, Arc<AsyncMutex<()>>>>;

/// The lock table.
#[derive(Default)]
pub struct KeyLocks {
    table: Arc<Table>,
}

/// Held locks; dropping it releases them and frees unused entries.
pub struct KeyGuard {
    table: Arc<Table>,
    held: Vec<(LockId, OwnedMutexGuard<()>)>,
}

impl std::fmt::Debug for KeyGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<_> = self.held.iter().map(|(id, _)| id).collect();
        f.debug_struct("KeyGuard").field("held", &ids).finish()
    }
}

impl KeyLocks {
    /// Takes every lock in `ids` (duplicates once), in `LockId` order.
    pub async fn lock(&self, ids: impl IntoIterator<Item = LockId>) -> KeyGuard {
        let mut ids: Vec<LockId> = ids.into_iter().collect();
        ids.sort();
        ids.dedup();
        let mut guard = KeyGuard {
            table: self.table.clone(),
            held: Vec::with_capacity(ids.len()),
        };
        for id in ids {
            // If this future is dropped while waiting, `guard` drops the
            // locks taken so far and `waiting` frees this one's entry
            // unless someone else holds or waits for it.
            let mut waiting = Waiting {
                table: &self.table,
                id: Some(id.clone()),
            };
            let held = self.entry(&id).lock_owned().await;
            waiting.id = None;
            guard.held.push((id, held));
        }
        guard
    }

    /// Takes the locks of keys with these material ids.
    pub async fn lock_keys(&self, ids: &[Uuid]) -> KeyGuard {
        self.lock(ids.iter().copied().map(LockId::Key)).await
    }

    /// How many entries the table holds (held or waited for).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.lock().map_or(0, |t| t.len())
    }

    /// Whether no lock is held or waited for.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entry(&self, id: &LockId) -> Arc<AsyncMutex<()>> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.entry(id.clone()).or_default().clone()
    }
}

/// A wait for one lock; dropped before it got it (`id` still set), it
/// frees the entry if nobody holds or waits for it any more.
struct Waiting<'a> {
    table: &'a Table,
    id: Option<LockId>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
            free_if_unused(&mut table, &id);
        }
    }
}

/// Removes `id`'s entry if the table's is the only reference left.
fn free_if_unused(table: &mut HashMap<LockId, Arc<AsyncMutex<()>>>, id: &LockId) {
    if table.get(id).is_some_and(|m| Arc::strong_count(m) == 1) {
        table.remove(id);
    }
}

impl KeyGuard {
    /// Whether this guard holds the lock of key material `id`.
    pub fn holds_key(&self, id: Uuid) -> bool {
        self.held.iter().any(|(h, _)| *h == LockId::Key(id))
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for (id, held) in self.held.drain(..) {
            drop(held);
            // Only the table's own reference left: nobody holds or waits.
            free_if_unused(&mut table, &id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn entries_are_freed_and_order_is_fixed() {
        let locks = KeyLocks::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        {
            let g = locks.lock_keys(&[b, a, b]).await;
            assert!(g.holds_key(a) && g.holds_key(b));
            assert_eq!(g.held.len(), 2);
            assert!(g.held[0].0 < g.held[1].0);
            assert_eq!(locks.len(), 2);
        }
        assert!(locks.is_empty());
    }

    // A request dropped while it waits (its client went away, or a timeout
    // fired) just as the holder hands it the lock must not leave the entry
    // behind: ids that name no key are locked too (`mrk-…` names are not
    // looked up), so such leftovers would grow the table without bound.
    #[tokio::test]
    async fn a_waiter_dropped_as_it_is_handed_the_lock_leaves_no_entry() {
        let locks = KeyLocks::default();
        let id = Uuid::new_v4();
        let holder = locks.lock_keys(&[id]).await;
        let mut waiter = Box::pin(locks.lock([LockId::Key(id)]));
        let waited = tokio::time::timeout(Duration::from_millis(20), &mut waiter).await;
        assert!(waited.is_err(), "the waiter got a held lock");
        // Released: the lock is handed to the waiter, which never runs again.
        drop(holder);
        drop(waiter);
        assert!(locks.is_empty(), "{} entries left", locks.len());
        // And a waiter dropped while the lock is still held.
        let holder = locks.lock_keys(&[id]).await;
        let mut waiter = Box::pin(locks.lock([LockId::Key(id)]));
        let waited = tokio::time::timeout(Duration::from_millis(20), &mut waiter).await;
        assert!(waited.is_err(), "the waiter got a held lock");
        drop(waiter);
        drop(holder);
        assert!(locks.is_empty(), "{} entries left", locks.len());
    }

    #[tokio::test]
    async fn opposite_orders_do_not_deadlock() {
        let locks = Arc::new(KeyLocks::default());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut tasks = Vec::new();
        for i in 0..50 {
            let locks = locks.clone();
            let ids = if i % 2 == 0 { [a, b] } else { [b, a] };
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock_keys(&ids).await;
                tokio::task::yield_now().await;
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("no deadlock")
                .unwrap();
        }
        assert!(locks.is_empty());
    }
}
