//! The embedded default: one process, an in-process security module behind
//! the `hsm-proto` channel, SQLite in a data directory, HTTP on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use strongroom_hsm::{Module, ModuleConfig, dev_unseal};
use strongroom_hsm_proto::{HsmClient, spawn_module_task};
use strongroom_server::auth::unknown_keys::UnknownKeyBudget;
use strongroom_server::region::{Region, RegionSet};
use strongroom_server::{RunningServer, admin, defaults};
use strongroom_store::{SqliteStore, Store};

use crate::modules::ExternalModules;
use listeners::{DevTls, dev_tls, server_config};

mod listeners;
use zeroize::Zeroizing;

/// Options of `strongroom dev`. `Debug` redacts the secret.
#[derive(Clone)]
pub struct DevOptions {
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// The regions served (`--region`, repeatable); none: every
    /// well-formed region. The first is the default region (us-east-1 if
    /// none is given): authentication proofs act there, and a store from
    /// before regions existed has its keys put there.
    pub regions: Vec<Region>,
    /// Account to use (created if missing); default: the one from first start.
    pub account_id: Option<String>,
    /// Root access key id to use instead of the recorded one.
    pub access_key_id: Option<String>,
    /// Its secret.
    pub secret_access_key: Option<Zeroizing<String>>,
    /// Serve HTTPS with a generated certificate.
    pub tls: bool,
    /// How often due key deletions run.
    pub deletion_sweep_interval: Duration,
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections served at once from one source.
    pub max_connections_per_source: usize,
    /// Store lookups of unknown access key ids one source may cause.
    pub unknown_key_budget: UnknownKeyBudget,
    /// Requests per second each external key store may make (`None`:
    /// unlimited).
    pub xks_requests_per_second: Option<std::num::NonZeroU32>,
    /// How often unauthenticated requests are summarised in the audit trail.
    pub unauthenticated_summary_interval: Duration,
    /// External security modules; none runs the in-process module.
    pub modules: ExternalModules,
    /// Length of a day in key-rotation periods (one day; tests shorten it).
    pub rotation_day: Duration,
    /// A PostgreSQL URL for the store; none: SQLite in the data directory.
    pub store_url: Option<String>,
    /// How long cached metadata is trusted (set with a shared store).
    pub metadata_cache_ttl: Option<Duration>,
    /// Worker threads of the in-process module for private-key operations
    /// (none: one per core).
    pub module_workers: Option<usize>,
    /// The audit log (`--audit-*`; durability defaults to `buffered`).
    pub audit: crate::audit_setup::AuditArgs,
    /// With `tls`: XKS requests need a client certificate from this CA
    /// (PEM) with this subject CN (docs/xks.md, mTLS).
    pub xks_client_auth: Option<(PathBuf, String)>,
    /// The admin listener's address (`/metrics`, `/healthz`, `/readyz`);
    /// none by default here (`strongroom dev` sets 127.0.0.1:4567), so
    /// tests running many environments do not collide.
    pub admin_listen: Option<SocketAddr>,
    /// A seed file applied on every start (docs/dev.md).
    pub seed: Option<PathBuf>,
    /// Unknown 12-digit access key ids act as that account's root, signing
    /// with the root secret (LocalStack's multi-account convention).
    pub account_from_access_key: bool,
    /// The web console's session limits (served with the admin listener).
    pub console: strongroom_server::console::ConsoleSettings,
}

impl std::fmt::Debug for DevOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevOptions")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("regions", &self.regions)
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("tls", &self.tls)
            .field("deletion_sweep_interval", &self.deletion_sweep_interval)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_source",
                &self.max_connections_per_source,
            )
            .field("unknown_key_budget", &self.unknown_key_budget)
            .field("xks_requests_per_second", &self.xks_requests_per_second)
            .field(
                "unauthenticated_summary_interval",
                &self.unauthenticated_summary_interval,
            )
            .field("modules", &self.modules)
            .field("rotation_day", &self.rotation_day)
            .field("module_workers", &self.module_workers)
            .field("audit", &self.audit)
            .field("xks_client_auth", &self.xks_client_auth)
            .field("admin_listen", &self.admin_listen)
            .field("seed", &self.seed)
            .field("account_from_access_key", &self.account_from_access_key)
            .field("console", &self.console)
            .finish()
    }
}

