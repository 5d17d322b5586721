//! Export: sealed segments as gzip'd CloudTrail-shaped JSON lines plus
//! their footers, checked against their seals before they leave.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::chain::{ChainId, SegmentId};
use crate::error::{AuditError, IoContext};
use crate::footer::SealedFooter;
use crate::frame::Tail;
use crate::json::{event_json, rfc3339_ms};
use crate::query::QueriedRecord;
use crate::seal::TrustedKeys;
use crate::segment::{FOOTER_EXT, list_chains, parse_segment, sync_dir};

/// What to export and how to write it.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Region named in the events.
    pub region: String,
    /// Only this chain (every chain when `None` and `since` is `None`).
    pub chain: Option<ChainId>,
    /// This segment and the later ones of its chain.
    pub since: Option<SegmentId>,
}

/// One segment written by [`export`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedSegment {
    /// Which.
    pub id: SegmentId,
    /// Its records.
    pub records: u64,
    /// Its head hash: acknowledge this once the export is stored.
    pub head: [u8; 32],
    /// The file its records went to.
    pub path: PathBuf,
}

/// Sealed segments whose records are still on disk, with their footers,
/// in chain and segment order, as `options` selects them. A footer whose
/// seal does not verify is an error.
pub fn sealed_segments(
    dir: &Path,
    options: &ExportOptions,
    trusted: &TrustedKeys,
) -> Result<Vec<(SegmentId, PathBuf, SealedFooter)>, AuditError> {
    let mut out = Vec::new();
    for (chain, segments) in list_chains(dir)? {
        let wanted = options
            .since
            .as_ref()
            .map(|s| &s.chain)
            .or(options.chain.as_ref());
        if wanted.is_some_and(|c| *c != chain) {
            continue;
        }
        for files in segments {
            let from = options.since.as_ref().map_or(0, |s| s.number);
            let (Some(seg), Some(footer)) = (files.segment, files.footer) else {
                continue;
            };
            if files.id.number < from {
                continue;
            }
            let f = SealedFooter::decode(&std::fs::read(&footer).at(&footer)?)?;
            f.check_for(&files.id, trusted)?;
            out.push((files.id, seg, f));
        }
    }
    Ok(out)
}

/// The footer as a JSON object, for people and for shipping.
fn footer_json(f: &SealedFooter) -> serde_json::Value {
    let b = &f.body;
    json!({
        "chain": b.chain, "segment": b.number,
        "firstSequence": b.first_seq, "lastSequence": b.last_seq, "count": b.count,
        "firstTime": rfc3339_ms(b.first_time_ms), "lastTime": rfc3339_ms(b.last_time_ms),
        "headHash": hex::encode(b.head), "previousHeadHash": hex::encode(b.prev_head),
        "segmentBytes": b.segment_len, "sealer": f.sealer, "seal": hex::encode(&f.seal),
    })
}

/// The segment's records as JSON lines, after checking them against the
/// footer (an export never ships records its footer does not vouch for).
fn segment_lines(
    id: &SegmentId,
    path: &Path,
    footer: &SealedFooter,
    region: &str,
    out: &mut dyn Write,
) -> Result<u64, AuditError> {
    let bytes = std::fs::read(path).at(path)?;
    let parsed =
        parse_segment(&bytes).map_err(|e| AuditError::Malformed(format!("segment {id}: {e:?}")))?;
    let b = &footer.body;
    if parsed.tail != Tail::Clean
        || parsed.bad_record.is_some()
        || parsed.records.len() as u64 != b.count
        || parsed.head != b.head
        || parsed.header.prev_head != b.prev_head
    {
        return Err(AuditError::Tampered {
            chain: id.chain.to_string(),
            reason: format!("segment {id} does not match its footer"),
        });
    }
    let mut prev = parsed.header.prev_head;
    for r in parsed.records {
        let q = QueriedRecord {
            chain: id.chain.clone(),
            seq: r.seq,
            prev_hash: prev,
            hash: r.hash,
            record: r.record,
        };
        prev = r.hash;
        writeln!(out, "{}", event_json(&q, region)).at(path)?;
    }
    Ok(b.count)
}

/// Writes the selected sealed segments to `to`. If `to` is a directory:
/// `<chain>.<number:016x>.json.gz` (JSON lines), the footer file as it is
/// and `<…>.footer.json` per segment. Otherwise one gzip file of JSON
/// lines in which each segment's records are followed by
/// `{"segmentFooter":{…}}`. Files appear whole or not at all.
pub fn export(
    dir: &Path,
    to: &Path,
    options: &ExportOptions,
    trusted: &TrustedKeys,
) -> Result<Vec<ExportedSegment>, AuditError> {
    let segments = sealed_segments(dir, options, trusted)?;
    let mut done = Vec::new();
    if to.is_dir() {
        for (id, seg, footer) in &segments {
            let path = to.join(id.file_name("json.gz"));
            let records = write_gz(&path, |w| {
                segment_lines(id, seg, footer, &options.region, w)
            })?;
            let footer_bin = to.join(id.file_name(FOOTER_EXT));
            std::fs::write(&footer_bin, footer.encode()).at(&footer_bin)?;
            let footer_txt = to.join(format!("{}.json", id.file_name(FOOTER_EXT)));
            std::fs::write(&footer_txt, format!("{}\n", footer_json(footer))).at(&footer_txt)?;
            done.push(ExportedSegment {
                id: id.clone(),
                records,
                head: footer.body.head,
                path,
            });
        }
        sync_dir(to)?;
    } else {
        let mut counts = Vec::new();
        write_gz(to, |w| {
            for (id, seg, footer) in &segments {
                counts.push(segment_lines(id, seg, footer, &options.region, w)?);
                writeln!(w, "{}", json!({ "segmentFooter": footer_json(footer) })).at(to)?;
            }
            Ok(0)
        })?;
        for ((id, _, footer), records) in segments.iter().zip(counts) {
            done.push(ExportedSegment {
                id: id.clone(),
                records,
                head: footer.body.head,
                path: to.to_path_buf(),
            });
        }
    }
    Ok(done)
}

/// Writes a gzip file through `fill`, as a temporary file renamed when
/// whole and synced.
fn write_gz(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<u64, AuditError>,
) -> Result<u64, AuditError> {
    let tmp = path.with_extension("gz.tmp");
    let result = (|| {
        let file = std::fs::File::create(&tmp).at(&tmp)?;
        let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
        let n = fill(&mut gz)?;
        let file = gz
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .at(&tmp)?;
        file.sync_all().at(&tmp)?;
        std::fs::rename(&tmp, path).at(path)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
