//! The files operators and hosts pass around: a small JSON envelope with a
//! type tag, a human-readable summary (what a signer is agreeing to), and
//! the exact bytes (base64 of the versioned postcard encoding in
//! docs/formats.md).

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// Type tags.
pub mod kind {
    /// An operator's private keys.
    pub const OPERATOR_KEY: &str = "strongroom.operator-key.v1";
    /// An operator's public keys and permissions.
    pub const OPERATOR: &str = "strongroom.operator.v1";
    /// A host's (frontend's) public key.
    pub const HOST_KEY: &str = "strongroom.host-key.v1";
    /// A command, with the signatures collected so far.
    pub const COMMAND: &str = "strongroom.signed-command.v1";
    /// A domain token.
    pub const DOMAIN_TOKEN: &str = "strongroom.domain-token.v1";
    /// An attestation report.
    pub const ATTESTATION: &str = "strongroom.attestation.v1";
    /// An erasure certificate.
    pub const ERASURE: &str = "strongroom.erasure-certificate.v1";
    /// An operator's recovery share for one module.
    pub const RECOVERY_SHARE: &str = "strongroom.recovery-share.v1";
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    summary: serde_json::Value,
    data: String,
}

/// Writes `value` to `path` (mode 0600 when `private`).
pub fn write<T: Serialize>(
    path: &Path,
    kind: &str,
    summary: serde_json::Value,
    value: &T,
    private: bool,
) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let env = Envelope {
        kind: kind.into(),
        summary,
        data: B64.encode(strongroom_hsm_proto::admin::encode(value)),
    };
    let text = zeroize::Zeroizing::new(serde_json::to_string_pretty(&env)?);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

/// Reads a `kind` file.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path, kind: &str) -> anyhow::Result<T> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let env: Envelope = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a Strongroom file", path.display()))?;
    if env.kind != kind {
        bail!("{}: is a {}, expected a {kind}", path.display(), env.kind);
    }
    let bytes = zeroize::Zeroizing::new(
        B64.decode(env.data.as_bytes())
            .with_context(|| format!("{}: bad data", path.display()))?,
    );
    strongroom_hsm_proto::admin::decode(&bytes)
        .with_context(|| format!("{}: bad data", path.display()))
}

/// The summary of a file, for display.
pub fn summary(path: &Path) -> anyhow::Result<serde_json::Value> {
    let env: Envelope = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(env.summary)
}

/// A short fingerprint of a public key, as operators compare them.
pub fn fingerprint(key: &[u8]) -> String {
    hex::encode(&strongroom_crypto::sha256(key)[..8])
}
