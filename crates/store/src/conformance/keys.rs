//! Conformance: Keys, versions and rotations.

use std::sync::Arc;

use uuid::Uuid;

use super::{key, sorted_keys};
use crate::*;

pub(crate) async fn key_round_trip_update_and_paging(s: Arc<dyn Store>) {
    let ids = sorted_keys(s.as_ref(), 5).await;
    let page1 = s
        .list_keys("111122223333", super::REGION, None, 2)
        .await
        .unwrap();
    assert_eq!(page1.iter().map(|k| k.id).collect::<Vec<_>>(), ids[..2]);
    let page2 = s
        .list_keys("111122223333", super::REGION, Some(ids[1]), 10)
        .await
        .unwrap();
    assert_eq!(page2.len(), 3);
    assert!(
        s.list_keys("999999999999", super::REGION, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let counts = |by: Vec<(String, String, u64)>| {
        let total: u64 = by.iter().map(|r| r.2).sum();
        let pending: u64 = by
            .iter()
            .filter(|r| r.0 == "PendingDeletion")
            .map(|r| r.2)
            .sum();
        (total, pending)
    };
    let before = counts(s.count_keys_by_state_and_spec().await.unwrap());
    assert!(before.0 >= 5, "{before:?}");

    let mut k = s.get_key(ids[0]).await.unwrap().unwrap();
    assert_eq!(k.tags[0].key, "team");
    k.state = KeyState::PendingDeletion;
    k.deletion_date = Some(100);
    s.update_key(&k).await.unwrap();
    let after = counts(s.count_keys_by_state_and_spec().await.unwrap());
    assert_eq!(after, (before.0, before.1 + 1), "one key moved state");
    k.revision += 1;
    assert_eq!(s.get_key(ids[0]).await.unwrap().unwrap(), k);
    assert_eq!(
        s.keys_due_for_deletion(99).await.unwrap(),
        Vec::<Uuid>::new()
    );
    assert_eq!(s.keys_due_for_deletion(100).await.unwrap(), vec![ids[0]]);
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
    k.origin = crate::Origin::External;
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
    k.multi_region_primary = true;
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