impl DevOptions {
    /// Defaults for `data_dir`: loopback on an ephemeral port, every region.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            regions: Vec::new(),
            account_id: None,
            access_key_id: None,
            secret_access_key: None,
            tls: false,
            deletion_sweep_interval: Duration::from_secs(60),
            header_read_timeout: defaults::HEADER_READ_TIMEOUT,
            body_read_timeout: defaults::BODY_READ_TIMEOUT,
            max_connections: defaults::MAX_CONNECTIONS,
            max_connections_per_source: defaults::MAX_CONNECTIONS_PER_SOURCE,
            unknown_key_budget: UnknownKeyBudget::default(),
            xks_requests_per_second: None,
            unauthenticated_summary_interval: defaults::UNAUTHENTICATED_SUMMARY_INTERVAL,
            modules: ExternalModules::default(),
            rotation_day: Duration::from_secs(86_400),
            store_url: None,
            metadata_cache_ttl: None,
            module_workers: None,
            audit: crate::audit_setup::AuditArgs::default(),
            xks_client_auth: None,
            admin_listen: None,
            seed: None,
            account_from_access_key: false,
            console: Default::default(),
        }
    }

    /// The default region: the first one given, else us-east-1.
    pub fn default_region(&self) -> Region {
        self.regions
            .first()
            .cloned()
            .unwrap_or_else(Region::aws_default)
    }

    /// The regions served: those given, else every one.
    pub fn region_set(&self) -> RegionSet {
        RegionSet::listed(self.regions.clone()).unwrap_or(RegionSet::Any)
    }
}

/// What `strongroom dev` records in `dev-root.json` so a restart prints the
/// same root credentials. No secret: the root secret access key is derived
/// from the dev unseal secret each time.
#[derive(Serialize, Deserialize)]
struct DevRoot {
    account_id: String,
    access_key_id: String,
}

/// Root credentials to print.
struct RootCredentials {
    account_id: String,
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
}

/// A running dev environment.
pub struct DevEnvironment {
    /// The frontend.
    pub server: RunningServer,
    /// The module client (also used by admin actions).
    pub hsm: HsmClient,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Account of the root credentials.
    pub account_id: String,
    /// Root access key id.
    pub access_key_id: String,
    /// Root secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The default region (what the printed environment names).
    pub region: String,
    /// The regions served.
    pub regions: RegionSet,
    /// CA certificate to trust, when serving TLS.
    pub ca_bundle: Option<PathBuf>,
    /// What the seed file created on this start, if one was given.
    pub seeded: Option<strongroom_server::seed::SeedSummary>,
}

impl DevEnvironment {
    /// The audit log's directory.
    pub fn audit_dir(&self) -> &Path {
        &self.server.audit_config().dir
    }

