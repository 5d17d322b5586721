//! A request budget per external key store (`--xks-requests-per-second`):
//! past it, a key store's requests get ThrottlingException (HTTP 429, as
//! the specification lists it) and AWS KMS backs off, so one busy key
//! store cannot take the modules from the others. Charged only after the
//! signature verified, so nobody but the key store's own credentials can
//! spend its budget.
//!
//! The budget is a generic cell rate algorithm: one atomic "theoretical
//! arrival time" per key store, a burst of one second's worth. Written
//! here rather than taken from `governor` because it is these few lines
//! over an `AtomicU64` and needs none of that crate's clocks.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The per key store budgets.
pub struct KeyStoreThrottle {
    per_second: Option<NonZeroU32>,
    origin: Instant,
    /// Key store ARN → nanoseconds after `origin` at which its budget is
    /// whole again (only authenticated key stores get an entry, so the map
    /// stays as small as the set of key stores).
    stores: DashMap<String, AtomicU64>,
}

impl KeyStoreThrottle {
    /// Budgets of `per_second` requests per key store (`None`: unlimited).
    pub fn new(per_second: Option<NonZeroU32>) -> Self {
        Self {
            per_second,
            origin: Instant::now(),
            stores: DashMap::new(),
        }
    }

    /// Takes one request from the budget of key store `arn`; `false` if it
    /// has none left.
    pub fn admit(&self, arn: &str) -> bool {
        self.admit_at(arn, self.origin.elapsed().as_nanos() as u64)
    }

    fn admit_at(&self, arn: &str, now: u64) -> bool {
        let Some(rate) = self.per_second else {
            return true;
        };
        let interval = NANOS_PER_SEC / u64::from(rate.get());
        // A full budget is one second's worth of requests.
        let tolerance = NANOS_PER_SEC - interval;
        let take = |tat: &AtomicU64| {
            tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                (t <= now + tolerance).then(|| t.max(now) + interval)
            })
            .is_ok()
        };
        if let Some(tat) = self.stores.get(arn) {
            return take(&tat);
        }
        let tat = self
            .stores
            .entry(arn.to_owned())
            .or_insert_with(|| AtomicU64::new(0));
        take(&tat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = NANOS_PER_SEC;

    #[test]
    fn a_burst_of_one_seconds_worth_then_one_per_interval() {
        let t = KeyStoreThrottle::new(NonZeroU32::new(10));
        let admitted = (0..25).filter(|_| t.admit_at("a", SEC)).count();
        assert_eq!(admitted, 10);
        // A tenth of a second later, exactly one more.
        assert!(t.admit_at("a", SEC + SEC / 10));
        assert!(!t.admit_at("a", SEC + SEC / 10));
        // A quiet second refills the whole burst, never more.
        let later = 5 * SEC;
        assert_eq!((0..25).filter(|_| t.admit_at("a", later)).count(), 10);
    }

    #[test]
    fn key_stores_have_budgets_of_their_own() {
        let t = KeyStoreThrottle::new(NonZeroU32::new(2));
        assert!(t.admit_at("a", SEC) && t.admit_at("a", SEC));
        assert!(!t.admit_at("a", SEC));
        assert!(t.admit_at("b", SEC) && t.admit_at("b", SEC));
    }

    #[test]
    fn unlimited_admits_everything_and_remembers_nothing() {
        let t = KeyStoreThrottle::new(None);
        assert!((0..10_000).all(|_| t.admit("a")));
        assert!(t.stores.is_empty());
    }
}
