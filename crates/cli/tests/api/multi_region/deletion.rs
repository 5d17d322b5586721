//! UpdatePrimaryRegion and deletion: a primary with replicas stays, a
//! replica goes on its own.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_region_moves_and_deletion_follows_aws_rules() {
    let env = TestEnv::start().await;
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    replicate(&us, &id, AWAY).await;
    replicate(&us, &id, THIRD).await;
    // A primary with replicas is not deleted.
    let e = us
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    assert!(e.message().unwrap().contains("replica"));
    // Moving the primary: to a region without a copy, to its own, from a replica.
    let e = us
        .update_primary_region()
        .key_id(&id)
        .primary_region("ap-southeast-2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = us
        .update_primary_region()
        .key_id(&id)
        .primary_region(HOME)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = eu
        .update_primary_region()
        .key_id(&id)
        .primary_region(THIRD)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    assert_eq!(
        shape(&describe(&us, &id).await).0,
        MultiRegionKeyType::Primary
    );
    us.update_primary_region()
        .key_id(&id)
        .primary_region(AWAY)
        .send()
        .await
        .unwrap();
    for (c, want) in [
        (&us, MultiRegionKeyType::Replica),
        (&eu, MultiRegionKeyType::Primary),
    ] {
        let (t, primary, mut replicas) = shape(&describe(c, &id).await);
        replicas.sort();
        assert_eq!((t, primary), (want, AWAY.to_owned()));
        assert_eq!(replicas, [HOME, THIRD]);
    }
    // The new primary replicates; the old one no longer does.
    let e = us
        .replicate_key()
        .key_id(&id)
        .replica_region("ap-southeast-2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    replicate(&eu, &id, "ap-southeast-2").await;
    // A replica's deletion is its own: the others stay usable.
    let d = us
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(d.key_state().unwrap().as_str(), "PendingDeletion");
    let ct = encrypt(&eu, &id, b"after").await;
    let e = us
        .decrypt()
        .ciphertext_blob(blob(&ct))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    assert_eq!(decrypt(&client_in(&env.dev, THIRD), &ct).await, b"after");
    env.stop().await;
}

/// Makes the pending deletion of `key`'s copy in `region` due now, as the
/// scheduled date passing would, and waits for the sweeper.
async fn sweep_copy(dev: &DevEnvironment, key: &str, region: &str) {
    let shared = strongroom_server::multi_region::parse(key).unwrap();
    let row = strongroom_server::multi_region::row_id(shared, region);
    let mut rec = dev.store.get_key(row).await.unwrap().unwrap();
    assert_eq!(rec.region, region);
    rec.deletion_date = Some(0);
    dev.store.update_key(&rec).await.unwrap();
    // Gone from the store, then from the frontend's cache (the sweeper
    // drops its cached copy right after the store's).
    let c = client_in(dev, region);
    let start = Instant::now();
    while dev.store.get_key(row).await.unwrap().is_some()
        || c.describe_key().key_id(key).send().await.is_ok()
    {
        assert!(start.elapsed() < Duration::from_secs(10), "not swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_replica_frees_the_primary_and_can_be_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.deletion_sweep_interval = Duration::from_millis(200);
    })
    .await;
    let (us, eu) = (client_in(&dev, HOME), client_in(&dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    replicate(&us, &id, AWAY).await;
    let ct = encrypt(&eu, &id, b"outlives its replica").await;
    eu.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    sweep_copy(&dev, &id, AWAY).await;
    // Gone there, intact here: its ciphertexts still decrypt at home.
    let e = eu.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    assert_eq!(shape(&describe(&us, &id).await).2, Vec::<String>::new());
    assert_eq!(decrypt(&us, &ct).await, b"outlives its replica");
    // Replicated again, the same material comes back.
    replicate(&us, &id, AWAY).await;
    assert_eq!(decrypt(&eu, &ct).await, b"outlives its replica");
    eu.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    sweep_copy(&dev, &id, AWAY).await;
    // With no replica left, the primary may go too.
    us.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    sweep_copy(&dev, &id, HOME).await;
    let e = us
        .decrypt()
        .ciphertext_blob(blob(&ct))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    dev.shutdown().await;
}
