//! Gathering a larger batch in `sync` mode under load.
//!
//! In `sync` mode every batch ends in an `fdatasync`, and the file system
//! writes whole pages: the batch's last, partly filled 4 KiB page is
//! written again by the next batch. A batch of N records of R bytes then
//! costs about 4096 + N·R bytes, so small batches under load multiply the
//! bytes written. When a batch shows concurrency (at least
//! [`SyncGather::after`] records came together, or the batch before did),
//! the writer waits a little for more, up to [`SyncGather::until`] records
//! or [`SyncGather::max_wait`]: PostgreSQL's `commit_delay` with
//! `commit_siblings`. After a busy batch the appender that finds the log
//! idle does not commit alone either (`Log::busy`): at concurrency 64 those
//! single-record syncs were 43 % of the batches. At concurrency 1 no
//! record waits, and under load fewer syncs leave more CPU to requests.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::committer::{MAX_BATCH, Msg};

/// How long to look again for more appends while gathering.
const STEP: Duration = Duration::from_micros(40);

/// When and how long the writer waits to gather a larger batch in `sync`
/// mode (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncGather {
    /// Gather only when a batch already has this many records.
    pub after: usize,
    /// Stop gathering at this many records.
    pub until: usize,
    /// Longest wait for more (zero: never gather).
    pub max_wait: Duration,
}

impl Default for SyncGather {
    /// Gather after 8 records, until 32, for at most 400 µs (about two
    /// `fdatasync`s on a VM disk).
    fn default() -> Self {
        Self {
            after: 8,
            until: 32,
            max_wait: Duration::from_micros(400),
        }
    }
}

impl SyncGather {
    /// Never gathers: every batch is what was waiting.
    pub const OFF: Self = Self {
        after: usize::MAX,
        until: 0,
        max_wait: Duration::ZERO,
    };

    /// The default thresholds with `max_wait` of `micros` (0: off).
    pub fn with_max_wait_us(micros: u64) -> Self {
        if micros == 0 {
            return Self::OFF;
        }
        Self {
            max_wait: Duration::from_micros(micros),
            ..Self::default()
        }
    }

    /// Adds to `msgs` the appends that arrive while this policy waits,
    /// if the batch (or, when `busy`, the one before it) shows load.
    /// Blocks the writer's own thread (nothing else runs on it). Stops at
    /// once if a control message (roll, shutdown) is among them.
    pub(crate) fn gather(&self, rx: &mut mpsc::Receiver<Msg>, msgs: &mut Vec<Msg>, busy: bool) {
        if self.max_wait.is_zero() || (msgs.len() < self.after && !busy) {
            return;
        }
        let until = self.until.min(MAX_BATCH);
        let deadline = Instant::now() + self.max_wait;
        while msgs.len() < until && !has_control(msgs) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep(STEP.min(deadline - now));
            while msgs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
        }
    }
}

fn has_control(msgs: &[Msg]) -> bool {
    msgs.iter().any(|m| !matches!(m, Msg::Append(..)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AuditRecord;

    fn append(tx: &mpsc::Sender<Msg>) {
        let (reply, _) = tokio::sync::oneshot::channel();
        tx.try_send(Msg::Append(AuditRecord::default(), reply))
            .expect("room");
    }

    fn waiting(tx: &mpsc::Sender<Msg>, rx: &mut mpsc::Receiver<Msg>, n: usize) -> Vec<Msg> {
        for _ in 0..n {
            append(tx);
        }
        let mut msgs = Vec::new();
        while let Ok(m) = rx.try_recv() {
            msgs.push(m);
        }
        msgs
    }

    const LONG: SyncGather = SyncGather {
        after: 8,
        until: 32,
        max_wait: Duration::from_secs(60),
    };

    #[test]
    fn a_batch_below_the_siblings_threshold_is_committed_as_it_is() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut msgs = waiting(&tx, &mut rx, 7);
        // With a minute to wait, returning at all shows it did not gather.
        LONG.gather(&mut rx, &mut msgs, false);
        assert_eq!(msgs.len(), 7);
    }

    #[test]
    fn a_busy_batch_gathers_what_arrives_until_it_is_full() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut msgs = waiting(&tx, &mut rx, 8);
        let late = std::thread::spawn(move || {
            for _ in 0..30 {
                std::thread::sleep(Duration::from_millis(1));
                append(&tx);
            }
            tx
        });
        LONG.gather(&mut rx, &mut msgs, false);
        assert!(msgs.len() >= 32, "gathered {}", msgs.len());
        let _tx = late.join().expect("sender");
    }

    #[test]
    fn after_a_busy_batch_even_one_record_gathers() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut msgs = waiting(&tx, &mut rx, 1);
        let late = std::thread::spawn(move || {
            for _ in 0..31 {
                std::thread::sleep(Duration::from_millis(1));
                append(&tx);
            }
            tx
        });
        LONG.gather(&mut rx, &mut msgs, true);
        assert!(msgs.len() >= 32, "gathered {}", msgs.len());
        let _tx = late.join().expect("sender");
    }

    #[test]
    fn gathering_ends_at_the_deadline_with_what_came() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut msgs = waiting(&tx, &mut rx, 10);
        let short = SyncGather {
            max_wait: Duration::from_millis(5),
            ..LONG
        };
        short.gather(&mut rx, &mut msgs, false);
        assert_eq!(msgs.len(), 10);
        SyncGather::OFF.gather(&mut rx, &mut msgs, true);
        assert_eq!(msgs.len(), 10);
    }

    #[test]
    fn a_control_message_stops_the_gathering() {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut msgs = waiting(&tx, &mut rx, 9);
        let (roll, _) = tokio::sync::oneshot::channel();
        msgs.push(Msg::Roll(roll));
        LONG.gather(&mut rx, &mut msgs, false);
        assert_eq!(msgs.len(), 10);
    }
}
