//! Checking a directory of chains: every segment against the chain, every
//! footer against its seal and its segment, and the chain against heads
//! exported earlier.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::chain::{ChainId, GENESIS, SegmentId};
use crate::error::{AuditError, IoContext};
use crate::footer::SealedFooter;
use crate::frame::Tail;
use crate::retention::check_receipt;
use crate::seal::{SealCheck, TrustedKeys};
use crate::segment::{HeaderProblem, list_chains, parse_segment};

/// A chain head recorded somewhere the log's host cannot write (printed by
/// `verify` or `export`): detects truncation of the newest records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedHead {
    /// The chain.
    pub chain: ChainId,
    /// Sequence number of the record.
    pub seq: u64,
    /// Chain hash after it.
    pub hash: [u8; 32],
}

impl fmt::Display for ExportedHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.chain, self.seq, hex::encode(self.hash))
    }
}

impl std::str::FromStr for ExportedHead {
    type Err = AuditError;
    /// `<chain>:<seq>:<hex hash>`, as `Display` writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AuditError::Malformed(format!("exported head {s:?}: expected CHAIN:SEQ:HASH"));
        let mut parts = s.split(':');
        let (Some(chain), Some(seq), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mut h = [0u8; 32];
        hex::decode_to_slice(hash, &mut h).map_err(|_| bad())?;
        Ok(Self {
            chain: ChainId::new(chain)?,
            seq: seq.parse().map_err(|_| bad())?,
            hash: h,
        })
    }
}

/// Something wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A segment that should be there is not (a gap in the numbers, or
    /// records deleted without a receipt).
    MissingSegment {
        /// Which.
        segment: SegmentId,
        /// How it was noticed.
        detail: String,
    },
    /// Records missing between two segments.
    Gap {
        /// The segment after the gap.
        segment: SegmentId,
        /// The sequence number due.
        expected_seq: u64,
        /// The one found.
        found_seq: u64,
    },
    /// A segment that does not continue the chain before it: two
    /// histories.
    Fork {
        /// Which.
        segment: SegmentId,
        /// How.
        detail: String,
    },
    /// Contents that do not match their checksum, hash or footer.
    Edited {
        /// Which.
        segment: SegmentId,
        /// How.
        detail: String,
    },
    /// A footer whose seal does not verify (or is not a footer).
    BadSeal {
        /// Which.
        segment: SegmentId,
    },
    /// A footer sealed by a key that is not trusted (not the security
    /// module's, not pinned): it vouches for nothing, whoever made it.
    UntrustedSeal {
        /// Which.
        segment: SegmentId,
        /// The key its seal names.
        sealer: String,
    },
    /// Fewer records than a footer or an exported head says.
    Truncated {
        /// The segment (or the chain's last one).
        segment: SegmentId,
        /// How many are missing, or which head.
        detail: String,
    },
    /// A segment without a footer that is not the chain's last.
    Unsealed {
        /// Which.
        segment: SegmentId,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSegment { segment, detail } => {
                write!(f, "segment {segment} is missing: {detail}")
            }
            Self::Gap {
                segment,
                expected_seq,
                found_seq,
            } => write!(
                f,
                "gap before segment {segment}: record {expected_seq} was due, {found_seq} found"
            ),
            Self::Fork { segment, detail } => write!(f, "fork at segment {segment}: {detail}"),
            Self::Edited { segment, detail } => write!(f, "segment {segment} was edited: {detail}"),
            Self::BadSeal { segment } => {
                write!(f, "segment {segment}: its footer's seal does not verify")
            }
            Self::UntrustedSeal { segment, sealer } => write!(
                f,
                "segment {segment}: its footer is sealed by {sealer}, a key that is not trusted"
            ),
            Self::Truncated { segment, detail } => {
                write!(f, "chain truncated at segment {segment}: {detail}")
            }
            Self::Unsealed { segment } => {
                write!(f, "segment {segment} is closed but has no footer")
            }
        }
    }
}

/// The result of checking one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The chain.
    pub chain: ChainId,
    /// Segments with records on disk.
    pub segments: u64,
    /// Segments deleted after their receipt (footer and receipt kept).
    pub retired: u64,
    /// Records read.
    pub records: u64,
    /// Footers sealed with the legacy HMAC key of earlier versions.
    pub legacy_sealed: u64,
    /// Sequence number of the newest record (0 if none).
    pub last_seq: u64,
    /// The chain's head hash (publish it to pin the chain).
    pub head: [u8; 32],
    /// What is wrong; empty when the chain is intact.
    pub problems: Vec<Problem>,
    /// What recovery will repair on the next open (a torn tail).
    pub notes: Vec<String>,
}

