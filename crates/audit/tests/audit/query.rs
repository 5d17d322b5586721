//! Reading several chains merged by time.

use strongroom_audit::{Durability, Filter, QueriedRecord, query};

use crate::common::*;

/// Chain a has even times, chain b odd ones; b's records are denied
/// Decrypts.
fn two_chains() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _) = open(dir.path(), "fe-a", Durability::Sync, 600);
    let (b, _) = open(dir.path(), "fe-b", Durability::Sync, 600);
    rt().block_on(async {
        append_all(&a, (0..10).map(|i| encrypt(i, 2 * i as i64)).collect()).await;
        append_all(
            &b,
            (0..10)
                .map(|i| denied_decrypt(100 + i, 2 * i as i64 + 1))
                .collect(),
        )
        .await;
        a.shutdown().await.expect("shutdown");
        b.shutdown().await.expect("shutdown");
    });
    dir
}

fn run(dir: &std::path::Path, filter: Filter) -> Vec<QueriedRecord> {
    query(dir, filter)
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("records")
}

#[test]
fn chains_are_merged_by_time() {
    let dir = two_chains();
    let all = run(dir.path(), Filter::default());
    let times: Vec<i64> = all.iter().map(|r| r.record.time_ms).collect();
    assert_eq!(times, (0..20).collect::<Vec<i64>>());
    assert_eq!(all[0].chain.as_str(), "fe-a");
    assert_eq!(all[1].chain.as_str(), "fe-b");
    // Each record carries its link.
    let a: Vec<&QueriedRecord> = all.iter().filter(|r| r.chain.as_str() == "fe-a").collect();
    assert!(
        a.windows(2)
            .all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1)
    );
}

#[test]
fn filters_select_by_time_operation_key_principal_outcome_and_chain() {
    let dir = two_chains();
    let count = |f: Filter| run(dir.path(), f).len();
    assert_eq!(
        count(Filter {
            since_ms: Some(4),
            until_ms: Some(10),
            ..Default::default()
        }),
        6
    );
    assert_eq!(
        count(Filter {
            operation: Some("Decrypt".into()),
            ..Default::default()
        }),
        10
    );
    assert_eq!(
        count(Filter {
            key: Some("6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b".into()),
            ..Default::default()
        }),
        10
    );
    assert_eq!(
        count(Filter {
            key: Some(
                "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555"
                    .into()
            ),
            ..Default::default()
        }),
        10
    );
    assert_eq!(
        count(Filter {
            principal: Some("arn:aws:iam::111122223333:user/mallory".into()),
            failed: Some(true),
            ..Default::default()
        }),
        10
    );
    assert_eq!(
        count(Filter {
            failed: Some(false),
            since_ms: Some(15),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        count(Filter {
            chain: Some(chain("fe-b")),
            ..Default::default()
        }),
        10
    );
    assert_eq!(
        count(Filter {
            operation: Some("Sign".into()),
            ..Default::default()
        }),
        0
    );
}
