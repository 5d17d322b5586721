//! The store conformance suite: every test runs unchanged against SQLite
//! and PostgreSQL (`sqlite::tests`, `postgres::tests`), each on a fresh
//! store holding account 111122223333.

use std::sync::Arc;

use uuid::Uuid;

use crate::*;

mod proofs;
pub(crate) use proofs::*;

/// Names of every conformance test, for the backends' test modules.
#[macro_export]
#[doc(hidden)]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            key_round_trip_update_and_paging, delete_removes_versions_and_aliases,
            aliases_update_list_delete, accounts_and_access_keys,
            sealed_material_pages_in_order_and_swaps_only_if_unchanged,
            rotation_adds_versions_atomically_and_lists_history,
            keys_without_material_and_expiring_imports, every_mutable_field_survives_update,
            grants_round_trip_and_go_with_their_key, principals_round_trip,
            alias_race_has_exactly_one_winner, concurrent_writers_lose_nothing,
            paging_is_stable_while_keys_are_added, rotation_race_has_one_winner,
            retries_are_idempotent_or_refused, audit_chain_refuses_forks_and_counts_usage,
            a_usage_flush_from_a_stale_position_is_refused_and_adds_nothing,
            service_state_round_trip, leases_have_one_holder_until_they_lapse,
            concurrent_updates_never_lose_a_change,
            a_signed_request_mints_one_proof_and_uses_are_counted,
            concurrent_proof_uses_and_mints_have_exact_winners);
    };
    (@each $make:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::$name($make().await).await;
            }
        )*
    };
}

pub(crate) const ACCOUNT: &str = "111122223333";

pub(crate) fn key(account: &str) -> (KeyRecord, KeyVersionRecord) {
    let id = Uuid::new_v4();
    (
        KeyRecord {
            id,
            account_id: account.into(),
            description: "d".into(),
            state: KeyState::Enabled,
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            origin: "AWS_KMS".into(),
            created_at: 1,
            deletion_date: None,
            pending_window_days: None,
            current_version: 1,
            tags: vec![Tag {
                key: "team".into(),
                value: "a".into(),
            }],
            rotation_period_days: None,
            next_rotation_at: None,
            on_demand_rotations: 0,
            import_valid_to: None,
            import_fingerprint: None,
            suspension_fingerprint: None,
            exposed: false,
            volatile: false,
            policy: None,
            module_group: Some("region=eu".into()),
            revision: 0,
        },
        KeyVersionRecord {
            key_id: id,
            version: 1,
            ekt: vec![7; 90],
            created_at: 1,
        },
    )
}

