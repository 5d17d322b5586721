//! Starting and stopping a frontend: listener (plain or TLS), connection
//! tasks under a cap and time limits, and the background tasks (deletion
//! sweeper, module-log copier, summaries of unauthenticated requests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use strongroom_hsm_proto::HsmClient;
use strongroom_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::Authenticator;
use crate::auth::unknown_keys::UnknownKeyBudget;
use crate::clock::now_epoch;
use crate::http::{AppState, router};
use crate::processor::Processor;
use crate::region::{Region, RegionSet};

mod per_source;

/// How a frontend is run.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks one).
    pub listen: SocketAddr,
    /// The default region: where authentication proofs act (the store's
    /// keys from before regions were put there when it was opened).
    pub region: Region,
    /// The regions KMS requests may be scoped to.
    pub regions: RegionSet,
    /// Which access key ids authenticate: AWS's (`serve`: the `test`
    /// credentials a `dev` stored do not) or the test suites' (`dev`).
    pub credential_rules: crate::admin::CredentialRules,
    /// Serve HTTPS with this configuration, else plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How often due key deletions and automatic rotations are carried out.
    pub deletion_sweep_interval: Duration,
    /// The length of a day in rotation periods: one day, except in tests
    /// of the rotation scheduler.
    pub rotation_day: Duration,
    /// How long a client may take to send request headers, and to finish a
    /// TLS handshake, before its connection is closed (an idle keep-alive
    /// connection is closed after it too).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// Most connections served at once; more are closed as accepted.
    pub max_connections: usize,
    /// Most connections served at once from one source (an IPv4 address,
    /// an IPv6 /64); more from it are closed as accepted.
    pub max_connections_per_source: usize,
    /// How many store lookups of unknown access key ids one source may
    /// cause (docs/deploy.md).
    pub unknown_key_budget: UnknownKeyBudget,
    /// How often requests that never authenticated are summarised in one
    /// audit record.
    pub unauthenticated_summary_interval: Duration,
    /// The audit log: directory, chain, durability, segments, sealing,
    /// retention.
    pub audit: crate::audit::AuditConfig,
    /// How long cached key metadata, aliases and grants are trusted before
    /// they are re-read: set it when several frontends share the store
    /// (`None`: for ever, for the store's only frontend).
    pub metadata_cache_ttl: Option<Duration>,
    /// XKS proxy API requests must come over a connection whose client
    /// presented a certificate (`tls` verifies it: `xks::mtls`).
    pub xks_client_cert_required: bool,
    /// Requests per second each external key store may make (`None`:
    /// unlimited); past it, ThrottlingException.
    pub xks_requests_per_second: Option<std::num::NonZeroU32>,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`), if any.
    pub admin: Option<crate::admin_http::AdminConfig>,
    /// `dev --account-from-access-key`: unknown 12-digit access key ids act
    /// as that account's root, signing with this access key's secret.
    pub account_from_access_key: Option<String>,
}

/// Defaults of the limits a frontend puts on clients.
pub mod defaults {
    use std::time::Duration;

    /// Time to send request headers (and finish a TLS handshake).
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Time to send a request body.
    pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// Connections served at once.
    pub const MAX_CONNECTIONS: usize = 512;
    /// Connections served at once from one source.
    pub const MAX_CONNECTIONS_PER_SOURCE: usize = 128;
    /// Longest a connection may send nothing once it has sent its first
    /// bytes (between keep-alive requests, or an HTTP/2 connection with
    /// nothing to say); before its first bytes the header timeout applies.
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Interval between summaries of unauthenticated requests.
    pub const UNAUTHENTICATED_SUMMARY_INTERVAL: Duration = Duration::from_secs(60);
}

/// Largest request head (request line and headers) accepted over HTTP/1.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most request headers accepted.
const MAX_HEADERS: usize = 64;
/// Most concurrent HTTP/2 streams per connection.
const MAX_H2_STREAMS: u32 = 64;

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("region", &self.region)
            .field("regions", &self.regions)
            .field("tls", &self.tls.is_some())
            .field("deletion_sweep_interval", &self.deletion_sweep_interval)
            .field("rotation_day", &self.rotation_day)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_source",
                &self.max_connections_per_source,
            )
            .field("unknown_key_budget", &self.unknown_key_budget)
            .field(
                "unauthenticated_summary_interval",
                &self.unauthenticated_summary_interval,
            )
            .field("audit", &self.audit)
            .field("metadata_cache_ttl", &self.metadata_cache_ttl)
            .field("xks_client_cert_required", &self.xks_client_cert_required)
            .field("xks_requests_per_second", &self.xks_requests_per_second)
            .field("admin", &self.admin)
            .field("account_from_access_key", &self.account_from_access_key)
            .finish()
    }
}

/// A frontend that is serving.
pub struct RunningServer {
    local_addr: SocketAddr,
    tls: bool,
    processor: Arc<Processor>,
    app: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The last summary of unauthenticated requests is written on shutdown.
    summariser: tokio::task::JoinHandle<()>,
    /// Closed (synced, usage flushed) last on shutdown.
    trail: Option<crate::audit::AuditTrail>,
    /// Its settings, kept after it is closed.
    audit_config: crate::audit::AuditConfig,
    /// The admin listener's address, if it serves.
    admin_addr: Option<SocketAddr>,
    /// The counters `/metrics` reports.
    telemetry: Arc<crate::telemetry::Telemetry>,
    /// The web console, if the admin listener serves it.
    console: Option<Arc<crate::console::ConsoleState>>,
}

impl RunningServer {
    /// A one-time console sign-in link for `access_key_id` (the admin
    /// listener's URL with `/console/?login=TOKEN`), if the console is
    /// served.
    pub fn console_login_link(
        &self,
        access_key_id: &str,
    ) -> Option<Result<String, crate::error::KmsError>> {
        let console = self.console.as_ref()?;
        let base = self.admin_endpoint()?;
        Some(
            console
                .login_path(access_key_id)
                .map(|p| format!("{base}{p}")),
        )
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://…` or `https://…` for this server.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The admin listener's `http://…` or `https://…` URL, if it serves.
    pub fn admin_endpoint(&self) -> Option<String> {
        let scheme = if self.tls { "https" } else { "http" };
        self.admin_addr.map(|a| format!("{scheme}://{a}"))
    }

    /// The counters `/metrics` reports.
    pub fn telemetry(&self) -> &Arc<crate::telemetry::Telemetry> {
        &self.telemetry
    }

    /// The request processor (for the sweeper in tests and admin tasks).
    pub fn processor(&self) -> &Arc<Processor> {
        &self.processor
    }

    /// Store lookups of access keys made so far (what requests with
    /// unknown access key ids have cost).
    pub fn access_key_lookups(&self) -> u64 {
        self.app.auth.access_key_lookups()
    }

    /// Signing keys the authenticator holds derived (only ever for
    /// signatures that verified).
    pub fn cached_signing_keys(&self) -> usize {
        self.app.auth.cached_signing_keys()
    }

    /// Signing keys the module has derived for this frontend (what
    /// requests in scopes not yet cached have cost).
    pub fn signing_key_derivations(&self) -> u64 {
        self.app.auth.signing_key_derivations()
    }

    /// Principals the XKS router has read from the store to find key
    /// stores created since its table was read.
    pub fn xks_principal_reads(&self) -> u64 {
        self.app.xks.key_stores.principal_reads()
    }

    /// Waits until the server stops (it stops only on [`Self::shutdown`]).
    pub async fn wait(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stops accepting, closes every connection, writes the last summary of
    /// unauthenticated requests, stops background tasks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.summariser).await;
        self.summariser.abort();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        if let Some(t) = self.trail.take() {
            t.close().await;
        }
    }

    /// Stops the audit log now (synced, usage flushed) while still
    /// serving: every request then fails with `KMSInternalException`, as
    /// when its record cannot be written, and changes nothing.
    pub async fn close_audit_log(&mut self) {
        if let Some(t) = self.trail.take() {
            t.close().await;
        }
    }

    /// Writes the usage counted from committed audit records to the store
    /// now (it is otherwise flushed every second and on shutdown).
    pub async fn flush_usage(&self) {
        if let Some(t) = &self.trail {
            t.meter().flush().await;
        }
    }

    /// The audit log's settings (directory, chain, durability).
    pub fn audit_config(&self) -> &crate::audit::AuditConfig {
        &self.audit_config
    }
}

