//! A frontend's view of external security modules: its host key (the TLS
//! client key the domain lists), the domain token it trusts, and a client
//! that spreads requests over the domain's members and follows the domain
//! as operators change it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::json;
use strongroom_crypto::SigningKeyPair;
use strongroom_hsm_proto::admin::DomainTokenBody;
use strongroom_hsm_proto::net::{ModuleAddr, ModulePins, host_tls_config};
use strongroom_hsm_proto::{HsmClient, Request, Response};

use crate::files::{self, fingerprint, kind};
use crate::operator;
use crate::token_trust::{Anchor, verify_chain};

/// External modules to use instead of the in-process one.
#[derive(Debug, Clone, Default)]
pub struct ExternalModules {
    /// Module addresses (members of one domain).
    pub addrs: Vec<ModuleAddr>,
    /// The domain token file, from the operators.
    pub domain_token: Option<PathBuf>,
    /// An earlier token of the domain the token must chain to; default: the
    /// token this frontend last trusted (kept in its data directory).
    pub trust_anchor: Option<PathBuf>,
    /// How many modules each key is placed on (0: the default, 2).
    pub replication: usize,
}

/// Loads the host key from `<data_dir>/host.key`, creating it (and
/// `host.pub`, for the operators' CreateDomain/AddHost) on first use.
pub fn host_key(data_dir: &Path) -> anyhow::Result<SigningKeyPair> {
    let path = data_dir.join("host.key");
    let pair = match std::fs::read(&path) {
        Ok(der) => SigningKeyPair::from_pkcs8(&zeroize::Zeroizing::new(der))
            .map_err(|e| anyhow!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::create_dir_all(data_dir)?;
            let pair = SigningKeyPair::generate()?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            f.write_all(pair.expose_pkcs8())?;
            f.sync_all()?;
            pair
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let pubfile = data_dir.join("host.pub");
    if !pubfile.exists() {
        files::write(
            &pubfile,
            kind::HOST_KEY,
            json!({"host_key": fingerprint(pair.public_key())}),
            &pair.public_key().to_vec(),
            false,
        )?;
    }
    Ok(pair)
}

/// Reads a host public key file.
pub fn read_host_pub(path: &Path) -> anyhow::Result<Vec<u8>> {
    files::read(path, kind::HOST_KEY)
}

/// Where a frontend keeps the newest domain token it trusts.
pub fn anchor_path(data_dir: &Path) -> PathBuf {
    data_dir.join("domain-anchor.json")
}

/// The domain token to start from: `--domain-token`, which must chain to
/// the trust anchor (`--trust-anchor`, else the token this frontend last
/// trusted). The first start with neither anchors on the given token. An
/// older token than the anchor is not an attack, only stale: the anchor
/// (newer, already trusted) is used instead. The result becomes the anchor.
fn trusted_token(data_dir: &Path, ext: &ExternalModules) -> anyhow::Result<DomainTokenBody> {
    let path = ext
        .domain_token
        .as_ref()
        .ok_or_else(|| anyhow!("--hsm needs --domain-token (the token file from the operators)"))?;
    let (token, body) = operator::read_token(path)?;
    let kept = anchor_path(data_dir);
    let anchor_file = match &ext.trust_anchor {
        Some(p) => Some(p.clone()),
        None => kept.exists().then(|| kept.clone()),
    };
    let (chosen, chosen_body) = match anchor_file {
        None => (token, body),
        Some(a) => {
            let (anchor_token, anchor) = operator::read_token(&a)?;
            if body.domain_id == anchor.domain_id && body.epoch < anchor.epoch {
                tracing::warn!(
                    given = body.epoch,
                    trusted = anchor.epoch,
                    "the domain token is older than the one this frontend trusts; using the trusted one"
                );
                (anchor_token, anchor)
            } else {
                let chained = verify_chain(&token, &Anchor::Token(Box::new(anchor))).map_err(|e| {
                    anyhow!(
                        "refusing the domain token {}: it does not chain to the trust anchor {}: {e}",
                        path.display(),
                        a.display()
                    )
                })?;
                (token, chained)
            }
        }
    };
    std::fs::create_dir_all(data_dir)?;
    operator::write_token(&kept, &chosen)?;
    Ok(chosen_body)
}

/// Connects to the modules of `ext`, pinned to the members of its token
/// (which must chain to the trust anchor, see [`trusted_token`]), and keeps
/// the pins current: every `refresh` it asks a member for the domain's
/// token and follows newer epochs that chain to the current one, keeping
/// each as the new anchor.
pub fn connect(
    data_dir: &Path,
    ext: &ExternalModules,
    refresh: Duration,
) -> anyhow::Result<HsmClient> {
    let body = trusted_token(data_dir, ext)?;
    let key = host_key(data_dir)?;
    if !body.hosts.iter().any(|h| h == key.public_key()) {
        tracing::warn!(
            host_key = %fingerprint(key.public_key()),
            "this host's key is not listed in the domain token; modules will refuse it until an operator adds it (AddHost)"
        );
    }
    let pins = ModulePins::keys(body.members.iter().map(|m| m.signing_key.clone()));
    // Every request names the domain of the token: a module that belongs
    // to other domains too never picks one for us.
    let mut client = HsmClient::remote(&ext.addrs, host_tls_config(&key, pins.clone())?)
        .with_domain(body.domain_id);
    if ext.replication > 0 {
        client = client.with_replication(ext.replication);
    }
    let current = Arc::new(Mutex::new(body));
    let c = client.clone();
    let kept = anchor_path(data_dir);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(refresh).await;
            follow_domain(&c, &pins, &current, &kept).await;
        }
    });
    Ok(client)
}

async fn follow_domain(
    client: &HsmClient,
    pins: &ModulePins,
    current: &Mutex<DomainTokenBody>,
    kept: &Path,
) {
    let anchor = current.lock().expect("token lock").clone();
    let (domain_id, epoch) = (anchor.domain_id, anchor.epoch);
    let anchor = Anchor::Token(Box::new(anchor));
    for i in 0..client.module_count() {
        let Ok(Response::DomainToken(t)) = client
            .call_module(i, Request::GetDomainToken { domain_id })
            .await
        else {
            continue;
        };
        match verify_chain(&t, &anchor) {
            Ok(b) if b.epoch > epoch => {
                if let Err(e) = operator::write_token(kept, &t) {
                    tracing::warn!(error = %e, "cannot keep the newer domain token as the trust anchor");
                }
                tracing::info!(
                    epoch = b.epoch,
                    members = b.members.len(),
                    "following a newer domain token"
                );
                pins.replace(b.members.iter().map(|m| m.signing_key.clone()));
                *current.lock().expect("token lock") = b;
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "a module offered a domain token that does not verify")
            }
        }
    }
}