    /// Every audit record (all chains in its audit directory, by time),
    /// as CloudTrail events.
    pub fn audit_events(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        crate::audit_cmd::read_events(self.audit_dir())
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:4566`.
    pub fn endpoint(&self) -> String {
        let url = self.server.endpoint();
        // The certificate names localhost; so must the URL.
        if self.ca_bundle.is_some() {
            url.replace("127.0.0.1", "localhost")
        } else {
            url
        }
    }

    /// The admin listener's URL, if it serves.
    pub fn admin_endpoint(&self) -> Option<String> {
        let url = self.server.admin_endpoint()?;
        Some(if self.ca_bundle.is_some() {
            url.replace("127.0.0.1", "localhost")
        } else {
            url
        })
    }

    /// A one-time console sign-in link for the root credentials
    /// (`…/console/?login=TOKEN`, valid once for 10 minutes), if the
    /// admin listener serves the console.
    pub fn console_login_link(&self) -> Option<String> {
        let link = self.server.console_login_link(&self.access_key_id)?.ok()?;
        Some(if self.ca_bundle.is_some() {
            link.replace("127.0.0.1", "localhost")
        } else {
            link
        })
    }

    /// The shell lines an AWS SDK or CLI needs.
    pub fn env_lines(&self) -> Vec<String> {
        let mut v = vec![
            format!("export AWS_ENDPOINT_URL_KMS={}", self.endpoint()),
            format!("export AWS_REGION={}", self.region),
            format!("export AWS_DEFAULT_REGION={}", self.region),
            format!("export AWS_ACCESS_KEY_ID={}", self.access_key_id),
            format!("export AWS_SECRET_ACCESS_KEY={}", &*self.secret_access_key),
        ];
        if let Some(ca) = &self.ca_bundle {
            v.push(format!("export AWS_CA_BUNDLE={}", ca.display()));
        }
        v
    }

    /// Stops the server; the module thread ends when the last client drops.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Opens the data directory's modules and store (shared by `dev`, `serve`
/// and `admin`): the external modules if any are given, otherwise the
/// in-process module with its DEV-ONLY unseal file. `store` names the
/// store and the region its keys from before regions go to.
pub async fn open_data_dir(
    data_dir: &Path,
    modules: &ExternalModules,
    store: StoreAt<'_>,
) -> anyhow::Result<(HsmClient, Arc<dyn Store>)> {
    open_data_dir_with(data_dir, modules, store, None).await
}

/// Like [`open_data_dir`], with `workers` threads for the in-process
/// module's private-key operations (none: one per core).
pub async fn open_data_dir_with(
    data_dir: &Path,
    modules: &ExternalModules,
    store: StoreAt<'_>,
    workers: Option<usize>,
) -> anyhow::Result<(HsmClient, Arc<dyn Store>)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let hsm = open_modules(data_dir, modules, workers)?;
    let store = open_store(data_dir, store, true).await?;
    Ok((hsm, store))
}

/// Which store to open: PostgreSQL at `url`, else SQLite in the data
/// directory; keys and aliases from before regions existed go to
/// `legacy_region` when the schema is migrated.
#[derive(Debug, Clone, Copy)]
pub struct StoreAt<'a> {
    /// A `postgres://` URL; none: SQLite.
    pub url: Option<&'a str>,
    /// The region the frontend was configured with.
    pub legacy_region: &'a str,
}

/// The modules of `data_dir`: the external ones if any are given,
/// otherwise the in-process module with its DEV-ONLY unseal file (made on
/// first use). Call it on a tokio runtime.
pub fn open_modules(
    data_dir: &Path,
    modules: &ExternalModules,
    workers: Option<usize>,
) -> anyhow::Result<HsmClient> {
    Ok(if modules.addrs.is_empty() {
        let domain = dev_unseal::open_or_create(data_dir)?;
        let id = domain.id();
        let mut config = ModuleConfig::default();
        if let Some(n) = workers {
            config.workers = n;
        }
        let module = Module::new(domain, config);
        spawn_module_task(module, 1024).with_domain(id)
    } else {
        crate::modules::connect(data_dir, modules, Duration::from_secs(2))?
    })
}

/// The store: PostgreSQL at `at.url` (`postgres://…`), else SQLite in
/// `data_dir` (created only if `create`).
pub async fn open_store(
    data_dir: &Path,
    at: StoreAt<'_>,
    create: bool,
) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = at.url {
        anyhow::ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--store must be a postgres:// URL (SQLite is the default, in the data directory)"
        );
        let store = strongroom_store::PostgresStore::connect_in_region(url, 32, at.legacy_region)
            .await
            .context("connecting to PostgreSQL")?;
        return Ok(Arc::new(store));
    }
    let path = data_dir.join("strongroom.db");
    anyhow::ensure!(create || path.exists(), "no store at {}", path.display());
    Ok(Arc::new(SqliteStore::open_in_region(
        &path,
        at.legacy_region,
    )?))
}

