//! Checking a directory of chains: every segment against the chain, every
//! footer against its seal and its segment, and the chain against heads
//! exported earlier.

use std::fmt;
use std::path::Path;

use crate::chain::{ChainId, SegmentId};
use crate::error::AuditError;
use crate::seal::TrustedKeys;
use crate::segment::list_chains;

mod walk;

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
    /// Of those, the records of the open segment, which no footer covers
    /// yet: well-formed and chained, but vouched for by no seal (anyone
    /// who writes the directory could have written them, or a whole chain
    /// of them) until their segment is sealed or their head exported.
    pub unsealed_records: u64,
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
            .push(walk::verify_chain(chain, &segments, trusted, &pinned)?);
    }
    Ok(report)
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
