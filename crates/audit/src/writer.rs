//! The writer and the handle requests append through.
//!
//! An append that finds the log idle commits itself; otherwise it sends
//! its record over a bounded channel and awaits a oneshot answer. The
//! writer thread takes every record waiting (a batch), appends them with
//! one write, makes them durable as the durability mode says (one
//! `fdatasync` per batch), and then answers every waiting request at once
//! (group commit). See `committer` for who commits when.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::active::{BatchTiming, Committed};
use crate::chain::{ChainId, SegmentId};
use crate::chain_writer::RollPolicy;
use crate::committer::{self, Log, Msg};
use crate::error::AuditError;
use crate::frame::MAX_FRAME_BODY;
use crate::gather::SyncGather;
use crate::record::AuditRecord;
use crate::recovery::{RecoveryReport, recover};
use crate::seal::FooterSealer;

/// When an append is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After the batch holding the record is `fdatasync`ed.
    Sync,
    /// The batch stays open up to N ms after its first record arrives,
    /// then is `fdatasync`ed; answered after that sync.
    GroupMs(u32),
    /// After the batch is written to the operating system, before it is
    /// synced: a power loss (not a process crash) can lose the newest
    /// records. Segments are synced when they are sealed.
    Buffered,
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sync => f.write_str("sync"),
            Self::GroupMs(n) => write!(f, "group-ms={n}"),
            Self::Buffered => f.write_str("buffered"),
        }
    }
}

impl FromStr for Durability {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync" => Ok(Self::Sync),
            "buffered" => Ok(Self::Buffered),
            _ => s
                .strip_prefix("group-ms=")
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
                .filter(|&n: &u32| (1..=10_000).contains(&n))
                .map(Self::GroupMs)
                .ok_or_else(|| AuditError::InvalidDurability(s.to_string())),
        }
    }
}

/// Where and how one chain is written.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The directory of segment files (shared by every chain).
    pub dir: PathBuf,
    /// This writer's chain (the frontend's host-key id).
    pub chain: ChainId,
    /// When appends are answered.
    pub durability: Durability,
    /// When segments are closed.
    pub roll: RollPolicy,
    /// Records that may wait for the writer before appenders wait to send.
    pub queue: usize,
    /// How a `sync` batch under load waits for more records.
    pub gather: SyncGather,
}

impl LogConfig {
    /// Defaults: sync, 32 MiB or one hour per segment, a 16k queue.
    pub fn new(dir: impl Into<PathBuf>, chain: ChainId) -> Self {
        Self {
            dir: dir.into(),
            chain,
            durability: Durability::Sync,
            roll: RollPolicy::default(),
            queue: 16_384,
            gather: SyncGather::default(),
        }
    }
}

/// Told of every batch once it is committed, on the writer thread, before
/// its appenders are answered: the place for usage counters that must
/// count a request exactly when its record is in the log (never for a
/// batch that failed). Keep it quick; it delays the batch's answers.
pub trait CommitObserver: Send + Sync {
    /// `records[i]` was committed as `committed[i]`.
    fn committed(&self, records: &[AuditRecord], committed: &[Committed]);

    /// How long the batch just committed took (after [`Self::committed`]).
    fn timed(&self, _timing: BatchTiming) {}
}

/// What an appender can tell of its writer's health (for readiness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterHealth {
    /// Appends sent and not answered yet (the queue, with the batch being
    /// committed).
    pub in_flight: usize,
    /// Batches that failed since the last one that committed.
    pub failed_batches: u64,
    /// Milliseconds since the last batch committed (since the writer
    /// opened if none has).
    pub since_last_commit_ms: u64,
    /// The writer has stopped: every append fails.
    pub closed: bool,
}

/// The cloneable handle requests append through.
#[derive(Clone)]
pub struct AuditAppender {
    tx: mpsc::Sender<Msg>,
    pub(crate) log: Arc<Log>,
}

impl fmt::Debug for AuditAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditAppender")
    }
}