/// Binds and starts serving.
pub async fn start(
    config: ServerConfig,
    store: Arc<dyn Store>,
    hsm: HsmClient,
) -> std::io::Result<RunningServer> {
    let telemetry = Arc::new(crate::telemetry::Telemetry::new(hsm.module_names()));
    let hsm = hsm.with_call_observer(telemetry.clone());
    let admin_hsm = hsm.clone();
    let listener = TcpListener::bind(config.listen).await?;
    let local_addr = listener.local_addr()?;
    let trail = crate::audit::AuditTrail::open_observed(
        config.audit.clone(),
        store.clone(),
        Some(telemetry.clone()),
    )
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let audit = trail.log();
    let processor = Arc::new(
        Processor::new(store.clone(), hsm.clone())
            .with_clock(Arc::new(crate::clock::SystemClock::with_day(
                config.rotation_day,
            )))
            .with_cache_ttl(config.metadata_cache_ttl)
            .with_regions(config.regions.clone())
            .with_audit(audit.clone()),
    );
    let unauthenticated = Arc::new(crate::unauthenticated::UnauthenticatedLog::default());
    let xks = crate::xks::XksState::new(store.clone(), hsm.clone())
        .with_client_cert_required(config.xks_client_cert_required)
        .with_requests_per_second(config.xks_requests_per_second);
    let state = Arc::new(AppState {
        xks,
        processor: processor.clone(),
        proofs: crate::proof::Proofs::new(store.clone(), hsm.clone(), config.region.to_string()),
        auth: authenticator(&config, store.clone(), hsm.clone()),
        audit: audit.clone(),
        unauthenticated: unauthenticated.clone(),
        body_read_timeout: config.body_read_timeout,
        telemetry: telemetry.clone(),
    });
    let (shutdown, rx) = watch::channel(false);
    let summariser = tokio::spawn(crate::unauthenticated::summarise(
        unauthenticated,
        audit.clone(),
        config.unauthenticated_summary_interval,
        rx.clone(),
    ));
    let mut tasks = JoinSet::new();
    let conn = Connections {
        app: router(state.clone()),
        http: connection_builder(config.header_read_timeout),
        tls: config.tls.clone(),
        handshake_timeout: config.header_read_timeout,
        permits: Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1))),
        per_source: per_source::PerSource::new(config.max_connections_per_source),
    };
    tasks.spawn(accept_loop(listener, conn, rx.clone()));
    let (admin_addr, console) = match config.admin.clone() {
        Some(admin) => {
            let (addr, serving, console) = crate::admin_http::start(
                admin,
                (&state, &processor, &telemetry),
                (store.clone(), admin_hsm),
                config.audit.dir.clone(),
                rx.clone(),
            )
            .await?;
            tasks.spawn(serving);
            (Some(addr), console)
        }
        None => (None, None),
    };
    tasks.spawn(deletion_sweeper(
        processor.clone(),
        store.clone(),
        config.deletion_sweep_interval,
        rx.clone(),
    ));
    tasks.spawn(crate::audit::background(
        trail.meter(),
        config.audit.clone(),
        rx.clone(),
    ));
    tasks.spawn(module_log_collector(hsm.clone(), store, audit.clone(), rx));
    tracing::info!(%local_addr, tls = config.tls.is_some(), region = %config.region, regions = %config.regions, "serving the AWS KMS API");
    Ok(RunningServer {
        local_addr,
        tls: config.tls.is_some(),
        processor,
        app: state,
        shutdown,
        tasks,
        summariser,
        trail: Some(trail),
        audit_config: config.audit.clone(),
        admin_addr,
        telemetry,
        console,
    })
}

