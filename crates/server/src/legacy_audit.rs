//! Moving audit rows out of the key store. Before the audit log had files
//! of its own, the store held every record (JSON, hash-chained); a
//! frontend starting on such a store writes those rows, in order and
//! verbatim, to a sealed file in its audit directory, and only then deletes
//! them from the store. `strongroom admin audit verify` checks the file:
//! its chain (as the store defined it) and its seal.
//!
//! Files: `legacy-store-audit-<first>-<last>.jsonl` (one
//! `{"sequence","prevHash","hash","event"}` line per row, as the old
//! `audit.jsonl`) and `legacy-store-audit-<first>-<last>.seal.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use strongroom_audit::{FooterSealer, TrustedKeys};
use strongroom_crypto::sha256;
use strongroom_store::{AuditQuery, Store};

use crate::error::KmsError;

/// The start of a legacy file's name.
pub const PREFIX: &str = "legacy-store-audit-";
/// The hash the store's chain started from.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Rows read from the store at a time.
const PAGE: usize = 10_000;

/// What a legacy file holds, sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LegacySeal {
    /// The records file's name.
    pub file: String,
    /// Rows in it.
    pub records: u64,
    /// Sequence numbers of its first and last rows.
    pub first_sequence: i64,
    /// The last.
    pub last_sequence: i64,
    /// The last row's hash.
    pub head_hash: String,
    /// SHA-256 of the records file.
    pub file_sha256: String,
    /// Which key sealed it.
    pub sealer: String,
    /// The seal (hex) over the fields above.
    pub seal: String,
}

impl LegacySeal {
    fn message(&self) -> Vec<u8> {
        format!(
            "strongroom legacy audit v1\0{}\0{}\0{}\0{}\0{}\0{}",
            self.file,
            self.records,
            self.first_sequence,
            self.last_sequence,
            self.head_hash,
            self.file_sha256
        )
        .into_bytes()
    }
}

/// The store's chain hash: SHA-256(prev ‖ "\n" ‖ record JSON), hex.
fn chain_hash(prev: &str, record: &str) -> String {
    let mut buf = Vec::with_capacity(prev.len() + 1 + record.len());
    buf.extend_from_slice(prev.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(record.as_bytes());
    hex::encode(sha256(&buf))
}

fn line_head(seq: i64, prev: &str, hash: &str) -> String {
    format!("{{\"sequence\":{seq},\"prevHash\":\"{prev}\",\"hash\":\"{hash}\",\"event\":")
}

fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

/// Moves every audit row out of `store` into a sealed file in `dir`;
/// returns the file, or `None` if the store held none. The rows are
/// deleted only once the file and its seal are durable.
pub async fn move_out_of_store(
    store: &dyn Store,
    dir: &Path,
    sealer: Arc<dyn FooterSealer>,
) -> Result<Option<PathBuf>, KmsError> {
    let mut out = Vec::new();
    let (mut first, mut last, mut head, mut records) = (None, 0, String::new(), 0u64);
    loop {
        let rows = store
            .query_audit(&AuditQuery {
                after_seq: first.map(|_| last),
                limit: PAGE,
                ..Default::default()
            })
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            first.get_or_insert(r.seq);
            out.extend_from_slice(line_head(r.seq, &r.prev_hash, &r.hash).as_bytes());
            out.extend_from_slice(r.record.as_bytes());
            out.extend_from_slice(b"}\n");
            (last, head) = (r.seq, r.hash);
            records += 1;
        }
    }
    let Some(first) = first else { return Ok(None) };
    let name = format!("{PREFIX}{first}-{last}.jsonl");
    let mut seal = LegacySeal {
        file: name.clone(),
        records,
        first_sequence: first,
        last_sequence: last,
        head_hash: head,
        file_sha256: hex::encode(sha256(&out)),
        sealer: String::new(),
        seal: String::new(),
    };
    // The sealer may wait for the security module: not on an async task.
    let message = seal.message();
    let sealed = tokio::task::spawn_blocking(move || sealer.seal(&message))
        .await
        .map_err(|e| KmsError::Internal(format!("sealing the legacy audit file: {e}")))?
        .map_err(|e| KmsError::Internal(format!("sealing the legacy audit file: {e}")))?;
    seal.sealer = sealed.sealer;
    seal.seal = hex::encode(sealed.seal);
    let seal_json = serde_json::to_vec_pretty(&seal)
        .map_err(|e| KmsError::Internal(format!("legacy audit seal: {e}")))?;
    let io = |e: std::io::Error| KmsError::Internal(format!("writing {name}: {e}"));
    std::fs::create_dir_all(dir).map_err(io)?;
    write_durably(dir, &name, &out).map_err(io)?;
    write_durably(
        dir,
        &format!("{PREFIX}{first}-{last}.seal.json"),
        &seal_json,
    )
    .map_err(io)?;
    store.delete_audit_through(last).await?;
    tracing::info!(records, file = %dir.join(&name).display(), "audit rows moved out of the store");
    Ok(Some(dir.join(name)))
}

