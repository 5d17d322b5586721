//! Per-source budgets for work a request may cause before it is known to
//! be genuine: each source (an IPv4 address, an IPv6 /64) may spend
//! `burst` units, refilled at `per_minute`. The table is bounded: sources
//! with budget left are forgotten first, never one that has spent it, and
//! while every tracked source has spent its budget, newcomers share one
//! overflow budget.

use std::net::IpAddr;
use std::time::Instant;

use dashmap::DashMap;

use super::unknown_keys::UnknownKeyBudget;

/// Most sources whose budget is tracked.
pub(crate) const MAX_SOURCES: usize = 10_000;

/// One source's remaining budget.
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The source a budget is kept for: an IPv4 address, or an IPv6 /64 (one
/// host can use a whole /64); an IPv4-mapped IPv6 address is its IPv4.
pub fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Every tracked source's budget.
pub(crate) struct SourceBudgets {
    budget: UnknownKeyBudget,
    sources: DashMap<IpAddr, Bucket>,
    overflow: std::sync::Mutex<Bucket>,
}

impl SourceBudgets {
    /// Budgets of `budget` per source.
    pub(crate) fn new(budget: UnknownKeyBudget) -> Self {
        Self {
            budget,
            sources: DashMap::new(),
            overflow: std::sync::Mutex::new(Bucket {
                tokens: f64::from(budget.burst),
                refilled: Instant::now(),
            }),
        }
    }

    /// Takes one unit of `source`'s budget; `false` if it has none left.
    pub(crate) fn spend(&self, source: IpAddr) -> bool {
        let now = Instant::now();
        let source = source_of(source);
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&source) {
            self.make_room(now);
        }
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&source) {
            let mut bucket = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
            return self.take(&mut bucket, now);
        }
        let mut bucket = self.sources.entry(source).or_insert(Bucket {
            tokens: f64::from(self.budget.burst),
            refilled: now,
        });
        self.take(&mut bucket, now)
    }

    /// Gives `source` back a unit it spent on something that proved genuine.
    pub(crate) fn give_back(&self, source: IpAddr) {
        if let Some(mut bucket) = self.sources.get_mut(&source_of(source)) {
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(self.budget.burst));
        }
    }

    /// Sources tracked now.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.sources.len()
    }

    /// Whether `source` has a budget of its own in the table.
    #[cfg(test)]
    pub(crate) fn tracks(&self, source: IpAddr) -> bool {
        self.sources.contains_key(&source_of(source))
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let minutes = now.duration_since(bucket.refilled).as_secs_f64() / 60.0;
        bucket.tokens = (bucket.tokens + minutes * f64::from(self.budget.per_minute))
            .min(f64::from(self.budget.burst));
        bucket.refilled = now;
    }

    /// Takes one unit from `bucket`, or refuses.
    fn take(&self, bucket: &mut Bucket, now: Instant) -> bool {
        self.refill(bucket, now);
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    /// Makes room: sources with a full budget carry no information; then
    /// the quarter of the table with the most budget left goes, but never
    /// a source that has spent its budget (forgetting it would hand it a
    /// fresh one).
    fn make_room(&self, now: Instant) {
        self.sources.retain(|_, b| {
            self.refill(b, now);
            b.tokens < f64::from(self.budget.burst)
        });
        if self.sources.len() < MAX_SOURCES {
            return;
        }
        let mut left: Vec<f64> = self.sources.iter().map(|b| b.tokens).collect();
        left.sort_by(|a, b| b.total_cmp(a));
        let threshold = left[MAX_SOURCES / 4].max(1.0);
        self.sources.retain(|_, b| b.tokens < threshold);
    }
}
