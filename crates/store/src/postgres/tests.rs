//! The conformance suite on PostgreSQL: each test gets a fresh database in
//! the cluster `STRONGROOM_TEST_POSTGRES_URL` names (`scripts/test.sh`
//! starts one; see scripts/postgres.sh).

use std::sync::Arc;

use tokio_postgres::NoTls;
use uuid::Uuid;

use super::*;

fn cluster_url() -> String {
    std::env::var("STRONGROOM_TEST_POSTGRES_URL").expect(
        "STRONGROOM_TEST_POSTGRES_URL is not set: run ./scripts/test.sh, or \
         eval \"$(scripts/postgres.sh start)\" first",
    )
}

/// A new, empty database in the test cluster.
pub(crate) async fn fresh_database() -> tokio_postgres::Config {
    let url = cluster_url();
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let name = format!("sr_{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.dbname(&name);
    config
}

async fn store_with_account() -> Arc<dyn Store> {
    let s = PostgresStore::with_config(fresh_database().await, 8)
        .await
        .unwrap();
    s.create_account(&AccountRecord {
        id: crate::conformance::ACCOUNT.into(),
        created_at: 0,
    })
    .await
    .unwrap();
    Arc::new(s)
}

crate::conformance_tests!(store_with_account);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_under_a_lock_and_refuse_the_future() {
    let config = fresh_database().await;
    // Two frontends starting at once: both succeed, the schema is applied once.
    let (a, b) = tokio::join!(
        PostgresStore::with_config(config.clone(), 2),
        PostgresStore::with_config(config.clone(), 2)
    );
    let (a, _b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.schema_version().await.unwrap(), schema::latest());
    let c = a.client().await.unwrap();
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, schema::latest());
    c.execute("INSERT INTO schema_migrations VALUES (999, 0)", &[])
        .await
        .unwrap();
    assert!(matches!(
        PostgresStore::with_config(config, 2).await,
        Err(StoreError::SchemaTooNew { found: 999, .. })
    ));
}
