//! What `strongroom dev`, `serve` and `bench` do with their arguments.

use std::time::Duration;

use strongroom_cli::{bench, dev};
use strongroom_server::region::{Region, RegionSet};
use zeroize::Zeroizing;

use crate::{BenchArgs, DevArgs, ServeArgs, wait_for_stop_signal};

/// `strongroom dev`: starts the embedded default, prints how to reach it,
/// and runs until stopped.
pub(crate) async fn dev(a: DevArgs) -> anyhow::Result<()> {
    strongroom_cli::logging::init(a.log_format);
    let data_dir = a.data_dir.clone();
    let env = dev::start(dev_options(a)).await?;
    // A log event, not a bare line: JSON logs stay one object per line.
    tracing::warn!(
        "strongroom dev keeps its unseal secret in {}/hsm/DEV-ONLY-unseal.key.\n\
         Anyone who can read that directory can use every key. Do not use it for real secrets.",
        data_dir.display()
    );
    print_dev_banner(&env);
    wait_for_stop_signal().await?;
    tracing::info!("shutting down");
    env.shutdown().await;
    Ok(())
}

/// The embedded default's options from `dev`'s arguments.
fn dev_options(a: DevArgs) -> dev::DevOptions {
    let mut opts = dev::DevOptions::new(a.data_dir);
    opts.admin_listen = Some(a.admin_listen);
    opts.seed = a.seed;
    opts.account_from_access_key = a.account_from_access_key;
    opts.module_workers = a.workers.map(|n| n as usize);
    let limits = a.limits;
    opts.header_read_timeout = limits.header_timeout();
    opts.body_read_timeout = limits.body_timeout();
    opts.max_connections = limits.max_connections;
    opts.max_connections_per_source = limits.max_connections_per_source;
    opts.unknown_key_budget = limits.unknown_key_budget();
    opts.unauthenticated_summary_interval = limits.summary_interval();
    opts.xks_requests_per_second = limits.xks_requests_per_second;
    opts.listen = a.listen;
    opts.regions = a.regions;
    opts.account_id = a.account_id;
    opts.access_key_id = a.access_key_id;
    opts.secret_access_key = a.secret_access_key.map(Zeroizing::new);
    opts.tls = a.tls;
    opts.deletion_sweep_interval = Duration::from_secs(a.deletion_sweep_secs.max(1));
    opts.store_url = a.modules.store.clone();
    opts.modules = a.modules.external();
    opts.audit = a.audit;
    opts
}

/// The endpoint, account, admin and console addresses, and the lines an
/// AWS SDK needs.
fn print_dev_banner(env: &dev::DevEnvironment) {
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
}

/// `strongroom serve`: the production frontend on external modules, until
/// stopped.
pub(crate) async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    strongroom_cli::logging::init(a.log_format);
    let store_url = a.modules.store.clone();
    let modules = a.modules.external();
    if modules.addrs.is_empty() {
        anyhow::bail!(
            "strongroom serve needs --hsm (and --domain-token); use `strongroom dev` for the embedded module"
        );
    }
    let regions = if a.regions.is_empty() {
        vec![Region::aws_default()]
    } else {
        a.regions.clone()
    };
    let at = dev::StoreAt {
        url: store_url.as_deref(),
        legacy_region: regions[0].as_str(),
    };
    let (hsm, store) = dev::open_data_dir(&a.data_dir, &modules, at).await?;
    let audit = strongroom_cli::audit_setup::config(
        &a.data_dir,
        &a.audit,
        strongroom_audit::Durability::Sync,
        a.audit_context_values,
        &hsm,
    )
    .await?;
    let config = server_config(&a, regions, store_url.is_some(), audit)?;
    let server = strongroom_server::start(config, store, hsm).await?;
    // One line: supervisors and tests may read only the first.
    println!(
        "Strongroom is serving the AWS KMS API at {}; {}",
        server.endpoint(),
        strongroom_cli::audit_setup::startup_line(server.audit_config())
    );
    wait_for_stop_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// The frontend's configuration from `serve`'s arguments.
fn server_config(
    a: &ServeArgs,
    regions: Vec<Region>,
    shared_store: bool,
    audit: strongroom_server::audit::AuditConfig,
) -> anyhow::Result<strongroom_server::ServerConfig> {
    let clients = match (&a.xks_client_ca, &a.xks_client_subject) {
        (Some(ca), Some(subject)) => {
            Some(strongroom_server::xks::mtls::client_verifier(ca, subject)?)
        }
        _ => None,
    };
    // The API's TLS (with XKS client certificates when asked for) and the
    // admin listener's.
    let (tls, admin_tls) = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => (
            Some(strongroom_server::tls::server_config_with_clients(
                c, k, clients,
            )?),
            Some(strongroom_server::tls::server_config_with_clients(
                c, k, None,
            )?),
        ),
        _ => (None, None),
    };
    let limits = a.limits;
    Ok(strongroom_server::ServerConfig {
        listen: a.listen,
        region: regions[0].clone(),
        regions: RegionSet::listed(regions).expect("at least the default region"),
        tls,
        deletion_sweep_interval: Duration::from_secs(a.deletion_sweep_secs.max(1)),
        header_read_timeout: limits.header_timeout(),
        body_read_timeout: limits.body_timeout(),
        max_connections: limits.max_connections,
        max_connections_per_source: limits.max_connections_per_source,
        unknown_key_budget: limits.unknown_key_budget(),
        unauthenticated_summary_interval: limits.summary_interval(),
        rotation_day: Duration::from_secs(86_400),
        audit,
        metadata_cache_ttl: shared_store.then(|| Duration::from_millis(a.cache_ttl_ms)),
        xks_client_cert_required: a.xks_client_ca.is_some(),
        xks_requests_per_second: limits.xks_requests_per_second,
        credential_rules: strongroom_server::admin::CredentialRules::Aws,
        admin: a
            .admin_listen
            .map(|listen| strongroom_server::admin_http::AdminConfig {
                listen,
                tls: admin_tls,
                console: Some(Default::default()),
                fleet_accounts: a.console_fleet_accounts.clone(),
            }),
        account_from_access_key: None,
    })
}

/// `strongroom bench`: drives the endpoint and prints the report.
pub(crate) async fn bench(a: BenchArgs) -> anyhow::Result<()> {
    let xks = match (
        a.xks_uri_prefix,
        a.xks_access_key_id,
        a.xks_secret_access_key,
    ) {
        (Some(uri_prefix), Some(access_key_id), Some(secret)) => Some(bench::XksTarget {
            uri_prefix,
            access_key_id,
            secret_access_key: Zeroizing::new(secret),
            aad_bytes: a.aad_bytes,
        }),
        _ => None,
    };
    let endpoint = a.endpoint;
    let report = bench::run(bench::BenchOptions {
        endpoint: endpoint.endpoint,
        region: endpoint.region,
        access_key_id: endpoint.access_key_id,
        secret_access_key: Zeroizing::new(endpoint.secret_access_key),
        op: a.op,
        concurrency: a.concurrency,
        duration: Duration::from_secs_f64(a.duration.max(0.1)),
        payload_bytes: a.payload_bytes,
        key_id: a.key_id,
        ca_bundle: endpoint.ca_bundle,
        key_spec: a.key_spec,
        signing_algorithm: a.signing_algorithm,
        xks,
    })
    .await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
