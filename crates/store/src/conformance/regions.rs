//! Conformance: keys, aliases and grants belong to one region.

use std::sync::Arc;

use super::{ACCOUNT, REGION, key};
use crate::*;

const OTHER: &str = "eu-west-1";

fn key_in(region: &str) -> (KeyRecord, KeyVersionRecord) {
    let (mut k, v) = key(ACCOUNT);
    k.region = region.into();
    (k, v)
}

fn alias(region: &str, name: &str, key_id: uuid::Uuid) -> AliasRecord {
    AliasRecord {
        account_id: ACCOUNT.into(),
        region: region.into(),
        name: name.into(),
        key_id,
        created_at: 1,
        updated_at: 1,
    }
}

pub(crate) async fn keys_are_listed_only_in_their_region(s: Arc<dyn Store>) {
    let (here, v1) = key_in(REGION);
    let (there, v2) = key_in(OTHER);
    s.create_key(&here, Some(&v1)).await.unwrap();
    s.create_key(&there, Some(&v2)).await.unwrap();
    let ids = |ks: Vec<KeyRecord>| ks.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_keys(ACCOUNT, REGION, None, 10).await.unwrap()),
        [here.id]
    );
    assert_eq!(
        ids(s.list_keys(ACCOUNT, OTHER, None, 10).await.unwrap()),
        [there.id]
    );
    assert!(
        s.list_keys(ACCOUNT, "us-gov-west-1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The record carries its region, and an update never moves it.
    let mut got = s.get_key(there.id).await.unwrap().unwrap();
    assert_eq!(got.region, OTHER);
    got.region = REGION.into();
    got.description = "changed".into();
    s.update_key(&got).await.unwrap();
    let after = s.get_key(there.id).await.unwrap().unwrap();
    assert_eq!(
        (after.region.as_str(), after.description.as_str()),
        (OTHER, "changed")
    );
}

pub(crate) async fn alias_names_are_unique_per_region_and_invisible_elsewhere(s: Arc<dyn Store>) {
    let (here, v1) = key_in(REGION);
    let (there, v2) = key_in(OTHER);
    s.create_key(&here, Some(&v1)).await.unwrap();
    s.create_key(&there, Some(&v2)).await.unwrap();
    // The same name in two regions: two aliases.
    s.create_alias(&alias(REGION, "alias/app", here.id))
        .await
        .unwrap();
    s.create_alias(&alias(OTHER, "alias/app", there.id))
        .await
        .unwrap();
    assert!(matches!(
        s.create_alias(&alias(OTHER, "alias/app", there.id)).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let target = |r: &'static str| {
        let s = s.clone();
        async move {
            s.get_alias(ACCOUNT, r, "alias/app")
                .await
                .unwrap()
                .map(|a| a.key_id)
        }
    };
    assert_eq!(target(REGION).await, Some(here.id));
    assert_eq!(target(OTHER).await, Some(there.id));
    assert_eq!(target("ap-southeast-2").await, None);
    let listed = s
        .list_aliases(ACCOUNT, OTHER, None, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].region.as_str(), listed[0].key_id),
        (OTHER, there.id)
    );

    // Updating or deleting in one region leaves the other's alias alone.
    assert!(matches!(
        s.update_alias(ACCOUNT, "ap-southeast-2", "alias/app", here.id, 9)
            .await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_alias(ACCOUNT, REGION, "alias/app").await.unwrap();
    assert_eq!(target(REGION).await, None);
    assert_eq!(target(OTHER).await, Some(there.id));
}

pub(crate) async fn retirable_grants_follow_their_keys_region(s: Arc<dyn Store>) {
    let retiring = "arn:aws:iam::111122223333:root";
    let mut made = Vec::new();
    for (i, region) in [REGION, OTHER].into_iter().enumerate() {
        let (k, v) = key_in(region);
        s.create_key(&k, Some(&v)).await.unwrap();
        let g = GrantRecord {
            grant_id: format!("{i}").repeat(64),
            key_id: k.id,
            key_account_id: ACCOUNT.into(),
            name: None,
            grantee: "arn:aws:iam::444455556666:root".into(),
            retiring: Some(retiring.into()),
            operations: vec!["Encrypt".into()],
            context_equals: None,
            context_subset: None,
            issuing_account: ACCOUNT.into(),
            created_at: 1,
            token: format!("token-{i}"),
        };
        s.create_grant(&g).await.unwrap();
        made.push(g);
    }
    assert_eq!(
        s.list_retirable_grants(retiring, REGION).await.unwrap(),
        vec![made[0].clone()]
    );
    assert_eq!(
        s.list_retirable_grants(retiring, OTHER).await.unwrap(),
        vec![made[1].clone()]
    );
    assert!(
        s.list_retirable_grants(retiring, "cn-north-1")
            .await
            .unwrap()
            .is_empty()
    );
}

/// The key the pre-region rows hold.
pub(crate) const PRE_REGION_KEY: &str = "00000000-0000-4000-8000-0000000000aa";

/// Rows as a store of the schema before regions held them (an account, a
/// key, an alias to it), in SQL both backends run unchanged.
pub(crate) const PRE_REGION_ROWS: &[&str] = &[
    "INSERT INTO accounts (id, created_at) VALUES ('111122223333', 0)",
    "INSERT INTO keys (id, account_id, description, state, key_spec, key_usage, origin, \
     created_at, current_version, tags) VALUES ('00000000-0000-4000-8000-0000000000aa', \
     '111122223333', 'old', 'Enabled', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'AWS_KMS', 1, 1, '[]')",
    "INSERT INTO aliases (account_id, name, key_id, created_at, updated_at) VALUES \
     ('111122223333', 'alias/old', '00000000-0000-4000-8000-0000000000aa', 1, 1)",
];

/// After migrating a store holding [`PRE_REGION_ROWS`] with legacy region
/// `region`: the key and alias live there, and only there.
pub(crate) async fn pre_region_rows_are_in(s: &dyn Store, region: &str) {
    let id: uuid::Uuid = PRE_REGION_KEY.parse().unwrap();
    let k = s.get_key(id).await.unwrap().unwrap();
    assert_eq!((k.region.as_str(), k.description.as_str()), (region, "old"));
    let listed = s.list_keys(ACCOUNT, region, None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [id]);
    let a = s.get_alias(ACCOUNT, region, "alias/old").await.unwrap();
    assert_eq!(
        a.map(|a| (a.region, a.key_id)),
        Some((region.to_owned(), id))
    );
    for elsewhere in ["us-east-1", "eu-west-1", "cn-north-1"]
        .into_iter()
        .filter(|r| *r != region)
    {
        assert!(
            s.list_keys(ACCOUNT, elsewhere, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.get_alias(ACCOUNT, elsewhere, "alias/old")
                .await
                .unwrap()
                .is_none()
        );
    }
    // The name is free in another region, taken in this one.
    let mut again = AliasRecord {
        account_id: ACCOUNT.into(),
        region: region.into(),
        name: "alias/old".into(),
        key_id: id,
        created_at: 2,
        updated_at: 2,
    };
    assert!(matches!(
        s.create_alias(&again).await,
        Err(StoreError::AlreadyExists(_))
    ));
    again.region = if region == "ap-southeast-2" {
        "eu-west-1"
    } else {
        "ap-southeast-2"
    }
    .into();
    s.create_alias(&again).await.unwrap();
}
