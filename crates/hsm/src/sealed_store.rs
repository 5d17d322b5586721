//! The module's local sealed store: a directory whose files hold only
//! material sealed under a domain key (today: the module's latest token of
//! each domain, so an operator can see what a module held). Erasure
//! overwrites every file, syncs, unlinks, and leaves a marker until done so
//! an interrupted erasure is finished at the next start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use strongroom_crypto::{Iv, fill_random};

use crate::DomainKey;

const MARKER: &str = "ERASING";

/// The sealed store directory.
#[derive(Debug)]
pub struct SealedStore {
    dir: PathBuf,
}

impl SealedStore {
    /// Opens (creating, mode 0700) the store in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes `data` sealed under `key` as `name.sealed` (IV ‖ ciphertext ‖ tag, AAD = name).
    pub fn put(&self, name: &str, key: &DomainKey, data: &[u8]) -> std::io::Result<()> {
        let iv = Iv::random().map_err(std::io::Error::other)?;
        let mut out = iv.bytes().to_vec();
        key.local_store()
            .seal_append(iv, name.as_bytes(), data, &mut out)
            .map_err(std::io::Error::other)?;
        let path = self.dir.join(format!("{name}.sealed"));
        let tmp = path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(&self.dir)?.sync_all()
    }

    /// Overwrites, syncs and removes every file; returns their names.
    pub fn erase_all(&self) -> std::io::Result<Vec<String>> {
        let marker = self.dir.join(MARKER);
        fs::write(&marker, b"erasure in progress\n")?;
        fs::File::open(&self.dir)?.sync_all()?;
        let mut erased = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == MARKER || !entry.file_type()?.is_file() {
                continue;
            }
            let len = entry.metadata()?.len() as usize;
            let mut f = OpenOptions::new().write(true).open(entry.path())?;
            let mut noise = vec![0u8; len];
            fill_random(&mut noise).map_err(std::io::Error::other)?;
            f.write_all(&noise)?;
            f.sync_all()?;
            drop(f);
            fs::remove_file(entry.path())?;
            erased.push(name);
        }
        fs::File::open(&self.dir)?.sync_all()?;
        fs::remove_file(&marker)?;
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(erased)
    }

    /// Start-up self-test: if an erasure was interrupted, finish it and say
    /// what was erased.
    pub fn finish_interrupted_erasure(&self) -> std::io::Result<Option<Vec<String>>> {
        if self.dir.join(MARKER).exists() {
            return self.erase_all().map(Some);
        }
        Ok(None)
    }

    /// Names of the files currently stored.
    #[cfg(test)]
    pub fn files(&self) -> std::io::Result<Vec<String>> {
        Ok(fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erasure_removes_everything_and_finishes_after_interruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = SealedStore::open(dir.path()).unwrap();
        let key = DomainKey::generate().unwrap();
        store.put("a", &key, b"secret material").unwrap();
        let bytes = fs::read(dir.path().join("a.sealed")).unwrap();
        assert!(!bytes.windows(15).any(|w| w == b"secret material"));
        assert_eq!(store.erase_all().unwrap(), vec!["a.sealed".to_string()]);
        assert!(store.files().unwrap().is_empty());
        // An erasure interrupted after the marker was written.
        store.put("b", &key, b"x").unwrap();
        fs::write(dir.path().join(MARKER), b"").unwrap();
        let again = SealedStore::open(dir.path()).unwrap();
        assert_eq!(
            again.finish_interrupted_erasure().unwrap(),
            Some(vec!["b.sealed".to_string()])
        );
        assert!(again.files().unwrap().is_empty());
        assert_eq!(again.finish_interrupted_erasure().unwrap(), None);
    }
}
