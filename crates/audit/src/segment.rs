//! Segment files: `<chain>.<number:016x>.seg` = magic `SRAUDSEG` ‖ header
//! frame ‖ record frames; their footers (`.footer`) and receipts
//! (`.receipt`) sit beside them. Chains share a directory by name only:
//! no file is written by two chains.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chain::{ChainId, SegmentId, chain_hash};
use crate::error::{AuditError, IoContext};
use crate::frame::{FrameDefect, Tail, push_frame, scan_frames};
use crate::record::{AuditRecord, decode_record};

/// The first bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"SRAUDSEG";
/// The format version byte of a segment header.
pub const SEGMENT_VERSION: u8 = 1;
/// Extension of segment files.
pub const SEGMENT_EXT: &str = "seg";
/// Extension of footer files.
pub const FOOTER_EXT: &str = "footer";
/// Extension of receipt files.
pub const RECEIPT_EXT: &str = "receipt";

/// What a segment says about itself, before its first record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    /// The chain.
    pub chain: String,
    /// Segment number within the chain.
    pub number: u64,
    /// Sequence number of its first record.
    pub first_seq: u64,
    /// Hash of the record before its first (the previous segment's head).
    pub prev_head: [u8; 32],
    /// When the writer opened it (epoch ms).
    pub created_ms: i64,
}

/// The bytes a new segment file starts with.
pub fn encode_header(header: &SegmentHeader) -> Vec<u8> {
    let mut body = vec![SEGMENT_VERSION];
    body.extend_from_slice(&postcard::to_stdvec(header).unwrap_or_default());
    let mut out = SEGMENT_MAGIC.to_vec();
    push_frame(&mut out, &body);
    out
}

/// One record read back, with its place in the chain.
#[derive(Debug, Clone)]
pub struct ParsedRecord {
    /// Sequence number.
    pub seq: u64,
    /// Chain hash after this record.
    pub hash: [u8; 32],
    /// The record.
    pub record: AuditRecord,
    /// Its encoded length (frame excluded).
    pub encoded_len: usize,
}

/// A segment file read back.
#[derive(Debug, Clone)]
pub struct ParsedSegment {
    /// Its header.
    pub header: SegmentHeader,
    /// Its records, up to the first one that is not whole and in order.
    pub records: Vec<ParsedRecord>,
    /// The chain hash after the last record (`prev_head` if none).
    pub head: [u8; 32],
    /// Bytes up to the end of the last record read.
    pub valid_len: u64,
    /// How the frames end (offsets from the start of the file).
    pub tail: Tail,
    /// A whole frame that is not the next record (does not decode, or
    /// carries another sequence number): damage or tampering.
    pub bad_record: Option<String>,
}

/// Why a file is not a segment at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The file ends inside the magic or header: a crash right after the
    /// file was created. It holds no record.
    Torn,
    /// Not a segment of this format.
    Invalid(String),
}

/// Reads the segment in `bytes`.
pub fn parse_segment(bytes: &[u8]) -> Result<ParsedSegment, HeaderProblem> {
    let magic_len = SEGMENT_MAGIC.len();
    if bytes.len() < magic_len {
        return if SEGMENT_MAGIC.starts_with(bytes) || bytes.iter().all(|&b| b == 0) {
            Err(HeaderProblem::Torn)
        } else {
            Err(HeaderProblem::Invalid("bad magic".into()))
        };
    }
    if &bytes[..magic_len] != SEGMENT_MAGIC {
        return Err(HeaderProblem::Invalid("bad magic".into()));
    }
    let (frames, tail) = scan_frames(&bytes[magic_len..]);
    let Some(header_range) = frames.first() else {
        return match tail {
            Tail::Torn { .. } | Tail::Clean => Err(HeaderProblem::Torn),
            Tail::Corrupt { defect, .. } => {
                Err(HeaderProblem::Invalid(format!("header frame: {defect:?}")))
            }
        };
    };
    let body = &bytes[magic_len + header_range.start..magic_len + header_range.end];
    let header = match body.split_first() {
        Some((&SEGMENT_VERSION, rest)) => postcard::from_bytes::<SegmentHeader>(rest)
            .map_err(|e| HeaderProblem::Invalid(format!("header: {e}")))?,
        _ => return Err(HeaderProblem::Invalid("unsupported header version".into())),
    };
    let shift = |t: Tail| match t {
        Tail::Clean => Tail::Clean,
        Tail::Torn { at, defect } => Tail::Torn {
            at: at + magic_len,
            defect,
        },
        Tail::Corrupt { at, defect } => Tail::Corrupt {
            at: at + magic_len,
            defect,
        },
    };
    let mut parsed = ParsedSegment {
        head: header.prev_head,
        valid_len: (magic_len + header_range.end) as u64,
        records: Vec::with_capacity(frames.len().saturating_sub(1)),
        tail: shift(tail),
        bad_record: None,
        header,
    };
    let mut scratch = Vec::new();
    for range in &frames[1..] {
        let body = &bytes[magic_len + range.start..magic_len + range.end];
        let Some(expected) = parsed
            .header
            .first_seq
            .checked_add(parsed.records.len() as u64)
        else {
            parsed.bad_record = Some("sequence numbers past the largest possible".into());
            break;
        };
        match decode_record(body) {
            Ok((seq, record)) if seq == expected => {
                parsed.head = chain_hash(&parsed.head, body, &mut scratch);
                parsed.records.push(ParsedRecord {
                    seq,
                    hash: parsed.head,
                    record,
                    encoded_len: body.len(),
                });
                parsed.valid_len = (magic_len + range.end) as u64;
            }
            Ok((seq, _)) => {
                parsed.bad_record = Some(format!("record {seq} where {expected} was due"));
                break;
            }
            Err(e) => {
                parsed.bad_record = Some(format!("record {expected}: {e}"));
                break;
            }
        }
    }
    if parsed.bad_record.is_some() {
        parsed.tail = Tail::Corrupt {
            at: parsed.valid_len as usize,
            defect: FrameDefect::BadChecksum,
        };
    }
    Ok(parsed)
}