fn write_durably(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

async fn root_credentials(
    opts: &DevOptions,
    hsm: &HsmClient,
    store: &dyn Store,
) -> anyhow::Result<RootCredentials> {
    let path = opts.data_dir.join("dev-root.json");
    let recorded: Option<DevRoot> = match std::fs::read(&path) {
        Ok(b) => Some(
            serde_json::from_slice(&b).with_context(|| format!("reading {}", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let account_id = match (&opts.account_id, &recorded) {
        (Some(a), _) => a.clone(),
        (None, Some(r)) => r.account_id.clone(),
        (None, None) => admin::random_account_id()?,
    };
    if store.get_account(&account_id).await?.is_none() {
        admin::create_account(store, Some(account_id.clone())).await?;
    }
    match (&opts.access_key_id, &opts.secret_access_key) {
        (Some(id), Some(secret)) => {
            match store.get_access_key(id).await? {
                Some(rec) => {
                    if rec.account_id != account_id {
                        bail!(
                            "access key {id} belongs to account {}, not {account_id}",
                            rec.account_id
                        );
                    }
                    if !admin::secret_matches(hsm, &rec, secret).await? {
                        bail!("the secret given does not match the stored access key {id}");
                    }
                }
                None => {
                    // Test suites' fixed fake credentials are welcome here.
                    let given = admin::GivenCredentials {
                        access_key_id: id.clone(),
                        secret_access_key: secret.clone(),
                        rules: admin::CredentialRules::Testing,
                    };
                    admin::create_given_access_key(store, hsm, &account_id, given).await?;
                }
            }
            // Caller-supplied credentials are theirs to keep: nothing is recorded.
            return Ok(RootCredentials {
                account_id,
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
            });
        }
        (None, None) => {}
        _ => bail!("--access-key-id and --secret-access-key go together"),
    }
    let secret = dev_unseal::dev_root_secret(&opts.data_dir)?;
    let known = match recorded {
        Some(r) if r.account_id == account_id => store
            .get_access_key(&r.access_key_id)
            .await?
            .filter(|k| k.account_id == account_id)
            .map(|k| k.access_key_id),
        _ => None,
    };
    let access_key_id = match known {
        Some(id) => id,
        None => {
            let id = admin::random_access_key_id()?;
            let pair = Some((id.clone(), secret.clone()));
            admin::create_access_key(store, hsm, &account_id, pair)
                .await?
                .access_key_id
        }
    };
    let root = DevRoot {
        account_id: account_id.clone(),
        access_key_id: access_key_id.clone(),
    };
    write_durably(&path, &serde_json::to_vec_pretty(&root)?)?;
    Ok(RootCredentials {
        account_id,
        access_key_id,
        secret_access_key: secret,
    })
}

/// Logs which module serves and in which mode, and warns if its key vault
/// could not be locked into memory. Logs nothing if the module does not
/// answer Status; starting goes on either way.
async fn log_module_status(hsm: &HsmClient) {
    if let Ok(strongroom_hsm_proto::Response::Status(s)) =
        hsm.call(strongroom_hsm_proto::Request::Status).await
    {
        let domains: Vec<String> = s.domains.iter().map(|d| d.domain_id.to_string()).collect();
        tracing::info!(module_id = %s.module_id, ?domains, mode = %s.mode, modules = hsm.module_count(), "security module ready");
        if !s.memory_locked {
            tracing::warn!(
                "the key vault could not be locked into memory (RLIMIT_MEMLOCK?); keys may reach swap"
            );
        }
    }
}

/// Starts the embedded default.
pub async fn start(opts: DevOptions) -> anyhow::Result<DevEnvironment> {
    if !opts.modules.addrs.is_empty() {
        // The dev root secret is still derived from the dev unseal file.
        dev_unseal::open_or_create(&opts.data_dir)?;
    }
    // A bad seed file stops the start before anything is made.
    let seed = match &opts.seed {
        Some(path) => Some((path, crate::seed::read(path)?)),
        None => None,
    };
    let default_region = opts.default_region();
    let at = StoreAt {
        url: opts.store_url.as_deref(),
        legacy_region: default_region.as_str(),
    };
    let (hsm, store) =
        open_data_dir_with(&opts.data_dir, &opts.modules, at, opts.module_workers).await?;
    let creds = root_credentials(&opts, &hsm, store.as_ref()).await?;
    let seed_defaults = strongroom_server::seed::SeedDefaults {
        account_id: creds.account_id.clone(),
        region: default_region.to_string(),
        served_regions: opts.region_set(),
    };
    if let Some((path, file)) = &seed {
        crate::seed::check(path, file, &seed_defaults)?;
    }
    let DevTls {
        api: tls_config,
        admin: admin_tls,
        ca_bundle,
    } = dev_tls(&opts)?;
    let config = server_config(&opts, &default_region, tls_config, admin_tls, &creds, &hsm).await?;
    log_module_status(&hsm).await;
    let server = strongroom_server::start(config, store.clone(), hsm.clone())
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let mut env = DevEnvironment {
        server,
        hsm,
        store,
        account_id: creds.account_id,
        access_key_id: creds.access_key_id,
        secret_access_key: creds.secret_access_key,
        region: default_region.to_string(),
        regions: opts.region_set(),
        ca_bundle,
        seeded: None,
    };
    if let Some((path, file)) = &seed {
        match crate::seed::apply(path, file, &seed_defaults, &env).await {
            Ok(summary) => env.seeded = Some(summary),
            Err(e) => {
                env.shutdown().await;
                return Err(e);
            }
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let mut o = DevOptions::new("/tmp/x".into());
        o.secret_access_key = Some(Zeroizing::new("very-secret-value".into()));
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("very-secret-value") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