/// An upper bound of a record's encoded size, to refuse one that cannot
/// fit a frame before it reaches the writer.
fn size_bound(r: &AuditRecord) -> usize {
    let s = |o: &Option<String>| o.as_ref().map_or(1, |s| s.len() + 6);
    let i = &r.identity;
    128 + r.request_id.len()
        + r.operation.len()
        + i.kind.len()
        + s(&i.arn)
        + s(&i.account_id)
        + s(&i.access_key_id)
        + s(&i.invoked_by)
        + s(&r.user_agent)
        + r.key_arns.iter().map(|a| a.len() + 6).sum::<usize>()
        + r.context
            .iter()
            .map(|(k, v)| k.len() + s(v) + 6)
            .sum::<usize>()
        + r.error
            .as_ref()
            .map_or(0, |e| e.code.len() + e.message.len() + 12)
        + s(&r.event_source)
        + s(&r.additional_json)
        + 12 * 6
}

impl AuditAppender {
    /// Appends `record`; returns once it is as durable as the log's mode
    /// says, with its place in the chain. An error means it is not.
    pub async fn append(&self, record: AuditRecord) -> Result<Committed, AuditError> {
        let bound = size_bound(&record);
        if bound > MAX_FRAME_BODY {
            return Err(AuditError::RecordTooLarge(bound));
        }
        let appending = self.log.begin_append();
        if appending.alone
            && let Some(committed) = self.log.commit_here(&record)
        {
            return committed;
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Append(record, done))
            .await
            .map_err(|_| AuditError::Closed)?;
        wait.await.map_err(|_| AuditError::Closed)?
    }

    /// Appends in flight, failures and the time since the last commit.
    pub fn health(&self) -> WriterHealth {
        self.log.health(self.tx.is_closed())
    }

    /// Closes the active segment now (seals it) if it holds records;
    /// returns the segment sealed.
    pub async fn roll(&self) -> Result<Option<SegmentId>, AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Roll(done))
            .await
            .map_err(|_| AuditError::Closed)?;
        wait.await.map_err(|_| AuditError::Closed)?
    }
}

