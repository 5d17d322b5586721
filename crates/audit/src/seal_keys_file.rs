//! `seal-keys.json` in the audit directory: the seal keys a frontend has
//! sealed with, for operators to read and pin. A convenience copy only:
//! whoever can write the directory can write this file, so no key is
//! trusted for being listed here; `verify` only says that a footer's key
//! is listed, so that the operator knows what to check against the module.

use std::path::Path;

use serde::{Deserialize, Serialize};
use strongroom_crypto::ED25519_PUBLIC_KEY_LEN;

use crate::error::AuditError;
use crate::seal::ed25519_key_id;
use crate::segment::write_atomic;

/// The file's name.
pub const SEAL_KEYS_FILE: &str = "seal-keys.json";

/// One listed key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedSealKey {
    /// Its name, as footers give it.
    pub id: String,
    /// The raw public key, hex.
    pub public_key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Listing {
    keys: Vec<ListedSealKey>,
}

/// The keys listed in `dir` (none if the file is absent or unreadable).
pub fn listed_seal_keys(dir: &Path) -> Vec<ListedSealKey> {
    std::fs::read(dir.join(SEAL_KEYS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Listing>(&b).ok())
        .map(|l| l.keys)
        .unwrap_or_default()
}

/// Adds `public_key` to the listing in `dir` unless it is there.
pub fn list_seal_key(
    dir: &Path,
    public_key: &[u8; ED25519_PUBLIC_KEY_LEN],
) -> Result<(), AuditError> {
    let mut keys = listed_seal_keys(dir);
    let id = ed25519_key_id(public_key);
    if keys.iter().any(|k| k.id == id) {
        return Ok(());
    }
    keys.push(ListedSealKey {
        id,
        public_key: hex::encode(public_key),
    });
    let bytes = serde_json::to_vec_pretty(&Listing { keys })
        .map_err(|e| AuditError::Malformed(format!("seal keys: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    write_atomic(dir, SEAL_KEYS_FILE, &bytes)
}
