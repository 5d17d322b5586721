//! Conformance: Service secrets, module-log cursors and job leases.

use std::sync::Arc;

use crate::*;

pub(crate) async fn service_state_round_trip(s: Arc<dyn Store>) {
    assert_eq!(s.get_service_secret("x").await.unwrap(), None);
    assert_eq!(s.put_service_secret("x", b"one").await.unwrap(), b"one");
    // The first writer wins; a racing second gets the stored one back.
    assert_eq!(s.put_service_secret("x", b"two").await.unwrap(), b"one");
    assert_eq!(
        s.replace_service_secret("x", b"two", b"three")
            .await
            .unwrap(),
        b"one"
    );
    assert_eq!(
        s.replace_service_secret("x", b"one", b"three")
            .await
            .unwrap(),
        b"three"
    );
    assert_eq!(s.module_log_cursor("m", 1).await.unwrap(), 0);
    s.set_module_log_cursor("m", 1, 40).await.unwrap();
    s.set_module_log_cursor("m", 1, 90).await.unwrap();
    assert_eq!(s.module_log_cursor("m", 1).await.unwrap(), 90);
    assert_eq!(s.module_log_cursor("m", 2).await.unwrap(), 0);
}

pub(crate) async fn leases_have_one_holder_until_they_lapse(s: Arc<dyn Store>) {
    assert!(s.try_lease("sweep", "a", 100, 110).await.unwrap());
    assert!(!s.try_lease("sweep", "b", 105, 115).await.unwrap());
    assert!(
        s.try_lease("sweep", "a", 105, 120).await.unwrap(),
        "renewal"
    );
    assert!(!s.try_lease("sweep", "b", 119, 130).await.unwrap());
    // The holder died: once its lease lapses, another takes over.
    assert!(s.try_lease("sweep", "b", 120, 130).await.unwrap());
    assert!(!s.try_lease("sweep", "a", 125, 135).await.unwrap());
    assert!(s.try_lease("other-job", "a", 125, 135).await.unwrap());
    // Racing for a free lease: exactly one wins.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let s = s.clone();
        tasks.spawn(async move {
            s.try_lease("race", &format!("h{i}"), 200, 210)
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(r) = tasks.join_next().await {
        winners += usize::from(r.unwrap());
    }
    assert_eq!(winners, 1);
}