/// The result of checking a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// One report per chain.
    pub chains: Vec<ChainReport>,
}

impl VerifyReport {
    /// Whether no chain has a problem.
    pub fn intact(&self) -> bool {
        self.chains.iter().all(|c| c.problems.is_empty())
    }
}

/// Checks every chain in `dir`, footers and receipts against the
/// `trusted` keys, and each chain against the `heads` exported earlier.
pub fn verify_dir(
    dir: &Path,
    trusted: &TrustedKeys,
    heads: &[ExportedHead],
) -> Result<VerifyReport, AuditError> {
    let mut chains = list_chains(dir)?;
    for h in heads {
        chains.entry(h.chain.clone()).or_default();
    }
    let mut report = VerifyReport::default();
    for (chain, segments) in chains {
        let pinned: Vec<&ExportedHead> = heads.iter().filter(|h| h.chain == chain).collect();
        report
            .chains
            .push(verify_chain(chain, &segments, trusted, &pinned)?);
    }
    Ok(report)
}

fn verify_chain(
    chain: ChainId,
    segments: &[crate::segment::SegmentFiles],
    trusted: &TrustedKeys,
    pinned: &[&ExportedHead],
) -> Result<ChainReport, AuditError> {
    let mut r = ChainReport {
        chain: chain.clone(),
        segments: 0,
        retired: 0,
        records: 0,
        legacy_sealed: 0,
        last_seq: 0,
        head: GENESIS,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let mut next_seq = 1u64;
    let mut expected_number = 0u64;
    // Hashes at the pinned sequence numbers, as found.
    let mut found: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    let seg_id = |number| SegmentId {
        chain: chain.clone(),
        number,
    };
    for (i, files) in segments.iter().enumerate() {
        let id = files.id.clone();
        let last = i + 1 == segments.len();
        // Only compare links when the numbering is continuous.
        let mut linked = true;
        for missing in expected_number..id.number {
            r.problems.push(Problem::MissingSegment {
                segment: seg_id(missing),
                detail: "no segment, footer or receipt".into(),
            });
            linked = false;
        }
        let footer = match &files.footer {
            None => None,
            Some(p) => match SealedFooter::decode(&std::fs::read(p).at(p)?)
                .and_then(|f| f.check_for(&id, trusted).map(|how| (f, how)))
            {
                Ok((f, how)) => {
                    if how == SealCheck::LegacyHmac {
                        r.legacy_sealed += 1;
                    }
                    Some(f)
                }
                Err(AuditError::UntrustedSeal { sealer, .. }) => {
                    r.problems.push(Problem::UntrustedSeal {
                        segment: id.clone(),
                        sealer,
                    });
                    None
                }
                Err(_) => {
                    r.problems.push(Problem::BadSeal {
                        segment: id.clone(),
                    });
                    None
                }
            },
        };
        if let Some(f) = &footer
            && linked
        {
            link(
                &mut r,
                &id,
                f.body.first_seq,
                &f.body.prev_head,
                next_seq,
                "its footer",
            );
        }
        let Some(path) = &files.segment else {
            match (&footer, &files.receipt) {
                (Some(f), Some(rp))
                    if check_receipt(rp, &id, &f.body.head, trusted)
                        .is_ok_and(SealCheck::is_valid) =>
                {
                    r.retired += 1;
                }
                (Some(_), _) => r.problems.push(Problem::MissingSegment {
                    segment: id.clone(),
                    detail: "its records were deleted without a receipt for its hash".into(),
                }),
                (None, _) => r.problems.push(Problem::MissingSegment {
                    segment: id.clone(),
                    detail: "no records and no valid footer".into(),
                }),
            }
            if let Some(f) = &footer {
                for p in pinned {
                    if p.seq == f.body.last_seq {
                        found.insert(p.seq, f.body.head);
                    }
                }
                next_seq = f.body.last_seq + 1;
                r.head = f.body.head;
            }
            expected_number = id.number + 1;
            continue;
        };
        let bytes = std::fs::read(path).at(path)?;
        let parsed = match parse_segment(&bytes) {
            Ok(p) => p,
            Err(HeaderProblem::Torn) if last && footer.is_none() => {
                r.notes.push(format!(
                    "segment {id} was created but its header is torn; it holds no record (the writer removes it)"
                ));
                break;
            }
            Err(e) => {
                r.problems.push(Problem::Edited {
                    segment: id.clone(),
                    detail: format!("not a segment: {e:?}"),
                });
                expected_number = id.number + 1;
                continue;
            }
        };
        r.segments += 1;
        let h = &parsed.header;
        if h.chain != chain.as_str() || h.number != id.number {
            r.problems.push(Problem::Edited {
                segment: id.clone(),
                detail: "its header names another segment".into(),
            });
        }
        if linked && footer.is_none() {
            link(
                &mut r,
                &id,
                h.first_seq,
                &h.prev_head,
                next_seq,
                "its header",
            );
        }
        if let Some(f) = &footer
            && (h.first_seq != f.body.first_seq || h.prev_head != f.body.prev_head)
        {
            r.problems.push(Problem::Edited {
                segment: id.clone(),
                detail: "its header differs from its footer".into(),
            });
        }
        if let Some(bad) = &parsed.bad_record {
            r.problems.push(Problem::Edited {
                segment: id.clone(),
                detail: bad.clone(),
            });
        } else if let Tail::Corrupt { at, defect } = parsed.tail {
            r.problems.push(Problem::Edited {
                segment: id.clone(),
                detail: format!("bad frame at byte {at} ({defect:?}) with data after it"),
            });
        }
        let whole = parsed.bad_record.is_none() && !matches!(parsed.tail, Tail::Corrupt { .. });
        match &footer {
            Some(f) => {
                let n = parsed.records.len() as u64;
                let b = &f.body;
                if whole && n < b.count {
                    r.problems.push(Problem::Truncated {
                        segment: id.clone(),
                        detail: format!(
                            "it holds {n} of the {} records its footer counts",
                            b.count
                        ),
                    });
                } else if whole
                    && (n != b.count
                        || parsed.head != b.head
                        || parsed.valid_len != b.segment_len
                        || !matches!(parsed.tail, Tail::Clean))
                {
                    r.problems.push(Problem::Edited {
                        segment: id.clone(),
                        detail: "its records do not hash to its footer's head".into(),
                    });
                }
            }
            None if !last => r.problems.push(Problem::Unsealed {
                segment: id.clone(),
            }),
            None => {
                if let Tail::Torn { at, .. } = parsed.tail {
                    r.notes.push(format!(
                        "segment {id} ends in a torn write at byte {at} ({} bytes; the writer cuts it off on open)",
                        bytes.len() - at
                    ));
                }
            }
        }
        for p in pinned {
            if let Some(rec) = p
                .seq
                .checked_sub(h.first_seq)
                .and_then(|k| parsed.records.get(k as usize))
            {
                found.insert(p.seq, rec.hash);
            }
        }
        r.records += parsed.records.len() as u64;
        match &footer {
            Some(f) => {
                next_seq = f.body.last_seq + 1;
                r.head = f.body.head;
            }
            None => {
                next_seq = h.first_seq.saturating_add(parsed.records.len() as u64);
                r.head = parsed.head;
            }
        }
        expected_number = id.number + 1;
    }
    r.last_seq = next_seq - 1;
    let last_id = seg_id(expected_number.saturating_sub(1));
    for p in pinned {
        if p.seq > r.last_seq {
            r.problems.push(Problem::Truncated {
                segment: last_id.clone(),
                detail: format!(
                    "the chain ends at record {} but record {} was exported as its head",
                    r.last_seq, p.seq
                ),
            });
        } else if let Some(hash) = found.get(&p.seq)
            && *hash != p.hash
        {
            r.problems.push(Problem::Fork {
                segment: last_id.clone(),
                detail: format!("record {} differs from the exported head", p.seq),
            });
        }
    }
    Ok(r)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_heads_round_trip_through_text() {
        let h = ExportedHead {
            chain: ChainId::new("fe-1").expect("id"),
            seq: 42,
            hash: [0xab; 32],
        };
        assert_eq!(h.to_string().parse::<ExportedHead>().expect("parse"), h);
        for bad in ["fe-1:42", "fe-1:x:00", "fe-1:1:abcd", "a/b:1:00"] {
            assert!(bad.parse::<ExportedHead>().is_err(), "{bad}");
        }
    }
}
