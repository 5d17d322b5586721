//! `strongroom`: run the service, administer it, benchmark it.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use strongroom_cli::modules::ExternalModules;
use strongroom_cli::{bench, dev};
use strongroom_hsm_proto::net::ModuleAddr;
use strongroom_server::auth::unknown_keys::UnknownKeyBudget;
use strongroom_server::region::{Region, RegionSet};

mod kms_cmd;
mod operator_cmd;
mod operator_request;

use strongroom_cli::admin_cmd::{self, AdminAction};
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

/// Limits a frontend puts on its clients (`dev` and `serve`).
#[derive(Args, Clone, Copy)]
struct ClientLimitArgs {
    /// Seconds a client may take to send request headers (and to finish a
    /// TLS handshake); idle keep-alive connections are closed after it too.
    #[arg(long, default_value_t = strongroom_server::defaults::HEADER_READ_TIMEOUT.as_secs())]
    header_timeout_secs: u64,
    /// Seconds a client may take to send a request body.
    #[arg(long, default_value_t = strongroom_server::defaults::BODY_READ_TIMEOUT.as_secs())]
    body_timeout_secs: u64,
    /// Most connections served at once; more are closed as they arrive.
    #[arg(long, default_value_t = strongroom_server::defaults::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most connections served at once from one client address (IPv4, or
    /// IPv6 /64); set it to --max-connections behind a proxy.
    #[arg(long, default_value_t = strongroom_server::defaults::MAX_CONNECTIONS_PER_SOURCE)]
    max_connections_per_source: usize,
    /// Store lookups of unknown access key ids one client address may cause
    /// at once; past them it gets ThrottlingException for keys not cached.
    #[arg(long, default_value_t = UnknownKeyBudget::default().burst)]
    unknown_key_burst: u32,
    /// Such lookups given back per minute.
    #[arg(long, default_value_t = UnknownKeyBudget::default().per_minute)]
    unknown_keys_per_minute: u32,
    /// Seconds between audit records summarising unauthenticated requests.
    #[arg(long, default_value_t = strongroom_server::defaults::UNAUTHENTICATED_SUMMARY_INTERVAL.as_secs())]
    unauthenticated_summary_secs: u64,
    /// Requests per second each external key store (XKS) may make; past
    /// it, ThrottlingException. Default: unlimited.
    #[arg(long)]
    xks_requests_per_second: Option<std::num::NonZeroU32>,
}