pub(crate) async fn key_round_trip_update_and_paging(s: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (k, v) = key("111122223333");
        s.create_key(&k, Some(&v)).await.unwrap();
        ids.push(k.id);
    }
    ids.sort();
    let page1 = s.list_keys("111122223333", None, 2).await.unwrap();
    assert_eq!(page1.iter().map(|k| k.id).collect::<Vec<_>>(), ids[..2]);
    let page2 = s.list_keys("111122223333", Some(ids[1]), 10).await.unwrap();
    assert_eq!(page2.len(), 3);
    assert!(
        s.list_keys("999999999999", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut k = s.get_key(ids[0]).await.unwrap().unwrap();
    assert_eq!(k.tags[0].key, "team");
    k.state = KeyState::PendingDeletion;
    k.deletion_date = Some(100);
    s.update_key(&k).await.unwrap();
    k.revision += 1;
    assert_eq!(s.get_key(ids[0]).await.unwrap().unwrap(), k);
    assert_eq!(
        s.keys_due_for_deletion(99).await.unwrap(),
        Vec::<Uuid>::new()
    );
    assert_eq!(s.keys_due_for_deletion(100).await.unwrap(), vec![ids[0]]);
}

pub(crate) async fn delete_removes_versions_and_aliases(s: Arc<dyn Store>) {
    let (k, v) = key("111122223333");
    s.create_key(&k, Some(&v)).await.unwrap();
    let a = AliasRecord {
        account_id: k.account_id.clone(),
        name: "alias/x".into(),
        key_id: k.id,
        created_at: 1,
        updated_at: 1,
    };
    s.create_alias(&a).await.unwrap();
    assert!(matches!(
        s.create_alias(&a).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(s.get_key_version(k.id, 1).await.unwrap().is_some());
    assert!(s.delete_key(k.id).await.unwrap());
    assert!(s.get_key(k.id).await.unwrap().is_none());
    assert!(s.get_key_version(k.id, 1).await.unwrap().is_none());
    assert!(
        s.get_alias(&k.account_id, "alias/x")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!s.delete_key(k.id).await.unwrap());
    assert!(matches!(
        s.update_key(&k).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn aliases_update_list_delete(s: Arc<dyn Store>) {
    let (k1, v1) = key("111122223333");
    let (k2, v2) = key("111122223333");
    s.create_key(&k1, Some(&v1)).await.unwrap();
    s.create_key(&k2, Some(&v2)).await.unwrap();
    for (n, k) in [("alias/a", k1.id), ("alias/b", k2.id), ("alias/c", k1.id)] {
        s.create_alias(&AliasRecord {
            account_id: "111122223333".into(),
            name: n.into(),
            key_id: k,
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
    }
    let of_k1 = s
        .list_aliases("111122223333", Some(k1.id), None, 10)
        .await
        .unwrap();
    assert_eq!(
        of_k1.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["alias/a", "alias/c"]
    );
    let after_a = s
        .list_aliases("111122223333", None, Some("alias/a"), 1)
        .await
        .unwrap();
    assert_eq!(after_a[0].name, "alias/b");
    s.update_alias("111122223333", "alias/a", k2.id, 5)
        .await
        .unwrap();
    assert_eq!(
        s.get_alias("111122223333", "alias/a")
            .await
            .unwrap()
            .unwrap()
            .key_id,
        k2.id
    );
    assert!(matches!(
        s.update_alias("111122223333", "alias/zz", k2.id, 5).await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_alias("111122223333", "alias/a").await.unwrap();
    assert!(matches!(
        s.delete_alias("111122223333", "alias/a").await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn accounts_and_access_keys(s: Arc<dyn Store>) {
    assert!(matches!(
        s.create_account(&AccountRecord {
            id: "111122223333".into(),
            created_at: 0
        })
        .await,
        Err(StoreError::AlreadyExists(_))
    ));
    let ak = AccessKeyRecord {
        access_key_id: "AKIATEST".into(),
        account_id: "111122223333".into(),
        sealed_secret: vec![1, 2, 3],
        created_at: 0,
        active: true,
        principal_arn: Some("arn:aws:sts::111122223333:assumed-role/r/s".into()),
        expires_at: Some(99),
        session_token_hash: Some(vec![5; 32]),
    };
    s.put_access_key(&ak).await.unwrap();
    assert_eq!(s.get_access_key("AKIATEST").await.unwrap().unwrap(), ak);
    assert!(!format!("{ak:?}").contains("sealed_secret"));
    assert_eq!(s.list_access_keys("111122223333").await.unwrap().len(), 1);
    assert!(s.get_access_key("AKIANOPE").await.unwrap().is_none());
}

pub(crate) async fn sealed_material_pages_in_order_and_swaps_only_if_unchanged(s: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (k, v) = key("111122223333");
        s.create_key(&k, Some(&v)).await.unwrap();
        ids.push(k.id);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_key_versions(after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|v| (v.key_id, v.version));
        seen.extend(page.into_iter().map(|v| v.key_id));
    }
    assert_eq!(seen, ids);
    assert!(s.replace_ekt(ids[0], 1, &[7; 90], &[8; 90]).await.unwrap());
    // A second writer holding the old EKT loses.
    assert!(!s.replace_ekt(ids[0], 1, &[7; 90], &[9; 90]).await.unwrap());
    assert_eq!(
        s.get_key_version(ids[0], 1).await.unwrap().unwrap().ekt,
        vec![8; 90]
    );

    for id in ["AKIAB", "AKIAA"] {
        s.put_access_key(&AccessKeyRecord {
            access_key_id: id.into(),
            account_id: "111122223333".into(),
            sealed_secret: vec![1; 40],
            created_at: 0,
            active: true,
            principal_arn: None,
            expires_at: None,
            session_token_hash: None,
        })
        .await
        .unwrap();
    }
    let all = s.list_all_access_keys(None, 10).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|k| k.access_key_id.as_str())
            .collect::<Vec<_>>(),
        ["AKIAA", "AKIAB"]
    );
    assert_eq!(
        s.list_all_access_keys(Some("AKIAA"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.replace_sealed_secret("AKIAA", &[1; 40], &[2; 40])
            .await
            .unwrap()
    );
    assert!(
        !s.replace_sealed_secret("AKIAA", &[1; 40], &[3; 40])
            .await
            .unwrap()
    );
}

pub(crate) async fn rotation_adds_versions_atomically_and_lists_history(s: Arc<dyn Store>) {
    let (mut k, v1) = key("111122223333");
    k.rotation_period_days = Some(90);
    k.next_rotation_at = Some(100);
    s.create_key(&k, Some(&v1)).await.unwrap();
    assert!(s.keys_due_for_rotation(99).await.unwrap().is_empty());
    assert_eq!(s.keys_due_for_rotation(100).await.unwrap(), vec![k.id]);

    let mut k2 = k.clone();
    k2.current_version = 2;
    k2.next_rotation_at = Some(200);
    let v2 = KeyVersionRecord {
        version: 2,
        ekt: vec![2; 90],
        created_at: 100,
        ..v1.clone()
    };
    s.rotate_key(&k2, &v2, "AUTOMATIC").await.unwrap();
    // A second writer rotating from the same version loses, changing nothing.
    let mut k3 = k.clone();
    k3.current_version = 2;
    k3.description = "lost".into();
    let e = s.rotate_key(&k3, &v2, "ON_DEMAND").await.unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists(_)));
    let got = s.get_key(k.id).await.unwrap().unwrap();
    assert_eq!(
        (
            got.current_version,
            got.next_rotation_at,
            got.description.as_str()
        ),
        (2, Some(200), "d")
    );

    let mut k4 = got.clone();
    k4.current_version = 3;
    k4.on_demand_rotations = 1;
    let v3 = KeyVersionRecord {
        version: 3,
        ekt: vec![3; 90],
        created_at: 150,
        ..v1.clone()
    };
    s.rotate_key(&k4, &v3, "ON_DEMAND").await.unwrap();
    let history = s.list_rotations(k.id, 0, 10).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|r| (r.version, r.rotated_at, r.rotation_type.as_str()))
            .collect::<Vec<_>>(),
        [(2, 100, "AUTOMATIC"), (3, 150, "ON_DEMAND")]
    );
    assert_eq!(s.list_rotations(k.id, 2, 10).await.unwrap().len(), 1);
    assert_eq!(
        s.get_key_version(k.id, 1).await.unwrap().unwrap().ekt,
        v1.ekt
    );
    // Disabled keys are not due.
    let mut off = s.get_key(k.id).await.unwrap().unwrap();
    off.state = KeyState::Disabled;
    s.update_key(&off).await.unwrap();
    assert!(s.keys_due_for_rotation(1000).await.unwrap().is_empty());
}

pub(crate) async fn keys_without_material_and_expiring_imports(s: Arc<dyn Store>) {
    let (mut k, _) = key("111122223333");
    k.state = KeyState::PendingImport;
    k.origin = "EXTERNAL".into();
    k.current_version = 0;
    s.create_key(&k, None).await.unwrap();
    assert!(s.get_key_version(k.id, 1).await.unwrap().is_none());
    assert!(
        s.keys_with_expired_material(i64::MAX)
            .await
            .unwrap()
            .is_empty(),
        "no material, nothing expires"
    );
    let mut imported = k.clone();
    imported.state = KeyState::Enabled;
    imported.current_version = 1;
    imported.import_valid_to = Some(500);
    imported.import_fingerprint = Some(vec![1; 32]);
    let v = KeyVersionRecord {
        key_id: k.id,
        version: 1,
        ekt: vec![5; 90],
        created_at: 1,
    };
    s.rotate_key(&imported, &v, "IMPORT").await.unwrap();
    let got = s.get_key(k.id).await.unwrap().unwrap();
    assert_eq!(
        (got.import_valid_to, got.import_fingerprint.as_deref()),
        (Some(500), Some(&[1u8; 32][..]))
    );
    assert!(s.keys_with_expired_material(499).await.unwrap().is_empty());
    assert_eq!(s.keys_with_expired_material(500).await.unwrap(), vec![k.id]);
    s.delete_key_versions(k.id).await.unwrap();
    assert!(s.get_key_version(k.id, 1).await.unwrap().is_none());
    assert!(s.get_key(k.id).await.unwrap().is_some(), "the key stays");
}

pub(crate) async fn every_mutable_field_survives_update(s: Arc<dyn Store>) {
    let (mut k, v) = key("111122223333");
    s.create_key(&k, Some(&v)).await.unwrap();
    k.exposed = true;
    k.policy = Some("{}".into());
    k.suspension_fingerprint = Some(vec![4; 32]);
    k.import_valid_to = Some(9);
    k.on_demand_rotations = 3;
    k.description = "changed".into();
    s.update_key(&k).await.unwrap();
    k.revision += 1;
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap(), k);
    // A writer holding the old revision is refused and changes nothing.
    let mut stale = k.clone();
    stale.revision -= 1;
    stale.description = "lost".into();
    assert!(matches!(
        s.update_key(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap(), k);
}

pub(crate) async fn grants_round_trip_and_go_with_their_key(s: Arc<dyn Store>) {
    let (k, v) = key("111122223333");
    s.create_key(&k, Some(&v)).await.unwrap();
    let g = GrantRecord {
        grant_id: "a".repeat(64),
        key_id: k.id,
        key_account_id: k.account_id.clone(),
        name: Some("n".into()),
        grantee: "arn:aws:iam::444455556666:root".into(),
        retiring: Some("arn:aws:iam::111122223333:root".into()),
        operations: vec!["Encrypt".into(), "Decrypt".into()],
        context_equals: Some(vec![("dept".into(), "x".into())]),
        context_subset: None,
        issuing_account: "111122223333".into(),
        created_at: 5,
        token: "tok".into(),
    };
    s.create_grant(&g).await.unwrap();
    assert!(matches!(
        s.create_grant(&g).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(s.list_grants(k.id).await.unwrap(), vec![g.clone()]);
    assert_eq!(
        s.list_retirable_grants("arn:aws:iam::111122223333:root")
            .await
            .unwrap(),
        vec![g.clone()]
    );
    assert_eq!(s.grant_by_token("tok").await.unwrap(), Some(g.clone()));
    assert_eq!(s.grant_by_token("other").await.unwrap(), None);
    // Deleting the key deletes its grants.
    s.delete_key(k.id).await.unwrap();
    assert!(s.list_grants(k.id).await.unwrap().is_empty());
    assert!(!s.delete_grant(&g.grant_id).await.unwrap());
}

pub(crate) async fn principals_round_trip(s: Arc<dyn Store>) {
    let mut p = crate::PrincipalRecord {
        arn: "arn:aws:iam::111122223333:user/alice".into(),
        account_id: "111122223333".into(),
        kind: crate::PrincipalKind::User,
        name: "alice".into(),
        policy: None,
        tags: vec![Tag {
            key: "team".into(),
            value: "a".into(),
        }],
        service_name: None,
        created_at: 3,
    };
    s.create_principal(&p).await.unwrap();
    assert!(matches!(
        s.create_principal(&p).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(s.get_principal(&p.arn).await.unwrap(), Some(p.clone()));
    p.policy = Some("{}".into());
    s.update_principal(&p).await.unwrap();
    assert_eq!(s.list_principals("111122223333").await.unwrap(), vec![p]);
    assert!(
        s.get_principal("arn:aws:iam::111122223333:user/bob")
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn alias_race_has_exactly_one_winner(s: Arc<dyn Store>) {
    let (k, v) = key(ACCOUNT);
    s.create_key(&k, Some(&v)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            s.create_alias(&AliasRecord {
                account_id: ACCOUNT.into(),
                name: "alias/race".into(),
                key_id: k.id,
                created_at: i,
                updated_at: i,
            })
            .await
        });
    }
    let (mut won, mut lost) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::AlreadyExists(_)) => lost += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((won, lost), (1, 7));
}

pub(crate) async fn concurrent_writers_lose_nothing(s: Arc<dyn Store>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..20 {
                let (k, v) = key(ACCOUNT);
                s.create_key(&k, Some(&v)).await.unwrap();
                ids.push(k.id);
            }
            ids
        });
    }
    let mut want = Vec::new();
    while let Some(r) = tasks.join_next().await {
        want.extend(r.unwrap());
    }
    want.sort();
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_keys(ACCOUNT, after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        got.extend(page.iter().map(|k| k.id));
    }
    assert_eq!(got, want);
    for id in want {
        assert!(s.get_key_version(id, 1).await.unwrap().is_some());
    }
}

pub(crate) async fn paging_is_stable_while_keys_are_added(s: Arc<dyn Store>) {
    let mut before = Vec::new();
    for _ in 0..30 {
        let (k, v) = key(ACCOUNT);
        s.create_key(&k, Some(&v)).await.unwrap();
        before.push(k.id);
    }
    before.sort();
    // Page while others insert: every key that existed is seen exactly
    // once, in order; new ones may or may not appear, never twice.
    let mut seen: Vec<Uuid> = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_keys(ACCOUNT, after, 4).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|k| k.id));
        let (k, v) = key(ACCOUNT);
        s.create_key(&k, Some(&v)).await.unwrap();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "pages overlap or go backwards");
    assert!(before.iter().all(|id| seen.contains(id)));
}

pub(crate) async fn rotation_race_has_one_winner(s: Arc<dyn Store>) {
    let (mut k, v) = key(ACCOUNT);
    s.create_key(&k, Some(&v)).await.unwrap();
    k.current_version = 2;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..4u8 {
        let (s, k) = (s.clone(), k.clone());
        let v2 = KeyVersionRecord {
            version: 2,
            ekt: vec![i; 90],
            ..v.clone()
        };
        tasks.spawn(async move { s.rotate_key(&k, &v2, "ON_DEMAND").await });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(s.list_rotations(k.id, 0, 10).await.unwrap().len(), 1);
}

pub(crate) async fn retries_are_idempotent_or_refused(s: Arc<dyn Store>) {
    // A retried create is refused with AlreadyExists (the caller knows it
    // landed); a retried compare-and-swap is a no-op.
    let (k, v) = key(ACCOUNT);
    s.create_key(&k, Some(&v)).await.unwrap();
    assert!(matches!(
        s.create_key(&k, Some(&v)).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(s.replace_ekt(k.id, 1, &v.ekt, &[1; 90]).await.unwrap());
    assert!(!s.replace_ekt(k.id, 1, &v.ekt, &[1; 90]).await.unwrap());
    assert_eq!(
        s.get_key_version(k.id, 1).await.unwrap().unwrap().ekt,
        vec![1; 90]
    );
    // A retried update is refused (the first landed): the caller re-reads.
    s.update_key(&k).await.unwrap();
    assert!(matches!(
        s.update_key(&k).await,
        Err(StoreError::Conflict(_))
    ));
    let mut k = k;
    k.revision += 1;
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap(), k);
    assert!(s.delete_key(k.id).await.unwrap());
    assert!(!s.delete_key(k.id).await.unwrap());
}

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
    assert_eq!(s.usage_flushed("fe-a").await.unwrap(), 0);
    s.flush_usage("fe-a", 0, 10, &[inc(4)]).await.unwrap();
    assert_eq!(s.usage_flushed("fe-a").await.unwrap(), 10);
    // A replay of the same flush (a crash after commit, a second writer)
    // is refused and counts nothing twice.
    assert!(matches!(
        s.flush_usage("fe-a", 0, 10, &[inc(4)]).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.flush_usage("fe-a", 10, 9, &[inc(1)]).await,
        Err(StoreError::Conflict(_))
    ));
    // Chains are counted independently.
    s.flush_usage("fe-b", 0, 3, &[inc(2)]).await.unwrap();
    s.flush_usage("fe-a", 10, 12, &[inc(1)]).await.unwrap();
    assert_eq!(s.usage_flushed("fe-a").await.unwrap(), 12);
    assert_eq!(s.usage_flushed("fe-b").await.unwrap(), 3);
    assert_eq!(s.usage(Some(ACCOUNT), 7200).await.unwrap(), vec![inc(7)]);
}

pub(crate) async fn service_state_round_trip(s: Arc<dyn Store>) {
    assert_eq!(s.get_service_secret("x").await.unwrap(), None);
    assert_eq!(s.put_service_secret("x", b"one").await.unwrap(), b"one");
    // The first writer wins; a racing second gets the stored one back.
    assert_eq!(s.put_service_secret("x", b"two").await.unwrap(), b"one");
    assert_eq!(
        s.replace_service_secret("x", b"two", b"three")
            .await
            .unwrap(),
        b"one"
    );
    assert_eq!(
        s.replace_service_secret("x", b"one", b"three")
            .await
            .unwrap(),
        b"three"
    );
    assert_eq!(s.module_log_cursor("m", 1).await.unwrap(), 0);
    s.set_module_log_cursor("m", 1, 40).await.unwrap();
    s.set_module_log_cursor("m", 1, 90).await.unwrap();
    assert_eq!(s.module_log_cursor("m", 1).await.unwrap(), 90);
    assert_eq!(s.module_log_cursor("m", 2).await.unwrap(), 0);
}

pub(crate) async fn leases_have_one_holder_until_they_lapse(s: Arc<dyn Store>) {
    assert!(s.try_lease("sweep", "a", 100, 110).await.unwrap());
    assert!(!s.try_lease("sweep", "b", 105, 115).await.unwrap());
    assert!(
        s.try_lease("sweep", "a", 105, 120).await.unwrap(),
        "renewal"
    );
    assert!(!s.try_lease("sweep", "b", 119, 130).await.unwrap());
    // The holder died: once its lease lapses, another takes over.
    assert!(s.try_lease("sweep", "b", 120, 130).await.unwrap());
    assert!(!s.try_lease("sweep", "a", 125, 135).await.unwrap());
    assert!(s.try_lease("other-job", "a", 125, 135).await.unwrap());
    // Racing for a free lease: exactly one wins.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let s = s.clone();
        tasks.spawn(async move {
            s.try_lease("race", &format!("h{i}"), 200, 210)
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(r) = tasks.join_next().await {
        winners += usize::from(r.unwrap());
    }
    assert_eq!(winners, 1);
}

pub(crate) async fn concurrent_updates_never_lose_a_change(s: Arc<dyn Store>) {
    let (k, v) = key(ACCOUNT);
    s.create_key(&k, Some(&v)).await.unwrap();
    // Eight writers each add their own tag, re-reading whenever they lose.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            let mut conflicts = 0;
            loop {
                let mut cur = s.get_key(k.id).await.unwrap().unwrap();
                cur.tags.push(Tag {
                    key: format!("w{i}"),
                    value: "x".into(),
                });
                match s.update_key(&cur).await {
                    Ok(()) => return conflicts,
                    Err(StoreError::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("{e}"),
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let got = s.get_key(k.id).await.unwrap().unwrap();
    assert_eq!(got.revision, 8);
    for i in 0..8 {
        assert!(
            got.tags.iter().any(|t| t.key == format!("w{i}")),
            "w{i} was lost"
        );
    }
}
