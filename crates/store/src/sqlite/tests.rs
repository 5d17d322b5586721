use super::*;
use crate::Tag;

fn key(account: &str) -> (KeyRecord, KeyVersionRecord) {
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
        },
        KeyVersionRecord {
            key_id: id,
            version: 1,
            ekt: vec![7; 90],
            created_at: 1,
        },
    )
}

async fn store_with_account() -> SqliteStore {
    let s = SqliteStore::open_in_memory().unwrap();
    s.create_account(&AccountRecord {
        id: "111122223333".into(),
        created_at: 0,
    })
    .await
    .unwrap();
    s
}

#[tokio::test]
async fn migrations_are_versioned_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::latest());
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::latest());
    // A database from the future is refused rather than misread.
    drop(s);
    let c = Connection::open(&path).unwrap();
    c.execute("INSERT INTO schema_migrations VALUES (999, 0)", [])
        .unwrap();
    drop(c);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::SchemaTooNew { found: 999, .. })
    ));
}

#[tokio::test]
async fn key_round_trip_update_and_paging() {
    let s = store_with_account().await;
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
    assert_eq!(s.get_key(ids[0]).await.unwrap().unwrap(), k);
    assert_eq!(
        s.keys_due_for_deletion(99).await.unwrap(),
        Vec::<Uuid>::new()
    );
    assert_eq!(s.keys_due_for_deletion(100).await.unwrap(), vec![ids[0]]);
}

#[tokio::test]
async fn delete_removes_versions_and_aliases() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn aliases_update_list_delete() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn accounts_and_access_keys() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn sealed_material_pages_in_order_and_swaps_only_if_unchanged() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn rotation_adds_versions_atomically_and_lists_history() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn keys_without_material_and_expiring_imports() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn deleted_ekts_leave_no_bytes_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    s.create_account(&AccountRecord {
        id: "111122223333".into(),
        created_at: 0,
    })
    .await
    .unwrap();
    let (mut k, v1) = key("111122223333");
    let marker = |n: u8| -> Vec<u8> {
        (0..90)
            .map(|i| n.wrapping_mul(31).wrapping_add(i))
            .collect()
    };
    let v1 = KeyVersionRecord {
        ekt: marker(1),
        ..v1
    };
    s.create_key(&k, Some(&v1)).await.unwrap();
    for v in 2..=3u32 {
        k.current_version = v;
        let rec = KeyVersionRecord {
            version: v,
            ekt: marker(v as u8),
            ..v1.clone()
        };
        s.rotate_key(&k, &rec, "ON_DEMAND").await.unwrap();
    }
    s.delete_key_versions(k.id).await.unwrap();
    k.description = "after".into();
    s.update_key(&k).await.unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for n in 1..=3u8 {
            let m = marker(n);
            assert!(
                !bytes.windows(m.len()).any(|w| w == &m[..]),
                "{} holds EKT {n}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn every_mutable_field_survives_update() {
    let s = store_with_account().await;
    let (mut k, v) = key("111122223333");
    s.create_key(&k, Some(&v)).await.unwrap();
    k.exposed = true;
    k.policy = Some("{}".into());
    k.suspension_fingerprint = Some(vec![4; 32]);
    k.import_valid_to = Some(9);
    k.on_demand_rotations = 3;
    k.description = "changed".into();
    s.update_key(&k).await.unwrap();
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap(), k);
}

#[tokio::test]
async fn grants_round_trip_and_go_with_their_key() {
    let s = store_with_account().await;
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

#[tokio::test]
async fn principals_round_trip() {
    let s = store_with_account().await;
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
