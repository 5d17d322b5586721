//! Rotation of the primary reaches every replica; replicas do not rotate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_primary_reaches_every_replica_and_replicas_do_not_rotate() {
    let env = TestEnv::start().await;
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    let before = encrypt(&us, &id, b"v1").await;
    replicate(&us, &id, AWAY).await;
    us.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let listed = eu.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(listed.rotations().len(), 1);
    // Version 2 is made in one region and opened in the other.
    let after = encrypt(&us, &id, b"v2").await;
    assert_ne!(after[17..21], before[17..21], "a new key version");
    assert_eq!(decrypt(&eu, &after).await, b"v2");
    assert_eq!(decrypt(&eu, &before).await, b"v1");
    assert_eq!(
        decrypt(&us, &encrypt(&eu, &id, b"v2 away").await).await,
        b"v2 away"
    );
    // Rotation is managed on the primary only.
    let e = eu
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = eu
        .enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = eu
        .disable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    us.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let status = eu
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(180));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rotation_of_the_primary_reaches_its_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        // A "day" of 20 ms: a 90-day period is 1.8 s.
        o.rotation_day = Duration::from_millis(20);
        o.deletion_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let (us, eu) = (client_in(&dev, HOME), client_in(&dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    replicate(&us, &id, AWAY).await;
    us.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let listed = eu.list_key_rotations().key_id(&id).send().await.unwrap();
        if let Some(r) = listed.rotations().first() {
            assert_eq!(r.rotation_type().unwrap().as_str(), "AUTOMATIC");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no rotation reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ct = encrypt(&us, &id, b"rotated").await;
    assert_eq!(decrypt(&eu, &ct).await, b"rotated");
    dev.shutdown().await;
}
