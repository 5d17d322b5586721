//! One chain's check: its segments in order, each against its footer, its
//! seal, the chain so far and the heads exported earlier.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ChainReport, ExportedHead, Problem};
use crate::chain::{ChainId, GENESIS, SegmentId};
use crate::error::AuditError;
use crate::footer::SealedFooter;
use crate::frame::Tail;
use crate::read::{ANY_SEGMENT_FILE, read_bounded};
use crate::retention::check_receipt;
use crate::seal::{SealCheck, TrustedKeys};
use crate::segment::{HeaderProblem, ParsedSegment, SegmentFiles, parse_segment};

/// Whether the walk goes on to the next segment.
enum Step {
    Next,
    Stop,
}

/// The state of a walk along one chain.
struct Walk<'a> {
    trusted: &'a TrustedKeys,
    pinned: &'a [&'a ExportedHead],
    r: ChainReport,
    /// The sequence number the next segment must start at.
    next_seq: u64,
    /// The number the next segment must have.
    expected_number: u64,
    /// Hashes at the pinned sequence numbers, as found.
    found: BTreeMap<u64, [u8; 32]>,
}

/// Checks one chain's `segments` (footers and receipts against the
/// `trusted` keys) and its `pinned` heads.
pub(super) fn verify_chain(
    chain: ChainId,
    segments: &[SegmentFiles],
    trusted: &TrustedKeys,
    pinned: &[&ExportedHead],
) -> Result<ChainReport, AuditError> {
    let mut walk = Walk {
        trusted,
        pinned,
        r: ChainReport {
            chain,
            segments: 0,
            retired: 0,
            records: 0,
            unsealed_records: 0,
            legacy_sealed: 0,
            last_seq: 0,
            head: GENESIS,
            problems: Vec::new(),
            notes: Vec::new(),
        },
        next_seq: 1,
        expected_number: 0,
        found: BTreeMap::new(),
    };
    for (i, files) in segments.iter().enumerate() {
        if let Step::Stop = walk.segment(files, i + 1 == segments.len()) {
            break;
        }
    }
    Ok(walk.finish())
}

