//! What a request with an access key id we do not know may cost: a store
//! lookup only while its source has budget left. An id the store did not
//! know is remembered for [`UNKNOWN_KEY_TTL`] (so repeating it costs
//! nothing), and each source (an IPv4 address, an IPv6 /64) may cause at
//! most `burst` lookups of ids the store did not know, refilled at
//! `per_minute`; past that, its requests that name an id not already
//! cached are refused with ThrottlingException, without a lookup. Keys the
//! frontend already knows are never throttled.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

#[cfg(test)]
use super::source_budget::MAX_SOURCES;
use super::source_budget::SourceBudgets;
pub use super::source_budget::source_of;

/// How long an access key id the store did not know is answered from
/// memory: a key created (`strongroom admin create-access-key`) just after
/// someone tried its id is usable at the latest this long after that try.
pub const UNKNOWN_KEY_TTL: Duration = Duration::from_secs(5);
/// Most unknown ids remembered (then the expired ones are dropped, or all).
const MAX_UNKNOWN_KEYS: usize = 10_000;

/// How many costly checks (store lookups of unknown access key ids, module
/// derivations of unverified signing keys) one source may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownKeyBudget {
    /// Checks a source may cause at once.
    pub burst: u32,
    /// Checks added back per minute.
    pub per_minute: u32,
}

impl Default for UnknownKeyBudget {
    fn default() -> Self {
        Self {
            burst: 20,
            per_minute: 60,
        }
    }
}

/// The negative cache and the per-source budgets.
pub struct UnknownKeys {
    unknown: DashMap<String, Instant>,
    budgets: SourceBudgets,
    store_lookups: AtomicU64,
}

/// Why a lookup is not made.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The store did not know this id a moment ago.
    Unknown,
    /// The source has spent its budget.
    Throttled,
}

impl UnknownKeys {
    /// Budgets of `budget` per source.
    pub fn new(budget: UnknownKeyBudget) -> Self {
        Self {
            unknown: DashMap::new(),
            budgets: SourceBudgets::new(budget),
            store_lookups: AtomicU64::new(0),
        }
    }

    /// Store lookups of access keys made so far (a metric, and the tests'
    /// measure of what a flood costs).
    pub fn store_lookups(&self) -> u64 {
        self.store_lookups.load(Ordering::Relaxed)
    }

    /// Asks to look `id` up for a request from `source` (`None`: not from
    /// a client, e.g. a forwarded customer request; never throttled).
    /// On `Ok`, one unit of the source's budget is reserved: give it back
    /// with [`Self::found`] or keep it with [`Self::not_found`].
    pub fn before_lookup(&self, id: &str, source: Option<IpAddr>) -> Result<(), Refusal> {
        if let Some(seen) = self.unknown.get(id)
            && seen.elapsed() < UNKNOWN_KEY_TTL
        {
            return Err(Refusal::Unknown);
        }
        if let Some(source) = source
            && !self.budgets.spend(source)
        {
            return Err(Refusal::Throttled);
        }
        self.store_lookups.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The store knew `id`: `source`'s reserved unit is given back, and
    /// `id` is no longer remembered as unknown.
    pub fn found(&self, id: &str, source: Option<IpAddr>) {
        self.unknown.remove(id);
        if let Some(source) = source {
            self.budgets.give_back(source);
        }
    }

    /// The store did not know `id`: remember it (the source's unit stays
    /// spent).
    pub fn not_found(&self, id: &str) {
        let now = Instant::now();
        if self.unknown.len() >= MAX_UNKNOWN_KEYS {
            self.unknown
                .retain(|_, seen| seen.elapsed() < UNKNOWN_KEY_TTL);
            if self.unknown.len() >= MAX_UNKNOWN_KEYS {
                self.unknown.clear();
            }
        }
        self.unknown.insert(id.to_owned(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "203.0.113.7";

    #[test]
    fn an_unknown_id_is_looked_up_once_within_its_ttl() {
        let u = UnknownKeys::new(UnknownKeyBudget::default());
        assert_eq!(u.before_lookup("AKIAX", None), Ok(()));
        u.not_found("AKIAX");
        assert_eq!(u.before_lookup("AKIAX", None), Err(Refusal::Unknown));
        assert_eq!(u.store_lookups(), 1);
        // Found after all (created since): no longer remembered.
        u.found("AKIAX", None);
        assert_eq!(u.before_lookup("AKIAX", None), Ok(()));
    }

    #[test]
    fn a_source_that_spent_its_budget_causes_no_more_lookups_but_others_do() {
        let budget = UnknownKeyBudget {
            burst: 3,
            per_minute: 0,
        };
        let u = UnknownKeys::new(budget);
        let a: IpAddr = A.parse().unwrap();
        for i in 0..10 {
            let id = format!("AKIA{i}");
            if u.before_lookup(&id, Some(a)).is_ok() {
                u.not_found(&id);
            }
        }
        assert_eq!(u.store_lookups(), 3);
        assert_eq!(u.before_lookup("AKIAZ", Some(a)), Err(Refusal::Throttled));
        // Another source has its own budget.
        let b: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(u.before_lookup("AKIAZ", Some(b)), Ok(()));
        // A found key gives its unit back.
        u.found("AKIAZ", Some(b));
        for i in 0..3 {
            assert_eq!(u.before_lookup(&format!("AKIAB{i}"), Some(b)), Ok(()));
        }
    }

    #[test]
    fn ipv6_sources_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(source_of(a), source_of(b));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(source_of(mapped), A.parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_source_that_spent_its_budget_keeps_it_spent_when_ten_thousand_others_appear() {
        let u = UnknownKeys::new(UnknownKeyBudget {
            burst: 1,
            per_minute: 0,
        });
        let attacker: IpAddr = A.parse().unwrap();
        assert_eq!(u.before_lookup("AKIAX0", Some(attacker)), Ok(()));
        u.not_found("AKIAX0");
        assert_eq!(
            u.before_lookup("AKIAX1", Some(attacker)),
            Err(Refusal::Throttled)
        );
        // Ten thousand /64s, each spending its one lookup: the table fills
        // with spent sources, and newcomers share the overflow budget.
        for i in 0..(MAX_SOURCES as u32 + 5) {
            let ip: IpAddr = format!("2001:db8:0:{i:x}::1").parse().unwrap();
            let id = format!("AKIAS{i}");
            if u.before_lookup(&id, Some(ip)).is_ok() {
                u.not_found(&id);
            }
        }
        assert_eq!(
            u.before_lookup("AKIAX2", Some(attacker)),
            Err(Refusal::Throttled),
            "the spent budget came back"
        );
        assert!(u.budgets.tracked() <= MAX_SOURCES);
        assert!(u.store_lookups() <= MAX_SOURCES as u64 + 2);
    }

    #[test]
    fn sources_with_budget_left_make_room_for_new_ones() {
        let u = UnknownKeys::new(UnknownKeyBudget {
            burst: 3,
            per_minute: 0,
        });
        for i in 0..MAX_SOURCES as u32 {
            let ip: IpAddr = format!("2001:db8:1:{i:x}::1").parse().unwrap();
            let id = format!("AKIAT{i}");
            assert_eq!(u.before_lookup(&id, Some(ip)), Ok(()));
            u.not_found(&id);
        }
        let newcomer: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(u.before_lookup("AKIANEW", Some(newcomer)), Ok(()));
        assert!(u.budgets.tracks(newcomer), "tracked, not in the overflow");
        assert!(u.budgets.tracked() <= MAX_SOURCES);
    }
}
