//! Refusals, all of which change nothing: bad regions, replicas of
//! replicas, other tenants, missing permissions, the extensions.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_refusals_change_nothing() {
    let env = TestEnv::start().await;
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    replicate(&us, &id, AWAY).await;
    let refused = |c: Client, key: String, region: &'static str| async move {
        let e = c
            .replicate_key()
            .key_id(key)
            .replica_region(region)
            .send()
            .await
            .unwrap_err();
        (code(&e), e.message().unwrap_or("").to_owned())
    };
    // The same region twice.
    assert_eq!(
        refused(us.clone(), id.clone(), AWAY).await.0,
        "AlreadyExistsException"
    );
    // A replica is not replicated.
    let (c, m) = refused(eu.clone(), id.clone(), THIRD).await;
    assert_eq!(c, "UnsupportedOperationException", "{m}");
    assert!(m.contains("replica"), "{m}");
    // A single-Region key is not either.
    let single = new_key(&us).await;
    let (c, m) = refused(us.clone(), single, AWAY).await;
    assert_eq!(c, "UnsupportedOperationException", "{m}");
    // Its own region, another partition, a region no one serves.
    assert_eq!(
        refused(us.clone(), id.clone(), HOME).await.0,
        "ValidationException"
    );
    for region in ["cn-north-1", "us-gov-west-1", "us-iso-east-1"] {
        assert_eq!(
            refused(us.clone(), id.clone(), region).await.0,
            "UnsupportedOperationException",
            "{region}"
        );
    }
    // Names that are not regions: AWS's pattern and length.
    for bad in [
        "us-east",
        "US-EAST-1",
        "us_east_1",
        "1-2-3",
        "a-b-c-d-1",
        "",
    ] {
        let (c, m) = refused(us.clone(), id.clone(), bad).await;
        assert_eq!(c, "ValidationException", "{bad:?}: {m}");
        assert!(m.contains("replicaRegion"), "{m}");
    }
    let long = "a".repeat(33);
    let e = us
        .replicate_key()
        .key_id(&id)
        .replica_region(&long)
        .send()
        .await
        .unwrap_err();
    assert!(e.message().unwrap().contains("less than or equal to 32"));
    // Nothing was made by any of it.
    assert_eq!(
        shape(&describe(&us, &id).await),
        (MultiRegionKeyType::Primary, HOME.into(), vec![AWAY.into()])
    );
    for region in [THIRD, "cn-north-1"] {
        let c = client_in(&env.dev, region);
        assert!(
            c.list_keys().send().await.unwrap().keys().is_empty(),
            "{region}"
        );
    }
    // A copy's row id is no name of it, by UUID or ARN.
    let shared = strongroom_server::multi_region::parse(&id).unwrap();
    let row = strongroom_server::multi_region::row_id(shared, HOME);
    let me = env.dev.account_id.clone();
    for name in [
        row.to_string(),
        format!("arn:aws:kms:{HOME}:{me}:key/{row}"),
    ] {
        let e = us.describe_key().key_id(&name).send().await.unwrap_err();
        assert_eq!(code(&e), "NotFoundException", "{name}");
    }
    // Nor is it a ciphertext's key: a blob naming the row does not open.
    let mut forged = encrypt(&us, &id, b"x").await;
    forged[1..17].copy_from_slice(row.as_bytes());
    let e = us
        .decrypt()
        .ciphertext_blob(blob(&forged))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    // Malformed shared ids are no key.
    for bad in ["mrk-", "mrk-XYZ", &id.to_uppercase(), &format!("{id}0")] {
        let e = us.describe_key().key_id(bad).send().await.unwrap_err();
        assert_eq!(code(&e), "NotFoundException", "{bad}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_dev_replicates_only_into_the_regions_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.regions = vec![HOME.parse().unwrap(), AWAY.parse().unwrap()];
    })
    .await;
    let us = client_in(&dev, HOME);
    let id = new_mrk(&us).await.key_id().to_owned();
    let e = us
        .replicate_key()
        .key_id(&id)
        .replica_region(THIRD)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    assert!(
        dev.store
            .list_keys(&dev.account_id, THIRD, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(replicate(&us, &id, AWAY).await.key_id(), id);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_refuses_what_multi_region_keys_cannot_be() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let e = c
        .create_key()
        .multi_region(true)
        .origin(aws_sdk_kms::types::OriginType::External)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = c
        .create_key()
        .multi_region(true)
        .custom_key_store_id("cks-1234567890abcdef0")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    assert!(c.list_keys().send().await.unwrap().keys().is_empty());
    // MultiRegion=false is a single-Region key.
    let m = c
        .create_key()
        .multi_region(false)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(m.multi_region(), Some(false));
    assert!(m.multi_region_configuration().is_none());
    assert!(!m.key_id().starts_with("mrk-"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_tenants_cannot_replicate_describe_or_decrypt() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let us = client_in(&env.dev, HOME);
    let primary = new_mrk(&us).await;
    let (id, arn) = (
        primary.key_id().to_owned(),
        primary.arn().unwrap().to_owned(),
    );
    let ct = encrypt(&us, &id, b"mine").await;
    let stranger = other_account_client(&env, "444455556666").await;
    let e = stranger
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let e = stranger
        .replicate_key()
        .key_id(&arn)
        .replica_region(AWAY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    // Its bare id names the stranger's own keys: none.
    let e = stranger
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = stranger
        .decrypt()
        .ciphertext_blob(blob(&ct))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    // A user allowed kms:ReplicateKey on the key but not kms:CreateKey.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:ReplicateKey","kms:DescribeKey"],"Resource":"arn:aws:kms:*:{me}:key/*"}}]}}"#
    );
    let (_, user, _) = crate::authz_attacks::user(&env, &me, "replicator", Some(&policy)).await;
    let e = user
        .replicate_key()
        .key_id(&arn)
        .replica_region(AWAY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        e.message().unwrap().contains("kms:CreateKey"),
        "{:?}",
        e.message()
    );
    assert!(
        client_in(&env.dev, AWAY)
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys()
            .is_empty()
    );
    assert!(shape(&describe(&us, &id).await).2.is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_primary_region_needs_the_permission_on_both_keys() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    replicate(&us, &id, AWAY).await;
    let allow = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:UpdatePrimaryRegion","kms:DescribeKey"],"Resource":"arn:aws:kms:*:{me}:key/*"}}]}}"#
    );
    let (user_arn, user, _) = crate::authz_attacks::user(&env, &me, "mover", Some(&allow)).await;
    // The replica's own policy denies the user: the move is refused.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Principal":{{"AWS":"{user_arn}"}},"Action":"kms:UpdatePrimaryRegion","Resource":"*"}}]}}"#
    );
    eu.put_key_policy()
        .key_id(&id)
        .policy(&deny)
        .send()
        .await
        .unwrap();
    let e = user
        .update_primary_region()
        .key_id(&id)
        .primary_region(AWAY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        e.message().unwrap().contains(&format!(":{AWAY}:")),
        "{:?}",
        e.message()
    );
    assert_eq!(
        shape(&describe(&us, &id).await).0,
        MultiRegionKeyType::Primary
    );
    assert_eq!(
        shape(&describe(&eu, &id).await).0,
        MultiRegionKeyType::Replica
    );
    // Without the deny, the same user moves it.
    let open = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    eu.put_key_policy()
        .key_id(&id)
        .policy(&open)
        .send()
        .await
        .unwrap();
    user.update_primary_region()
        .key_id(&id)
        .primary_region(AWAY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        shape(&describe(&eu, &id).await).0,
        MultiRegionKeyType::Primary
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extensions_refuse_multi_region_keys_and_change_nothing() {
    let env = TestEnv::start().await;
    let us = client_in(&env.dev, HOME);
    let id = new_mrk(&us).await.key_id().to_owned();
    let ct = encrypt(&us, &id, b"kept").await;
    let raw = strongroom_cli::client::KmsHttpClient::new(
        &env.dev.endpoint(),
        HOME,
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    for op in ["ShredKey", "RevokeKey"] {
        let body = serde_json::to_vec(&serde_json::json!({ "KeyId": id })).unwrap();
        let (status, out) = raw.call(op, body).await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(status, 400, "{op}: {answer}");
        assert_eq!(answer["__type"], "UnsupportedOperationException", "{op}");
    }
    assert_eq!(
        describe(&us, &id).await.key_state().unwrap().as_str(),
        "Enabled"
    );
    assert_eq!(decrypt(&us, &ct).await, b"kept");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_policy_can_limit_replication_to_a_region() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let us = client_in(&env.dev, HOME);
    let may_create = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}]}"#;
    let (user_arn, user, _) =
        crate::authz_attacks::user(&env, &me, "replicator", Some(may_create)).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"kms:ReplicateKey","Resource":"*",
              "Condition":{{"StringEquals":{{"kms:ReplicaRegion":"{AWAY}","kms:MultiRegionKeyType":"PRIMARY"}}}}}}]}}"#
    );
    let id = us
        .create_key()
        .multi_region(true)
        .policy(policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
        .clone();
    let e = user
        .replicate_key()
        .key_id(&id)
        .replica_region(THIRD)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(shape(&describe(&us, &id).await).2.is_empty());
    let made = user
        .replicate_key()
        .key_id(&id)
        .replica_region(AWAY)
        .send()
        .await
        .unwrap();
    assert_eq!(made.replica_key_metadata.unwrap().key_id(), id);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_primary_regions_are_refused_and_move_nothing() {
    let env = TestEnv::start().await;
    let us = client_in(&env.dev, HOME);
    let id = new_mrk(&us).await.key_id().to_owned();
    replicate(&us, &id, AWAY).await;
    for (region, want) in [
        ("eu-west", "ValidationException"),
        ("EU-WEST-1", "ValidationException"),
        ("", "ValidationException"),
        ("eu-west-1-", "ValidationException"),
        ("cn-north-1", "UnsupportedOperationException"),
        ("us-iso-east-1", "UnsupportedOperationException"),
        (THIRD, "NotFoundException"),
    ] {
        let e = us
            .update_primary_region()
            .key_id(&id)
            .primary_region(region)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), want, "{region:?}: {:?}", e.message());
    }
    let e = us
        .update_primary_region()
        .key_id(&id)
        .primary_region("b".repeat(33))
        .send()
        .await
        .unwrap_err();
    assert!(e.message().unwrap().contains("primaryRegion"));
    assert_eq!(
        shape(&describe(&us, &id).await),
        (MultiRegionKeyType::Primary, HOME.into(), vec![AWAY.into()])
    );
    // A single-Region key has no primary region to move.
    let single = new_key(&us).await;
    let e = us
        .update_primary_region()
        .key_id(&single)
        .primary_region(AWAY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    env.stop().await;
}
