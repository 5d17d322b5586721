//! Conformance: a multi-Region key is one row per region, each with its
//! own copies of the shared EKTs, found together by their shared id.

use std::sync::Arc;

use uuid::Uuid;

use super::{ACCOUNT, REGION, key};
use crate::*;

const OTHER: &str = "eu-west-1";

/// A copy of multi-Region key `mrk` in `region` (row id: any fresh UUID;
/// the server derives it) and its version 1.
fn copy(mrk: Uuid, region: &str, primary: bool) -> (KeyRecord, KeyVersionRecord) {
    let (mut k, mut v) = key(ACCOUNT);
    k.region = region.into();
    k.multi_region_id = Some(mrk);
    k.multi_region_primary = primary;
    v.key_id = k.id;
    (k, v)
}

fn version(k: &KeyRecord, n: u32, byte: u8) -> KeyVersionRecord {
    KeyVersionRecord {
        key_id: k.id,
        version: n,
        ekt: vec![byte; 90],
        created_at: 2,
    }
}

pub(crate) async fn multi_region_copies_are_rows_of_their_own(s: Arc<dyn Store>) {
    let mrk = Uuid::new_v4();
    let (primary, v1) = copy(mrk, REGION, true);
    s.create_key(&primary, Some(&v1)).await.unwrap();
    let (replica, _) = copy(mrk, OTHER, false);
    let copied = KeyVersionRecord {
        key_id: replica.id,
        ..v1.clone()
    };
    s.create_replica(&primary, &replica, std::slice::from_ref(&copied))
        .await
        .unwrap();
    // Another account's key with the same shared id is not one of them.
    let (mut stranger, sv) = copy(mrk, OTHER, true);
    stranger.account_id = "444455556666".into();
    s.create_account(&AccountRecord {
        id: stranger.account_id.clone(),
        created_at: 1,
    })
    .await
    .unwrap();
    s.create_key(&stranger, Some(&sv)).await.unwrap();

    let family = s.multi_region_keys(ACCOUNT, mrk).await.unwrap();
    let regions: Vec<(&str, bool)> = family
        .iter()
        .map(|k| (k.region.as_str(), k.multi_region_primary))
        .collect();
    assert_eq!(regions, [(OTHER, false), (REGION, true)]);
    assert_eq!(family[0].material_id(), mrk);
    // create_replica saved the primary by compare-and-swap: revision + 1.
    assert_eq!(s.get_key(primary.id).await.unwrap().unwrap().revision, 1);
    assert!(
        s.multi_region_keys(ACCOUNT, Uuid::new_v4())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.key_versions(replica.id).await.unwrap(), [copied]);
    // The same replica twice: AlreadyExists, nothing changes.
    let fresh = s.get_key(primary.id).await.unwrap().unwrap();
    assert!(matches!(
        s.create_replica(&fresh, &replica, &[]).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(s.get_key(primary.id).await.unwrap().unwrap(), fresh);
    // Deleting the replica leaves the primary and its EKTs alone.
    assert!(s.delete_key(replica.id).await.unwrap());
    assert_eq!(s.key_versions(primary.id).await.unwrap(), [v1]);
    let left = s.multi_region_keys(ACCOUNT, mrk).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, primary.id);
    // A single-Region key names itself.
    let (single, _) = key(ACCOUNT);
    assert_eq!(single.material_id(), single.id);
}

pub(crate) async fn a_replica_created_after_a_rotation_read_makes_it_conflict(s: Arc<dyn Store>) {
    let mrk = Uuid::new_v4();
    let (primary, v1) = copy(mrk, REGION, true);
    s.create_key(&primary, Some(&v1)).await.unwrap();
    // A rotation reads the primary...
    let read = s.get_key(primary.id).await.unwrap().unwrap();
    // ...a replica is created meanwhile...
    let (replica, _) = copy(mrk, OTHER, false);
    s.create_replica(&read, &replica, &[version(&replica, 1, 7)])
        .await
        .unwrap();
    // ...so the rotation, which never saw the replica, cannot commit.
    let mut rotated = read.clone();
    rotated.current_version = 2;
    assert!(matches!(
        s.rotate_keys(&[(rotated, version(&primary, 2, 8))], "ON_DEMAND")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.get_key_version(primary.id, 2).await.unwrap().is_none());
}

pub(crate) async fn rotation_of_every_copy_is_all_or_nothing(s: Arc<dyn Store>) {
    let mrk = Uuid::new_v4();
    let (primary, v1) = copy(mrk, REGION, true);
    s.create_key(&primary, Some(&v1)).await.unwrap();
    let (replica, _) = copy(mrk, OTHER, false);
    s.create_replica(&primary, &replica, &[version(&replica, 1, 7)])
        .await
        .unwrap();
    let family = s.multi_region_keys(ACCOUNT, mrk).await.unwrap();
    let rotations = |fam: &[KeyRecord]| -> Vec<(KeyRecord, KeyVersionRecord)> {
        fam.iter()
            .map(|k| {
                let mut next = k.clone();
                next.current_version = 2;
                (next, version(k, 2, 9))
            })
            .collect()
    };
    // One stale copy: nothing is written, to either.
    let mut stale = rotations(&family);
    stale[1].0.revision += 5;
    assert!(matches!(
        s.rotate_keys(&stale, "AUTOMATIC").await,
        Err(StoreError::Conflict(_))
    ));
    for k in &family {
        assert!(s.get_key_version(k.id, 2).await.unwrap().is_none());
        assert_eq!(s.get_key(k.id).await.unwrap().unwrap().current_version, 1);
    }
    // All current: every copy has version 2 and a rotation record.
    s.rotate_keys(&rotations(&family), "AUTOMATIC")
        .await
        .unwrap();
    for k in &family {
        assert_eq!(s.get_key(k.id).await.unwrap().unwrap().current_version, 2);
        assert_eq!(s.list_rotations(k.id, 0, 10).await.unwrap().len(), 1);
        assert_eq!(
            s.get_key_version(k.id, 2).await.unwrap().unwrap().ekt,
            vec![9; 90]
        );
    }
}

pub(crate) async fn update_keys_is_all_or_nothing(s: Arc<dyn Store>) {
    let mrk = Uuid::new_v4();
    let (primary, v1) = copy(mrk, REGION, true);
    s.create_key(&primary, Some(&v1)).await.unwrap();
    let (replica, _) = copy(mrk, OTHER, false);
    s.create_replica(&primary, &replica, &[version(&replica, 1, 7)])
        .await
        .unwrap();
    let mut family = s.multi_region_keys(ACCOUNT, mrk).await.unwrap();
    for k in &mut family {
        k.multi_region_primary = !k.multi_region_primary;
    }
    let mut stale = family.clone();
    stale[0].revision += 3;
    assert!(matches!(
        s.update_keys(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    let unchanged = s.multi_region_keys(ACCOUNT, mrk).await.unwrap();
    assert_eq!(
        unchanged
            .iter()
            .map(|k| k.multi_region_primary)
            .collect::<Vec<_>>(),
        [false, true]
    );
    s.update_keys(&family).await.unwrap();
    let swapped = s.multi_region_keys(ACCOUNT, mrk).await.unwrap();
    assert_eq!(
        swapped
            .iter()
            .map(|k| (k.region.as_str(), k.multi_region_primary))
            .collect::<Vec<_>>(),
        [(OTHER, true), (REGION, false)]
    );
}
