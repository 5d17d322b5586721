//! What `strongroom dev` listens with: its TLS (with `--tls`) and the
//! frontend's configuration from the dev options.

use strongroom_hsm_proto::HsmClient;
use strongroom_server::region::Region;
use strongroom_server::{ServerConfig, tls};

use super::{DevOptions, RootCredentials};

/// The TLS of `dev --tls`: the API's (asking XKS callers for client
/// certificates when `--xks-client-auth` is given), the admin listener's,
/// and the CA bundle clients trust; all `None` without `--tls`.
pub(super) struct DevTls {
    pub(super) api: Option<tls::ServerTls>,
    pub(super) admin: Option<tls::ServerTls>,
    pub(super) ca_bundle: Option<std::path::PathBuf>,
}

pub(super) fn dev_tls(opts: &DevOptions) -> anyhow::Result<DevTls> {
    let clients = match &opts.xks_client_auth {
        Some(_) if !opts.tls => anyhow::bail!("XKS client certificates need TLS"),
        Some((ca, subject)) => Some(strongroom_server::xks::mtls::client_verifier(ca, subject)?),
        None => None,
    };
    if !opts.tls {
        return Ok(DevTls {
            api: None,
            admin: None,
            ca_bundle: None,
        });
    }
    let files = tls::dev_certificates(&opts.data_dir.join("tls"))?;
    Ok(DevTls {
        api: Some(tls::server_config_with_clients(
            &files.server_cert,
            &files.server_key,
            clients,
        )?),
        admin: Some(tls::server_config_with_clients(
            &files.server_cert,
            &files.server_key,
            None,
        )?),
        ca_bundle: Some(files.ca_cert),
    })
}

/// The frontend's configuration for `opts`: buffered audit, dev's test
/// credential rules, the admin listener open to dev's own account.
pub(super) async fn server_config(
    opts: &DevOptions,
    default_region: &Region,
    tls_config: Option<tls::ServerTls>,
    admin_tls: Option<tls::ServerTls>,
    creds: &RootCredentials,
    hsm: &HsmClient,
) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig {
        listen: opts.listen,
        region: default_region.clone(),
        regions: opts.region_set(),
        tls: tls_config,
        deletion_sweep_interval: opts.deletion_sweep_interval,
        header_read_timeout: opts.header_read_timeout,
        body_read_timeout: opts.body_read_timeout,
        max_connections: opts.max_connections,
        max_connections_per_source: opts.max_connections_per_source,
        unknown_key_budget: opts.unknown_key_budget,
        unauthenticated_summary_interval: opts.unauthenticated_summary_interval,
        rotation_day: opts.rotation_day,
        audit: crate::audit_setup::config(
            &opts.data_dir,
            &opts.audit,
            strongroom_audit::Durability::Buffered,
            false,
            hsm,
        )
        .await?,
        metadata_cache_ttl: opts.metadata_cache_ttl,
        xks_client_cert_required: opts.xks_client_auth.is_some(),
        xks_requests_per_second: opts.xks_requests_per_second,
        // Test suites' fixed fake credentials (`test`/`test`) work here.
        credential_rules: strongroom_server::admin::CredentialRules::Testing,
        admin: opts
            .admin_listen
            .map(|listen| strongroom_server::admin_http::AdminConfig {
                listen,
                tls: admin_tls,
                console: Some(opts.console),
                fleet_accounts: vec![creds.account_id.clone()],
            }),
        account_from_access_key: opts
            .account_from_access_key
            .then(|| creds.access_key_id.clone()),
    })
}
