//! The segment being appended to: one batch of records at a time, written
//! with one `write` and made durable with one `fdatasync`, and undone to
//! the last committed byte if either fails.
//!
//! The file's blocks are reserved ahead of the writes, a mebibyte at a
//! time (`fallocate`, reading as zeros), as databases preallocate their
//! write-ahead logs: an `fdatasync` after a write that grows the file must
//! also commit the new size and blocks to the filesystem's journal, while
//! one after a write into reserved space has only the data to write. The
//! zeros after the last frame read as the end of the records (a torn
//! tail, see `frame`), and a segment is cut back to its records when it
//! is sealed or closed.

use std::path::PathBuf;

use crate::chain::{SegmentId, chain_hash};
use crate::error::AuditError;
use crate::footer::FooterBody;
use crate::frame::{MAX_FRAME_BODY, push_frame};
use crate::record::{AuditRecord, encode_record};
use crate::segment::SegmentHeader;

/// What the writer needs from the file under a segment. A trait so that a
/// unit test can make it fail like a full disk.
pub(crate) trait SegmentIo: Send {
    /// Writes all of `bytes` at `offset`.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()>;
    /// `fdatasync`.
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cuts the file to `len` bytes and syncs.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Reserves blocks for the file up to `len` bytes, reading as zeros
    /// (the file is then `len` long); `false` where the filesystem cannot.
    fn reserve(&mut self, len: u64) -> std::io::Result<bool>;
}

impl SegmentIo for std::fs::File {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        // Not opened with O_APPEND: Linux would ignore the offset.
        std::os::unix::fs::FileExt::write_all_at(self, bytes, offset)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)?;
        self.sync_data()
    }

    fn reserve(&mut self, len: u64) -> std::io::Result<bool> {
        let size = self.metadata()?.len();
        if len <= size {
            return Ok(true);
        }
        match rustix::fs::fallocate(
            &*self,
            rustix::fs::FallocateFlags::empty(),
            size,
            len - size,
        ) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::OPNOTSUPP) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// How far ahead of the records a segment's blocks are reserved.
const RESERVE_CHUNK: u64 = 1 << 20;

/// Where a committed record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Its sequence number in the chain.
    pub seq: u64,
    /// The chain hash after it.
    pub hash: [u8; 32],
    /// The segment it is in.
    pub segment: u64,
}

/// How long one committed batch took (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchTiming {
    /// Records in the batch.
    pub records: usize,
    /// From the start of the commit until the batch was durable as the
    /// mode says (encoding, write and sync).
    pub commit: std::time::Duration,
    /// The `fdatasync` alone; `None` when the mode does not sync a batch.
    pub fsync: Option<std::time::Duration>,
}

/// The open segment of a chain.
pub(crate) struct ActiveSegment {
    pub(crate) id: SegmentId,
    pub(crate) path: PathBuf,
    pub(crate) header: SegmentHeader,
    io: Box<dyn SegmentIo>,
    /// Bytes that are committed (every byte after them is undone).
    pub(crate) len: u64,
    pub(crate) count: u64,
    pub(crate) first_time_ms: i64,
    pub(crate) last_time_ms: i64,
    pub(crate) head: [u8; 32],
    /// A failed batch may have left bytes after `len`.
    dirty: bool,
    /// The file's length with its reserved blocks (at least `len`).
    reserved: u64,
    /// The filesystem cannot reserve blocks: append without.
    no_reserve: bool,
    /// Written in buffered mode and not synced yet.
    pub(crate) unsynced: bool,
    /// The timing of the last batch committed.
    pub(crate) last_timing: BatchTiming,
    scratch: Vec<u8>,
}

/// The state of a segment read back, to continue it.
pub(crate) struct Resumed {
    pub(crate) len: u64,
    pub(crate) count: u64,
    pub(crate) first_time_ms: i64,
    pub(crate) last_time_ms: i64,
    pub(crate) head: [u8; 32],
}

