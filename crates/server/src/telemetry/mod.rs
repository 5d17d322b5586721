//! What the admin listener's `/metrics` reports: counters the request
//! path, the audit writer and the module client update in atomics (no
//! lock, no allocation per request), and facts read at scrape time from
//! the store, the modules and `/proc` (cached a few seconds, never per
//! request). Label values come only from fixed lists ([`labels`]) and the
//! configured module fleet: never a key id, account id, ARN or access key.
//!
//! Rendering uses `prometheus-client`'s Prometheus text encoder
//! ([`render`]).

pub mod histogram;
pub mod labels;
mod process;
mod render;
pub mod scrape;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use strongroom_audit::{AuditRecord, BatchTiming, CommitObserver, Committed};
use strongroom_hsm_proto::{CallObserver, CallOutcome};

use crate::error::KmsError;
use histogram::{AtomicHistogram, SizeHistogram};
use labels::{ERROR_LABELS, Operations};

pub use render::{CONTENT_TYPE, render};

/// Every counter the frontend keeps for `/metrics`.
#[derive(Debug)]
pub struct Telemetry {
    ops: Operations,
    /// Latency by `(operation, error)`, row-major by operation; its count
    /// is the request counter.
    requests: Vec<AtomicHistogram>,
    in_flight: AtomicI64,
    /// Requests that never authenticated, by error type.
    auth_failures: Vec<AtomicU64>,
    audit: AuditMetrics,
    modules: ModuleMetrics,
}

/// The audit writer's batches.
#[derive(Debug, Default)]
struct AuditMetrics {
    batch_records: SizeHistogram,
    commit: AtomicHistogram,
    fsync: AtomicHistogram,
}

/// Calls per module of the fleet (by index in the client's module list).
#[derive(Debug)]
struct ModuleMetrics {
    names: Vec<String>,
    calls: Vec<AtomicHistogram>,
    unavailable: Vec<AtomicU64>,
}

/// Hits and misses of one cache.
#[derive(Debug, Default)]
pub struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheCounters {
    /// Counts a lookup the cache answered.
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a lookup that went to the store.
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// `(hits, misses)` so far.
    pub fn read(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// Counts a request as in flight until dropped.
pub struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Telemetry {
    /// Counters for a frontend whose module client reaches `modules`
    /// (names as [`strongroom_hsm_proto::HsmClient::module_names`]).
    pub fn new(modules: Vec<String>) -> Self {
        let ops = Operations::new();
        let series = ops.len() * ERROR_LABELS;
        Self {
            requests: (0..series).map(|_| AtomicHistogram::default()).collect(),
            ops,
            in_flight: AtomicI64::new(0),
            auth_failures: (0..ERROR_LABELS).map(|_| AtomicU64::new(0)).collect(),
            audit: AuditMetrics::default(),
            modules: ModuleMetrics {
                calls: modules.iter().map(|_| AtomicHistogram::default()).collect(),
                unavailable: modules.iter().map(|_| AtomicU64::new(0)).collect(),
                names: modules,
            },
        }
    }

    /// Counts a request in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Counts one finished request: its operation (any name: unknown ones
    /// count as `other`), its error, whether it never authenticated, and
    /// how long it took. Two atomic additions, three more if it failed
    /// authentication; the operation is found by binary search and the
    /// error type by a scan of a fixed list (only for errors).
    pub fn request_done(
        &self,
        op: &str,
        error: Option<&KmsError>,
        unauthenticated: bool,
        elapsed: Duration,
    ) {
        let e = labels::error_index(error);
        let o = self.ops.index(op);
        self.requests[o * ERROR_LABELS + e].observe(elapsed);
        if unauthenticated && e != 0 {
            self.auth_failures[e].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests counted for `op` and error label `error` (tests).
    pub fn requests(&self, op: &str, error: &str) -> u64 {
        let o = self.ops.index(op);
        (0..ERROR_LABELS)
            .find(|&e| labels::error_name(e) == error)
            .map_or(0, |e| self.requests[o * ERROR_LABELS + e].count())
    }
}

impl CommitObserver for Telemetry {
    fn committed(&self, _: &[AuditRecord], _: &[Committed]) {}

    fn timed(&self, t: BatchTiming) {
        self.audit.batch_records.observe(t.records as u64);
        self.audit.commit.observe(t.commit);
        if let Some(f) = t.fsync {
            self.audit.fsync.observe(f);
        }
    }
}

impl CallObserver for Telemetry {
    fn module_call(&self, module: usize, elapsed: Duration, outcome: CallOutcome) {
        if let Some(h) = self.modules.calls.get(module) {
            h.observe(elapsed);
        }
        if outcome == CallOutcome::Unavailable
            && let Some(c) = self.modules.unavailable.get(module)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_under_its_operation_and_error_and_unknown_names_under_other() {
        let t = Telemetry::new(vec!["in-process".into()]);
        let ms = Duration::from_millis(1);
        t.request_done("Encrypt", None, false, ms);
        t.request_done(
            "Decrypt",
            Some(&KmsError::InvalidCiphertext(String::new())),
            false,
            ms,
        );
        t.request_done(
            "key/1234abcd-12ab-34cd-56ef-1234567890ab",
            Some(&KmsError::InvalidSignature(String::new())),
            true,
            ms,
        );
        assert_eq!(t.requests("Encrypt", "none"), 1);
        assert_eq!(t.requests("Decrypt", "InvalidCiphertextException"), 1);
        assert_eq!(t.requests("other", "InvalidSignatureException"), 1);
        let sig = labels::type_index("InvalidSignatureException");
        assert_eq!(t.auth_failures[sig].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn in_flight_counts_until_the_guard_drops() {
        let t = Telemetry::new(Vec::new());
        let a = t.in_flight();
        let b = t.in_flight();
        assert_eq!(t.in_flight.load(Ordering::Relaxed), 2);
        drop((a, b));
        assert_eq!(t.in_flight.load(Ordering::Relaxed), 0);
    }
}
