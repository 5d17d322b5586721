//! The conformance suite on PostgreSQL: each test gets a fresh database in
//! the test cluster (`crate::test_cluster`: without one, the tests say so
//! once and return).

use std::sync::Arc;

use super::*;
use crate::AccountRecord;
use crate::prelude::*;

/// A new, empty database in the test cluster, if there is one.
async fn fresh_database() -> Option<tokio_postgres::Config> {
    let url = crate::test_cluster::fresh_database_url().await?;
    Some(url.parse().unwrap())
}

async fn store_with_account() -> Option<Arc<PostgresStore>> {
    let s = PostgresStore::with_config(fresh_database().await?, 8)
        .await
        .unwrap();
    s.create_account(&AccountRecord {
        id: crate::conformance::ACCOUNT.into(),
        created_at: 0,
    })
    .await
    .unwrap();
    Some(Arc::new(s))
}

crate::conformance_tests!(store_with_account);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_under_a_lock_and_refuse_the_future() {
    let Some(config) = fresh_database().await else {
        return;
    };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_regions_puts_its_keys_and_aliases_in_the_configured_region() {
    let Some(config) = fresh_database().await else {
        return;
    };
    // The schema before regions (step 6), holding a key and an alias.
    let s = PostgresStore::unmigrated(config.clone(), 1).unwrap();
    let mut c = s.client().await.unwrap();
    schema::migrate_through(&mut c, 6, "unused").await.unwrap();
    for row in crate::conformance::PRE_REGION_ROWS {
        c.execute(*row, &[]).await.unwrap();
    }
    drop(c);
    let s = PostgresStore::with_config_in_region(config.clone(), 2, "eu-west-1")
        .await
        .unwrap();
    assert_eq!(s.schema_version().await.unwrap(), schema::latest());
    crate::conformance::pre_region_rows_are_in(&s, "eu-west-1").await;
    // Reopening with another region moves nothing: the step ran once.
    let s = PostgresStore::with_config_in_region(config, 2, "ap-southeast-2")
        .await
        .unwrap();
    let id = crate::conformance::PRE_REGION_KEY.parse().unwrap();
    assert_eq!(s.get_key(id).await.unwrap().unwrap().region, "eu-west-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_half_way_leaves_nothing_and_no_open_transaction() {
    let Some(config) = fresh_database().await else {
        return;
    };
    let s = PostgresStore::with_config(config, 1).await.unwrap();
    s.create_account(&AccountRecord {
        id: crate::conformance::ACCOUNT.into(),
        created_at: 0,
    })
    .await
    .unwrap();
    let (k, v) = crate::conformance::key(crate::conformance::ACCOUNT);
    // A job that inserts the key in a transaction, then never finishes:
    // dropped (as a cancelled request's would be) before it commits.
    let insert = crate::backend::transaction(&s, {
        let k = k.clone();
        move |c| {
            Box::pin(async move {
                use crate::sql::codec::Codec;
                c.execute(&crate::sql::statements::keys::INSERT, &k.values()?)
                    .await?;
                std::future::pending::<()>().await;
                Ok(())
            })
        }
    });
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(300), insert).await;
    assert!(timed_out.is_err());
    // The pool's one connection serves the next job, outside any
    // transaction, and the insert never happened.
    assert!(s.get_key(k.id).await.unwrap().is_none());
    s.create_key(&k, Some(&v)).await.unwrap();
    assert!(s.get_key(k.id).await.unwrap().is_some());
}
