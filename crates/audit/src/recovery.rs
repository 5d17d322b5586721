//! Opening a chain after a stop or a crash: check the last sealed segment
//! against its footer, check what follows it record by record, cut off a
//! torn tail (and only a torn tail), refuse a closed segment whose footer
//! is gone, and continue the chain.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use crate::active::{ActiveSegment, Resumed};
use crate::chain::{ChainId, GENESIS};
use crate::chain_writer::{ChainWriter, RollPolicy};
use crate::error::{AuditError, IoContext};
use crate::footer::SealedFooter;
use crate::frame::Tail;
use crate::read::{ANY_SEGMENT_FILE, read_bounded};
use crate::seal::FooterSealer;
use crate::segment::{HeaderProblem, ParsedSegment, SegmentFiles, list_chains, parse_segment};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The last segment with a sealed footer, if any.
    pub last_sealed: Option<u64>,
    /// Records found after it (in unsealed segments).
    pub unsealed_records: u64,
    /// Bytes of a torn tail cut off.
    pub truncated_bytes: u64,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// The chain's head hash.
    pub head: [u8; 32],
}

fn tampered(chain: &ChainId, reason: String) -> AuditError {
    AuditError::Tampered {
        chain: chain.to_string(),
        reason,
    }
}

/// Recovers `chain` in `dir` and returns its writer state.
pub(crate) fn recover(
    dir: &Path,
    chain: &ChainId,
    sealer: Arc<dyn FooterSealer>,
    roll: RollPolicy,
) -> Result<(ChainWriter, RecoveryReport), AuditError> {
    std::fs::create_dir_all(dir).at(dir)?;
    let lock = ChainWriter::lock(dir, chain)?;
    let segments = list_chains(dir)?.remove(chain).unwrap_or_default();
    let mut writer = ChainWriter {
        dir: dir.to_path_buf(),
        chain: chain.clone(),
        sealer,
        roll,
        active: None,
        next_number: segments.first().map_or(0, |s| s.id.number),
        next_seq: 1,
        head: GENESIS,
        seal_retry_at: None,
        seal_failures: 0,
        _lock: lock,
    };
    let mut report = RecoveryReport::default();
    let last_sealed = segments.iter().rposition(|s| s.footer.is_some());
    if let Some(i) = last_sealed {
        report.last_sealed = Some(after_sealed(&mut writer, &segments[i])?);
    }
    let rest = &segments[last_sealed.map_or(0, |i| i + 1)..];
    for (k, files) in rest.iter().enumerate() {
        if !reopen(&mut writer, &mut report, files, k + 1 == rest.len())? {
            break;
        }
    }
    writer.ensure_active()?;
    let active = writer.active.as_ref();
    report.next_seq = active.map_or(writer.next_seq, |a| a.next_seq());
    report.head = active.map_or(writer.head, |a| a.head);
    Ok((writer, report))
}

/// Checks the last sealed segment against its footer and continues the
/// chain after it; returns its number.
fn after_sealed(writer: &mut ChainWriter, files: &SegmentFiles) -> Result<u64, AuditError> {
    let chain = &writer.chain;
    let path = files.footer.as_deref().unwrap_or(Path::new(""));
    let footer = SealedFooter::read(path)?;
    footer.check_for(&files.id, &writer.sealer.trusted())?;
    let body = &footer.body;
    if body.chain != chain.as_str() || body.number != files.id.number {
        return Err(tampered(
            chain,
            format!("footer of {} names another segment", files.id),
        ));
    }
    if let Some(seg) = &files.segment {
        let parsed = parse_segment(&read_bounded(seg, ANY_SEGMENT_FILE)?)
            .map_err(|e| tampered(chain, format!("segment {}: {e:?}", files.id)))?;
        let whole = parsed.tail == Tail::Clean && parsed.bad_record.is_none();
        if !whole
            || parsed.records.len() as u64 != body.count
            || parsed.head != body.head
            || parsed.valid_len != body.segment_len
        {
            return Err(tampered(
                chain,
                format!("sealed segment {} does not match its footer", files.id),
            ));
        }
    }
    let next_seq = body.last_seq.checked_add(1).ok_or_else(|| {
        tampered(
            chain,
            format!("footer of {} ends at the largest record number", files.id),
        )
    })?;
    writer.next_number = body.number + 1;
    writer.next_seq = next_seq;
    writer.head = body.head;
    Ok(body.number)
}

