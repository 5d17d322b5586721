//! Who commits a record: the appender itself when the log is idle, the
//! writer thread's batches otherwise.
//!
//! A record sent to the writer thread costs two thread wake-ups (the
//! thread's, then the request's), which at concurrency 1 on a small
//! machine cost more than the write. So an appender that finds no other
//! append in flight and the chain free commits its record itself, on its
//! own thread: one write (and in `sync` mode one `fdatasync`, blocking
//! that thread as the writer thread would have been blocked). Under load
//! appends overlap, find the log busy, and go to the thread, which
//! commits all that wait in one batch (group commit). Either way one lock
//! orders the commits, so the chain is the same.
//!
//! An appender never rolls a segment or seals a footer (the sealer may
//! need the module, reached from async code): when a roll is due, or no
//! segment is open, it leaves the record to the thread.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::active::Committed;
use crate::chain::SegmentId;
use crate::chain_writer::ChainWriter;
use crate::error::AuditError;
use crate::gather::SyncGather;
use crate::record::AuditRecord;
use crate::writer::{CommitObserver, Durability, WriterHealth};

/// Most records in one batch.
pub(crate) const MAX_BATCH: usize = 4096;

/// Longest the writer thread waits without looking whether a segment is
/// due to close.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// A request's slot for its commit.
pub(crate) type CommitReply = oneshot::Sender<Result<Committed, AuditError>>;

// Appends are nearly every message: boxing the record would cost an
// allocation per request to shrink the rare control messages.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Append(AuditRecord, CommitReply),
    Roll(oneshot::Sender<Result<Option<SegmentId>, AuditError>>),
    Shutdown(oneshot::Sender<Result<(), AuditError>>),
}

/// One chain and what is told of its commits, shared by the writer thread
/// and the appenders that commit themselves.
pub(crate) struct Log {
    /// `None` once the writer has stopped.
    chain: Mutex<Option<ChainWriter>>,
    observer: Option<Arc<dyn CommitObserver>>,
    durability: Durability,
    /// How `sync` batches under load wait for more.
    gather: SyncGather,
    /// Records in the last batch committed (1 for a lone commit).
    last_batch: AtomicUsize,
    /// Appends between their start and their answer.
    appending: AtomicUsize,
    /// Batches failed since the last commit.
    failed_batches: AtomicU64,
    /// When the last batch committed, in ms after `opened`.
    last_commit_ms: AtomicU64,
    opened: Instant,
    /// The writer thread has stopped.
    stopped: AtomicBool,
}