/// HTTP/1 and HTTP/2 with the head limits and the header read timeout
/// (slow or oversized heads end the connection).
fn connection_builder(header_read_timeout: Duration) -> Builder<TokioExecutor> {
    let mut http = Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .max_concurrent_streams(MAX_H2_STREAMS);
    http
}

/// The SigV4 authenticator of `config`'s regions, budgets and credential
/// rules.
fn authenticator(config: &ServerConfig, store: Arc<dyn Store>, hsm: HsmClient) -> Authenticator {
    Authenticator::new(
        store,
        hsm,
        (config.region.clone(), config.regions.clone()),
        config.unknown_key_budget,
    )
    .with_account_from_access_key(config.account_from_access_key.clone())
    .with_credential_rules(config.credential_rules)
}

/// What serving one connection needs.
struct Connections {
    app: axum::Router,
    http: Builder<TokioExecutor>,
    tls: Option<Arc<rustls::ServerConfig>>,
    handshake_timeout: Duration,
    /// One per connection being served.
    permits: Arc<tokio::sync::Semaphore>,
    /// Connections being served, per source.
    per_source: Arc<per_source::PerSource>,
}

async fn accept_loop(
    listener: TcpListener,
    conn: Connections,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = conn.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    // Dropping the set aborts every connection when the loop ends.
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        // Over the cap: closed at once, before any byte is read, so the
        // connections already served keep their share.
        // One source over its own cap is closed the same way, so it
        // cannot take the slots of everyone else.
        let Some(source_slot) = conn.per_source.try_take(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many connections from this source");
            drop(stream);
            continue;
        };
        let Ok(permit) = conn.permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection refused: too many connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // A silent peer must not hold its slot: hyper's header timeout
        // starts only after the protocol is sniffed.
        let stream = crate::read_deadline::ReadDeadline::new(
            stream,
            conn.handshake_timeout,
            defaults::IDLE_TIMEOUT.max(conn.handshake_timeout),
        );
        let app = conn.app.clone();
        // What the connection knows is fixed once the TLS handshake is done.
        let service = move |info: crate::http::ConnInfo| {
            TowerToHyperService::new(tower::ServiceExt::map_request(
                app,
                move |mut r: axum::http::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(info);
                    r
                },
            ))
        };
        let (acceptor, http, handshake_timeout) =
            (acceptor.clone(), conn.http.clone(), conn.handshake_timeout);
        connections.spawn(async move {
            let _slots = (permit, source_slot);
            let result = match acceptor {
                None => {
                    let info = crate::http::ConnInfo {
                        peer,
                        tls: false,
                        client_cert: false,
                    };
                    http.serve_connection(TokioIo::new(stream), service(info))
                        .await
                }
                Some(a) => match tokio::time::timeout(handshake_timeout, a.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let info = crate::http::ConnInfo {
                            peer,
                            tls: true,
                            client_cert: tls.get_ref().1.peer_certificates().is_some(),
                        };
                        http.serve_connection(TokioIo::new(tls), service(info))
                            .await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// How often module logs are copied into the audit trail.
pub const MODULE_LOG_INTERVAL: Duration = Duration::from_secs(3);

async fn module_log_collector(
    hsm: HsmClient,
    store: Arc<dyn Store>,
    audit: crate::audit::AuditLog,
    mut shutdown: watch::Receiver<bool>,
) {
    let holder = uuid::Uuid::new_v4().to_string();
    let lease = MODULE_LOG_INTERVAL.as_secs() as i64 * 3;
    let mut tick = tokio::time::interval(MODULE_LOG_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        // One frontend of a fleet copies module logs at a time.
        let now = now_epoch();
        if !matches!(
            store
                .try_lease("module-log-copy", &holder, now, now + lease)
                .await,
            Ok(true)
        ) {
            continue;
        }
        if let Err(e) = crate::module_logs::collect(&hsm, &store, &audit).await {
            tracing::warn!(error = %e, "copying module logs into the audit trail failed; will retry");
        }
    }
}

async fn deletion_sweeper(
    processor: Arc<Processor>,
    store: Arc<dyn Store>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    // One frontend of a fleet runs the sweeps at a time: it holds a lease
    // it renews each round; if it dies, another takes over once it lapses.
    let holder = uuid::Uuid::new_v4().to_string();
    let lease = (every.as_secs() as i64 * 3).max(3);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = now_epoch();
        match store
            .try_lease("background-sweeps", &holder, now, now + lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the sweep lease; will retry");
                continue;
            }
        }
        if let Err(e) = processor.sweep_deletions(processor.now()).await {
            tracing::error!(error = %e, "deletion sweep failed; will retry");
        }
        if let Err(e) = processor.sweep_rotations(processor.now()).await {
            tracing::error!(error = %e, "rotation sweep failed; will retry");
        }
        if let Err(e) = processor.sweep_expired_imports(processor.now()).await {
            tracing::error!(error = %e, "imported-material expiry sweep failed; will retry");
        }
        if let Err(e) = store.purge_expired_proofs(now_epoch()).await {
            tracing::error!(error = %e, "purging expired proof records failed; will retry");
        }
    }
}