impl ClientLimitArgs {
    fn header_timeout(self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }
    fn body_timeout(self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.max(1))
    }
    fn unknown_key_budget(self) -> UnknownKeyBudget {
        UnknownKeyBudget {
            burst: self.unknown_key_burst,
            per_minute: self.unknown_keys_per_minute,
        }
    }
    fn summary_interval(self) -> Duration {
        Duration::from_secs(self.unauthenticated_summary_secs.max(1))
    }
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
        /// Serve only this region (repeatable; the first is the default
        /// region). Without it every well-formed region is served: each
        /// request acts in its SigV4 credential scope's region.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<Region>,
        /// Account id of the root credentials (12 digits).
        #[arg(long)]
        account_id: Option<String>,
        /// Use this access key id for the root credentials: any 1-128
        /// printable ASCII characters other than space, '/' and ',' (test
        /// suites' `test` or `FOOBARKEY` work; signatures are still checked).
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
        /// A seed file (YAML or JSON, docs/dev.md): accounts, credentials,
        /// keys with fixed ids and material, aliases and grants, created on
        /// every start where missing.
        #[arg(long, value_name = "FILE")]
        seed: Option<PathBuf>,
        /// As LocalStack: an access key id of 12 digits that no access key
        /// has acts as the root of that account (created on first use),
        /// signing with the root secret (--secret-access-key). docs/dev.md.
        #[arg(long)]
        account_from_access_key: bool,
        /// Seconds between runs of the key-deletion sweeper.
        #[arg(long, default_value_t = 60)]
        deletion_sweep_secs: u64,
        /// Worker threads of the in-process module for private-key
        /// operations (Sign, AsymmetricDecrypt, …); default: one per core.
        /// With --hsm, set `strongroom-hsm --workers` instead.
        #[arg(long, conflicts_with = "hsm", value_parser = clap::value_parser!(u32).range(1..=1024))]
        workers: Option<u32>,
        #[command(flatten)]
        limits: ClientLimitArgs,
        #[command(flatten)]
        audit: strongroom_cli::audit_setup::AuditArgs,
        #[command(flatten)]
        modules: ModuleArgs,
        /// Address of the admin listener (/metrics, /healthz, /readyz).
        #[arg(long, default_value = "127.0.0.1:4567")]
        admin_listen: SocketAddr,
        /// Log lines as text or as one JSON object per line.
        #[arg(long, value_enum, default_value_t)]
        log_format: strongroom_cli::logging::LogFormat,
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
        /// Serve this region (repeatable; the first is the default region,
        /// where authentication proofs act and where keys of a store from
        /// before regions are put). Default: us-east-1 alone.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<Region>,
        /// TLS certificate chain (PEM); with --tls-key serves HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// XKS proxy API mTLS: CA certificate(s) (PEM) a client certificate
        /// must chain to (Amazon Trust Services for AWS KMS).
        #[arg(long, requires_all = ["tls_cert", "xks_client_subject"])]
        xks_client_ca: Option<PathBuf>,
        /// XKS proxy API mTLS: the client certificate's subject CN
        /// (cks.kms.<region>.amazonaws.com for AWS KMS).
        #[arg(long, requires = "xks_client_ca")]
        xks_client_subject: Option<String>,
        /// Seconds between runs of the key-deletion sweeper.
        #[arg(long, default_value_t = 60)]
        deletion_sweep_secs: u64,
        /// Record encryption-context values in the audit trail (default: keys only).
        #[arg(long)]
        audit_context_values: bool,
        /// With a shared (PostgreSQL) store: how long this frontend trusts
        /// cached key metadata, aliases and grants, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        cache_ttl_ms: u64,
        #[command(flatten)]
        audit: strongroom_cli::audit_setup::AuditArgs,
        #[command(flatten)]
        limits: ClientLimitArgs,
        #[command(flatten)]
        modules: ModuleArgs,
        /// Serve /metrics, /healthz and /readyz on this address (over TLS
        /// with the API's certificate when --tls-cert is given); off unless set.
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// An account (the operator's) whose principals may open the web
        /// console's fleet view; repeatable. No account may unless given.
        #[arg(long = "console-fleet-account", value_name = "ACCOUNT_ID")]
        console_fleet_accounts: Vec<String>,
        /// Log lines as text or as one JSON object per line.
        #[arg(long, value_enum, default_value_t)]
        log_format: strongroom_cli::logging::LogFormat,
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
        /// Signing algorithm for sign/verify (default: RSASSA_PSS_SHA_256
        /// for RSA, ECDSA_SHA_* for ECC).
        #[arg(long)]
        signing_algorithm: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// XKS ops: the external key store's URI prefix.
        #[arg(long, env = "XKS_URI_PREFIX")]
        xks_uri_prefix: Option<String>,
        /// XKS ops: a credential of the key store.
        #[arg(long, env = "XKS_ACCESS_KEY_ID")]
        xks_access_key_id: Option<String>,
        /// XKS ops: its secret.
        #[arg(long, env = "XKS_SECRET_ACCESS_KEY", hide_env_values = true)]
        xks_secret_access_key: Option<String>,
        /// XKS ops: bytes of additionalAuthenticatedData per request.
        #[arg(long, default_value_t = 1024)]
        aad_bytes: usize,
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
    /// An earlier token of the domain that --domain-token must chain to
    /// (signed by one of its members, epoch not going back). Default: the
    /// token this frontend last trusted, kept in its data directory.
    #[arg(long, requires = "domain_token")]
    trust_anchor: Option<PathBuf>,
    /// The store: a PostgreSQL URL (postgres://user@host:port/db) shared by
    /// several frontends; default: SQLite in the data directory.
    #[arg(long, env = "STRONGROOM_STORE")]
    store: Option<String>,
    /// How many of the modules each key is placed on (its material is hot
    /// there; any member still serves it if they fail).
    #[arg(long, default_value_t = 2)]
    replication: usize,
}