/// Reads and parses the segment file at `path` (a regular file: the
/// directory is not trusted).
pub fn read_segment(path: &Path) -> Result<ParsedSegment, AuditError> {
    let bytes = crate::read::read_bounded(path, crate::read::ANY_SEGMENT_FILE)?;
    parse_segment(&bytes).map_err(|e| AuditError::Malformed(format!("{}: {e:?}", path.display())))
}

/// The files of one segment present in the directory.
#[derive(Debug, Clone)]
pub struct SegmentFiles {
    /// Which segment.
    pub id: SegmentId,
    /// The records.
    pub segment: Option<PathBuf>,
    /// The sealed footer.
    pub footer: Option<PathBuf>,
    /// The receipt for its hash.
    pub receipt: Option<PathBuf>,
}

/// Every chain in `dir` and its segments' files, in segment order.
pub fn list_chains(dir: &Path) -> Result<BTreeMap<ChainId, Vec<SegmentFiles>>, AuditError> {
    let mut found: BTreeMap<ChainId, BTreeMap<u64, SegmentFiles>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let mut parts = name.split('.');
        let (Some(chain), Some(number), Some(ext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(chain), Ok(number)) = (ChainId::new(chain), u64::from_str_radix(number, 16)) else {
            continue;
        };
        let canonical = SegmentId {
            chain: chain.clone(),
            number,
        }
        .file_name(ext);
        if name != canonical {
            continue;
        }
        let files = found
            .entry(chain.clone())
            .or_default()
            .entry(number)
            .or_insert_with(|| SegmentFiles {
                id: SegmentId { chain, number },
                segment: None,
                footer: None,
                receipt: None,
            });
        match ext {
            SEGMENT_EXT => files.segment = Some(path),
            FOOTER_EXT => files.footer = Some(path),
            RECEIPT_EXT => files.receipt = Some(path),
            _ => {}
        }
    }
    Ok(found
        .into_iter()
        .map(|(c, m)| (c, m.into_values().collect()))
        .collect())
}

/// Makes the directory entries of `dir` durable (a new or renamed file).
pub fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Writes `bytes` to `dir/name` so that a crash leaves either the old
/// file or the whole new one: temporary file, sync, rename, sync the
/// directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let result = (|| {
        // Whatever is at the temporary name was not made by this write (a
        // crash's leftover, or something planted: a FIFO that would block,
        // a symlink that would send the bytes elsewhere): replace it, and
        // create the file only if nothing took its name meanwhile.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(AuditError::io(&tmp, e));
            }
            _ => {}
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .at(&tmp)?;
        f.write_all(bytes).and_then(|()| f.sync_all()).at(&tmp)?;
        std::fs::rename(&tmp, &path).at(&path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::push_frame;
    use crate::record::encode_record;

    fn segment(records: u64) -> Vec<u8> {
        let mut bytes = encode_header(&SegmentHeader {
            chain: "fe".into(),
            number: 0,
            first_seq: 1,
            prev_head: [0; 32],
            created_ms: 0,
        });
        for seq in 1..=records {
            push_frame(&mut bytes, &encode_record(seq, &AuditRecord::default()));
        }
        bytes
    }

    #[test]
    fn a_segment_reads_back_with_its_chain() {
        let parsed = parse_segment(&segment(3)).expect("parse");
        assert_eq!(parsed.records.len(), 3);
        assert_eq!(parsed.tail, Tail::Clean);
        assert_eq!(parsed.head, parsed.records[2].hash);
        assert_eq!(parsed.valid_len, segment(3).len() as u64);
    }

    #[test]
    fn a_cut_inside_the_header_is_a_torn_header() {
        let bytes = segment(0);
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_segment(&bytes[..cut]).err(),
                Some(HeaderProblem::Torn),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_record_out_of_sequence_is_refused() {
        let mut bytes = segment(1);
        push_frame(&mut bytes, &encode_record(5, &AuditRecord::default()));
        let parsed = parse_segment(&bytes).expect("parse");
        assert_eq!(parsed.records.len(), 1);
        assert!(parsed.bad_record.is_some());
        assert!(matches!(parsed.tail, Tail::Corrupt { .. }));
    }
}
