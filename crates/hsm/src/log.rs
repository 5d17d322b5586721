//! The module's audit log: append-only, hash-chained JSON lines in numbered
//! files. Each record carries the SHA-384 of the record before it (across
//! files), so removing or changing a record breaks the chain. A new log
//! file starts with every process start; earlier ones are closed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use strongroom_crypto::{constant_time_eq, sha384};
use strongroom_hsm_proto::admin::LogInfo;

/// An open module log directory.
#[derive(Debug)]
pub struct ModuleLog {
    dir: PathBuf,
    current: u64,
    file: File,
    prev: [u8; 48],
    seq: u64,
}

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// File system failure.
    #[error("log i/o: {0}")]
    Io(#[from] std::io::Error),
    /// No such log.
    #[error("no log {0}")]
    NotFound(u64),
    /// The current log cannot be deleted.
    #[error("log {0} is still open")]
    Open(u64),
    /// The receipt's hash is not the log's.
    #[error("the receipt's hash does not match log {0}")]
    HashMismatch(u64),
}

fn name(id: u64) -> String {
    format!("log-{id:08}.jsonl")
}

fn ids(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut v: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            n.strip_prefix("log-")?.strip_suffix(".jsonl")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn last_line_hash(path: &Path) -> std::io::Result<[u8; 48]> {
    let text = fs::read_to_string(path)?;
    Ok(text
        .lines()
        .last()
        .map(|l| sha384(l.as_bytes()))
        .unwrap_or([0; 48]))
}

impl ModuleLog {
    /// Opens `dir`, closing earlier logs and starting a new one.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        fs::create_dir_all(dir)?;
        let existing = ids(dir)?;
        let prev = match existing.last() {
            Some(&id) => last_line_hash(&dir.join(name(id)))?,
            None => [0; 48],
        };
        let current = existing.last().map_or(1, |id| id + 1);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join(name(current)))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            current,
            file,
            prev,
            seq: 0,
        })
    }

    /// Appends one record and syncs it to disk.
    pub fn append(&mut self, event: &str, detail: serde_json::Value) -> Result<(), LogError> {
        self.seq += 1;
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let line = json!({
            "log_id": self.current,
            "seq": self.seq,
            "time": now,
            "prev_sha384": hex::encode(self.prev),
            "event": event,
            "detail": detail,
        })
        .to_string();
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.file.sync_data()?;
        self.prev = sha384(line.as_bytes());
        Ok(())
    }

    /// Every log file.
    pub fn list(&self) -> Result<Vec<LogInfo>, LogError> {
        ids(&self.dir)?
            .into_iter()
            .map(|id| self.describe(id))
            .collect()
    }

    /// One log's size and hash.
    pub fn describe(&self, id: u64) -> Result<LogInfo, LogError> {
        let bytes = self.read_all(id)?;
        Ok(LogInfo {
            log_id: id,
            size: bytes.len() as u64,
            sha384: sha384(&bytes).to_vec(),
            closed: id != self.current,
        })
    }

    fn read_all(&self, id: u64) -> Result<Vec<u8>, LogError> {
        fs::read(self.dir.join(name(id))).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LogError::NotFound(id),
            _ => LogError::Io(e),
        })
    }

    /// Up to `length` bytes of log `id` from `offset` (at most 4 MiB).
    pub fn read(&self, id: u64, offset: u64, length: u64) -> Result<Vec<u8>, LogError> {
        let mut f = File::open(self.dir.join(name(id))).map_err(|_| LogError::NotFound(id))?;
        f.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::new();
        f.take(length.min(4 << 20)).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Deletes closed log `id` if `sha384` (from an operator's receipt) is
    /// its current hash.
    pub fn delete(&self, id: u64, receipt_sha384: &[u8]) -> Result<(), LogError> {
        if id == self.current {
            return Err(LogError::Open(id));
        }
        let bytes = self.read_all(id)?;
        if !constant_time_eq(&sha384(&bytes), receipt_sha384) {
            return Err(LogError::HashMismatch(id));
        }
        fs::remove_file(self.dir.join(name(id)))?;
        Ok(())
    }
}

/// Checks the hash chain of consecutive log texts; returns the number of
/// records, or the (1-based) record where the chain breaks.
pub fn verify_chain(texts: &[&str]) -> Result<usize, usize> {
    let mut prev: Option<String> = None;
    let mut n = 0;
    for line in texts.iter().flat_map(|t| t.lines()) {
        n += 1;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|_| n)?;
        let claimed = v["prev_sha384"].as_str().ok_or(n)?;
        if let Some(p) = &prev
            && claimed != p
        {
            return Err(n);
        }
        prev = Some(hex::encode(sha384(line.as_bytes())));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_across_restarts_and_deletion_needs_the_right_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = ModuleLog::open(dir.path()).unwrap();
        a.append("start", json!({})).unwrap();
        a.append("command", json!({"kind": "x"})).unwrap();
        drop(a);
        let mut b = ModuleLog::open(dir.path()).unwrap();
        b.append("start", json!({})).unwrap();
        let logs = b.list().unwrap();
        assert_eq!(logs.len(), 2);
        assert!(logs[0].closed && !logs[1].closed);
        let t1 = String::from_utf8(b.read(1, 0, u64::MAX).unwrap()).unwrap();
        let t2 = String::from_utf8(b.read(2, 0, u64::MAX).unwrap()).unwrap();
        assert_eq!(verify_chain(&[&t1, &t2]), Ok(3));
        let edited = t1.replace("\"x\"", "\"y\"");
        assert_eq!(verify_chain(&[&edited, &t2]), Err(3));
        assert!(matches!(
            b.delete(2, &logs[1].sha384),
            Err(LogError::Open(2))
        ));
        assert!(matches!(
            b.delete(1, &[0; 48]),
            Err(LogError::HashMismatch(1))
        ));
        b.delete(1, &logs[0].sha384).unwrap();
        assert_eq!(b.list().unwrap().len(), 1);
    }
}
