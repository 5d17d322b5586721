//! Conformance: what deletion must purge (`KeyStore`, "What deletion must
//! purge"). After a key or its versions are deleted, or sealed material is
//! replaced, its bytes are in no row of any table the store can read; the
//! SQLite tests check the database files too (`sqlite::tests`).

use std::sync::Arc;

use super::{ACCOUNT, access_key, key};
use crate::backend::{Backend, Conn, run};
use crate::sql::{Sql, Value};
use crate::*;

/// 90 bytes that appear nowhere else: an EKT or secret to look for.
pub(crate) fn marker(n: u8) -> Vec<u8> {
    (0..90u8)
        .map(|i| n.wrapping_mul(31).wrapping_add(i) ^ 0xa5)
        .collect()
}

fn holds(v: &Value, needle: &[u8]) -> bool {
    let hay: &[u8] = match v {
        Value::Bytes(b) => b,
        Value::Text(t) => t.as_bytes(),
        _ => return false,
    };
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The tables (of every table in the database) with a row holding `needle`.
pub(crate) async fn tables_holding<B: Backend>(s: &B, needle: &[u8]) -> Vec<String> {
    let needle = needle.to_vec();
    run(s, move |c| {
        Box::pin(async move {
            let mut found = Vec::new();
            for table in c.table_names().await? {
                let all = Sql::built(format!("SELECT * FROM {table}"));
                let rows = c.query(&all, &[]).await?;
                if rows.iter().any(|r| r.0.iter().any(|v| holds(v, &needle))) {
                    found.push(table);
                }
            }
            Ok(found)
        })
    })
    .await
    .unwrap()
}

/// A key with versions 1 to 3 holding `marker(base + version)`, an alias
/// and a grant.
pub(crate) async fn key_with_three_versions(s: &dyn Store, base: u8) -> KeyRecord {
    let (mut k, v1) = key(ACCOUNT);
    let v1 = KeyVersionRecord {
        ekt: marker(base + 1),
        ..v1
    };
    s.create_key(&k, Some(&v1)).await.unwrap();
    for v in 2..=3u32 {
        k.current_version = v;
        let rec = KeyVersionRecord {
            version: v,
            ekt: marker(base + v as u8),
            ..v1.clone()
        };
        s.rotate_key(&k, &rec, "ON_DEMAND").await.unwrap();
        k.revision += 1;
    }
    s.create_alias(&AliasRecord {
        account_id: ACCOUNT.into(),
        region: super::REGION.into(),
        name: format!("alias/k{base}"),
        key_id: k.id,
        created_at: 1,
        updated_at: 1,
    })
    .await
    .unwrap();
    s.create_grant(&GrantRecord {
        grant_id: format!("{base:064}"),
        key_id: k.id,
        key_account_id: ACCOUNT.into(),
        name: None,
        grantee: "arn:aws:iam::444455556666:root".into(),
        retiring: None,
        operations: vec!["Decrypt".into()],
        context_equals: None,
        context_subset: None,
        issuing_account: ACCOUNT.into(),
        created_at: 1,
        token: format!("token-{base}"),
    })
    .await
    .unwrap();
    k
}

pub(crate) async fn delete_key_leaves_its_ekts_in_no_table<B: Backend>(s: Arc<B>) {
    let doomed = key_with_three_versions(s.as_ref(), 10).await;
    let kept = key_with_three_versions(s.as_ref(), 20).await;
    assert_eq!(
        tables_holding(s.as_ref(), &marker(11)).await,
        ["key_versions"]
    );
    assert!(s.delete_key(doomed.id).await.unwrap());
    for n in 11..=13 {
        let left = tables_holding(s.as_ref(), &marker(n)).await;
        assert!(left.is_empty(), "EKT {n} still in {left:?}");
    }
    // Its aliases and grants went with it; the other key lost nothing.
    assert!(s.list_grants(doomed.id).await.unwrap().is_empty());
    let aliases = s
        .list_aliases(ACCOUNT, super::REGION, None, None, 10)
        .await
        .unwrap();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].key_id, kept.id);
    assert_eq!(s.list_grants(kept.id).await.unwrap().len(), 1);
    for n in 21..=23 {
        assert_eq!(
            tables_holding(s.as_ref(), &marker(n)).await,
            ["key_versions"]
        );
    }
}

pub(crate) async fn deleted_versions_leave_their_ekts_in_no_table<B: Backend>(s: Arc<B>) {
    let k = key_with_three_versions(s.as_ref(), 30).await;
    s.delete_key_versions(k.id).await.unwrap();
    for n in 31..=33 {
        let left = tables_holding(s.as_ref(), &marker(n)).await;
        assert!(left.is_empty(), "EKT {n} still in {left:?}");
    }
    // The key, its aliases and grants stay: only the material went.
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap(), k);
    assert!(s.get_key_version(k.id, 1).await.unwrap().is_none());
    assert_eq!(s.list_grants(k.id).await.unwrap().len(), 1);
}

/// Replaces version 1's EKT of a new key, an access key's sealed secret
/// and a service secret, then purges; returns the markers replaced and,
/// with their tables, the markers that replaced them.
pub(crate) async fn replace_sealed_material(s: &dyn Store) -> ([u8; 3], [(u8, &'static str); 3]) {
    let k = key_with_three_versions(s, 40).await;
    assert!(
        s.replace_ekt(k.id, 1, &marker(41), &marker(44))
            .await
            .unwrap()
    );
    s.put_access_key(&access_key("AKIAPURGE", marker(45)))
        .await
        .unwrap();
    assert!(
        s.replace_sealed_secret("AKIAPURGE", &marker(45), &marker(46))
            .await
            .unwrap()
    );
    s.put_service_secret("svc", &marker(47)).await.unwrap();
    s.replace_service_secret("svc", &marker(47), &marker(48))
        .await
        .unwrap();
    s.purge_freed().await.unwrap();
    (
        [41, 45, 47],
        [
            (44, "key_versions"),
            (46, "access_keys"),
            (48, "service_secrets"),
        ],
    )
}

pub(crate) async fn replaced_ekts_and_secrets_leave_no_copy_in_any_table<B: Backend>(s: Arc<B>) {
    let (replaced, replacements) = replace_sealed_material(s.as_ref()).await;
    for n in replaced {
        let left = tables_holding(s.as_ref(), &marker(n)).await;
        assert!(left.is_empty(), "replaced material {n} still in {left:?}");
    }
    for (n, table) in replacements {
        assert_eq!(tables_holding(s.as_ref(), &marker(n)).await, [table]);
    }
}

pub(crate) async fn delete_removes_versions_and_aliases(s: Arc<dyn Store>) {
    let (k, v) = key("111122223333");
    s.create_key(&k, Some(&v)).await.unwrap();
    let a = AliasRecord {
        account_id: k.account_id.clone(),
        region: k.region.clone(),
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
        s.get_alias(&k.account_id, &k.region, "alias/x")
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