impl ActiveSegment {
    /// Continues the segment `id` whose file holds `resumed`.
    pub(crate) fn new(
        id: SegmentId,
        path: PathBuf,
        header: SegmentHeader,
        io: Box<dyn SegmentIo>,
        resumed: Resumed,
    ) -> Self {
        Self {
            id,
            path,
            header,
            io,
            len: resumed.len,
            count: resumed.count,
            first_time_ms: resumed.first_time_ms,
            last_time_ms: resumed.last_time_ms,
            head: resumed.head,
            dirty: false,
            reserved: resumed.len,
            no_reserve: false,
            unsynced: false,
            last_timing: BatchTiming::default(),
            scratch: Vec::new(),
        }
    }

    /// The sequence number the next record gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.header.first_seq.saturating_add(self.count)
    }

    /// Appends `records` as one write; with `sync`, one `fdatasync`. On
    /// any failure nothing of the batch counts: the file is cut back to
    /// its committed length (now, or before the next batch) and the chain
    /// continues from the last committed record.
    pub(crate) fn commit(
        &mut self,
        records: &[&AuditRecord],
        sync: bool,
    ) -> Result<Vec<Committed>, AuditError> {
        let started = std::time::Instant::now();
        if self.dirty {
            self.io.truncate(self.len).map_err(|e| self.failed(e))?;
            self.dirty = false;
        }
        let mut out = Vec::with_capacity(records.len() * 256);
        let mut committed = Vec::with_capacity(records.len());
        let mut head = self.head;
        for (i, record) in records.iter().enumerate() {
            let seq = self.next_seq() + i as u64;
            let bytes = encode_record(seq, record);
            if bytes.len() > MAX_FRAME_BODY {
                // Appenders refuse these before they get here; a frame
                // this long would read back as damage.
                return Err(AuditError::RecordTooLarge(bytes.len()));
            }
            head = chain_hash(&head, &bytes, &mut self.scratch);
            push_frame(&mut out, &bytes);
            committed.push(Committed {
                seq,
                hash: head,
                segment: self.id.number,
            });
        }
        self.reserve_for(out.len() as u64);
        self.dirty = true;
        self.io.write_at(self.len, &out).map_err(|e| self.undo(e))?;
        let fsync = if sync {
            let syncing = std::time::Instant::now();
            self.io.sync().map_err(|e| self.undo(e))?;
            Some(syncing.elapsed())
        } else {
            self.unsynced = true;
            None
        };
        self.dirty = false;
        if self.count == 0
            && let Some(first) = records.first()
        {
            self.first_time_ms = first.time_ms;
        }
        if let Some(last) = records.last() {
            self.last_time_ms = last.time_ms;
        }
        self.len += out.len() as u64;
        self.count += records.len() as u64;
        self.head = head;
        self.last_timing = BatchTiming {
            records: records.len(),
            commit: started.elapsed(),
            fsync,
        };
        Ok(committed)
    }

    /// Reserves blocks for `more` bytes after the records, a chunk ahead.
    /// Reserving only saves time: where it cannot be done (the filesystem,
    /// no room for a whole chunk, a file size limit) this segment goes on
    /// without, and a disk that is really full fails the write itself.
    fn reserve_for(&mut self, more: u64) {
        let end = self.len + more;
        if self.no_reserve || end <= self.reserved {
            return;
        }
        let target = end.next_multiple_of(RESERVE_CHUNK);
        match self.io.reserve(target) {
            Ok(true) => self.reserved = target,
            Ok(false) => self.no_reserve = true,
            Err(e) => {
                tracing::debug!(segment = %self.id, error = %e, "audit segment appends without reserved blocks");
                self.no_reserve = true;
                // A failed fallocate may have reserved part of it: the
                // file is cut back to its records when it is sealed.
                self.reserved = target;
            }
        }
    }

    /// Makes every written byte durable and cuts the file back to its
    /// records (before sealing, on shutdown).
    pub(crate) fn sync(&mut self) -> Result<(), AuditError> {
        if self.dirty || self.reserved > self.len {
            self.io.truncate(self.len).map_err(|e| self.failed(e))?;
            self.dirty = false;
            self.reserved = self.len;
        }
        self.io.sync().map_err(|e| self.failed(e))?;
        self.unsynced = false;
        Ok(())
    }

    /// The footer facts of this segment as it stands.
    pub(crate) fn footer_body(&self) -> FooterBody {
        FooterBody {
            chain: self.id.chain.to_string(),
            number: self.id.number,
            first_seq: self.header.first_seq,
            last_seq: self.next_seq() - 1,
            count: self.count,
            first_time_ms: self.first_time_ms,
            last_time_ms: self.last_time_ms,
            head: self.head,
            prev_head: self.header.prev_head,
            segment_len: self.len,
        }
    }

    fn failed(&self, e: std::io::Error) -> AuditError {
        AuditError::io(&self.path, e)
    }

    /// Cuts off a failed batch's bytes; if even that fails, the next batch
    /// tries first.
    fn undo(&mut self, e: std::io::Error) -> AuditError {
        if self.io.truncate(self.len).is_ok() {
            self.dirty = false;
            self.reserved = self.len;
        }
        self.failed(e)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::chain::{ChainId, GENESIS};
    use crate::segment::{encode_header, parse_segment};

    /// A file in memory that can be made to fail like a full disk: writes
    /// stop after `room` more bytes, syncs fail while `full`.
    #[derive(Clone, Default)]
    struct FlakyDisk {
        bytes: Arc<Mutex<Vec<u8>>>,
        room: Arc<Mutex<Option<usize>>>,
    }

    impl SegmentIo for FlakyDisk {
        fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
            let mut room = self.room.lock().expect("lock");
            let mut file = self.bytes.lock().expect("lock");
            let n = room.map_or(bytes.len(), |left| bytes.len().min(left));
            let end = offset as usize + n;
            if file.len() < end {
                file.resize(end, 0);
            }
            file[offset as usize..end].copy_from_slice(&bytes[..n]);
            if let Some(left) = room.as_mut() {
                *left -= n;
            }
            if n < bytes.len() {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
            Ok(())
        }
        fn reserve(&mut self, _len: u64) -> std::io::Result<bool> {
            Ok(false)
        }
        fn sync(&mut self) -> std::io::Result<()> {
            match *self.room.lock().expect("lock") {
                Some(0) => Err(std::io::Error::from_raw_os_error(28)),
                _ => Ok(()),
            }
        }
        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            self.bytes.lock().expect("lock").truncate(len as usize);
            Ok(())
        }
    }

    fn record(n: i64) -> AuditRecord {
        AuditRecord {
            time_ms: n,
            request_id: format!("req-{n}"),
            operation: "Encrypt".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_disk_fails_the_batch_and_leaves_no_trace_and_the_chain_continues() {
        let disk = FlakyDisk::default();
        let header = SegmentHeader {
            chain: "fe".into(),
            number: 0,
            first_seq: 1,
            prev_head: GENESIS,
            created_ms: 0,
        };
        let start = encode_header(&header);
        disk.bytes.lock().expect("lock").extend_from_slice(&start);
        let id = SegmentId {
            chain: ChainId::new("fe").expect("id"),
            number: 0,
        };
        let mut seg = ActiveSegment::new(
            id,
            "mem".into(),
            header,
            Box::new(disk.clone()),
            Resumed {
                len: start.len() as u64,
                count: 0,
                first_time_ms: 0,
                last_time_ms: 0,
                head: GENESIS,
            },
        );
        let (r1, r2, r3) = (record(1), record(2), record(3));
        seg.commit(&[&r1], true).expect("first batch");
        let before = disk.bytes.lock().expect("lock").clone();

        // Room for half a frame: the write fails part-way.
        *disk.room.lock().expect("lock") = Some(20);
        let err = seg.commit(&[&r2, &r3], true).expect_err("disk full");
        assert!(matches!(err, AuditError::Io { .. }), "{err}");
        assert_eq!(
            *disk.bytes.lock().expect("lock"),
            before,
            "partial batch undone"
        );
        assert_eq!((seg.count, seg.next_seq()), (1, 2));

        // The write fits but the sync fails: not durable, undone as well.
        *disk.room.lock().expect("lock") = Some(0);
        assert!(seg.commit(&[], true).is_err());
        assert_eq!(*disk.bytes.lock().expect("lock"), before);

        // Space returns: the chain continues from record 1.
        *disk.room.lock().expect("lock") = None;
        let done = seg.commit(&[&r2, &r3], true).expect("space is back");
        assert_eq!(done.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3]);
        let parsed = parse_segment(&disk.bytes.lock().expect("lock")).expect("parse");
        assert_eq!(parsed.records.len(), 3);
        assert_eq!(parsed.head, seg.head);
        assert_eq!(parsed.head, done[1].hash);
        let ids: Vec<String> = parsed
            .records
            .iter()
            .map(|r| r.record.request_id.clone())
            .collect();
        assert_eq!(ids, ["req-1", "req-2", "req-3"]);
    }

    #[test]
    fn blocks_are_reserved_ahead_of_the_records_and_cut_back_on_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seg");
        let header = SegmentHeader {
            chain: "fe".into(),
            number: 0,
            first_seq: 1,
            prev_head: GENESIS,
            created_ms: 0,
        };
        let start = encode_header(&header);
        std::fs::write(&path, &start).expect("write");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let mut seg = ActiveSegment::new(
            SegmentId {
                chain: ChainId::new("fe").expect("id"),
                number: 0,
            },
            path.clone(),
            header,
            Box::new(file),
            Resumed {
                len: start.len() as u64,
                count: 0,
                first_time_ms: 0,
                last_time_ms: 0,
                head: GENESIS,
            },
        );
        let records: Vec<AuditRecord> = (1..=50).map(record).collect();
        for r in &records {
            seg.commit(&[r], false).expect("commit");
        }
        let size = std::fs::metadata(&path).expect("stat").len();
        if !seg.no_reserve {
            assert_eq!(size, RESERVE_CHUNK, "reserved a chunk ahead");
        }
        // Read while reserved: the records, then zeros that end them.
        let parsed = parse_segment(&std::fs::read(&path).expect("read")).expect("parse");
        assert_eq!(parsed.records.len(), 50);
        assert_eq!(parsed.valid_len, seg.len);
        // Synced for sealing: the file is exactly its records.
        seg.sync().expect("sync");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), seg.len);
        let parsed = parse_segment(&std::fs::read(&path).expect("read")).expect("parse");
        assert_eq!(parsed.records.len(), 50);
        assert!(matches!(parsed.tail, crate::frame::Tail::Clean));
        // And appends continue after the cut, reserving again.
        seg.commit(&[&record(51)], true).expect("commit");
        let parsed = parse_segment(&std::fs::read(&path).expect("read")).expect("parse");
        assert_eq!(parsed.records.len(), 51);
        assert_eq!(parsed.head, seg.head);
    }

    /// A disk with no room to reserve a chunk, though records still fit.
    struct NoRoomToReserve(FlakyDisk);

    impl SegmentIo for NoRoomToReserve {
        fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
            self.0.write_at(offset, bytes)
        }
        fn sync(&mut self) -> std::io::Result<()> {
            self.0.sync()
        }
        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            self.0.truncate(len)
        }
        fn reserve(&mut self, _len: u64) -> std::io::Result<bool> {
            Err(std::io::Error::from_raw_os_error(27)) // EFBIG
        }
    }

    #[test]
    fn a_reservation_that_fails_does_not_fail_the_records() {
        let disk = FlakyDisk::default();
        let header = SegmentHeader {
            chain: "fe".into(),
            number: 0,
            first_seq: 1,
            prev_head: GENESIS,
            created_ms: 0,
        };
        let start = encode_header(&header);
        disk.bytes.lock().expect("lock").extend_from_slice(&start);
        let mut seg = ActiveSegment::new(
            SegmentId {
                chain: ChainId::new("fe").expect("id"),
                number: 0,
            },
            "mem".into(),
            header,
            Box::new(NoRoomToReserve(disk.clone())),
            Resumed {
                len: start.len() as u64,
                count: 0,
                first_time_ms: 0,
                last_time_ms: 0,
                head: GENESIS,
            },
        );
        for n in 1..=3 {
            seg.commit(&[&record(n)], true)
                .expect("committed without a reservation");
        }
        seg.sync().expect("sync");
        let parsed = parse_segment(&disk.bytes.lock().expect("lock")).expect("parse");
        assert_eq!(parsed.records.len(), 3);
        assert!(matches!(parsed.tail, crate::frame::Tail::Clean));
    }
}
