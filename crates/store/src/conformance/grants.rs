//! Conformance: Grants.

use std::sync::Arc;

use super::key;
use crate::*;

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
        s.list_retirable_grants("arn:aws:iam::111122223333:root", super::REGION)
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
