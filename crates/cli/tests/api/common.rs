use std::path::Path;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use strongroom_cli::dev::{self, DevEnvironment, DevOptions};
use tempfile::TempDir;

/// A dev server in its own data directory, with a client for its root.
pub struct TestEnv {
    pub dev: DevEnvironment,
    pub client: Client,
    pub dir: TempDir,
}

impl TestEnv {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dev = start_in(dir.path(), |_| {}).await;
        let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
        Self { dev, client, dir }
    }

    pub async fn stop(self) -> TempDir {
        self.dev.shutdown().await;
        self.dir
    }
}

pub async fn start_in(dir: &Path, tweak: impl FnOnce(&mut DevOptions)) -> DevEnvironment {
    let mut opts = DevOptions::new(dir.to_path_buf());
    tweak(&mut opts);
    dev::start(opts).await.unwrap()
}

pub fn config_for(
    dev: &DevEnvironment,
    access_key_id: &str,
    secret: &str,
) -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(dev.region.clone()))
        .endpoint_url(dev.endpoint())
        .credentials_provider(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "strongroom-test",
        ))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
}

pub fn client_for(dev: &DevEnvironment, access_key_id: &str, secret: &str) -> Client {
    Client::from_conf(config_for(dev, access_key_id, secret).build())
}

/// The AWS error code of a failed call.
pub fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> String {
    e.code().unwrap_or("<no code>").to_owned()
}

/// Creates a symmetric key and returns its ARN.
pub async fn new_key(client: &Client) -> String {
    client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

pub fn blob(b: &[u8]) -> aws_sdk_kms::primitives::Blob {
    aws_sdk_kms::primitives::Blob::new(b.to_vec())
}

/// A client for a new account `account_id` on the same server.
pub async fn other_account_client(env: &TestEnv, account_id: &str) -> Client {
    let store = env.dev.store.as_ref();
    let other = strongroom_server::admin::create_account(store, Some(account_id.into()))
        .await
        .unwrap();
    let k = strongroom_server::admin::create_access_key(store, &env.dev.hsm, &other.id, None)
        .await
        .unwrap();
    client_for(&env.dev, &k.access_key_id, &k.secret_access_key)
}

/// A new, empty PostgreSQL database in the test cluster
/// (`STRONGROOM_TEST_POSTGRES_URL`, else one the tests start themselves);
/// `None`, said once, when PostgreSQL is not installed here.
pub async fn fresh_postgres_url() -> Option<String> {
    strongroom_store::test_cluster::fresh_database_url().await
}

/// The configuration of a second frontend on `dev`'s store and modules:
/// dev's regions and credential rules, and an audit chain in a directory of
/// its own.
pub async fn second_frontend_config(dev: &DevEnvironment) -> strongroom_server::ServerConfig {
    strongroom_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        region: dev.region.parse().unwrap(),
        regions: dev.regions.clone(),
        tls: None,
        deletion_sweep_interval: std::time::Duration::from_secs(3600),
        rotation_day: std::time::Duration::from_secs(86_400),
        header_read_timeout: strongroom_server::defaults::HEADER_READ_TIMEOUT,
        body_read_timeout: strongroom_server::defaults::BODY_READ_TIMEOUT,
        max_connections: strongroom_server::defaults::MAX_CONNECTIONS,
        max_connections_per_source: strongroom_server::defaults::MAX_CONNECTIONS_PER_SOURCE,
        unknown_key_budget: Default::default(),
        unauthenticated_summary_interval:
            strongroom_server::defaults::UNAUTHENTICATED_SUMMARY_INTERVAL,
        // Its own chain, in a directory of its own.
        audit: strongroom_cli::audit_setup::config(
            &tempfile::tempdir().unwrap().keep(),
            &Default::default(),
            strongroom_audit::Durability::Buffered,
            false,
            &dev.hsm,
        )
        .await
        .unwrap(),
        metadata_cache_ttl: Some(std::time::Duration::from_millis(100)),
        xks_client_cert_required: false,
        xks_requests_per_second: None,
        credential_rules: strongroom_server::admin::CredentialRules::Testing,
        admin: None,
        account_from_access_key: None,
    }
}