/// An append in flight (counted while it lives).
pub(crate) struct Appending<'a> {
    count: &'a AtomicUsize,
    /// Whether no other append was in flight when this one began.
    pub(crate) alone: bool,
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Log {
    pub(crate) fn new(
        chain: ChainWriter,
        observer: Option<Arc<dyn CommitObserver>>,
        durability: Durability,
        gather: SyncGather,
    ) -> Self {
        Self {
            chain: Mutex::new(Some(chain)),
            observer,
            durability,
            gather,
            last_batch: AtomicUsize::new(0),
            appending: AtomicUsize::new(0),
            failed_batches: AtomicU64::new(0),
            last_commit_ms: AtomicU64::new(0),
            opened: Instant::now(),
            stopped: AtomicBool::new(false),
        }
    }

    /// See [`WriterHealth`].
    pub(crate) fn health(&self, channel_closed: bool) -> WriterHealth {
        let now = self.opened.elapsed().as_millis() as u64;
        WriterHealth {
            in_flight: self.appending.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            since_last_commit_ms: now.saturating_sub(self.last_commit_ms.load(Ordering::Relaxed)),
            closed: channel_closed || self.stopped.load(Ordering::Relaxed),
        }
    }

    /// Tells the observer of a batch's outcome and keeps the health facts.
    fn batch_done(
        &self,
        records: &[AuditRecord],
        result: &Result<Vec<Committed>, AuditError>,
        chain: &ChainWriter,
    ) {
        match result {
            Ok(done) => {
                self.last_batch.store(records.len(), Ordering::Relaxed);
                self.failed_batches.store(0, Ordering::Relaxed);
                self.last_commit_ms
                    .store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
                if let Some(o) = &self.observer {
                    o.committed(records, done);
                    if let Some(a) = chain.active.as_ref() {
                        o.timed(a.last_timing);
                    }
                }
            }
            Err(_) => {
                self.failed_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts an append in flight until the guard drops.
    pub(crate) fn begin_append(&self) -> Appending<'_> {
        let before = self.appending.fetch_add(1, Ordering::AcqRel);
        Appending {
            count: &self.appending,
            alone: before == 0,
        }
    }

    /// In `sync` mode, whether the last batch showed load enough to
    /// gather ([`SyncGather::after`]): then an append that finds the log
    /// idle is only the first of the next batch (the ones just answered
    /// are about to append again), and committing it alone would cost a
    /// sync and a rewritten page for one record.
    fn busy(&self) -> bool {
        self.durability == Durability::Sync
            && self.last_batch.load(Ordering::Relaxed) >= self.gather.after
    }

    fn sync(&self) -> bool {
        self.durability != Durability::Buffered
    }

    /// The chain, even after a panic elsewhere: the segment cuts back
    /// what a failed batch wrote (see `ActiveSegment::commit`).
    fn lock(&self) -> MutexGuard<'_, Option<ChainWriter>> {
        self.chain.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits `record` on the caller's thread if that is cheap and safe
    /// now; `None` leaves it to the writer thread. `group-ms` never
    /// commits here: its point is fewer syncs.
    pub(crate) fn commit_here(
        &self,
        record: &AuditRecord,
    ) -> Option<Result<Committed, AuditError>> {
        if matches!(self.durability, Durability::GroupMs(_)) || self.busy() {
            return None;
        }
        let mut guard = match self.chain.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let Some(chain) = guard.as_mut() else {
            return Some(Err(AuditError::Closed));
        };
        if chain.roll_due() {
            return None;
        }
        let active = chain.active.as_mut()?;
        let records = std::slice::from_ref(record);
        let result = active.commit(&[record], self.sync());
        self.batch_done(records, &result, chain);
        Some(result.map(|mut done| done.remove(0)))
    }
}

/// The writer thread: takes every message waiting, commits the appends
/// among them as batches, rolls segments when due.
pub(crate) fn run(log: Arc<Log>, mut rx: mpsc::Receiver<Msg>) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        log.stopped.store(true, Ordering::Relaxed);
        return;
    };
    let thread_log = log.clone();
    rt.block_on(async move {
        let log = thread_log;
        let mut msgs = Vec::with_capacity(MAX_BATCH);
        loop {
            // Appenders may open a segment's first records while this
            // thread waits, so it looks again at least every tick.
            let wait = log
                .lock()
                .as_ref()
                .and_then(|c| c.time_to_roll())
                .map_or(IDLE_TICK, |d| d.min(IDLE_TICK));
            let at = Instant::now() + wait;
            let received = match tokio::time::timeout_at(
                at.into(),
                rx.recv_many(&mut msgs, MAX_BATCH),
            )
            .await
            {
                Ok(n) => n,
                Err(_) => {
                    // Idle: close the segment if it is due.
                    if let Some(c) = log.lock().as_mut() {
                        let _ = c.roll_if_due();
                    }
                    continue;
                }
            };
            if received == 0 {
                break;
            }
            if log.durability == Durability::Sync {
                log.gather.gather(&mut rx, &mut msgs, log.busy());
            }
            if let Durability::GroupMs(ms) = log.durability {
                let close = Instant::now() + Duration::from_millis(u64::from(ms));
                while msgs.len() < MAX_BATCH {
                    let room = MAX_BATCH - msgs.len();
                    match tokio::time::timeout_at(close.into(), rx.recv_many(&mut msgs, room)).await
                    {
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
            }
            if handle(&log, &mut msgs) {
                return;
            }
        }
        if let Some(mut c) = log.lock().take() {
            let _ = c.close();
        }
    });
    log.stopped.store(true, Ordering::Relaxed);
}

/// Processes one batch of messages in order; true once told to stop.
/// Appenders are answered after the chain is unlocked, so one answered
/// finds the chain free and its next append may commit itself.
fn handle(log: &Log, msgs: &mut Vec<Msg>) -> bool {
    let mut answers = Vec::new();
    let stop = handle_locked(log, msgs, &mut answers);
    for (waiter, answer) in answers {
        let _ = waiter.send(answer);
    }
    stop
}

fn handle_locked(log: &Log, msgs: &mut Vec<Msg>, answers: &mut Answers) -> bool {
    let mut guard = log.lock();
    let Some(chain) = guard.as_mut() else {
        for msg in msgs.drain(..) {
            refuse(msg);
        }
        return true;
    };
    let mut batch = Batch::default();
    for msg in msgs.drain(..) {
        match msg {
            Msg::Append(record, done) => {
                batch.records.push(record);
                batch.waiters.push(done);
            }
            Msg::Roll(done) => {
                batch.commit(chain, log, answers);
                let has_records = chain.active.as_ref().is_some_and(|a| a.count > 0);
                let _ = done.send(if has_records {
                    chain.seal_active()
                } else {
                    Ok(None)
                });
            }
            Msg::Shutdown(done) => {
                batch.commit(chain, log, answers);
                let _ = done.send(chain.close());
                *guard = None;
                return true;
            }
        }
    }
    batch.commit(chain, log, answers);
    false
}

/// Answers a message that came after the writer stopped.
fn refuse(msg: Msg) {
    match msg {
        Msg::Append(_, done) => {
            let _ = done.send(Err(AuditError::Closed));
        }
        Msg::Roll(done) => {
            let _ = done.send(Err(AuditError::Closed));
        }
        Msg::Shutdown(done) => {
            let _ = done.send(Ok(()));
        }
    }
}

/// Appends waiting to be committed together.
#[derive(Default)]
struct Batch {
    records: Vec<AuditRecord>,
    waiters: Vec<CommitReply>,
}

/// Appenders' answers, sent once the chain is unlocked.
type Answers = Vec<(CommitReply, Result<Committed, AuditError>)>;

impl Batch {
    /// Commits every waiting append (all fail together) and queues their
    /// answers.
    fn commit(&mut self, chain: &mut ChainWriter, log: &Log, answers: &mut Answers) {
        if self.records.is_empty() {
            return;
        }
        let refs: Vec<&AuditRecord> = self.records.iter().collect();
        let result = chain.commit(&refs, log.sync());
        log.batch_done(&self.records, &result, chain);
        match result {
            Ok(done) => {
                answers.extend(self.waiters.drain(..).zip(done.into_iter().map(Ok)));
            }
            Err(e) => {
                answers.extend(self.waiters.drain(..).map(|w| (w, Err(e.clone()))));
            }
        }
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;
    use crate::chain::ChainId;
    use crate::seal::{FooterSealer, InProcessSealer};
    use crate::writer::{AuditWriter, LogConfig};

    /// The tests' sealer (one fixed key).
    fn test_sealer() -> Arc<InProcessSealer> {
        Arc::new(InProcessSealer::from_seed([0x6b; 32]).expect("key"))
    }

    /// Remembers which thread committed each record.
    #[derive(Default)]
    struct Threads(StdMutex<Vec<(String, String)>>);

    impl CommitObserver for Threads {
        fn committed(&self, records: &[AuditRecord], _: &[Committed]) {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            let mut seen = self.0.lock().expect("lock");
            seen.extend(records.iter().map(|r| (r.request_id.clone(), name.clone())));
        }
    }

    fn open(
        dir: &std::path::Path,
        durability: Durability,
    ) -> (AuditWriter, Arc<Threads>, tokio::runtime::Runtime) {
        let threads = Arc::new(Threads::default());
        let mut config = LogConfig::new(dir, ChainId::new("fe").expect("id"));
        config.durability = durability;
        let sealer = test_sealer();
        let (writer, _) =
            AuditWriter::open_observed(config, sealer, Some(threads.clone())).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        (writer, threads, rt)
    }

    fn record(id: &str) -> AuditRecord {
        AuditRecord {
            request_id: id.into(),
            operation: "Encrypt".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_append_alone_is_committed_on_its_own_thread_and_one_that_overlaps_by_the_writer() {
        for durability in [Durability::Sync, Durability::Buffered] {
            let dir = tempfile::tempdir().expect("tempdir");
            let (writer, threads, rt) = open(dir.path(), durability);
            let a = writer.appender();
            rt.block_on(async {
                a.append(record("alone")).await.expect("append");
                let busy = a.log.begin_append();
                a.append(record("overlapping")).await.expect("append");
                drop(busy);
                // The writer thread locks the chain a moment after it
                // answers; an append in that moment would (correctly) go
                // to the thread. Give it time to be idle again.
                tokio::time::sleep(Duration::from_millis(50)).await;
                a.append(record("alone again")).await.expect("append");
                writer.shutdown().await.expect("shutdown");
            });
            let here = std::thread::current().name().unwrap_or("").to_owned();
            let seen = threads.0.lock().expect("lock").clone();
            let by = |id: &str| seen.iter().find(|(r, _)| r == id).expect(id).1.clone();
            assert_eq!(by("alone"), here, "{durability}");
            assert_eq!(by("overlapping"), "audit-fe", "{durability}");
            assert_eq!(by("alone again"), here, "{durability}");
            let report = crate::verify::verify_dir(dir.path(), &test_sealer().trusted(), &[])
                .expect("verify");
            assert!(report.intact(), "{report:?}");
        }
    }

    #[test]
    fn in_sync_mode_after_a_busy_batch_a_lone_append_goes_to_the_writer() {
        for (durability, busy_goes_to_writer) in
            [(Durability::Sync, true), (Durability::Buffered, false)]
        {
            let dir = tempfile::tempdir().expect("tempdir");
            let (writer, threads, rt) = open(dir.path(), durability);
            let a = writer.appender();
            rt.block_on(async {
                // As if the last batch had held as many records as make
                // the log busy (SyncGather::after).
                a.log
                    .last_batch
                    .store(SyncGather::default().after, Ordering::Relaxed);
                a.append(record("after a busy batch"))
                    .await
                    .expect("append");
                // That batch held one record: the log is quiet again.
                tokio::time::sleep(Duration::from_millis(50)).await;
                a.append(record("quiet again")).await.expect("append");
                writer.shutdown().await.expect("shutdown");
            });
            let here = std::thread::current().name().unwrap_or("").to_owned();
            let seen = threads.0.lock().expect("lock").clone();
            let by = |id: &str| seen.iter().find(|(r, _)| r == id).expect(id).1.clone();
            let expected = if busy_goes_to_writer {
                "audit-fe"
            } else {
                here.as_str()
            };
            assert_eq!(by("after a busy batch"), expected, "{durability}");
            assert_eq!(by("quiet again"), here, "{durability}");
        }
    }

    #[test]
    fn a_segment_written_only_by_appenders_is_still_sealed_once_old_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let threads = Arc::new(Threads::default());
        let mut config = LogConfig::new(dir.path(), ChainId::new("fe").expect("id"));
        config.roll.max_age = Duration::from_millis(50);
        let sealer = test_sealer();
        let (writer, _) =
            AuditWriter::open_observed(config, sealer, Some(threads.clone())).expect("open");
        // Let the thread settle into waiting on an empty segment first.
        std::thread::sleep(Duration::from_millis(100));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        rt.block_on(writer.appender().append(record("only")))
            .expect("append");
        let here = std::thread::current().name().unwrap_or("").to_owned();
        assert_eq!(threads.0.lock().expect("lock")[0].1, here, "committed here");
        let sealed = || {
            crate::segment::list_chains(dir.path())
                .expect("list")
                .into_values()
                .flatten()
                .any(|f| f.footer.is_some())
        };
        // Waits for the writer's timer; no assertion on how long it took.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !sealed() {
            assert!(Instant::now() < deadline, "the segment was never sealed");
            std::thread::sleep(Duration::from_millis(20));
        }
        rt.block_on(writer.shutdown()).expect("shutdown");
    }

    #[test]
    fn group_ms_never_commits_on_the_appenders_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, threads, rt) = open(dir.path(), Durability::GroupMs(1));
        let a = writer.appender();
        rt.block_on(async {
            for n in 0..5 {
                a.append(record(&format!("r{n}"))).await.expect("append");
            }
            writer.shutdown().await.expect("shutdown");
        });
        let seen = threads.0.lock().expect("lock").clone();
        assert_eq!(seen.len(), 5);
        assert!(seen.iter().all(|(_, t)| t == "audit-fe"), "{seen:?}");
    }

    #[test]
    fn appends_from_many_threads_mixing_both_paths_keep_one_whole_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let threads = Arc::new(Threads::default());
        let mut config = LogConfig::new(dir.path(), ChainId::new("fe").expect("id"));
        config.durability = Durability::Buffered;
        config.roll.max_bytes = 8 * 1024;
        let sealer = test_sealer();
        let (writer, _) =
            AuditWriter::open_observed(config, sealer, Some(threads.clone())).expect("open");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("rt");
        rt.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for t in 0..8 {
                let a = writer.appender();
                tasks.spawn(async move {
                    let mut seqs = Vec::new();
                    for n in 0..200 {
                        let c = a
                            .append(record(&format!("t{t}-{n}")))
                            .await
                            .expect("append");
                        seqs.push(c.seq);
                        if n % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    seqs
                });
            }
            let mut seqs: Vec<u64> = tasks.join_all().await.into_iter().flatten().collect();
            seqs.sort_unstable();
            assert_eq!(
                seqs,
                (1..=1600).collect::<Vec<u64>>(),
                "every record once, no gap"
            );
            writer.shutdown().await.expect("shutdown");
        });
        assert_eq!(threads.0.lock().expect("lock").len(), 1600);
        let report =
            crate::verify::verify_dir(dir.path(), &test_sealer().trusted(), &[]).expect("verify");
        assert!(report.intact(), "{report:?}");
        assert!(report.chains.iter().map(|c| c.records).sum::<u64>() == 1600);
    }
}