/// The result of checking one legacy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyReport {
    /// The records file.
    pub file: String,
    /// Rows, and the head hash, when intact; else what is wrong.
    pub result: Result<(u64, String), String>,
}

/// Checks every legacy file in `dir`: its seal under a `trusted` key, its
/// hash, and the store's chain through its rows.
pub fn verify_legacy(dir: &Path, trusted: &TrustedKeys) -> std::io::Result<Vec<LegacyReport>> {
    let mut reports = Vec::new();
    if !dir.exists() {
        return Ok(reports);
    }
    let mut seals: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".seal.json"))
        })
        .collect();
    seals.sort();
    for path in seals {
        let text = std::fs::read(&path)?;
        let report = match serde_json::from_slice::<LegacySeal>(&text) {
            Ok(seal) => LegacyReport {
                file: seal.file.clone(),
                result: check(dir, &seal, trusted),
            },
            Err(e) => LegacyReport {
                file: path.display().to_string(),
                result: Err(format!("unreadable seal: {e}")),
            },
        };
        reports.push(report);
    }
    Ok(reports)
}

fn check(dir: &Path, seal: &LegacySeal, trusted: &TrustedKeys) -> Result<(u64, String), String> {
    let sealed = hex::decode(&seal.seal).unwrap_or_default();
    match trusted.check(&seal.sealer, &seal.message(), &sealed) {
        _ if seal.file.contains('/') => return Err("its name is not a file name".into()),
        how if how.is_valid() => {}
        strongroom_audit::SealCheck::UntrustedKey => {
            return Err(format!(
                "it is sealed by {}, a key that is not trusted",
                seal.sealer
            ));
        }
        _ => return Err("its seal does not verify".into()),
    }
    let bytes = std::fs::read(dir.join(&seal.file)).map_err(|e| format!("cannot read it: {e}"))?;
    if hex::encode(sha256(&bytes)) != seal.file_sha256 {
        return Err("it was edited after it was sealed".into());
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "it is not UTF-8".to_string())?;
    let (mut expected, mut prev, mut n) = (seal.first_sequence, None::<String>, 0u64);
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|_| format!("record {expected} is malformed"))?;
        let (Some(p), Some(h)) = (v["prevHash"].as_str(), v["hash"].as_str()) else {
            return Err(format!("record {expected} is malformed"));
        };
        let head = line_head(expected, p, h);
        let Some(record) = line.strip_prefix(&head).and_then(|r| r.strip_suffix('}')) else {
            return Err(format!("record {expected} is missing or out of order"));
        };
        let linked = match &prev {
            Some(prev) => p == prev,
            None => expected != 1 || p == GENESIS,
        };
        if !linked {
            return Err(format!("record {expected} does not link to the one before"));
        }
        if chain_hash(p, record) != h {
            return Err(format!(
                "record {expected}: its contents do not match its hash"
            ));
        }
        prev = Some(h.to_string());
        expected += 1;
        n += 1;
    }
    let head = prev.unwrap_or_default();
    if n != seal.records || expected - 1 != seal.last_sequence || head != seal.head_hash {
        return Err("it does not hold the records its seal counts".into());
    }
    Ok((n, head))
}
