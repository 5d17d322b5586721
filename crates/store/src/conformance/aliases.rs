//! Conformance: Aliases.

use std::sync::Arc;

use super::key;
use crate::*;

pub(crate) async fn aliases_update_list_delete(s: Arc<dyn Store>) {
    let (k1, v1) = key("111122223333");
    let (k2, v2) = key("111122223333");
    s.create_key(&k1, Some(&v1)).await.unwrap();
    s.create_key(&k2, Some(&v2)).await.unwrap();
    for (n, k) in [("alias/a", k1.id), ("alias/b", k2.id), ("alias/c", k1.id)] {
        s.create_alias(&AliasRecord {
            account_id: "111122223333".into(),
            region: super::REGION.into(),
            name: n.into(),
            key_id: k,
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
    }
    let of_k1 = s
        .list_aliases("111122223333", super::REGION, Some(k1.id), None, 10)
        .await
        .unwrap();
    assert_eq!(
        of_k1.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["alias/a", "alias/c"]
    );
    let after_a = s
        .list_aliases("111122223333", super::REGION, None, Some("alias/a"), 1)
        .await
        .unwrap();
    assert_eq!(after_a[0].name, "alias/b");
    s.update_alias("111122223333", super::REGION, "alias/a", k2.id, 5)
        .await
        .unwrap();
    assert_eq!(
        s.get_alias("111122223333", super::REGION, "alias/a")
            .await
            .unwrap()
            .unwrap()
            .key_id,
        k2.id
    );
    assert!(matches!(
        s.update_alias("111122223333", super::REGION, "alias/zz", k2.id, 5)
            .await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_alias("111122223333", super::REGION, "alias/a")
        .await
        .unwrap();
    assert!(matches!(
        s.delete_alias("111122223333", super::REGION, "alias/a")
            .await,
        Err(StoreError::NotFound(_))
    ));
}
