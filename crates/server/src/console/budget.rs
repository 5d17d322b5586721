//! The sign-in failure budget: one source may fail to sign in
//! [`MAX_FAILURES`] times per [`FAILURE_WINDOW`]. Sign-ins still being
//! checked count against it too, so concurrent guesses cannot all pass
//! the check before the first failure is counted. A source is an IPv4
//! address or an IPv6 /64 (one host commonly holds a whole /64, so
//! counting single IPv6 addresses would let it guess without limit). The
//! table holds at most [`MAX_SOURCES`] sources.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::KmsError;

/// Failed sign-ins one source may make per [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 10;
/// The window of [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most sources the table tracks; past it the stalest is forgotten.
pub const MAX_SOURCES: usize = 10_000;

#[derive(Clone, Copy)]
struct Entry {
    since: Instant,
    failed: u32,
    in_flight: u32,
}

/// Failures and sign-ins in flight, by source address.
#[derive(Default)]
pub struct Budget {
    sources: Mutex<HashMap<IpAddr, Entry>>,
}

/// A sign-in being checked; it stops counting when dropped.
pub struct Attempt<'a> {
    budget: &'a Budget,
    source: Option<IpAddr>,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let Some(ip) = self.source else { return };
        if let Some(e) = self.budget.lock().get_mut(&ip) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
    }
}

impl Budget {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a sign-in from `source`, or refuses it if the source's
    /// failures and sign-ins in flight already fill its budget.
    pub fn attempt(&self, source: Option<IpAddr>) -> Result<Attempt<'_>, KmsError> {
        let source = source.map(bucket);
        let Some(ip) = source else {
            return Ok(Attempt {
                budget: self,
                source,
            });
        };
        let now = Instant::now();
        let mut sources = self.lock();
        let e = entry(&mut sources, ip, now);
        if e.failed + e.in_flight >= MAX_FAILURES {
            return Err(KmsError::Throttling(
                "Rate exceeded: too many failed sign-ins from this source; wait a minute.".into(),
            ));
        }
        e.in_flight += 1;
        Ok(Attempt {
            budget: self,
            source,
        })
    }

    /// Counts a failed sign-in from `source`.
    pub fn note_failure(&self, source: Option<IpAddr>) {
        let Some(ip) = source.map(bucket) else {
            return;
        };
        let now = Instant::now();
        let mut sources = self.lock();
        entry(&mut sources, ip, now).failed += 1;
    }

    /// How many sources the table holds (tests).
    pub fn sources(&self) -> usize {
        self.lock().len()
    }
}

/// The source an address counts as: an IPv4 address (also when mapped
/// into IPv6), or an IPv6 address's /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// `ip`'s entry, its window restarted if over; room is made first.
fn entry(sources: &mut HashMap<IpAddr, Entry>, ip: IpAddr, now: Instant) -> &mut Entry {
    if !sources.contains_key(&ip) && sources.len() >= MAX_SOURCES {
        sources.retain(|_, e| e.in_flight > 0 || now.duration_since(e.since) < FAILURE_WINDOW);
        if sources.len() >= MAX_SOURCES
            && let Some(stalest) = sources.iter().min_by_key(|(_, e)| e.since).map(|(k, _)| *k)
        {
            sources.remove(&stalest);
        }
    }
    let e = sources.entry(ip).or_insert(Entry {
        since: now,
        failed: 0,
        in_flight: 0,
    });
    if now.duration_since(e.since) >= FAILURE_WINDOW {
        e.since = now;
        e.failed = 0;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_keeps_failing_is_throttled() {
        let b = Budget::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            let _a = b.attempt(Some(ip)).unwrap();
            b.note_failure(Some(ip));
        }
        assert!(matches!(b.attempt(Some(ip)), Err(KmsError::Throttling(_))));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        b.attempt(Some(other)).unwrap();
    }

    #[test]
    fn one_ipv6_64_is_one_source() {
        let b = Budget::default();
        for i in 0..MAX_FAILURES {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            b.note_failure(Some(ip));
        }
        let same: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(b.attempt(Some(same)).is_err());
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        b.attempt(Some(other)).unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            b.note_failure(Some(mapped));
        }
        assert!(b.attempt(Some("192.0.2.1".parse().unwrap())).is_err());
    }

    #[test]
    fn sign_ins_in_flight_count_against_the_budget() {
        let b = Budget::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..MAX_FAILURES)
            .map(|_| b.attempt(Some(ip)).unwrap())
            .collect();
        // A refused attempt does not free a slot of one in flight.
        assert!(b.attempt(Some(ip)).is_err());
        assert!(b.attempt(Some(ip)).is_err());
        drop(held);
        b.attempt(Some(ip)).unwrap();
    }

    #[test]
    fn failures_from_ever_new_sources_stay_bounded() {
        let b = Budget::default();
        for i in 0..(MAX_SOURCES as u32 + 5_000) {
            let ip = IpAddr::from(std::net::Ipv6Addr::from((u128::from(i) + 1) << 64));
            b.note_failure(Some(ip));
        }
        assert!(b.sources() <= MAX_SOURCES, "{}", b.sources());
    }
}
