//! Conformance: Concurrent writers on every aggregate: races with one winner, nothing lost.

use std::sync::Arc;

use uuid::Uuid;

use super::{ACCOUNT, key};
use crate::*;

pub(crate) async fn alias_race_has_exactly_one_winner(s: Arc<dyn Store>) {
    let (k, v) = key(ACCOUNT);
    s.create_key(&k, Some(&v)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            s.create_alias(&AliasRecord {
                account_id: ACCOUNT.into(),
                region: super::REGION.into(),
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
        let page = s.list_keys(ACCOUNT, super::REGION, after, 7).await.unwrap();
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
        let page = s.list_keys(ACCOUNT, super::REGION, after, 4).await.unwrap();
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
