//! DEV ONLY: keeps the domain key across restarts by sealing it under an
//! unseal secret stored next to it in the data directory. Anyone who can
//! read the data directory can read every key. Production replaces this with
//! operator-quorum unsealing.
//!
//! Files in `<data-dir>/hsm/`:
//! - `DEV-ONLY-unseal.key`: 64 hex chars, the 256-bit unseal secret (0600).
//! - `domain.sealed`: "SRDK", version 0x01, domain id (16), generation
//!   (u32 BE), IV (12), sealed domain key (32) and tag (16); AAD is the 25
//!   bytes before the IV.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use strongroom_crypto::{Aes256GcmKey, Iv, SecretKey256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::DomainKey;

const MAGIC: &[u8; 4] = b"SRDK";
const HEAD: usize = 4 + 1 + 16 + 4;

/// Why the dev domain key could not be opened or created.
#[derive(Debug, thiserror::Error)]
pub enum DevUnsealError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The sealed domain key or unseal secret is damaged or mismatched.
    #[error("{0}: cannot unseal the domain key (damaged file or wrong unseal secret)")]
    Corrupt(PathBuf),
    /// The random generator failed.
    #[error("random generator failure")]
    Random,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevUnsealError + '_ {
    move |source| DevUnsealError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `data_dir` holds a dev domain key (made by [`open_or_create`]).
pub fn exists(data_dir: &Path) -> bool {
    data_dir.join("hsm").join("domain.sealed").exists()
}

/// Opens the domain key kept in `data_dir`, creating a new domain (and a
/// new dev unseal secret) on first use.
pub fn open_or_create(data_dir: &Path) -> Result<DomainKey, DevUnsealError> {
    let dir = data_dir.join("hsm");
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let secret_path = dir.join("DEV-ONLY-unseal.key");
    let sealed_path = dir.join("domain.sealed");
    if sealed_path.exists() {
        let secret = read_secret(&secret_path)?;
        let bytes = fs::read(&sealed_path).map_err(io(&sealed_path))?;
        return unseal(&secret, &bytes).ok_or(DevUnsealError::Corrupt(sealed_path));
    }
    let secret = SecretKey256::generate().map_err(|_| DevUnsealError::Random)?;
    let domain = DomainKey::generate().map_err(|_| DevUnsealError::Random)?;
    write_private(&secret_path, hex(secret.expose()).as_bytes())?;
    write_private(&sealed_path, &seal(&secret, &domain)?)?;
    Ok(domain)
}

/// The dev root secret access key, derived from the dev unseal secret, so
/// `strongroom dev` can print the same root credentials after a restart
/// without ever writing the secret itself to disk.
pub fn dev_root_secret(data_dir: &Path) -> Result<Zeroizing<String>, DevUnsealError> {
    let path = data_dir.join("hsm").join("DEV-ONLY-unseal.key");
    let unseal = read_secret(&path)?;
    let k = strongroom_crypto::hkdf_sha256(
        unseal.expose(),
        b"strongroom dev",
        &[b"root secret access key v1"],
    )
    .map_err(|_| DevUnsealError::Corrupt(path))?;
    // 40 characters from the URL-safe base64 alphabet, like an AWS secret.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bits = k.expose();
    let mut out = Zeroizing::new(String::with_capacity(40));
    for i in 0..40 {
        let bit = i * 6;
        let (byte, shift) = (bit / 8, bit % 8);
        let word = u16::from(bits[byte]) << 8 | u16::from(*bits.get(byte + 1).unwrap_or(&0));
        out.push(ALPHABET[usize::from((word >> (10 - shift)) & 0x3f)] as char);
    }
    Ok(out)
}

fn hex(b: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn read_secret(path: &Path) -> Result<SecretKey256, DevUnsealError> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io(path))?);
    let t = text.trim();
    if t.len() != 64 || !t.is_ascii() {
        return Err(DevUnsealError::Corrupt(path.to_path_buf()));
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16)
            .map_err(|_| DevUnsealError::Corrupt(path.to_path_buf()))?;
    }
    Ok(SecretKey256::from_bytes(out))
}

fn seal(secret: &SecretKey256, domain: &DomainKey) -> Result<Vec<u8>, DevUnsealError> {
    let mut out = Vec::with_capacity(HEAD + 12 + 48);
    out.extend_from_slice(MAGIC);
    out.push(1);
    out.extend_from_slice(domain.id().as_bytes());
    out.extend_from_slice(&domain.generation().to_be_bytes());
    let iv = Iv::random().map_err(|_| DevUnsealError::Random)?;
    out.extend_from_slice(&iv.bytes());
    let mut body = Vec::with_capacity(48);
    Aes256GcmKey::new(secret)
        .seal_append(iv, &out[..HEAD], domain.root().expose(), &mut body)
        .map_err(|_| DevUnsealError::Random)?;
    out.extend_from_slice(&body);
    Ok(out)
}

fn unseal(secret: &SecretKey256, b: &[u8]) -> Option<DomainKey> {
    if b.len() != HEAD + 12 + 48 || &b[..4] != MAGIC || b[4] != 1 {
        return None;
    }
    let id = Uuid::from_bytes(b[5..21].try_into().ok()?);
    let generation = u32::from_be_bytes(b[21..25].try_into().ok()?);
    let iv: [u8; 12] = b[HEAD..HEAD + 12].try_into().ok()?;
    let mut body = Zeroizing::new(b[HEAD + 12..].to_vec());
    let root = Aes256GcmKey::new(secret)
        .open_in_place(iv, &b[..HEAD], &mut body)
        .ok()?;
    DomainKey::from_parts(id, generation, SecretKey256::from_slice(root).ok()?).ok()
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), DevUnsealError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(data).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io(parent))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopens_the_same_domain_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let a = open_or_create(dir.path()).unwrap();
        let b = open_or_create(dir.path()).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.root().expose(), b.root().expose());
        let sealed = dir.path().join("hsm/domain.sealed");
        let bytes = fs::read(&sealed).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == a.root().expose()),
            "domain key on disk in clear"
        );
        let mut bad = bytes.clone();
        bad[30] ^= 1;
        fs::write(&sealed, bad).unwrap();
        assert!(matches!(
            open_or_create(dir.path()),
            Err(DevUnsealError::Corrupt(_))
        ));
    }

    #[test]
    fn dev_root_secret_is_stable_and_per_directory() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        open_or_create(a.path()).unwrap();
        open_or_create(b.path()).unwrap();
        let s1 = dev_root_secret(a.path()).unwrap();
        assert_eq!(s1.len(), 40);
        assert_eq!(*s1, *dev_root_secret(a.path()).unwrap());
        assert_ne!(*s1, *dev_root_secret(b.path()).unwrap());
    }
}
