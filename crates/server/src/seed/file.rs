//! The seed file's shape (docs/dev.md, "Seed files") and its parser.
//! YAML or JSON (JSON is YAML): every field is named, unknown fields are
//! refused, and a parse error names the line and column.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use super::SeedError;

/// Largest seed file read (a developer's fixture, not a data set).
pub const MAX_SEED_BYTES: usize = 1 << 20;

/// A whole seed file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    /// Accounts and their credentials.
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    /// KMS keys.
    #[serde(default)]
    pub keys: Vec<SeedKey>,
    /// Aliases of seeded keys.
    #[serde(default)]
    pub aliases: Vec<SeedAlias>,
    /// Grants on seeded keys.
    #[serde(default)]
    pub grants: Vec<SeedGrant>,
}

/// An account (12 digits) and the root access keys to give it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// The 12-digit account id.
    pub id: String,
    /// Root access keys of the account.
    #[serde(default)]
    pub credentials: Vec<SeedCredential>,
}

/// One access key pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCredential {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: SeedSecret,
}

/// A KMS key with a fixed id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKey {
    /// The key id (a UUID), the same on every machine with this seed.
    pub id: String,
    /// The owning account; default: the dev server's own account.
    pub account: Option<String>,
    /// Its region; default: the dev server's region.
    pub region: Option<String>,
    /// `SYMMETRIC_DEFAULT` (default), `HMAC_256`, `RSA_2048`, `ECC_NIST_P256`, ...
    pub key_spec: Option<String>,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, `GENERATE_VERIFY_MAC`, `KEY_AGREEMENT`.
    pub key_usage: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// A key policy: a JSON string or a YAML/JSON mapping; default: AWS's default policy.
    pub policy: Option<serde_json::Value>,
    /// Turns on automatic rotation with this period (90 to 2560 days).
    pub rotation_period_days: Option<u32>,
    /// `false` leaves the key disabled after it is made.
    pub enabled: Option<bool>,
    /// Key material (base64) imported through GetParametersForImport and
    /// ImportKeyMaterial; the key gets Origin EXTERNAL.
    pub material: Option<SeedSecret>,
}

/// An alias of a seeded key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAlias {
    /// `alias/...`.
    pub name: String,
    /// Id of the seeded key it names.
    pub key: String,
    /// Its region; default: the dev server's region (must be its key's).
    pub region: Option<String>,
}

/// A grant on a seeded key; its name identifies it across restarts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGrant {
    /// The grant's name (unique per key).
    pub name: String,
    /// Id of the seeded key.
    pub key: String,
    /// Its region; default: the dev server's region (must be its key's).
    pub region: Option<String>,
    /// The grantee principal's ARN.
    pub grantee_principal: String,
    /// Operations it allows (`Encrypt`, `Decrypt`, ...).
    pub operations: Vec<String>,
    /// Who may retire it.
    pub retiring_principal: Option<String>,
    /// Encryption context constraints.
    pub constraints: Option<SeedGrantConstraints>,
}

/// A grant's encryption context constraints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGrantConstraints {
    /// The context must equal this.
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    /// The context must include this.
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
}

/// A secret from the seed file (a secret access key, key material in
/// base64): zeroized when dropped, never shown by `Debug`.
pub struct SeedSecret(pub Zeroizing<String>);

impl std::fmt::Debug for SeedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SeedSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SeedSecret(Zeroizing::new(s)))
    }
}

impl SeedFile {
    /// Parses a seed file (YAML or JSON). Checks only its shape; see
    /// [`SeedFile::validate`] for the rest.
    pub fn parse(bytes: &[u8]) -> Result<Self, SeedError> {
        if bytes.len() > MAX_SEED_BYTES {
            return Err(SeedError::Parse(format!(
                "the file is larger than {MAX_SEED_BYTES} bytes"
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| SeedError::Parse(format!("not UTF-8 text: {e}")))?;
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        // No snippet of the lines around an error: they may hold a secret
        // access key or key material. Line and column still name the place.
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| SeedError::Parse(e.to_string()))
    }
}
