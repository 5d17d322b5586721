//! Conformance: Accounts, access keys and principals.

use std::sync::Arc;

use crate::*;

pub(crate) async fn accounts_and_access_keys(s: Arc<dyn Store>) {
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

    // Deactivation touches only that key, and only its `active` flag.
    let other = AccessKeyRecord {
        access_key_id: "AKIAOTHER".into(),
        ..ak.clone()
    };
    s.put_access_key(&other).await.unwrap();
    s.deactivate_access_key("AKIATEST").await.unwrap();
    let off = s.get_access_key("AKIATEST").await.unwrap().unwrap();
    assert_eq!(
        off,
        AccessKeyRecord {
            active: false,
            ..ak
        }
    );
    assert!(s.get_access_key("AKIAOTHER").await.unwrap().unwrap().active);
    s.deactivate_access_key("AKIATEST").await.unwrap();
    assert!(matches!(
        s.deactivate_access_key("AKIANOPE").await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn principals_round_trip(s: Arc<dyn Store>) {
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