impl ModuleArgs {
    fn external(self) -> ExternalModules {
        ExternalModules {
            addrs: self.hsm,
            domain_token: self.domain_token,
            trust_anchor: self.trust_anchor,
            replication: self.replication,
        }
    }
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev {
            data_dir,
            listen,
            regions,
            account_id,
            access_key_id,
            secret_access_key,
            tls,
            seed,
            account_from_access_key,
            deletion_sweep_secs,
            workers,
            limits,
            audit,
            modules,
            admin_listen,
            log_format,
        } => {
            strongroom_cli::logging::init(log_format);
            let mut opts = dev::DevOptions::new(data_dir.clone());
            opts.admin_listen = Some(admin_listen);
            opts.seed = seed;
            opts.account_from_access_key = account_from_access_key;
            opts.module_workers = workers.map(|n| n as usize);
            opts.header_read_timeout = limits.header_timeout();
            opts.body_read_timeout = limits.body_timeout();
            opts.max_connections = limits.max_connections;
            opts.max_connections_per_source = limits.max_connections_per_source;
            opts.unknown_key_budget = limits.unknown_key_budget();
            opts.unauthenticated_summary_interval = limits.summary_interval();
            opts.xks_requests_per_second = limits.xks_requests_per_second;
            opts.listen = listen;
            opts.regions = regions;
            opts.account_id = account_id;
            opts.access_key_id = access_key_id;
            opts.secret_access_key = secret_access_key.map(Zeroizing::new);
            opts.tls = tls;
            opts.deletion_sweep_interval = Duration::from_secs(deletion_sweep_secs.max(1));
            opts.store_url = modules.store.clone();
            opts.modules = modules.external();
            opts.audit = audit;
            let env = dev::start(opts).await?;
            // A log event, not a bare line: JSON logs stay one object per line.
            tracing::warn!(
                "strongroom dev keeps its unseal secret in {}/hsm/DEV-ONLY-unseal.key.\n\
                 Anyone who can read that directory can use every key. Do not use it for real secrets.",
                data_dir.display()
            );
            println!(
                "Strongroom dev is serving the AWS KMS API at {}",
                env.endpoint()
            );
            println!(
                "account {}  region {}  (serving {})",
                env.account_id, env.region, env.regions
            );
            if let Some(admin) = env.admin_endpoint() {
                println!("admin: {admin} (/metrics, /healthz, /readyz, /console/)");
            }
            if let Some(link) = env.console_login_link() {
                println!("console: {link}");
            }
            println!(
                "{}",
                strongroom_cli::audit_setup::startup_line(env.server.audit_config())
            );
            println!("# for an AWS SDK or the aws CLI:");
            for line in env.env_lines() {
                println!("{line}");
            }
            wait_for_stop_signal().await?;
            tracing::info!("shutting down");
            env.shutdown().await;
        }
        Command::Serve {
            data_dir,
            listen,
            regions,
            tls_cert,
            tls_key,
            xks_client_ca,
            xks_client_subject,
            deletion_sweep_secs,
            audit_context_values,
            cache_ttl_ms,
            audit,
            limits,
            modules,
            admin_listen,
            console_fleet_accounts,
            log_format,
        } => {
            strongroom_cli::logging::init(log_format);
            let store_url = modules.store.clone();
            let modules = modules.external();
            if modules.addrs.is_empty() {
                anyhow::bail!(
                    "strongroom serve needs --hsm (and --domain-token); use `strongroom dev` for the embedded module"
                );
            }
            let regions = if regions.is_empty() {
                vec![Region::aws_default()]
            } else {
                regions
            };
            let region = regions[0].clone();
            let at = dev::StoreAt {
                url: store_url.as_deref(),
                legacy_region: region.as_str(),
            };
            let (hsm, store) = dev::open_data_dir(&data_dir, &modules, at).await?;
            let clients = match (&xks_client_ca, &xks_client_subject) {
                (Some(ca), Some(subject)) => {
                    Some(strongroom_server::xks::mtls::client_verifier(ca, subject)?)
                }
                _ => None,
            };
            let (tls, admin_tls) = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => (
                    Some(strongroom_server::tls::server_config_with_clients(
                        &c, &k, clients,
                    )?),
                    Some(strongroom_server::tls::server_config_with_clients(
                        &c, &k, None,
                    )?),
                ),
                _ => (None, None),
            };
            let audit = strongroom_cli::audit_setup::config(
                &data_dir,
                &audit,
                strongroom_audit::Durability::Sync,
                audit_context_values,
                &hsm,
            )
            .await?;
            let server = strongroom_server::start(
                strongroom_server::ServerConfig {
                    listen,
                    region,
                    regions: RegionSet::listed(regions).expect("at least the default region"),
                    tls,
                    deletion_sweep_interval: Duration::from_secs(deletion_sweep_secs.max(1)),
                    header_read_timeout: limits.header_timeout(),
                    body_read_timeout: limits.body_timeout(),
                    max_connections: limits.max_connections,
                    max_connections_per_source: limits.max_connections_per_source,
                    unknown_key_budget: limits.unknown_key_budget(),
                    unauthenticated_summary_interval: limits.summary_interval(),
                    rotation_day: Duration::from_secs(86_400),
                    audit,
                    metadata_cache_ttl: store_url
                        .is_some()
                        .then(|| Duration::from_millis(cache_ttl_ms)),
                    xks_client_cert_required: xks_client_ca.is_some(),
                    xks_requests_per_second: limits.xks_requests_per_second,
                    credential_rules: strongroom_server::admin::CredentialRules::Aws,
                    admin: admin_listen.map(|listen| strongroom_server::admin_http::AdminConfig {
                        listen,
                        tls: admin_tls,
                        console: Some(Default::default()),
                        fleet_accounts: console_fleet_accounts,
                    }),
                    account_from_access_key: None,
                },
                store,
                hsm,
            )
            .await?;
            // One line: supervisors and tests may read only the first.
            println!(
                "Strongroom is serving the AWS KMS API at {}; {}",
                server.endpoint(),
                strongroom_cli::audit_setup::startup_line(server.audit_config())
            );
            wait_for_stop_signal().await?;
            tracing::info!("shutting down");
            server.shutdown().await;
        }
        Command::Operator { action } => operator_cmd::run(action).await?,
        Command::Admin {
            data_dir,
            modules,
            action,
        } => {
            let store_url = modules.store.clone();
            let code = admin_cmd::run(&data_dir, modules.external(), store_url, action).await?;
            if code != 0 {
                std::process::exit(code);
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
            signing_algorithm,
            json,
            xks_uri_prefix,
            xks_access_key_id,
            xks_secret_access_key,
            aad_bytes,
        } => {
            let xks = match (xks_uri_prefix, xks_access_key_id, xks_secret_access_key) {
                (Some(uri_prefix), Some(access_key_id), Some(secret)) => Some(bench::XksTarget {
                    uri_prefix,
                    access_key_id,
                    secret_access_key: Zeroizing::new(secret),
                    aad_bytes,
                }),
                _ => None,
            };
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
                signing_algorithm,
                xks,
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
