//! One chain's writer state: the active segment, rolling it (seal, then
//! open the next), and the batch commit. Used by the writer thread only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::active::{ActiveSegment, Committed, Resumed};
use crate::chain::{ChainId, SegmentId};
use crate::error::{AuditError, IoContext};
use crate::footer::SealedFooter;
use crate::record::AuditRecord;
use crate::seal::FooterSealer;
use crate::segment::{
    FOOTER_EXT, SEGMENT_EXT, SegmentHeader, encode_header, sync_dir, write_atomic,
};

/// How long the writer waits before trying again to seal a segment, after
/// the first failure; it doubles with each failure in a row, up to
/// [`MAX_SEAL_RETRY`]: a sealer waits for an unreachable module, and the
/// records behind it wait for the sealer.
const SEAL_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts to seal.
const MAX_SEAL_RETRY: Duration = Duration::from_secs(60);

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// When a segment is closed and the next one begun.
#[derive(Debug, Clone, Copy)]
pub struct RollPolicy {
    /// Close a segment once it holds this many bytes.
    pub max_bytes: u64,
    /// Close a segment with records once it is this old.
    pub max_age: Duration,
}

impl Default for RollPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 32 << 20,
            max_age: Duration::from_secs(3600),
        }
    }
}

/// The writer's state of one chain.
pub(crate) struct ChainWriter {
    pub(crate) dir: PathBuf,
    pub(crate) chain: ChainId,
    pub(crate) sealer: Arc<dyn FooterSealer>,
    pub(crate) roll: RollPolicy,
    pub(crate) active: Option<ActiveSegment>,
    /// Number of the next segment to open when `active` is `None`.
    pub(crate) next_number: u64,
    /// Sequence and head to start it from.
    pub(crate) next_seq: u64,
    pub(crate) head: [u8; 32],
    /// After a failed seal: not before this instant again.
    pub(crate) seal_retry_at: Option<Instant>,
    /// Seals failed in a row.
    pub(crate) seal_failures: u32,
    /// Held for the writer's life: a second writer on this chain would fork it.
    pub(crate) _lock: File,
}

impl ChainWriter {
    /// Opens `<chain>.lock` and takes its lock, or says who holds it.
    pub(crate) fn lock(dir: &std::path::Path, chain: &ChainId) -> Result<File, AuditError> {
        let path = dir.join(format!("{chain}.lock"));
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .at(&path)?;
        f.try_lock()
            .map_err(|_| AuditError::ChainLocked(chain.to_string()))?;
        Ok(f)
    }

    /// Appends `records` (see [`ActiveSegment::commit`]), first rolling or
    /// opening a segment if one is due.
    pub(crate) fn commit(
        &mut self,
        records: &[&AuditRecord],
        sync: bool,
    ) -> Result<Vec<Committed>, AuditError> {
        self.roll_if_due()?;
        self.ensure_active()?.commit(records, sync)
    }

    /// Seals the active segment if it is due. If sealing fails while the
    /// segment is still open (the sealer, a module, is unreachable), the
    /// records go on into it and the seal is retried later: records are
    /// durable without their footer, and requests must not fail for it.
    pub(crate) fn roll_if_due(&mut self) -> Result<(), AuditError> {
        if !self.roll_due() {
            return Ok(());
        }
        match self.seal_active() {
            Ok(_) => {
                self.seal_retry_at = None;
                self.seal_failures = 0;
                Ok(())
            }
            Err(e) => {
                let wait = SEAL_RETRY
                    .saturating_mul(1 << self.seal_failures.min(6))
                    .min(MAX_SEAL_RETRY);
                self.seal_failures = self.seal_failures.saturating_add(1);
                self.seal_retry_at = Some(Instant::now() + wait);
                match &self.active {
                    Some(a) => {
                        tracing::warn!(segment = %a.id, error = %e, "audit segment not sealed yet; retrying");
                        Ok(())
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// Whether the active segment is full or old enough to close.
    pub(crate) fn roll_due(&self) -> bool {
        self.seal_retry_at.is_none_or(|t| Instant::now() >= t)
            && self.active.as_ref().is_some_and(|a| {
                a.count > 0
                    && (a.len >= self.roll.max_bytes
                        || now_ms().saturating_sub(a.header.created_ms)
                            >= self.roll.max_age.as_millis() as i64)
            })
    }

    /// How long until the active segment is old enough to close.
    pub(crate) fn time_to_roll(&self) -> Option<Duration> {
        let a = self.active.as_ref().filter(|a| a.count > 0)?;
        let age = now_ms().saturating_sub(a.header.created_ms).max(0) as u64;
        let by_age = Duration::from_millis(self.roll.max_age.as_millis() as u64)
            .saturating_sub(Duration::from_millis(age));
        let retry = self.seal_retry_at.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        });
        Some(by_age.max(retry))
    }

    /// Syncs the active segment, writes its sealed footer, and forgets it
    /// (the next batch opens the next segment). Returns what it sealed.
    pub(crate) fn seal_active(&mut self) -> Result<Option<SegmentId>, AuditError> {
        let Some(active) = self.active.as_mut() else {
            return Ok(None);
        };
        active.sync()?;
        let footer = SealedFooter::seal(active.footer_body(), &*self.sealer)?;
        write_atomic(
            &self.dir,
            &active.id.file_name(FOOTER_EXT),
            &footer.encode(),
        )?;
        self.next_number = active.id.number + 1;
        self.next_seq = active.next_seq();
        self.head = active.head;
        let sealed = active.id.clone();
        self.active = None;
        Ok(Some(sealed))
    }

    /// The active segment, opening the next one if there is none.
    pub(crate) fn ensure_active(&mut self) -> Result<&mut ActiveSegment, AuditError> {
        if self.active.is_none() {
            let id = SegmentId {
                chain: self.chain.clone(),
                number: self.next_number,
            };
            let header = SegmentHeader {
                chain: self.chain.to_string(),
                number: id.number,
                first_seq: self.next_seq,
                prev_head: self.head,
                created_ms: now_ms(),
            };
            let path = self.dir.join(id.file_name(SEGMENT_EXT));
            let start = encode_header(&header);
            // A file left by an earlier attempt that failed before its
            // header was synced holds no record.
            if std::fs::metadata(&path).is_ok_and(|m| m.len() <= start.len() as u64) {
                std::fs::remove_file(&path).at(&path)?;
            }
            let created = (|| {
                let mut f = OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .at(&path)?;
                f.write_all(&start).and_then(|()| f.sync_data()).at(&path)?;
                sync_dir(&self.dir)?;
                Ok::<File, AuditError>(f)
            })();
            let file = match created {
                Ok(f) => f,
                Err(e) => {
                    // Nothing was committed to it: leave no half file behind.
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            let head = self.head;
            self.active = Some(ActiveSegment::new(
                id,
                path,
                header,
                Box::new(file),
                Resumed {
                    len: start.len() as u64,
                    count: 0,
                    first_time_ms: 0,
                    last_time_ms: 0,
                    head,
                },
            ));
        }
        self.active
            .as_mut()
            .ok_or_else(|| AuditError::Malformed("no active segment".into()))
    }

    /// Makes everything written durable before the writer stops.
    pub(crate) fn close(&mut self) -> Result<(), AuditError> {
        match self.active.as_mut() {
            Some(a) if a.unsynced => a.sync(),
            _ => Ok(()),
        }
    }
}
