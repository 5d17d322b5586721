//! The module's audit log: append-only, hash-chained JSON lines in numbered
//! files. Each record carries the SHA-384 of the record before it (across
//! files), so removing or changing a record breaks the chain. A new log
//! file starts with every process start; earlier ones are closed.
//!
//! Any peer may list and describe the logs, so those answers come from
//! metadata in memory, never from the files: each closed log is hashed once
//! when the module starts, and the open log's size and hash are kept
//! current on every append. Only reading a range (bounded) and deleting a
//! log (an operator command) touch the files.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use strongroom_crypto::{Sha384Stream, constant_time_eq, sha384};
use strongroom_hsm_proto::admin::LogInfo;

/// An open module log directory.
#[derive(Debug)]
pub struct ModuleLog {
    dir: PathBuf,
    current: u64,
    file: File,
    prev: [u8; 48],
    seq: u64,
    /// Size and hash of every closed log, taken once at open.
    closed: BTreeMap<u64, LogInfo>,
    /// Bytes appended to the open log.
    current_size: u64,
    /// Hash of the bytes appended to the open log.
    current_hash: Sha384Stream,
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

/// Size and SHA-384 of a closed log, read in bounded chunks.
fn hash_file(path: &Path) -> std::io::Result<(u64, [u8; 48])> {
    let mut f = File::open(path)?;
    let mut hash = Sha384Stream::default();
    let mut buf = vec![0u8; 64 << 10];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((size, hash.current()));
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
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
        let mut closed = BTreeMap::new();
        for &id in &existing {
            let (size, hash) = hash_file(&dir.join(name(id)))?;
            closed.insert(
                id,
                LogInfo {
                    log_id: id,
                    size,
                    sha384: hash.to_vec(),
                    closed: true,
                },
            );
        }
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
            closed,
            current_size: 0,
            current_hash: Sha384Stream::default(),
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
        let mut record = line.into_bytes();
        record.push(b'\n');
        self.file.write_all(&record)?;
        self.file.sync_data()?;
        self.prev = sha384(&record[..record.len() - 1]);
        self.current_size += record.len() as u64;
        self.current_hash.update(&record);
        Ok(())
    }

    /// Every log (from memory: no file is read).
    pub fn list(&self) -> Vec<LogInfo> {
        let mut all: Vec<LogInfo> = self.closed.values().cloned().collect();
        all.push(self.current_info());
        all
    }

    /// One log's size and hash (from memory: no file is read).
    pub fn describe(&self, id: u64) -> Result<LogInfo, LogError> {
        if id == self.current {
            return Ok(self.current_info());
        }
        self.closed.get(&id).cloned().ok_or(LogError::NotFound(id))
    }

    fn current_info(&self) -> LogInfo {
        LogInfo {
            log_id: self.current,
            size: self.current_size,
            sha384: self.current_hash.current().to_vec(),
            closed: false,
        }
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
    /// the hash of the file as it is now (read here: an operator command).
    pub fn delete(&mut self, id: u64, receipt_sha384: &[u8]) -> Result<(), LogError> {
        if id == self.current {
            return Err(LogError::Open(id));
        }
        let path = self.dir.join(name(id));
        let (_, hash) = hash_file(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LogError::NotFound(id),
            _ => LogError::Io(e),
        })?;
        if !constant_time_eq(&hash, receipt_sha384) {
            return Err(LogError::HashMismatch(id));
        }
        fs::remove_file(path)?;
        self.closed.remove(&id);
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
        let logs = b.list();
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
        assert_eq!(b.list().len(), 1);
    }

    #[test]
    fn listing_and_describing_logs_never_read_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = ModuleLog::open(dir.path()).unwrap();
        a.append("start", json!({})).unwrap();
        drop(a);
        let mut b = ModuleLog::open(dir.path()).unwrap();
        b.append("start", json!({})).unwrap();
        b.append("command", json!({"kind": "x"})).unwrap();
        let closed = fs::read(dir.path().join(name(1))).unwrap();
        let open = fs::read(dir.path().join(name(2))).unwrap();
        let before = b.list();
        assert_eq!(
            before,
            vec![
                LogInfo {
                    log_id: 1,
                    size: closed.len() as u64,
                    sha384: sha384(&closed).to_vec(),
                    closed: true,
                },
                LogInfo {
                    log_id: 2,
                    size: open.len() as u64,
                    sha384: sha384(&open).to_vec(),
                    closed: false,
                },
            ]
        );
        // Both files are replaced behind the module's back with a large
        // one: had a request read them, its answer would change.
        let big = vec![b'x'; 8 << 20];
        fs::write(dir.path().join(name(1)), &big).unwrap();
        fs::write(dir.path().join(name(2)), &big).unwrap();
        fs::write(dir.path().join(name(7)), &big).unwrap();
        for _ in 0..100 {
            assert_eq!(b.list(), before);
            assert_eq!(b.describe(1).unwrap(), before[0]);
            assert_eq!(b.describe(2).unwrap(), before[1]);
            assert!(matches!(b.describe(7), Err(LogError::NotFound(7))));
        }
        // The open log's answer follows appends without reading it.
        b.append("command", json!({"kind": "y"})).unwrap();
        let grown = b.describe(2).unwrap();
        assert!(grown.size > open.len() as u64 && grown.size < big.len() as u64);
        assert_ne!(grown.sha384, before[1].sha384);
        // Deleting checks the file as it is now.
        assert!(matches!(
            b.delete(1, &before[0].sha384),
            Err(LogError::HashMismatch(1))
        ));
        b.delete(1, &sha384(&big)).unwrap();
        assert!(matches!(b.describe(1), Err(LogError::NotFound(1))));
    }
}