/// Reopens an unsealed segment after the last sealed one (only the last
/// may be unsealed) as the active segment; false if it was a torn header
/// with no record, now removed.
fn reopen(
    writer: &mut ChainWriter,
    report: &mut RecoveryReport,
    files: &SegmentFiles,
    is_last: bool,
) -> Result<bool, AuditError> {
    let chain = &writer.chain;
    if files.id.number != writer.next_number {
        return Err(tampered(
            chain,
            format!("segment {} is missing", writer.next_number),
        ));
    }
    if !is_last {
        // The writer creates a segment only once the one before has
        // its footer (written durably), so no crash leaves a closed
        // segment without one: its footer was removed. Sealing it now
        // would have the module vouch for whatever it holds.
        return Err(tampered(
            chain,
            format!(
                "segment {} is closed (a later segment follows) but has no footer",
                files.id
            ),
        ));
    }
    let Some(path) = files.segment.clone() else {
        return Err(tampered(
            chain,
            format!("segment {} has no records file", files.id),
        ));
    };
    let bytes = read_bounded(&path, ANY_SEGMENT_FILE)?;
    let parsed = match parse_segment(&bytes) {
        Ok(p) => p,
        // Created, then the crash: no record was ever in it.
        Err(HeaderProblem::Torn) => {
            std::fs::remove_file(&path).at(&path)?;
            report.truncated_bytes += bytes.len() as u64;
            return Ok(false);
        }
        Err(e) => return Err(tampered(chain, format!("segment {}: {e:?}", files.id))),
    };
    let h = &parsed.header;
    if h.chain != chain.as_str()
        || h.number != files.id.number
        || h.first_seq != writer.next_seq
        || h.prev_head != writer.head
    {
        return Err(tampered(
            chain,
            format!("segment {} does not continue the chain", files.id),
        ));
    }
    cut_torn_tail(chain, files, &path, &bytes, &parsed, report)?;
    report.unsealed_records += parsed.records.len() as u64;
    resume(writer, files, path, parsed)?;
    Ok(true)
}

/// Cuts off a torn tail (bytes a cut-short append leaves: no whole
/// record); refuses a damaged frame with data after it.
fn cut_torn_tail(
    chain: &ChainId,
    files: &SegmentFiles,
    path: &Path,
    bytes: &[u8],
    parsed: &ParsedSegment,
    report: &mut RecoveryReport,
) -> Result<(), AuditError> {
    match parsed.tail {
        Tail::Clean => Ok(()),
        Tail::Torn { at, .. } => {
            let f = OpenOptions::new().write(true).open(path).at(path)?;
            f.set_len(at as u64).and_then(|()| f.sync_data()).at(path)?;
            // Reserved zeros after the last write are not lost data.
            let written = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            report.truncated_bytes += written.saturating_sub(at) as u64;
            Ok(())
        }
        Tail::Corrupt { at, .. } => Err(tampered(
            chain,
            format!(
                "segment {} is damaged at byte {at} with data after it{}",
                files.id,
                parsed
                    .bad_record
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        )),
    }
}

/// Makes the reopened segment the writer's active one.
fn resume(
    writer: &mut ChainWriter,
    files: &SegmentFiles,
    path: std::path::PathBuf,
    parsed: ParsedSegment,
) -> Result<(), AuditError> {
    let file = OpenOptions::new().write(true).open(&path).at(&path)?;
    let resumed = Resumed {
        len: parsed.valid_len,
        count: parsed.records.len() as u64,
        first_time_ms: parsed.records.first().map_or(0, |r| r.record.time_ms),
        last_time_ms: parsed.records.last().map_or(0, |r| r.record.time_ms),
        head: parsed.head,
    };
    writer.active = Some(ActiveSegment::new(
        files.id.clone(),
        path,
        parsed.header,
        Box::new(file),
        resumed,
    ));
    Ok(())
}
