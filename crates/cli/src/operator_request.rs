//! `strongroom operator request …`: building the command an operator
//! quorum will sign, from attestations, tokens and public key files.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use strongroom_cli::files::{self, kind};
use strongroom_cli::modules::read_host_pub;
use strongroom_cli::operator::{self, Address};
use strongroom_hsm_proto::admin::{
    AttestationBody, AttestationReport, Command, DomainToken, Operator, QuorumRule, RecoveryShare,
    Target,
};

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

pub fn read_attestation(path: &Path) -> anyhow::Result<AttestationBody> {
    let r: AttestationReport = files::read(path, kind::ATTESTATION)?;
    operator::verify_attestation(&r, None, None)
}

fn module_target(path: &Path) -> anyhow::Result<Address> {
    Ok(Address {
        target: Target::Module(read_attestation(path)?.module_id),
        epoch: 0,
    })
}

/// A domain command is for the domain of the token it is prepared from,
/// at that token's epoch: members refuse it once the domain has moved on.
fn domain_target(path: &Path) -> anyhow::Result<(Address, DomainToken)> {
    let (t, b) = operator::read_token(path)?;
    let address = Address {
        target: Target::Domain(b.domain_id),
        epoch: b.epoch,
    };
    Ok((address, t))
}

fn read_operator(path: &Path) -> anyhow::Result<Operator> {
    files::read(path, kind::OPERATOR)
}

pub fn hex48(s: &str) -> anyhow::Result<Vec<u8>> {
    let v = hex::decode(s.trim()).context("not hex")?;
    if v.len() != 48 {
        bail!("a SHA-384 is 48 bytes (96 hex digits)");
    }
    Ok(v)
}

/// The command a request names, and what it is addressed to.
pub fn build(kind: RequestKind) -> anyhow::Result<(Address, Command)> {
    match kind {
        RequestKind::CreateDomain {
            module,
            operators,
            quorum,
            escrow_threshold,
            hosts,
            min_generation_lifespan_secs,
        } => {
            let rules = (quorum, escrow_threshold.unwrap_or(quorum));
            create_domain(
                &module,
                &operators,
                rules,
                &hosts,
                min_generation_lifespan_secs,
            )
        }
        RequestKind::Ingest { domain_token } => {
            let (target, token) = domain_target(&domain_token)?;
            Ok((target, Command::IngestDomain { token }))
        }
        RequestKind::RecoverDomain {
            domain_token,
            module,
            shares,
        } => recover_domain(&domain_token, &module, &shares),
        k @ (RequestKind::AddMember { .. }
        | RequestKind::RemoveMember { .. }
        | RequestKind::AddOperator { .. }
        | RequestKind::RemoveOperator { .. }
        | RequestKind::AddHost { .. }
        | RequestKind::RemoveHost { .. }
        | RequestKind::RotateDomainKey { .. }
        | RequestKind::RetireDomainKey { .. }) => domain_command(k),
        k => module_command(k),
    }
}

/// CreateDomain, addressed to `module`: `rules` is the quorum and the
/// escrow threshold.
fn create_domain(
    module: &Path,
    operators: &[PathBuf],
    (quorum, escrow_threshold): (u8, u8),
    hosts: &[PathBuf],
    min_generation_lifespan_secs: u64,
) -> anyhow::Result<(Address, Command)> {
    Ok((
        module_target(module)?,
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
            escrow_threshold,
            min_generation_lifespan_secs,
        },
    ))
}

/// RecoverDomain from the domain's last token and the operators' shares,
/// addressed to `module`.
fn recover_domain(
    domain_token: &Path,
    module: &Path,
    shares: &[PathBuf],
) -> anyhow::Result<(Address, Command)> {
    let (token, _) = operator::read_token(domain_token)?;
    let mut all: Vec<RecoveryShare> = Vec::new();
    for s in shares {
        all.extend(files::read::<Vec<RecoveryShare>>(s, kind::RECOVERY_SHARE)?);
    }
    Ok((
        module_target(module)?,
        Command::RecoverDomain { token, shares: all },
    ))
}

/// A command addressed to one module (by its attestation).
fn module_command(kind: RequestKind) -> anyhow::Result<(Address, Command)> {
    Ok(match kind {
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
        _ => bail!("not a command addressed to a module"),
    })
}

/// A command addressed to a domain (by its token) that changes it.
fn domain_command(kind: RequestKind) -> anyhow::Result<(Address, Command)> {
    Ok(match kind {
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
        _ => bail!("not a domain command"),
    })
}
