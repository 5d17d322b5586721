//! `strongroom operator …`: the operator's side of module administration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde_json::json;
use strongroom_cli::files::{self, fingerprint, kind};
use strongroom_cli::operator::{self, load_key, new_command, read_command, write_command};
use strongroom_cli::token_trust::{self, Anchor, verify_chain};

use crate::operator_request::{RequestKind, build, hex48, read_attestation};
use strongroom_hsm_proto::admin::AttestationReport;
use strongroom_hsm_proto::net::ModuleAddr;
use strongroom_hsm_proto::{Request, Response};

#[derive(clap::Subcommand)]
pub enum OperatorAction {
    /// Generate an operator key pair: FILE (private, 0600) and FILE.pub.
    Keygen {
        /// Operator name.
        #[arg(long)]
        name: String,
        /// Permissions (comma-separated: all, module-admin, membership,
        /// operators, domain-keys, logs, recovery).
        #[arg(long, default_value = "all")]
        permissions: Vec<String>,
        /// Private key file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Get a module's signed attestation (identity, measurement, mode).
    Attest {
        /// Module address.
        #[arg(long)]
        hsm: ModuleAddr,
        /// Write the report here (for add-member / create-domain / unseal).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check an attestation report against an expected measurement.
    VerifyAttestation {
        /// Report file.
        report: PathBuf,
        /// Expected measurement (hex SHA-384).
        #[arg(long)]
        expect_measurement: Option<String>,
    },
    /// Prepare an unsigned command file.
    Request {
        /// Command file to write.
        #[arg(long)]
        out: PathBuf,
        /// How long the command stays valid, in seconds (at most 7 days).
        #[arg(long, default_value_t = 3600)]
        expires_in: u64,
        #[command(subcommand)]
        command: RequestKind,
    },
    /// Show a command file and add this operator's signature to it.
    Sign {
        /// Command file (updated in place).
        request: PathBuf,
        /// Operator private key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Send a signed command to a module (or several: each executes it).
    Submit {
        /// Command file.
        request: PathBuf,
        /// Module address (repeatable).
        #[arg(long, required = true)]
        hsm: Vec<ModuleAddr>,
        /// Write a returned domain token (or attestation) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Open this operator's escrowed shares of a domain and re-seal them to
    /// a fresh module, for `request recover-domain`.
    Unseal {
        /// The domain's last token.
        #[arg(long)]
        domain_token: PathBuf,
        /// The fresh module's attestation.
        #[arg(long)]
        module: PathBuf,
        /// Operator private key file.
        #[arg(long)]
        key: PathBuf,
        /// Share file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a module's status.
    Status {
        /// Module address.
        #[arg(long)]
        hsm: ModuleAddr,
    },
    /// Fetch a domain's current token from a member; it must chain to a
    /// trust anchor: an earlier token of the domain, or attested modules.
    #[command(group(clap::ArgGroup::new("anchor").required(true).args(["trust_token", "trust_module"])))]
    GetToken {
        /// Module address.
        #[arg(long)]
        hsm: ModuleAddr,
        /// Domain id.
        #[arg(long)]
        domain: uuid::Uuid,
        /// Token file to write.
        #[arg(long)]
        out: PathBuf,
        /// An earlier token of the domain: the new one must be signed by
        /// one of its members, for the same domain, at an epoch not before.
        #[arg(long)]
        trust_token: Option<PathBuf>,
        /// An attestation report (`operator attest --out`, checked with
        /// `verify-attestation`) of a module whose tokens to trust;
        /// repeatable.
        #[arg(long)]
        trust_module: Vec<PathBuf>,
    },
    /// List a module's logs, or print one (`--log-id`).
    Logs {
        /// Module address.
        #[arg(long)]
        hsm: ModuleAddr,
        /// Print this log's content.
        #[arg(long)]
        log_id: Option<u64>,
    },
    /// Check an erasure certificate (and that its signer was a member).
    VerifyErasure {
        /// Certificate file (as the module wrote it).
        certificate: PathBuf,
        /// Domain token listing the module.
        #[arg(long)]
        domain_token: Option<PathBuf>,
    },
}

fn print_json(v: serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// Runs one operator action.
pub async fn run(action: OperatorAction) -> anyhow::Result<()> {
    match action {
        OperatorAction::Keygen {
            name,
            permissions,
            out,
        } => keygen(&name, &permissions, &out),
        OperatorAction::Attest { hsm, out } => attest(&hsm, out.as_deref()).await,
        OperatorAction::VerifyAttestation {
            report,
            expect_measurement,
        } => verify_attestation(&report, expect_measurement.as_deref()),
        OperatorAction::Request {
            out,
            expires_in,
            command,
        } => {
            let (to, command) = build(command)?;
            let cmd = new_command(to, command, Duration::from_secs(expires_in))?;
            write_command(&out, &cmd)?;
            print_json(files::summary(&out)?)
        }
        OperatorAction::Sign { request, key } => sign(&request, &key),
        OperatorAction::Submit { request, hsm, out } => {
            submit(&request, &hsm, out.as_deref()).await
        }
        OperatorAction::Unseal {
            domain_token,
            module,
            key,
            out,
        } => unseal(&domain_token, &module, &key, &out),
        OperatorAction::Status { hsm } => status(&hsm).await,
        OperatorAction::GetToken {
            hsm,
            domain,
            out,
            trust_token,
            trust_module,
        } => {
            let anchor = match trust_token {
                Some(path) => Anchor::Token(Box::new(operator::read_token(&path)?.1)),
                None => token_trust::modules_anchor(&trust_module)?,
            };
            get_token(&hsm, domain, &out, &anchor).await
        }
        OperatorAction::Logs { hsm, log_id } => match log_id {
            None => list_logs(&hsm).await,
            Some(id) => print_log(&hsm, id).await,
        },
        OperatorAction::VerifyErasure {
            certificate,
            domain_token,
        } => verify_erasure(&certificate, domain_token.as_deref()),
    }
}

/// `keygen`: writes a new operator key pair and says where.
fn keygen(name: &str, permissions: &[String], out: &Path) -> anyhow::Result<()> {
    let perms = operator::parse_permissions(permissions)?;
    let op = operator::keygen(name, perms, out)?;
    println!(
        "operator {name}: key {} written to {} and {}",
        fingerprint(&op.signing_key),
        out.display(),
        operator::pub_path(out).display()
    );
    Ok(())
}

/// `attest`: asks a module for a report over a fresh nonce, prints its
/// summary and keeps the report in `out` if given.
async fn attest(hsm: &ModuleAddr, out: Option<&Path>) -> anyhow::Result<()> {
    let nonce = strongroom_crypto::random_array::<16>()?;
    let (report, body) = operator::attest(hsm, &nonce).await?;
    let summary = json!({
        "module_id": body.module_id,
        "name": body.friendly_name,
        "mode": body.mode,
        "signing_key": fingerprint(&body.signing_key),
        "measurement": hex::encode(&body.measurement),
        "domains": body.domains.iter().map(|(d, e)| json!({"domain": d, "epoch": e})).collect::<Vec<_>>(),
        "installed_update": body.installed_update.as_ref().map(|(h, v)| json!({"sha384": hex::encode(h), "version": v})),
    });
    if let Some(out) = out {
        files::write(out, kind::ATTESTATION, summary.clone(), &report, false)?;
    }
    print_json(summary)
}

/// `verify-attestation`: checks a report file's signature and, if given,
/// its measurement.
fn verify_attestation(report: &Path, expect_measurement: Option<&str>) -> anyhow::Result<()> {
    let r: AttestationReport = files::read(report, kind::ATTESTATION)?;
    let m = expect_measurement.map(hex48).transpose()?;
    let body = operator::verify_attestation(&r, m.as_deref(), None)?;
    println!(
        "attestation OK: module {} ({}), measurement {}",
        body.module_id,
        body.friendly_name,
        hex::encode(&body.measurement)
    );
    Ok(())
}

/// `sign`: shows the operator what they sign, then adds their signature
/// to the command file.
fn sign(request: &Path, key: &Path) -> anyhow::Result<()> {
    let key = load_key(key)?;
    let mut cmd = read_command(request)?;
    let body = cmd.decode_body().map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "{} signs:\n{}",
        key.name,
        serde_json::to_string_pretty(&operator::describe(&body))?
    );
    operator::sign(&mut cmd, &key)?;
    write_command(request, &cmd)?;
    println!(
        "{} signatures on {}",
        cmd.signatures.len(),
        request.display()
    );
    Ok(())
}

/// `submit`: sends the signed command to each module in turn, stopping
/// at the first refusal, and keeps a returned token or attestation.
async fn submit(request: &Path, hsm: &[ModuleAddr], out: Option<&Path>) -> anyhow::Result<()> {
    let cmd = read_command(request)?;
    for addr in hsm {
        match operator::submit(addr, cmd.clone()).await? {
            Response::DomainToken(t) => {
                let b = t.decode_body().map_err(|e| anyhow!("{e}"))?;
                println!("{addr}: domain {} epoch {}", b.domain_id, b.epoch);
                if let Some(out) = out {
                    operator::write_token(out, &t)?;
                }
            }
            Response::Attestation(r) => {
                let body = operator::verify_attestation(&r, None, None)?;
                println!(
                    "{addr}: module is now {} ({})",
                    body.module_id, body.friendly_name
                );
                if let Some(out) = out {
                    files::write(
                        out,
                        kind::ATTESTATION,
                        json!({"module_id": body.module_id}),
                        &r,
                        false,
                    )?;
                }
            }
            Response::Done => println!("{addr}: done"),
            other => println!("{addr}: {other:?}"),
        }
    }
    Ok(())
}

/// `unseal`: re-seals this operator's escrowed shares of a domain to a
/// fresh module and writes them to `out`.
fn unseal(domain_token: &Path, module: &Path, key: &Path, out: &Path) -> anyhow::Result<()> {
    let (_, body) = operator::read_token(domain_token)?;
    let m = read_attestation(module)?;
    let key = load_key(key)?;
    let shares = operator::recovery_shares(&key, &body, &m)?;
    files::write(
        out,
        kind::RECOVERY_SHARE,
        json!({"operator": key.name, "domain": body.domain_id, "module": m.module_id, "generations": shares.len()}),
        &shares,
        false,
    )?;
    println!(
        "{}: {} shares of domain {} sealed to module {}",
        key.name,
        shares.len(),
        body.domain_id,
        m.module_id
    );
    Ok(())
}

/// `status`: prints a module's status as JSON.
async fn status(hsm: &ModuleAddr) -> anyhow::Result<()> {
    let c = operator::operator_client(hsm)?;
    let s = c.call(Request::Status).await?.into_status()?;
    print_json(json!({
            "module_id": s.module_id,
            "name": s.friendly_name,
            "mode": s.mode,
            "signing_key": fingerprint(&s.signing_key),
            "domains": s.domains.iter().map(|d| json!({"domain": d.domain_id, "epoch": d.epoch, "generations": d.generations, "members": d.members, "keys_loaded": d.keys_loaded})).collect::<Vec<_>>(),
            "cached_keys": s.cached_keys,
            "cache_capacity": s.cache_capacity,
            "locked_bytes": s.locked_bytes,
            "memory_locked": s.memory_locked,
            "uptime_secs": s.uptime_secs,
            "requests_served": s.requests_served,
            "erased": s.last_erasure.is_some(),
    }))
}

/// `get-token`: fetches a domain's token from a member and writes it only
/// if it chains to `anchor` and is for `domain`.
async fn get_token(
    hsm: &ModuleAddr,
    domain: uuid::Uuid,
    out: &Path,
    anchor: &Anchor,
) -> anyhow::Result<()> {
    let c = operator::operator_client(hsm)?;
    let t = c
        .call(Request::GetDomainToken { domain_id: domain })
        .await?
        .into_domain_token()?;
    let body = verify_chain(&t, anchor).map_err(|e| {
        anyhow!("the token {hsm} presented does not chain to the trust anchor: {e}")
    })?;
    if body.domain_id != domain {
        bail!(
            "{hsm} answered with a token for domain {}, not {domain}",
            body.domain_id
        );
    }
    operator::write_token(out, &t)?;
    print_json(files::summary(out)?)
}

/// `logs`: one line per module log.
async fn list_logs(hsm: &ModuleAddr) -> anyhow::Result<()> {
    let c = operator::operator_client(hsm)?;
    for l in c.call(Request::ListLogs).await?.into_logs()? {
        println!(
            "{}  {} bytes  sha384 {}  {}",
            l.log_id,
            l.size,
            hex::encode(&l.sha384),
            if l.closed { "closed" } else { "open" }
        );
    }
    Ok(())
}

/// `logs --log-id`: prints one log, read a MiB at a time until the module
/// answers no more bytes.
async fn print_log(hsm: &ModuleAddr, log_id: u64) -> anyhow::Result<()> {
    let c = operator::operator_client(hsm)?;
    let mut offset = 0;
    loop {
        let request = Request::GetLog {
            log_id,
            offset,
            length: 1 << 20,
        };
        let b = c.call(request).await?.into_log_bytes()?;
        if b.is_empty() {
            return Ok(());
        }
        offset += b.len() as u64;
        print!("{}", String::from_utf8_lossy(&b));
    }
}

/// `verify-erasure`: checks a certificate's signature (and, given a domain
/// token, that its signer was a member) and prints what it attests.
fn verify_erasure(certificate: &Path, domain_token: Option<&Path>) -> anyhow::Result<()> {
    let cert = operator::read_erasure(certificate)?;
    let token = domain_token.map(operator::read_token).transpose()?;
    let body = operator::verify_erasure(&cert, token.as_ref().map(|(_, b)| b))?;
    print_json(json!({
        "verified": true,
        "module_id": body.module_id,
        "erased_at": body.erased_at,
        "reason": body.reason,
        "domains": body.domains,
        "vault_keys": body.vault_keys,
        "sealed_files": body.sealed_files,
    }))
}
