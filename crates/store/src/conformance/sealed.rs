//! Conformance: Sealed material: paging and compare-and-swap.

use std::sync::Arc;

use super::key;
use crate::*;

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
