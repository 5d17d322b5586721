//! `strongroom operator …`: the operator's side of module administration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::json;
use strongroom_cli::files::{self, fingerprint, kind};
use strongroom_cli::modules::read_host_pub;
use strongroom_cli::operator::{self, load_key, new_command, read_command, write_command};
use strongroom_hsm_proto::admin::{
    AttestationReport, Command, Operator, QuorumRule, RecoveryShare, Target,
};
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
    /// Fetch a domain's current token from a member.
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

#[derive(clap::Subcommand)]
pub enum RequestKind {
    /// Create a domain on a module (from its attestation).
    CreateDomain {
        #[arg(long)]
        module: PathBuf,
        /// Operator public key files (repeatable).
        #[arg(long = "operator", required = true)]
        operators: Vec<PathBuf>,
        /// Signatures needed for every command.
        #[arg(long)]
        quorum: u8,
        /// Shares needed for recovery (default: the quorum).
        #[arg(long)]
        escrow_threshold: Option<u8>,
        /// Host public key files (`host.pub` of each frontend).
        #[arg(long = "host")]
        hosts: Vec<PathBuf>,
        /// Minimum life of a domain-key generation after its successor.
        #[arg(long, default_value_t = 86_400)]
        min_generation_lifespan_secs: u64,
    },
    /// Put a module in use mode.
    EnterUseMode {
        #[arg(long)]
        module: PathBuf,
    },
    /// Put a module in service mode (destroys its keys in memory).
    EnterServiceMode {
        #[arg(long)]
        module: PathBuf,
    },
    /// Wipe a module and give it a new identity and name.
    Initialize {
        #[arg(long)]
        module: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Rename a module.
    SetName {
        #[arg(long)]
        module: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Approve a code update by its package's SHA-384.
    InstallUpdate {
        #[arg(long)]
        module: PathBuf,
        /// Hex SHA-384 of the package.
        #[arg(long)]
        sha384: String,
        #[arg(long)]
        version: String,
    },
    /// Delete a closed log whose hash (from `logs`) an operator attests was stored elsewhere.
    DeleteLog {
        #[arg(long)]
        module: PathBuf,
        #[arg(long)]
        log_id: u64,
        /// Hex SHA-384 of the log.
        #[arg(long)]
        sha384: String,
    },
    /// Make members take a domain token (submit to each member).
    Ingest {
        #[arg(long)]
        domain_token: PathBuf,
    },
    /// Add a module (from its attestation) to the domain.
    AddMember {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        module: PathBuf,
    },
    /// Remove a member.
    RemoveMember {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        module_id: uuid::Uuid,
    },
    /// Add an operator (public key file).
    AddOperator {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        operator: PathBuf,
    },
    /// Remove an operator (public key file).
    RemoveOperator {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        operator: PathBuf,
    },
    /// Allow a frontend (its `host.pub`).
    AddHost {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        host: PathBuf,
    },
    /// Stop allowing a frontend.
    RemoveHost {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        host: PathBuf,
    },
    /// New domain-key generation.
    RotateDomainKey {
        #[arg(long)]
        domain_token: PathBuf,
    },
    /// Retire the oldest generation.
    RetireDomainKey {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        generation: u32,
        /// EKTs still under that generation (`strongroom admin rewrap` reports it).
        #[arg(long)]
        ekts_remaining: u64,
    },
    /// Rebuild a domain in a fresh module from operators' shares.
    RecoverDomain {
        #[arg(long)]
        domain_token: PathBuf,
        #[arg(long)]
        module: PathBuf,
        /// Share files from `operator unseal` (repeatable).
        #[arg(long = "share", required = true)]
        shares: Vec<PathBuf>,
    },
}

fn read_attestation(path: &Path) -> anyhow::Result<strongroom_hsm_proto::admin::AttestationBody> {
    let r: AttestationReport = files::read(path, kind::ATTESTATION)?;
    operator::verify_attestation(&r, None, None)
}

fn module_target(path: &Path) -> anyhow::Result<Target> {
    Ok(Target::Module(read_attestation(path)?.module_id))
}

fn domain_target(
    path: &Path,
) -> anyhow::Result<(Target, strongroom_hsm_proto::admin::DomainToken)> {
    let (t, b) = operator::read_token(path)?;
    Ok((Target::Domain(b.domain_id), t))
}

fn read_operator(path: &Path) -> anyhow::Result<Operator> {
    files::read(path, kind::OPERATOR)
}

fn hex48(s: &str) -> anyhow::Result<Vec<u8>> {
    let v = hex::decode(s.trim()).context("not hex")?;
    if v.len() != 48 {
        bail!("a SHA-384 is 48 bytes (96 hex digits)");
    }
    Ok(v)
}

fn build(kind: RequestKind) -> anyhow::Result<(Target, Command)> {
    Ok(match kind {
        RequestKind::CreateDomain {
            module,
            operators,
            quorum,
            escrow_threshold,
            hosts,
            min_generation_lifespan_secs,
        } => (
            module_target(&module)?,
            Command::CreateDomain {
                operators: operators
                    .iter()
                    .map(|p| read_operator(p))
                    .collect::<anyhow::Result<_>>()?,
                rules: QuorumRule::uniform(quorum),
                hosts: hosts
                    .iter()
                    .map(|h| read_host_pub(h))
                    .collect::<anyhow::Result<_>>()?,
                escrow_threshold: escrow_threshold.unwrap_or(quorum),
                min_generation_lifespan_secs,
            },
        ),
        RequestKind::EnterUseMode { module } => (module_target(&module)?, Command::EnterUseMode),
        RequestKind::EnterServiceMode { module } => {
            (module_target(&module)?, Command::EnterServiceMode)
        }
        RequestKind::Initialize { module, name } => (
            module_target(&module)?,
            Command::InitializeModule {
                friendly_name: name,
            },
        ),
        RequestKind::SetName { module, name } => (
            module_target(&module)?,
            Command::SetFriendlyName {
                friendly_name: name,
            },
        ),
        RequestKind::InstallUpdate {
            module,
            sha384,
            version,
        } => (
            module_target(&module)?,
            Command::InstallUpdate {
                package_sha384: hex48(&sha384)?,
                version,
            },
        ),
        RequestKind::DeleteLog {
            module,
            log_id,
            sha384,
        } => (
            module_target(&module)?,
            Command::DeleteLog {
                log_id,
                sha384: hex48(&sha384)?,
            },
        ),
        RequestKind::Ingest { domain_token } => {
            let (target, token) = domain_target(&domain_token)?;
            (target, Command::IngestDomain { token })
        }
        RequestKind::AddMember {
            domain_token,
            module,
        } => (
            domain_target(&domain_token)?.0,
            Command::AddMember {
                member: operator::member_from_attestation(&read_attestation(&module)?),
            },
        ),
        RequestKind::RemoveMember {
            domain_token,
            module_id,
        } => (
            domain_target(&domain_token)?.0,
            Command::RemoveMember { module_id },
        ),
        RequestKind::AddOperator {
            domain_token,
            operator,
        } => (
            domain_target(&domain_token)?.0,
            Command::AddOperator {
                operator: read_operator(&operator)?,
            },
        ),
        RequestKind::RemoveOperator {
            domain_token,
            operator,
        } => (
            domain_target(&domain_token)?.0,
            Command::RemoveOperator {
                signing_key: read_operator(&operator)?.signing_key,
            },
        ),
        RequestKind::AddHost { domain_token, host } => (
            domain_target(&domain_token)?.0,
            Command::AddHost {
                host_key: read_host_pub(&host)?,
            },
        ),
        RequestKind::RemoveHost { domain_token, host } => (
            domain_target(&domain_token)?.0,
            Command::RemoveHost {
                host_key: read_host_pub(&host)?,
            },
        ),
        RequestKind::RotateDomainKey { domain_token } => {
            (domain_target(&domain_token)?.0, Command::RotateDomainKey)
        }
        RequestKind::RetireDomainKey {
            domain_token,
            generation,
            ekts_remaining,
        } => (
            domain_target(&domain_token)?.0,
            Command::RetireDomainKey {
                generation,
                ekts_remaining,
            },
        ),
        RequestKind::RecoverDomain {
            domain_token,
            module,
            shares,
        } => {
            let (token, _) = operator::read_token(&domain_token)?;
            let mut all: Vec<RecoveryShare> = Vec::new();
            for s in &shares {
                all.extend(files::read::<Vec<RecoveryShare>>(s, kind::RECOVERY_SHARE)?);
            }
            (
                module_target(&module)?,
                Command::RecoverDomain { token, shares: all },
            )
        }
    })
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
        } => {
            let perms = operator::parse_permissions(&permissions)?;
            let op = operator::keygen(&name, perms, &out)?;
            println!(
                "operator {name}: key {} written to {} and {}",
                fingerprint(&op.signing_key),
                out.display(),
                operator::pub_path(&out).display()
            );
        }
        OperatorAction::Attest { hsm, out } => {
            let nonce = strongroom_crypto::random_array::<16>()?;
            let (report, body) = operator::attest(&hsm, &nonce).await?;
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
                files::write(&out, kind::ATTESTATION, summary.clone(), &report, false)?;
            }
            print_json(summary)?;
        }
        OperatorAction::VerifyAttestation {
            report,
            expect_measurement,
        } => {
            let r: AttestationReport = files::read(&report, kind::ATTESTATION)?;
            let m = expect_measurement.map(|h| hex48(&h)).transpose()?;
            let body = operator::verify_attestation(&r, m.as_deref(), None)?;
            println!(
                "attestation OK: module {} ({}), measurement {}",
                body.module_id,
                body.friendly_name,
                hex::encode(&body.measurement)
            );
        }
        OperatorAction::Request {
            out,
            expires_in,
            command,
        } => {
            let (target, command) = build(command)?;
            let cmd = new_command(target, command, Duration::from_secs(expires_in))?;
            write_command(&out, &cmd)?;
            print_json(files::summary(&out)?)?;
        }
        OperatorAction::Sign { request, key } => {
            let key = load_key(&key)?;
            let mut cmd = read_command(&request)?;
            let body = cmd.decode_body().map_err(|e| anyhow!("{e}"))?;
            eprintln!(
                "{} signs:\n{}",
                key.name,
                serde_json::to_string_pretty(&operator::describe(&body))?
            );
            operator::sign(&mut cmd, &key)?;
            write_command(&request, &cmd)?;
            println!(
                "{} signatures on {}",
                cmd.signatures.len(),
                request.display()
            );
        }
        OperatorAction::Submit { request, hsm, out } => {
            let cmd = read_command(&request)?;
            for addr in &hsm {
                match operator::submit(addr, cmd.clone()).await? {
                    Response::DomainToken(t) => {
                        let b = t.decode_body().map_err(|e| anyhow!("{e}"))?;
                        println!("{addr}: domain {} epoch {}", b.domain_id, b.epoch);
                        if let Some(out) = &out {
                            operator::write_token(out, &t)?;
                        }
                    }
                    Response::Attestation(r) => {
                        let body = operator::verify_attestation(&r, None, None)?;
                        println!(
                            "{addr}: module is now {} ({})",
                            body.module_id, body.friendly_name
                        );
                        if let Some(out) = &out {
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
        }
        OperatorAction::Unseal {
            domain_token,
            module,
            key,
            out,
        } => {
            let (_, body) = operator::read_token(&domain_token)?;
            let m = read_attestation(&module)?;
            let key = load_key(&key)?;
            let shares = operator::recovery_shares(&key, &body, &m)?;
            files::write(
                &out,
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
        }
        OperatorAction::Status { hsm } => {
            let c = operator::operator_client(&hsm)?;
            match c.call(Request::Status).await? {
                Response::Status(s) => print_json(json!({
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
                }))?,
                other => bail!("unexpected answer {other:?}"),
            }
        }
        OperatorAction::GetToken { hsm, domain, out } => {
            let c = operator::operator_client(&hsm)?;
            match c
                .call(Request::GetDomainToken { domain_id: domain })
                .await?
            {
                Response::DomainToken(t) => {
                    t.verify_issuer(None).map_err(|e| anyhow!("{e}"))?;
                    operator::write_token(&out, &t)?;
                    print_json(files::summary(&out)?)?;
                }
                other => bail!("unexpected answer {other:?}"),
            }
        }
        OperatorAction::Logs { hsm, log_id } => {
            let c = operator::operator_client(&hsm)?;
            match log_id {
                None => match c.call(Request::ListLogs).await? {
                    Response::Logs(logs) => {
                        for l in logs {
                            println!(
                                "{}  {} bytes  sha384 {}  {}",
                                l.log_id,
                                l.size,
                                hex::encode(&l.sha384),
                                if l.closed { "closed" } else { "open" }
                            );
                        }
                    }
                    other => bail!("unexpected answer {other:?}"),
                },
                Some(id) => {
                    let mut offset = 0;
                    loop {
                        match c
                            .call(Request::GetLog {
                                log_id: id,
                                offset,
                                length: 1 << 20,
                            })
                            .await?
                        {
                            Response::LogBytes(b) if b.is_empty() => break,
                            Response::LogBytes(b) => {
                                offset += b.len() as u64;
                                print!("{}", String::from_utf8_lossy(&b));
                            }
                            other => bail!("unexpected answer {other:?}"),
                        }
                    }
                }
            }
        }
        OperatorAction::VerifyErasure {
            certificate,
            domain_token,
        } => {
            let cert = operator::read_erasure(&certificate)?;
            let token = domain_token.map(|p| operator::read_token(&p)).transpose()?;
            let body = operator::verify_erasure(&cert, token.as_ref().map(|(_, b)| b))?;
            print_json(json!({
                "verified": true,
                "module_id": body.module_id,
                "erased_at": body.erased_at,
                "reason": body.reason,
                "domains": body.domains,
                "vault_keys": body.vault_keys,
                "sealed_files": body.sealed_files,
            }))?;
        }
    }
    Ok(())
}