impl Walk<'_> {
    fn seg_id(&self, number: u64) -> SegmentId {
        SegmentId {
            chain: self.r.chain.clone(),
            number,
        }
    }

    fn problem(&mut self, p: Problem) {
        self.r.problems.push(p);
    }

    /// One segment's files; `last` if no segment follows.
    fn segment(&mut self, files: &SegmentFiles, last: bool) -> Step {
        let id = files.id.clone();
        // Only compare links when the numbering is continuous.
        let linked = self.missing_before(&id);
        let footer = self.footer(files, &id);
        if let Some(f) = &footer
            && linked
        {
            let next_seq = self.next_seq;
            link(
                &mut self.r,
                &id,
                f.body.first_seq,
                &f.body.prev_head,
                next_seq,
                "its footer",
            );
        }
        let Some(path) = &files.segment else {
            self.retired(&id, footer.as_ref(), files);
            self.expected_number = id.number + 1;
            return Step::Next;
        };
        let (bytes, parsed) = match self.read(path, &id, last && footer.is_none()) {
            Ok(read) => read,
            Err(step) => return step,
        };
        self.records(&id, &bytes, &parsed, footer.as_ref(), linked, last);
        self.expected_number = id.number + 1;
        Step::Next
    }

    /// Reports the segments missing before `id`; whether there were none.
    fn missing_before(&mut self, id: &SegmentId) -> bool {
        let mut linked = true;
        for missing in self.expected_number..id.number {
            let segment = self.seg_id(missing);
            self.problem(Problem::MissingSegment {
                segment,
                detail: "no segment, footer or receipt".into(),
            });
            linked = false;
        }
        linked
    }

    /// The segment's footer, if it has one sealed by a trusted key.
    fn footer(&mut self, files: &SegmentFiles, id: &SegmentId) -> Option<SealedFooter> {
        let p = files.footer.as_ref()?;
        match SealedFooter::read(p).and_then(|f| f.check_for(id, self.trusted).map(|how| (f, how)))
        {
            Ok((f, how)) => {
                if how == SealCheck::LegacyHmac {
                    self.r.legacy_sealed += 1;
                }
                Some(f)
            }
            Err(AuditError::UntrustedSeal { sealer, .. }) => {
                self.problem(Problem::UntrustedSeal {
                    segment: id.clone(),
                    sealer,
                });
                None
            }
            Err(_) => {
                self.problem(Problem::BadSeal {
                    segment: id.clone(),
                });
                None
            }
        }
    }

    /// A segment without its records file: retired if its footer and a
    /// valid receipt for its head remain.
    fn retired(&mut self, id: &SegmentId, footer: Option<&SealedFooter>, files: &SegmentFiles) {
        match (footer, &files.receipt) {
            (Some(f), Some(rp))
                if check_receipt(rp, id, &f.body.head, self.trusted)
                    .is_ok_and(SealCheck::is_valid) =>
            {
                self.r.retired += 1;
            }
            (Some(_), _) => self.problem(Problem::MissingSegment {
                segment: id.clone(),
                detail: "its records were deleted without a receipt for its hash".into(),
            }),
            (None, _) => self.problem(Problem::MissingSegment {
                segment: id.clone(),
                detail: "no records and no valid footer".into(),
            }),
        }
        if let Some(f) = footer {
            for p in self.pinned {
                if p.seq == f.body.last_seq {
                    self.found.insert(p.seq, f.body.head);
                }
            }
            self.next_seq = f.body.last_seq.saturating_add(1);
            self.r.head = f.body.head;
        }
    }

    /// The segment's bytes, parsed; a torn header is the end of the walk
    /// when `may_be_torn` (the newest segment, without a footer).
    fn read(
        &mut self,
        path: &Path,
        id: &SegmentId,
        may_be_torn: bool,
    ) -> Result<(Vec<u8>, ParsedSegment), Step> {
        let bytes = match read_bounded(path, ANY_SEGMENT_FILE) {
            Ok(b) => b,
            Err(e) => {
                self.problem(Problem::Edited {
                    segment: id.clone(),
                    detail: e.to_string(),
                });
                self.expected_number = id.number + 1;
                return Err(Step::Next);
            }
        };
        match parse_segment(&bytes) {
            Ok(p) => Ok((bytes, p)),
            Err(HeaderProblem::Torn) if may_be_torn => {
                self.r.notes.push(format!(
                    "segment {id} was created but its header is torn; it holds no record (the writer removes it)"
                ));
                Err(Step::Stop)
            }
            Err(e) => {
                self.problem(Problem::Edited {
                    segment: id.clone(),
                    detail: format!("not a segment: {e:?}"),
                });
                self.expected_number = id.number + 1;
                Err(Step::Next)
            }
        }
    }

    /// A segment's records: its header, frames and footer, then the walk
    /// moves past them.
    fn records(
        &mut self,
        id: &SegmentId,
        bytes: &[u8],
        parsed: &ParsedSegment,
        footer: Option<&SealedFooter>,
        linked: bool,
        last: bool,
    ) {
        self.r.segments += 1;
        self.check_header(id, parsed, footer, linked);
        self.check_frames(id, parsed);
        let whole = parsed.bad_record.is_none() && !matches!(parsed.tail, Tail::Corrupt { .. });
        match footer {
            Some(f) => self.check_against_footer(id, parsed, f, whole),
            None if !last => self.problem(Problem::Unsealed {
                segment: id.clone(),
            }),
            None => self.open_segment(id, bytes, parsed),
        }
        let h = &parsed.header;
        for p in self.pinned {
            if let Some(rec) = p
                .seq
                .checked_sub(h.first_seq)
                .and_then(|k| parsed.records.get(k as usize))
            {
                self.found.insert(p.seq, rec.hash);
            }
        }
        self.r.records += parsed.records.len() as u64;
        match footer {
            Some(f) => {
                self.next_seq = f.body.last_seq.saturating_add(1);
                self.r.head = f.body.head;
            }
            None => {
                self.next_seq = h.first_seq.saturating_add(parsed.records.len() as u64);
                self.r.head = parsed.head;
            }
        }
    }

    /// The header names this segment, continues the chain (when no footer
    /// did) and agrees with the footer.
    fn check_header(
        &mut self,
        id: &SegmentId,
        parsed: &ParsedSegment,
        footer: Option<&SealedFooter>,
        linked: bool,
    ) {
        let h = &parsed.header;
        if h.chain != self.r.chain.as_str() || h.number != id.number {
            self.problem(Problem::Edited {
                segment: id.clone(),
                detail: "its header names another segment".into(),
            });
        }
        if linked && footer.is_none() {
            let next_seq = self.next_seq;
            link(
                &mut self.r,
                id,
                h.first_seq,
                &h.prev_head,
                next_seq,
                "its header",
            );
        }
        if let Some(f) = footer
            && (h.first_seq != f.body.first_seq || h.prev_head != f.body.prev_head)
        {
            self.problem(Problem::Edited {
                segment: id.clone(),
                detail: "its header differs from its footer".into(),
            });
        }
    }

    /// A bad record, or a corrupt frame with data after it.
    fn check_frames(&mut self, id: &SegmentId, parsed: &ParsedSegment) {
        if let Some(bad) = &parsed.bad_record {
            self.problem(Problem::Edited {
                segment: id.clone(),
                detail: bad.clone(),
            });
        } else if let Tail::Corrupt { at, defect } = parsed.tail {
            self.problem(Problem::Edited {
                segment: id.clone(),
                detail: format!("bad frame at byte {at} ({defect:?}) with data after it"),
            });
        }
    }

    /// A sealed segment's records against its footer's count, head and
    /// length (`whole`: no damage reported already).
    fn check_against_footer(
        &mut self,
        id: &SegmentId,
        parsed: &ParsedSegment,
        f: &SealedFooter,
        whole: bool,
    ) {
        let n = parsed.records.len() as u64;
        let b = &f.body;
        if whole && n < b.count {
            self.problem(Problem::Truncated {
                segment: id.clone(),
                detail: format!("it holds {n} of the {} records its footer counts", b.count),
            });
        } else if whole
            && (n != b.count
                || parsed.head != b.head
                || parsed.valid_len != b.segment_len
                || !matches!(parsed.tail, Tail::Clean))
        {
            self.problem(Problem::Edited {
                segment: id.clone(),
                detail: "its records do not hash to its footer's head".into(),
            });
        }
    }

    /// The newest, open segment: its records are unsealed, and a torn
    /// write at its end is noted for recovery.
    fn open_segment(&mut self, id: &SegmentId, bytes: &[u8], parsed: &ParsedSegment) {
        self.r.unsealed_records = parsed.records.len() as u64;
        // Zeros after the records are space reserved for appends.
        let written = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if let Tail::Torn { at, .. } = parsed.tail
            && written > at
        {
            self.r.notes.push(format!(
                "segment {id} ends in a torn write at byte {at} ({} bytes; the writer cuts it off on open)",
                written - at
            ));
        }
    }

    /// The report, once every pinned head is checked against the chain.
    fn finish(mut self) -> ChainReport {
        self.r.last_seq = self.next_seq.saturating_sub(1);
        let last_id = self.seg_id(self.expected_number.saturating_sub(1));
        let r = &mut self.r;
        for p in self.pinned {
            if p.seq > r.last_seq {
                r.problems.push(Problem::Truncated {
                    segment: last_id.clone(),
                    detail: format!(
                        "the chain ends at record {} but record {} was exported as its head",
                        r.last_seq, p.seq
                    ),
                });
            } else if let Some(hash) = self.found.get(&p.seq)
                && *hash != p.hash
            {
                r.problems.push(Problem::Fork {
                    segment: last_id.clone(),
                    detail: format!("record {} differs from the exported head", p.seq),
                });
            } else if self.found.get(&p.seq) == Some(&p.hash) {
                // An exported head vouches for the open records up to it.
                let after = r.last_seq.saturating_sub(p.seq);
                r.unsealed_records = r.unsealed_records.min(after);
            }
        }
        self.r
    }
}

/// Checks that a segment starting at `first_seq` after `prev_head`
/// continues the chain at `next_seq` / `r.head`.
fn link(
    r: &mut ChainReport,
    id: &SegmentId,
    first_seq: u64,
    prev_head: &[u8; 32],
    next_seq: u64,
    what: &str,
) {
    if first_seq > next_seq {
        r.problems.push(Problem::Gap {
            segment: id.clone(),
            expected_seq: next_seq,
            found_seq: first_seq,
        });
    } else if first_seq < next_seq || *prev_head != r.head {
        r.problems.push(Problem::Fork {
            segment: id.clone(),
            detail: format!("{what} does not continue the chain at record {next_seq}"),
        });
    }
}
