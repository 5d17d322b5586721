//! Receipts and retention: a segment's records may be deleted only once a
//! durable receipt for its hash exists (the export was stored elsewhere)
//! and it is older than the retention period. Footers and receipts stay,
//! so the chain of footers still verifies after its records are gone.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::chain::SegmentId;
use crate::error::{AuditError, IoContext};
use crate::footer::SealedFooter;
use crate::seal::{FooterSealer, SealCheck, TrustedKeys};
use crate::segment::{RECEIPT_EXT, list_chains, sync_dir, write_atomic};

/// A receipt: someone stored the export of a segment whose head is `hash`.
/// Sealed like footers (by the security module), so that whoever can write
/// the audit directory but cannot ask the module cannot make a deletion
/// look retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The segment's head hash (hex), as the footer says.
    pub hash: String,
    /// When the receipt was recorded (epoch ms).
    pub acknowledged_ms: i64,
    /// The key that sealed it (empty in a receipt of an earlier version,
    /// sealed with the legacy HMAC key).
    #[serde(default)]
    pub sealer: String,
    /// The seal (hex) over [`receipt_message`]; empty in a forged or
    /// pre-seal receipt, which is never valid.
    #[serde(default)]
    pub seal: String,
}

/// What a receipt's seal covers: `"strongroom audit receipt v1\0" ‖ chain
/// ‖ "\0" ‖ segment number (u64 BE) ‖ head (32) ‖ acknowledged_ms (i64 BE)`.
fn receipt_message(id: &SegmentId, head: &[u8; 32], acknowledged_ms: i64) -> Vec<u8> {
    let mut m = b"strongroom audit receipt v1\0".to_vec();
    m.extend_from_slice(id.chain.as_str().as_bytes());
    m.push(0);
    m.extend_from_slice(&id.number.to_be_bytes());
    m.extend_from_slice(head);
    m.extend_from_slice(&acknowledged_ms.to_be_bytes());
    m
}

/// How the receipt at `path` for segment `id`, whose footer's head is
/// `head`, is sealed (valid only under a `trusted` key).
pub(crate) fn check_receipt(
    path: &Path,
    id: &SegmentId,
    head: &[u8; 32],
    trusted: &TrustedKeys,
) -> Result<SealCheck, AuditError> {
    let r = read_receipt(path)?;
    let Ok(seal) = hex::decode(&r.seal) else {
        return Ok(SealCheck::Invalid);
    };
    if r.hash != hex::encode(head) {
        return Ok(SealCheck::Invalid);
    }
    let message = receipt_message(id, head, r.acknowledged_ms);
    Ok(if r.sealer.is_empty() {
        trusted.check_unnamed_legacy(&message, &seal)
    } else {
        trusted.check(&r.sealer, &message, &seal)
    })
}

/// Reads a receipt file.
pub(crate) fn read_receipt(path: &Path) -> Result<Receipt, AuditError> {
    serde_json::from_slice(&std::fs::read(path).at(path)?)
        .map_err(|e| AuditError::Malformed(format!("receipt {}: {e}", path.display())))
}

fn sealed_footer(
    dir: &Path,
    id: &SegmentId,
    trusted: &TrustedKeys,
) -> Result<SealedFooter, AuditError> {
    let path = dir.join(id.file_name(crate::segment::FOOTER_EXT));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                if dir.join(id.file_name(crate::segment::SEGMENT_EXT)).exists() {
                    AuditError::NotSealed(id.to_string())
                } else {
                    AuditError::NoSuchSegment(id.to_string())
                },
            );
        }
        Err(e) => return Err(AuditError::io(&path, e)),
    };
    let f = SealedFooter::decode(&bytes)?;
    f.check_for(id, trusted)?;
    Ok(f)
}

/// Records the receipt for segment `id`, sealed by `sealer`: `hash` must
/// be the head hash (hex) of its footer, sealed by a `trusted` key.
pub fn acknowledge(
    dir: &Path,
    id: &SegmentId,
    hash: &str,
    sealer: &dyn FooterSealer,
    trusted: &TrustedKeys,
    now_ms: i64,
) -> Result<Receipt, AuditError> {
    let footer = sealed_footer(dir, id, trusted)?;
    let actual = hex::encode(footer.body.head);
    let given = hash.trim().to_ascii_lowercase();
    if given != actual {
        return Err(AuditError::ReceiptMismatch {
            segment: id.to_string(),
            given: hash.to_string(),
            actual,
        });
    }
    let seal = sealer.seal(&receipt_message(id, &footer.body.head, now_ms))?;
    let receipt = Receipt {
        hash: actual,
        acknowledged_ms: now_ms,
        sealer: seal.sealer,
        seal: hex::encode(seal.seal),
    };
    let bytes =
        serde_json::to_vec(&receipt).map_err(|e| AuditError::Malformed(format!("receipt: {e}")))?;
    write_atomic(dir, &id.file_name(RECEIPT_EXT), &bytes)?;
    Ok(receipt)
}

/// What [`retain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments whose records were deleted.
    pub deleted: Vec<SegmentId>,
    /// Kept: no receipt for their hash.
    pub unacknowledged: Vec<SegmentId>,
    /// Kept: acknowledged but not old enough.
    pub recent: Vec<SegmentId>,
    /// Kept: footer missing its seal or receipt unreadable.
    pub refused: Vec<(SegmentId, String)>,
}

/// Deletes the records of every sealed segment that has a receipt for its
/// hash and whose newest record is more than `days` days before `now_ms`;
/// footer and receipt must be sealed by `trusted` keys. Nothing else is
/// ever deleted: not the active segment, not an unacknowledged one however
/// old.
pub fn retain(
    dir: &Path,
    days: u32,
    now_ms: i64,
    trusted: &TrustedKeys,
) -> Result<RetentionReport, AuditError> {
    let mut report = RetentionReport::default();
    let cutoff = now_ms.saturating_sub(i64::from(days) * 86_400_000);
    for (_, segments) in list_chains(dir)? {
        for files in segments {
            let (Some(seg), Some(_)) = (&files.segment, &files.footer) else {
                continue;
            };
            let id = files.id.clone();
            let footer = match sealed_footer(dir, &id, trusted) {
                Ok(f) => f,
                Err(e) => {
                    report.refused.push((id, e.to_string()));
                    continue;
                }
            };
            let Some(receipt_path) = &files.receipt else {
                report.unacknowledged.push(id);
                continue;
            };
            match check_receipt(receipt_path, &id, &footer.body.head, trusted) {
                Ok(how) if how.is_valid() => {}
                Ok(_) => {
                    report.unacknowledged.push(id);
                    continue;
                }
                Err(e) => {
                    report.refused.push((id, e.to_string()));
                    continue;
                }
            }
            if footer.body.last_time_ms >= cutoff {
                report.recent.push(id);
                continue;
            }
            std::fs::remove_file(seg).at(seg)?;
            report.deleted.push(id);
        }
    }
    if !report.deleted.is_empty() {
        sync_dir(dir)?;
    }
    Ok(report)
}
