//! `strongroom`: run the service, administer it, benchmark it.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use strongroom_cli::bench;
use strongroom_cli::modules::ExternalModules;
use strongroom_hsm_proto::net::ModuleAddr;
use strongroom_server::auth::unknown_keys::UnknownKeyBudget;
use strongroom_server::region::Region;

mod kms_cmd;
mod operator_cmd;
mod operator_request;
mod run;

use strongroom_cli::admin_cmd::{self, AdminAction};

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
    Dev(DevArgs),
    /// Run a production frontend: external security modules (`--hsm`),
    /// no dev credentials; accounts come from `strongroom admin`.
    Serve(ServeArgs),
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
    Bench(BenchArgs),
    /// Everyday key operations against an endpoint (like `aws kms`).
    Kms {
        #[command(flatten)]
        endpoint: kms_cmd::EndpointArgs,
        #[command(subcommand)]
        action: kms_cmd::KmsAction,
    },
}

/// `strongroom dev`'s arguments.
#[derive(Args)]
struct DevArgs {
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
}

/// `strongroom serve`'s arguments.
#[derive(Args)]
struct ServeArgs {
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
}

/// `strongroom bench`'s arguments.
#[derive(Args)]
struct BenchArgs {
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
    fn external(&self) -> ExternalModules {
        ExternalModules {
            addrs: self.hsm.clone(),
            domain_token: self.domain_token.clone(),
            trust_anchor: self.trust_anchor.clone(),
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
        Command::Dev(args) => run::dev(args).await?,
        Command::Serve(args) => run::serve(args).await?,
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
        Command::Bench(args) => run::bench(args).await?,
        Command::Kms { endpoint, action } => kms_cmd::run(endpoint, action).await?,
    }
    Ok(())
}
