//! `/metrics` in the Prometheus text format, through `prometheus-client`'s
//! encoder: every family described here, with its help text.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Telemetry;
use super::histogram::Snapshot;
use super::labels::{self, ERROR_LABELS};
use super::scrape::Scraped;
use crate::processor::Processor;

/// What the scrape read besides the counters.
#[derive(Debug)]
struct Frame {
    telemetry: Arc<Telemetry>,
    scraped: Arc<Scraped>,
    caches: [(&'static str, (u64, u64)); 2],
    audit: Option<strongroom_audit::WriterHealth>,
    process: Option<super::process::ProcessFacts>,
}

/// Renders every metric (the text `/metrics` answers).
pub fn render(
    telemetry: &Arc<Telemetry>,
    scraped: Arc<Scraped>,
    processor: &Processor,
    audit: Option<strongroom_audit::WriterHealth>,
) -> String {
    let frame = Frame {
        telemetry: telemetry.clone(),
        scraped,
        caches: [
            ("key_metadata", processor.cache_stats().keys.read()),
            ("key_material", processor.cache_stats().ekts.read()),
        ],
        audit,
        process: super::process::read(),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(frame));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

fn counter(m: &mut MetricEncoder, v: u64) -> Result<(), std::fmt::Error> {
    m.encode_counter::<NoLabelSet, u64, u64>(&v, None)
}

fn histogram(m: &mut MetricEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    m.encode_histogram::<NoLabelSet>(s.sum, s.count, &s.buckets, None)
}

impl Collector for Frame {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.requests(&mut e)?;
        self.audit(&mut e)?;
        self.modules(&mut e)?;
        self.store(&mut e)?;
        self.process(&mut e)
    }
}

impl Frame {
    fn requests(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let t = &self.telemetry;
        // Only series that have counted something: absent means zero.
        let used: Vec<(usize, usize, Snapshot)> = (0..t.ops.len())
            .flat_map(|o| (0..ERROR_LABELS).map(move |er| (o, er)))
            .filter_map(|(o, er)| {
                let h = &t.requests[o * ERROR_LABELS + er];
                (h.count() > 0).then(|| (o, er, h.snapshot()))
            })
            .collect();
        let labels = |o: usize, er: usize| {
            [
                ("operation", t.ops.name(o)),
                ("error", labels::error_name(er)),
            ]
        };
        let mut m = e.encode_descriptor(
            "strongroom_requests",
            "KMS API requests answered, by operation and error type (none: succeeded).",
            None,
            MetricType::Counter,
        )?;
        for (o, er, s) in &used {
            counter(&mut m.encode_family(&labels(*o, *er))?, s.count)?;
        }
        let mut m = e.encode_descriptor(
            "strongroom_request_duration_seconds",
            "Time from a KMS API request's arrival to its answer (its audit record durable), by operation and error type.",
            None,
            MetricType::Histogram,
        )?;
        for (o, er, s) in &used {
            histogram(&mut m.encode_family(&labels(*o, *er))?, s)?;
        }
        let mut m = e.encode_descriptor(
            "strongroom_requests_in_flight",
            "KMS API requests being served now.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&t.in_flight.load(std::sync::atomic::Ordering::Relaxed))?;
        let mut m = e.encode_descriptor(
            "strongroom_sigv4_failures",
            "Requests that never authenticated, by reason (the error type answered).",
            None,
            MetricType::Counter,
        )?;
        for (er, c) in t.auth_failures.iter().enumerate() {
            let n = c.load(std::sync::atomic::Ordering::Relaxed);
            if n > 0 {
                counter(
                    &mut m.encode_family(&[("reason", labels::error_name(er))])?,
                    n,
                )?;
            }
        }
        let mut m = e.encode_descriptor(
            "strongroom_cache_lookups",
            "Frontend cache lookups, by cache (key_metadata, key_material) and result (hit, miss).",
            None,
            MetricType::Counter,
        )?;
        for (cache, (hits, misses)) in &self.caches {
            counter(
                &mut m.encode_family(&[("cache", *cache), ("result", "hit")])?,
                *hits,
            )?;
            counter(
                &mut m.encode_family(&[("cache", *cache), ("result", "miss")])?,
                *misses,
            )?;
        }
        Ok(())
    }

    fn audit(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let a = &self.telemetry.audit;
        let mut m = e.encode_descriptor(
            "strongroom_audit_batch_records",
            "Records per committed audit batch (group commit).",
            None,
            MetricType::Histogram,
        )?;
        histogram(&mut m, &a.batch_records.snapshot())?;
        let mut m = e.encode_descriptor(
            "strongroom_audit_commit_duration_seconds",
            "Time to commit one audit batch: encode, write and, if the durability mode says so, fdatasync.",
            None,
            MetricType::Histogram,
        )?;
        histogram(&mut m, &a.commit.snapshot())?;
        let mut m = e.encode_descriptor(
            "strongroom_audit_fsync_duration_seconds",
            "Time of the fdatasync of one audit batch (sync and group-ms modes).",
            None,
            MetricType::Histogram,
        )?;
        histogram(&mut m, &a.fsync.snapshot())?;
        if let Some(h) = &self.audit {
            let mut m = e.encode_descriptor(
                "strongroom_audit_queue_depth",
                "Audit appends waiting for their batch to commit.",
                None,
                MetricType::Gauge,
            )?;
            m.encode_gauge(&(h.in_flight as u64))?;
            let mut m = e.encode_descriptor(
                "strongroom_audit_failed_batches",
                "Audit batches failed since the last one that committed (0 when healthy).",
                None,
                MetricType::Gauge,
            )?;
            m.encode_gauge(&h.failed_batches)?;
            let mut m = e.encode_descriptor(
                "strongroom_audit_writer_up",
                "1 while the audit writer runs; 0 once it has stopped (every request then fails).",
                None,
                MetricType::Gauge,
            )?;
            m.encode_gauge(&u64::from(!h.closed))?;
        }
        Ok(())
    }

    fn modules(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let t = &self.telemetry.modules;
        let mut m = e.encode_descriptor(
            "strongroom_module_call_duration_seconds",
            "Time of one call to a security module, by module (its address).",
            None,
            MetricType::Histogram,
        )?;
        for (name, h) in t.names.iter().zip(&t.calls) {
            histogram(
                &mut m.encode_family(&[("module", name.as_str())])?,
                &h.snapshot(),
            )?;
        }
        let mut m = e.encode_descriptor(
            "strongroom_module_call_errors",
            "Calls a security module could not serve (unreachable, wrong mode, lacking the key or domain key), by module.",
            None,
            MetricType::Counter,
        )?;
        for (name, c) in t.names.iter().zip(&t.unavailable) {
            counter(
                &mut m.encode_family(&[("module", name.as_str())])?,
                c.load(std::sync::atomic::Ordering::Relaxed),
            )?;
        }
        let modules = &self.scraped.modules;
        for (metric, help, value) in [
            (
                "strongroom_module_up",
                "1 if the security module answered Status at the last scrape.",
                (|f: &super::scrape::ModuleFacts| u64::from(f.up))
                    as fn(&super::scrape::ModuleFacts) -> u64,
            ),
            (
                "strongroom_module_use_mode",
                "1 if the security module is in use mode (0: service mode or down).",
                |f| u64::from(f.in_use),
            ),
            (
                "strongroom_module_serves_domain",
                "1 if the security module is a member of the domain this frontend serves.",
                |f| u64::from(f.serves_domain),
            ),
            (
                "strongroom_module_vault_keys",
                "Backing keys in the security module's vault (it reports no hit ratio).",
                |f| f.vault.map_or(0, |v| v.0 as u64),
            ),
            (
                "strongroom_module_vault_capacity",
                "Capacity of the security module's vault, in keys.",
                |f| f.vault.map_or(0, |v| v.1 as u64),
            ),
        ] {
            let mut m = e.encode_descriptor(metric, help, None, MetricType::Gauge)?;
            for f in modules {
                m.encode_family(&[("module", f.name.as_str())])?
                    .encode_gauge(&value(f))?;
            }
        }
        Ok(())
    }

    fn store(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.scraped.store;
        let mut m = e.encode_descriptor(
            "strongroom_store_up",
            "1 if the store answered at the last scrape.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&u64::from(s.up))?;
        if !s.up {
            return Ok(());
        }
        let mut m = e.encode_descriptor(
            "strongroom_keys",
            "KMS keys by key state and key spec, every account together.",
            None,
            MetricType::Gauge,
        )?;
        for (state, spec, n) in &s.keys {
            m.encode_family(&[("state", *state), ("spec", *spec)])?
                .encode_gauge(n)?;
        }
        let mut m = e.encode_descriptor(
            "strongroom_deletion_backlog",
            "Keys whose scheduled deletion date has passed and that the sweeper has not deleted yet.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&s.deletion_backlog)?;
        let mut m = e.encode_descriptor(
            "strongroom_rotation_backlog",
            "Keys whose automatic rotation is due and not done yet.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&s.rotation_backlog)?;
        Ok(())
    }

    fn process(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(p) = self.process else {
            return Ok(());
        };
        let mut m = e.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds.",
            None,
            MetricType::Counter,
        )?;
        m.encode_counter::<NoLabelSet, f64, f64>(&p.cpu_seconds, None)?;
        for (name, help, v) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                p.resident_bytes as f64,
            ),
            (
                "process_open_fds",
                "Open file descriptors.",
                p.open_fds as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds.",
                p.start_time_seconds,
            ),
        ] {
            e.encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_gauge(&v)?;
        }
        Ok(())
    }
}
