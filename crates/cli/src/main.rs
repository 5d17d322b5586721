//! `strongroom`: run the service, administer it, benchmark it.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use strongroom_cli::modules::ExternalModules;
use strongroom_cli::{bench, dev};
use strongroom_hsm_proto::net::ModuleAddr;

mod kms_cmd;
mod operator_cmd;
mod operator_request;
use strongroom_server::{admin, identity};

/// A command-line value given inline or as `@FILE`.
fn read_text_arg(v: &str) -> anyhow::Result<String> {
    match v.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}")),
        None => Ok(v.to_string()),
    }
}
use zeroize::Zeroizing;

// glibc malloc was ~14% of server CPU under load (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "strongroom",
    version,
    about = "Strongroom: a self-hosted key management service speaking the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded default: one process, in-process security module,
    /// SQLite, plain HTTP on loopback. DEV ONLY: unseal material is kept in
    /// the data directory.
    Dev {
        /// Data directory (created on first start, reused afterwards).
        #[arg(long, default_value = "./strongroom-data", env = "STRONGROOM_DATA_DIR")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        /// Region used in ARNs and SigV4 scopes.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Account id of the root credentials (12 digits).
        #[arg(long)]
        account_id: Option<String>,
        /// Use this access key id for the root credentials.
        #[arg(long, requires = "secret_access_key")]
        access_key_id: Option<String>,
        /// Secret for --access-key-id.
        #[arg(
            long,
            requires = "access_key_id",
            env = "STRONGROOM_SECRET_ACCESS_KEY",
            hide_env_values = true
        )]
        secret_access_key: Option<String>,
        /// Serve HTTPS with a generated certificate (its CA is printed for AWS_CA_BUNDLE).
        #[arg(long)]
        tls: bool,
        /// Seconds between runs of the key-deletion sweeper.
        #[arg(long, default_value_t = 60)]
        deletion_sweep_secs: u64,
        #[command(flatten)]
        modules: ModuleArgs,
    },
    /// Run a production frontend: external security modules (`--hsm`),
    /// no dev credentials; accounts come from `strongroom admin`.
    Serve {
        /// Data directory (store, host key).
        #[arg(long, default_value = "./strongroom-data", env = "STRONGROOM_DATA_DIR")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        /// Region used in ARNs and SigV4 scopes.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// TLS certificate chain (PEM); with --tls-key serves HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Seconds between runs of the key-deletion sweeper.
        #[arg(long, default_value_t = 60)]
        deletion_sweep_secs: u64,
        /// Also stream the audit trail as JSON lines to this file
        /// (default: DATA_DIR/audit.jsonl).
        #[arg(long)]
        audit_file: Option<PathBuf>,
        /// Record encryption-context values in the audit trail (default: keys only).
        #[arg(long)]
        audit_context_values: bool,
        #[command(flatten)]
        modules: ModuleArgs,
    },
    /// Manage accounts and access keys in a data directory.
    Admin {
        /// Data directory of the service.
        #[arg(long, default_value = "./strongroom-data", env = "STRONGROOM_DATA_DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        modules: ModuleArgs,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Operator keys, quorum-signed module commands, domains, recovery.
    Operator {
        #[command(subcommand)]
        action: operator_cmd::OperatorAction,
    },
    /// Load-test an AWS-KMS-compatible endpoint with SigV4-signed requests.
    Bench {
        #[command(flatten)]
        endpoint: kms_cmd::Endpoint,
        /// Operation to drive.
        #[arg(long, value_enum, default_value = "encrypt")]
        op: bench::BenchOp,
        /// Requests in flight.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Plaintext bytes for encrypt/decrypt/re-encrypt.
        #[arg(long, default_value_t = 256)]
        payload_bytes: usize,
        /// Key to use (default: create one, schedule its deletion afterwards).
        #[arg(long)]
        key_id: Option<String>,
        /// Key spec of the key to create (sign/verify: ECC_NIST_P256, RSA_2048, …).
        #[arg(long)]
        key_spec: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Everyday key operations against an endpoint (like `aws kms`).
    Kms {
        #[command(flatten)]
        endpoint: kms_cmd::EndpointArgs,
        #[command(subcommand)]
        action: kms_cmd::KmsAction,
    },
}

/// External security modules.
#[derive(clap::Args)]
struct ModuleArgs {
    /// A security module (HOST:PORT or unix:PATH) of the domain; repeatable.
    /// Without it, the in-process module is used.
    #[arg(long = "hsm", requires = "domain_token")]
    hsm: Vec<ModuleAddr>,
    /// The domain token file the operators issued (pins the modules' keys).
    #[arg(long)]
    domain_token: Option<PathBuf>,
}

impl ModuleArgs {
    fn external(self) -> ExternalModules {
        ExternalModules {
            addrs: self.hsm,
            domain_token: self.domain_token,
        }
    }
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create an account (random 12-digit id unless given).
    CreateAccount {
        #[arg(long)]
        account_id: Option<String>,
    },
    /// Create an access key for an account's root, or for a user or
    /// service principal, and print it (the secret is shown only now).
    CreateAccessKey {
        /// The account (its root).
        #[arg(
            long,
            required_unless_present = "principal",
            conflicts_with = "principal"
        )]
        account_id: Option<String>,
        /// A user or service principal ARN.
        #[arg(long)]
        principal: Option<String>,
    },
    /// Create a user, role or service principal in an account.
    CreatePrincipal {
        #[arg(long)]
        account_id: String,
        /// user, role or service.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        /// Identity policy (JSON text or @FILE).
        #[arg(long)]
        policy: Option<String>,
        /// Principal tags, KEY=VALUE (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// For a service: the name kms:ViaService carries (e.g. objectstore.example.com).
        #[arg(long)]
        service_name: Option<String>,
    },
    /// Replace (or with no --policy, remove) a principal's identity policy.
    PutIdentityPolicy {
        #[arg(long)]
        principal: String,
        /// Identity policy (JSON text or @FILE).
        #[arg(long)]
        policy: Option<String>,
    },
    /// List an account's users, roles and services.
    ListPrincipals {
        #[arg(long)]
        account_id: String,
    },
    /// Issue temporary credentials for a role (prints AWS_* variables,
    /// including AWS_SESSION_TOKEN).
    AssumeRole {
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "admin-session")]
        session_name: String,
        /// Lifetime in seconds (900 to 43200).
        #[arg(long, default_value_t = 3600)]
        duration: i64,
    },
    /// List accounts and their access key ids.
    ListAccounts,
    /// Re-seal every stored EKT and secret under the domain's newest key
    /// generation (after RotateDomainKey); resumable, throttled.
    Rewrap {
        /// Items per module call.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Pause between batches, in milliseconds.
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Count stored EKTs and secrets by domain-key generation (what
    /// RetireDomainKey's --ekts-remaining needs).
    RewrapStatus,
    /// Print this frontend's host key (creating it): give `host.pub` to the
    /// operators for CreateDomain / AddHost.
    HostKey,
    /// Read and verify the audit trail.
    Audit {
        #[command(subcommand)]
        action: strongroom_cli::audit_cmd::AuditAction,
    },
    /// Usage counters per account, operation, key and hour (what a billing
    /// system consumes).
    Usage {
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// From this time on (RFC 3339; its hour is included).
        #[arg(long)]
        since: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM, so service managers stop us cleanly.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRONGROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev {
            data_dir,
            listen,
            region,
            account_id,
            access_key_id,
            secret_access_key,
            tls,
            deletion_sweep_secs,
            modules,
        } => {
            init_tracing();
            let mut opts = dev::DevOptions::new(data_dir.clone());
            opts.listen = listen;
            opts.region = region;
            opts.account_id = account_id;
            opts.access_key_id = access_key_id;
            opts.secret_access_key = secret_access_key.map(Zeroizing::new);
            opts.tls = tls;
            opts.deletion_sweep_interval = Duration::from_secs(deletion_sweep_secs.max(1));
            opts.modules = modules.external();
            let env = dev::start(opts).await?;
            eprintln!(
                "WARNING: strongroom dev keeps its unseal secret in {}/hsm/DEV-ONLY-unseal.key.\n\
                 Anyone who can read that directory can use every key. Do not use it for real secrets.",
                data_dir.display()
            );
            println!(
                "Strongroom dev is serving the AWS KMS API at {}",
                env.endpoint()
            );
            println!("account {}  region {}", env.account_id, env.region);
            println!("# for an AWS SDK or the aws CLI:");
            for line in env.env_lines() {
                println!("{line}");
            }
            wait_for_stop_signal().await?;
            eprintln!("shutting down");
            env.shutdown().await;
        }
        Command::Serve {
            data_dir,
            listen,
            region,
            tls_cert,
            tls_key,
            deletion_sweep_secs,
            audit_file,
            audit_context_values,
            modules,
        } => {
            init_tracing();
            let modules = modules.external();
            if modules.addrs.is_empty() {
                anyhow::bail!(
                    "strongroom serve needs --hsm (and --domain-token); use `strongroom dev` for the embedded module"
                );
            }
            let (hsm, store) = dev::open_data_dir(&data_dir, &modules)?;
            let tls = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => Some(strongroom_server::tls::server_config(&c, &k)?),
                _ => None,
            };
            let server = strongroom_server::start(
                strongroom_server::ServerConfig {
                    listen,
                    region,
                    tls,
                    deletion_sweep_interval: Duration::from_secs(deletion_sweep_secs.max(1)),
                    header_read_timeout: Duration::from_secs(30),
                    rotation_day: Duration::from_secs(86_400),
                    audit_file: Some(audit_file.unwrap_or_else(|| data_dir.join("audit.jsonl"))),
                    audit_context_values,
                },
                store,
                hsm,
            )
            .await?;
            println!(
                "Strongroom is serving the AWS KMS API at {}",
                server.endpoint()
            );
            wait_for_stop_signal().await?;
            eprintln!("shutting down");
            server.shutdown().await;
        }
        Command::Operator { action } => operator_cmd::run(action).await?,
        Command::Admin {
            data_dir,
            action: AdminAction::HostKey,
            ..
        } => {
            let key = strongroom_cli::modules::host_key(&data_dir)?;
            println!(
                "host key {} ({})",
                strongroom_cli::files::fingerprint(key.public_key()),
                data_dir.join("host.pub").display()
            );
        }
        Command::Admin {
            data_dir,
            action: AdminAction::Audit { action },
            ..
        } => {
            let code = strongroom_cli::audit_cmd::run(&data_dir, action).await?;
            if code != 0 {
                std::process::exit(code);
            }
        }
        Command::Admin {
            data_dir,
            action:
                AdminAction::Usage {
                    account,
                    since,
                    json,
                },
            ..
        } => {
            strongroom_cli::audit_cmd::usage(&data_dir, account.as_deref(), since.as_deref(), json)
                .await?;
        }
        Command::Admin {
            data_dir,
            modules,
            action,
        } => {
            let (hsm, store) = dev::open_data_dir(&data_dir, &modules.external())?;
            match action {
                AdminAction::CreateAccount { account_id } => {
                    let a = admin::create_account(store.as_ref(), account_id).await?;
                    println!("{}", a.id);
                }
                AdminAction::CreateAccessKey {
                    account_id,
                    principal,
                } => {
                    let k = match (account_id, principal) {
                        (Some(a), _) => {
                            admin::create_access_key(store.as_ref(), &hsm, &a, None).await?
                        }
                        (None, Some(p)) => {
                            identity::create_principal_access_key(store.as_ref(), &hsm, &p).await?
                        }
                        (None, None) => anyhow::bail!("--account-id or --principal is required"),
                    };
                    println!("AWS_ACCESS_KEY_ID={}", k.access_key_id);
                    println!("AWS_SECRET_ACCESS_KEY={}", &*k.secret_access_key);
                }
                AdminAction::CreatePrincipal {
                    account_id,
                    kind,
                    name,
                    policy,
                    tags,
                    service_name,
                } => {
                    let kind = strongroom_store::PrincipalKind::parse(&kind)
                        .ok_or_else(|| anyhow::anyhow!("--kind must be user, role or service"))?;
                    anyhow::ensure!(
                        service_name.is_some()
                            == (kind == strongroom_store::PrincipalKind::Service),
                        "--service-name is required for, and only for, --kind service"
                    );
                    let p = identity::create_principal(
                        store.as_ref(),
                        &account_id,
                        kind,
                        &name,
                        policy.map(|p| read_text_arg(&p)).transpose()?,
                        identity::parse_tags(&tags)?,
                        service_name,
                    )
                    .await?;
                    println!("{}", p.arn);
                }
                AdminAction::PutIdentityPolicy { principal, policy } => {
                    let p = identity::put_identity_policy(
                        store.as_ref(),
                        &principal,
                        policy.map(|p| read_text_arg(&p)).transpose()?,
                    )
                    .await?;
                    println!("{}", p.arn);
                }
                AdminAction::ListPrincipals { account_id } => {
                    for p in store.list_principals(&account_id).await? {
                        println!(
                            "{}  {}{}{}",
                            p.arn,
                            p.kind.as_str(),
                            p.service_name
                                .map(|s| format!("  service={s}"))
                                .unwrap_or_default(),
                            if p.policy.is_some() {
                                "  (identity policy)"
                            } else {
                                ""
                            }
                        );
                    }
                }
                AdminAction::AssumeRole {
                    role,
                    session_name,
                    duration,
                } => {
                    let t =
                        identity::assume_role(store.as_ref(), &hsm, &role, &session_name, duration)
                            .await?;
                    println!("AWS_ACCESS_KEY_ID={}", t.key.access_key_id);
                    println!("AWS_SECRET_ACCESS_KEY={}", &*t.key.secret_access_key);
                    println!("AWS_SESSION_TOKEN={}", &*t.session_token);
                    println!("# {} until epoch {}", t.session_arn, t.expiration);
                }
                AdminAction::HostKey | AdminAction::Audit { .. } | AdminAction::Usage { .. } => {}
                AdminAction::Rewrap { batch, pause_ms } => {
                    let before = strongroom_cli::rewrap::status(store.as_ref()).await?;
                    let total: u64 = before
                        .ekts_by_generation
                        .values()
                        .chain(before.credentials_by_generation.values())
                        .sum();
                    let done = strongroom_cli::rewrap::run(
                        store.as_ref(),
                        &hsm,
                        batch,
                        Duration::from_millis(pause_ms),
                        |p| eprint!("\r{}", strongroom_cli::rewrap::bar(p.seen, total)),
                    )
                    .await?;
                    eprintln!();
                    println!("{}", serde_json::to_string_pretty(&done)?);
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &strongroom_cli::rewrap::status(store.as_ref()).await?
                        )?
                    );
                }
                AdminAction::RewrapStatus => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &strongroom_cli::rewrap::status(store.as_ref()).await?
                        )?
                    );
                }
                AdminAction::ListAccounts => {
                    for a in store.list_accounts().await? {
                        let keys = store.list_access_keys(&a.id).await?;
                        let ids: Vec<&str> =
                            keys.iter().map(|k| k.access_key_id.as_str()).collect();
                        println!("{}  {}", a.id, ids.join(" "));
                    }
                }
            }
        }
        Command::Bench {
            endpoint,
            op,
            concurrency,
            duration,
            payload_bytes,
            key_id,
            key_spec,
            json,
        } => {
            let report = bench::run(bench::BenchOptions {
                endpoint: endpoint.endpoint,
                region: endpoint.region,
                access_key_id: endpoint.access_key_id,
                secret_access_key: Zeroizing::new(endpoint.secret_access_key),
                op,
                concurrency,
                duration: Duration::from_secs_f64(duration.max(0.1)),
                payload_bytes,
                key_id,
                ca_bundle: endpoint.ca_bundle,
                key_spec,
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
        }
        Command::Kms { endpoint, action } => kms_cmd::run(endpoint, action).await?,
    }
    Ok(())
}
