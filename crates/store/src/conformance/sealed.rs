//! Conformance: Sealed material: paging and compare-and-swap.

use std::sync::Arc;

use super::{access_key, sorted_keys};
use crate::*;

pub(crate) async fn sealed_material_pages_in_order_and_swaps_only_if_unchanged(s: Arc<dyn Store>) {
    let ids = sorted_keys(s.as_ref(), 5).await;
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
        s.put_access_key(&access_key(id, vec![1; 40]))
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
