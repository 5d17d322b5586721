//! Conformance: Usage counters and the legacy audit rows.

use std::sync::Arc;

use super::ACCOUNT;
use crate::*;

fn audit_row(seq: i64, prev: &str) -> AuditRow {
    AuditRow {
        seq,
        time_ms: seq * 1000,
        principal: "p".into(),
        account_id: ACCOUNT.into(),
        operation: if seq % 2 == 0 { "Encrypt" } else { "Decrypt" }.into(),
        key_arn: Some("arn:k".into()),
        error_code: (seq == 3).then(|| "AccessDeniedException".into()),
        record: format!("{{\"sequence\":{seq}}}"),
        prev_hash: prev.into(),
        hash: format!("{seq:064}"),
    }
}

pub(crate) async fn audit_chain_refuses_forks_and_counts_usage(s: Arc<dyn Store>) {
    let genesis = "0".repeat(64);
    let r1 = audit_row(1, &genesis);
    let r2 = audit_row(2, &r1.hash);
    let inc = |n| UsageIncrement {
        account_id: ACCOUNT.into(),
        operation: "Encrypt".into(),
        key_id: "k".into(),
        hour: 3600,
        count: n,
    };
    s.append_audit(&[r1.clone(), r2.clone()], &[inc(2)])
        .await
        .unwrap();
    // A batch built on a stale tail (a fork) is refused and changes nothing.
    let fork = audit_row(2, &r1.hash);
    assert!(matches!(
        s.append_audit(&[fork], &[inc(5)]).await,
        Err(StoreError::Conflict(_))
    ));
    let r3 = audit_row(3, &r2.hash);
    s.append_audit(std::slice::from_ref(&r3), &[inc(1)])
        .await
        .unwrap();
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    assert_eq!(
        s.query_audit(&q(|_| {})).await.unwrap(),
        vec![r1, r2.clone(), r3.clone()]
    );
    assert_eq!(
        s.query_audit(&q(|q| q.failed = Some(true))).await.unwrap(),
        vec![r3.clone()]
    );
    assert_eq!(
        s.query_audit(&q(|q| q.operation = Some("Encrypt".into())))
            .await
            .unwrap(),
        vec![r2.clone()]
    );
    assert_eq!(
        s.query_audit(&q(|q| {
            q.after_seq = Some(1);
            q.until_ms = Some(3000)
        }))
        .await
        .unwrap(),
        vec![r2]
    );
    let usage = s.usage(Some(ACCOUNT), 0).await.unwrap();
    assert_eq!(usage, vec![inc(3)]);
    // Moving records out of the store deletes them, and only them.
    assert_eq!(s.delete_audit_through(2).await.unwrap(), 2);
    assert_eq!(s.query_audit(&q(|_| {})).await.unwrap(), vec![r3.clone()]);
    assert_eq!(s.usage(Some(ACCOUNT), 0).await.unwrap(), vec![inc(3)]);
    assert!(s.usage(Some(ACCOUNT), 7200).await.unwrap().is_empty());
}

pub(crate) async fn a_usage_flush_from_a_stale_position_is_refused_and_adds_nothing(
    s: Arc<dyn Store>,
) {
    let inc = |n| UsageIncrement {
        account_id: ACCOUNT.into(),
        operation: "Sign".into(),
        key_id: "k".into(),
        hour: 7200,
        count: n,
    };
    // A position and the chain hash there.
    let at = |seq: u64| ChainPosition {
        seq,
        head: Some([seq as u8; 32]),
    };
    assert_eq!(s.usage_flushed("fe-a").await.unwrap(), 0);
    assert_eq!(
        s.usage_position("fe-a").await.unwrap(),
        ChainPosition::default()
    );
    s.flush_usage("fe-a", 0, at(10), &[inc(4)]).await.unwrap();
    assert_eq!(s.usage_flushed("fe-a").await.unwrap(), 10);
    // A replay of the same flush (a crash after commit, a second writer)
    // is refused and counts nothing twice.
    assert!(matches!(
        s.flush_usage("fe-a", 0, at(10), &[inc(4)]).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.flush_usage("fe-a", 10, at(9), &[inc(1)]).await,
        Err(StoreError::Conflict(_))
    ));
    // Chains are counted independently.
    s.flush_usage("fe-b", 0, at(3), &[inc(2)]).await.unwrap();
    s.flush_usage("fe-a", 10, at(12), &[inc(1)]).await.unwrap();
    assert_eq!(s.usage_flushed("fe-a").await.unwrap(), 12);
    assert_eq!(s.usage_flushed("fe-b").await.unwrap(), 3);
    assert_eq!(s.usage_position("fe-a").await.unwrap(), at(12));
    assert_eq!(s.usage_position("fe-b").await.unwrap(), at(3));
    // A flush without a head clears the one stored: a stale head is never
    // kept for a newer position.
    let unknown = ChainPosition {
        seq: 13,
        head: None,
    };
    s.flush_usage("fe-a", 12, unknown, &[]).await.unwrap();
    assert_eq!(s.usage_position("fe-a").await.unwrap(), unknown);
    assert_eq!(s.usage(Some(ACCOUNT), 7200).await.unwrap(), vec![inc(7)]);
}
