//! Opening a chain after a stop or a crash: check the last sealed segment
//! against its footer, check what follows it record by record, cut off a
//! torn tail (and only a torn tail), seal any segment left unsealed, and
//! continue the chain.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use crate::active::{ActiveSegment, Resumed};
use crate::chain::{ChainId, GENESIS};
use crate::chain_writer::{ChainWriter, RollPolicy};
use crate::error::{AuditError, IoContext};
use crate::footer::SealedFooter;
use crate::frame::Tail;
use crate::seal::FooterSealer;
use crate::segment::{HeaderProblem, list_chains, parse_segment};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The last segment with a sealed footer, if any.
    pub last_sealed: Option<u64>,
    /// Records found after it (in unsealed segments).
    pub unsealed_records: u64,
    /// Bytes of a torn tail cut off.
    pub truncated_bytes: u64,
    /// Segments recovery sealed (left unsealed by a crash).
    pub sealed: Vec<u64>,
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
        sealer: sealer.clone(),
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
        let files = &segments[i];
        let path = files.footer.as_deref().unwrap_or(Path::new(""));
        let footer = SealedFooter::decode(&std::fs::read(path).at(path)?)?;
        footer.check_for(&files.id, &sealer.trusted())?;
        let body = &footer.body;
        if body.chain != chain.as_str() || body.number != files.id.number {
            return Err(tampered(
                chain,
                format!("footer of {} names another segment", files.id),
            ));
        }
        if let Some(seg) = &files.segment {
            let parsed = parse_segment(&std::fs::read(seg).at(seg)?)
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
        writer.next_number = body.number + 1;
        writer.next_seq = body.last_seq + 1;
        writer.head = body.head;
        report.last_sealed = Some(body.number);
    }

    let rest = &segments[last_sealed.map_or(0, |i| i + 1)..];
    for (k, files) in rest.iter().enumerate() {
        let is_last = k + 1 == rest.len();
        if files.id.number != writer.next_number {
            return Err(tampered(
                chain,
                format!("segment {} is missing", writer.next_number),
            ));
        }
        let Some(path) = files.segment.clone() else {
            return Err(tampered(
                chain,
                format!("segment {} has no records file", files.id),
            ));
        };
        let bytes = std::fs::read(&path).at(&path)?;
        let parsed = match parse_segment(&bytes) {
            Ok(p) => p,
            // Created, then the crash: no record was ever in it.
            Err(HeaderProblem::Torn) if is_last => {
                std::fs::remove_file(&path).at(&path)?;
                report.truncated_bytes += bytes.len() as u64;
                break;
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
        match parsed.tail {
            Tail::Clean => {}
            Tail::Torn { at, .. } => {
                // Only bytes a cut-short append leaves: no whole record.
                let f = OpenOptions::new().write(true).open(&path).at(&path)?;
                f.set_len(at as u64)
                    .and_then(|()| f.sync_data())
                    .at(&path)?;
                report.truncated_bytes += (bytes.len() - at) as u64;
            }
            Tail::Corrupt { at, .. } => {
                return Err(tampered(
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
                ));
            }
        }
        report.unsealed_records += parsed.records.len() as u64;
        let file = OpenOptions::new().append(true).open(&path).at(&path)?;
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
        if !is_last {
            // A crash between sealing and the next segment cannot leave
            // this, but a copied-in directory can: seal it now.
            if let Some(id) = writer.seal_active()? {
                report.sealed.push(id.number);
            }
        }
    }
    writer.ensure_active()?;
    let active = writer.active.as_ref();
    report.next_seq = active.map_or(writer.next_seq, |a| a.next_seq());
    report.head = active.map_or(writer.head, |a| a.head);
    Ok((writer, report))
}
