//! A latency histogram of fixed buckets kept in atomics: observing costs
//! two relaxed atomic additions, no lock and no allocation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (the last bucket, +Inf,
/// is implicit). From 250 µs, where an in-process Encrypt lands, to 10 s,
/// past every client timeout.
pub const BOUNDS_MICROS: [u64; 15] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

const BUCKETS: usize = BOUNDS_MICROS.len() + 1;

/// Observations by bucket and their sum.
#[derive(Debug)]
pub struct AtomicHistogram {
    /// Observations per bucket (not cumulative; the last is +Inf).
    buckets: [AtomicU64; BUCKETS],
    /// Sum of observations, in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// A histogram read at one moment, in the shape Prometheus wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Sum of observations in seconds.
    pub sum: f64,
    /// Observations.
    pub count: u64,
    /// `(upper bound, observations in this bucket alone)`, +Inf last:
    /// the encoder makes them cumulative.
    pub buckets: Vec<(f64, u64)>,
}

impl AtomicHistogram {
    /// Counts one observation of `d`.
    pub fn observe(&self, d: Duration) {
        let micros = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = BOUNDS_MICROS.partition_point(|&b| b < micros);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The histogram now.
    pub fn snapshot(&self) -> Snapshot {
        let mut running = 0;
        let mut buckets = Vec::with_capacity(BUCKETS);
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            running += n;
            let le = BOUNDS_MICROS
                .get(i)
                .map_or(f64::INFINITY, |&m| m as f64 / 1e6);
            buckets.push((le, n));
        }
        Snapshot {
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: running,
            buckets,
        }
    }
}

/// A histogram of plain counts (batch sizes) in fixed buckets.
#[derive(Debug)]
pub struct SizeHistogram {
    buckets: [AtomicU64; SIZE_BOUNDS.len() + 1],
    sum: AtomicU64,
}

/// Upper bounds of [`SizeHistogram`] buckets (records per batch).
pub const SIZE_BOUNDS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 256, 1024, 4096];

impl Default for SizeHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0),
        }
    }
}

impl SizeHistogram {
    /// Counts one observation of `n`.
    pub fn observe(&self, n: u64) {
        let i = SIZE_BOUNDS.partition_point(|&b| b < n);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(n, Ordering::Relaxed);
    }

    /// The histogram now.
    pub fn snapshot(&self) -> Snapshot {
        let mut running = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            running += n;
            let le = SIZE_BOUNDS.get(i).map_or(f64::INFINITY, |&m| m as f64);
            buckets.push((le, n));
        }
        Snapshot {
            sum: self.sum.load(Ordering::Relaxed) as f64,
            count: running,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_lands_in_the_first_bucket_that_holds_it() {
        let h = AtomicHistogram::default();
        h.observe(Duration::from_micros(250));
        h.observe(Duration::from_micros(251));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], (0.00025, 1));
        assert_eq!(s.buckets[1], (0.0005, 1));
        assert_eq!(s.buckets[2], (0.001, 0));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((s.sum - 60.000501).abs() < 1e-9);
    }

    #[test]
    fn batch_sizes_count_in_their_buckets() {
        let h = SizeHistogram::default();
        for n in [1, 3, 5000] {
            h.observe(n);
        }
        let s = h.snapshot();
        assert_eq!((s.count, s.sum), (3, 5004.0));
        assert_eq!(s.buckets[0], (1.0, 1));
        assert_eq!(s.buckets[2], (4.0, 1));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
    }
}