/// The writer of one chain: owns its thread.
pub struct AuditWriter {
    appender: AuditAppender,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AuditWriter {
    /// Recovers the chain (blocking I/O: call it at startup or from a
    /// blocking task) and starts its writer thread.
    pub fn open(
        config: LogConfig,
        sealer: Arc<dyn FooterSealer>,
    ) -> Result<(Self, RecoveryReport), AuditError> {
        Self::open_observed(config, sealer, None)
    }

    /// [`AuditWriter::open`], telling `observer` of every committed batch.
    pub fn open_observed(
        config: LogConfig,
        sealer: Arc<dyn FooterSealer>,
        observer: Option<Arc<dyn CommitObserver>>,
    ) -> Result<(Self, RecoveryReport), AuditError> {
        let (chain, report) = recover(&config.dir, &config.chain, sealer, config.roll)?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let log = Arc::new(Log::new(chain, observer, config.durability, config.gather));
        let thread_log = log.clone();
        let thread = std::thread::Builder::new()
            .name(format!("audit-{}", config.chain))
            .spawn(move || committer::run(thread_log, rx))
            .map_err(|e| AuditError::io(&config.dir, e))?;
        Ok((
            Self {
                appender: AuditAppender { tx, log },
                thread: Some(thread),
            },
            report,
        ))
    }

    /// A handle to append through.
    pub fn appender(&self) -> AuditAppender {
        self.appender.clone()
    }

    /// Answers everything already sent, syncs, and stops the thread.
    /// Appends after this fail with [`AuditError::Closed`].
    pub async fn shutdown(mut self) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        let sent = self.appender.tx.send(Msg::Shutdown(done)).await.is_ok();
        let result = if sent {
            wait.await.unwrap_or(Err(AuditError::Closed))
        } else {
            Ok(())
        };
        if let Some(t) = self.thread.take() {
            // The thread has answered and only drops its state now: the
            // join is short, and after it the chain's lock is released.
            let _ = t.join();
        }
        result
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Asks the thread to stop once it has answered what is queued.
            let (done, _) = oneshot::channel();
            let _ = self.appender.tx.try_send(Msg::Shutdown(done));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::seal::{InProcessSealer, Seal, TrustedKeys};
    use crate::segment::list_chains;

    /// A sealer that can be unreachable, as a module can be.
    struct FlakySealer {
        down: AtomicBool,
        inner: InProcessSealer,
    }

    impl FooterSealer for FlakySealer {
        fn seal(&self, message: &[u8]) -> Result<Seal, AuditError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(AuditError::Seal("module unreachable".into()));
            }
            self.inner.seal(message)
        }
        fn trusted(&self) -> TrustedKeys {
            self.inner.trusted()
        }
    }

    #[test]
    fn an_unreachable_sealer_delays_the_footer_but_fails_no_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sealer = Arc::new(FlakySealer {
            down: AtomicBool::new(true),
            inner: InProcessSealer::generate().expect("key"),
        });
        let mut config = LogConfig::new(dir.path(), ChainId::new("fe").expect("id"));
        config.roll.max_bytes = 300;
        let (writer, _) = AuditWriter::open(config, sealer.clone()).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        let footers = || {
            list_chains(dir.path())
                .expect("list")
                .into_values()
                .flatten()
                .filter(|f| f.footer.is_some())
                .count()
        };
        let record = |n: i64| AuditRecord {
            time_ms: n,
            request_id: format!("r{n}"),
            operation: "Encrypt".into(),
            ..Default::default()
        };
        rt.block_on(async {
            let a = writer.appender();
            for n in 0..20 {
                a.append(record(n))
                    .await
                    .expect("appends go on while sealing fails");
            }
            assert_eq!(footers(), 0);
            assert!(a.roll().await.is_err(), "an explicit roll says it failed");
            sealer.down.store(false, Ordering::SeqCst);
            // The retry comes within a second or so; wait for it without
            // asserting how long it took.
            let mut n = 20;
            while footers() == 0 {
                a.append(record(n)).await.expect("append");
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert!(n < 2_000, "the segment was never sealed");
            }
            writer.shutdown().await.expect("shutdown");
        });
        let report = crate::verify::verify_dir(dir.path(), &sealer.trusted(), &[]).expect("verify");
        assert!(report.intact(), "{report:?}");
    }

    #[test]
    fn the_size_bound_is_never_below_the_encoded_size() {
        use crate::record::{Identity, RecordError, encode_record};
        let long = "x".repeat(70_000);
        let full = AuditRecord {
            time_ms: i64::MIN,
            request_id: long.clone(),
            operation: long.clone(),
            identity: Identity {
                kind: long.clone(),
                arn: Some(long.clone()),
                account_id: Some(String::new()),
                access_key_id: Some(long.clone()),
                invoked_by: Some(long.clone()),
            },
            source_ip: Some("::1".parse().expect("ip")),
            user_agent: Some(long.clone()),
            key_arns: vec![long.clone(), String::new(), "a".into()],
            context: vec![(long.clone(), Some(long.clone())), (String::new(), None)],
            error: Some(RecordError {
                code: long.clone(),
                message: long.clone(),
            }),
            event_source: Some(long.clone()),
            additional_json: Some(long),
            intent: true,
            service: true,
        };
        for r in [AuditRecord::default(), full] {
            assert!(size_bound(&r) >= encode_record(u64::MAX, &r).len());
        }
    }

    #[test]
    fn durability_modes_parse_and_print_as_the_cli_spells_them() {
        for s in ["sync", "buffered", "group-ms=2", "group-ms=10000"] {
            assert_eq!(s.parse::<Durability>().expect(s).to_string(), s);
        }
        for bad in [
            "",
            "Sync",
            "group-ms=",
            "group-ms=0",
            "group-ms=-1",
            "group-ms=+2",
            "group-ms=10001",
            "async",
        ] {
            assert!(bad.parse::<Durability>().is_err(), "{bad:?}");
        }
    }
}
