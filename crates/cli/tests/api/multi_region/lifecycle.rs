//! The life cycle: ids, replicas, ciphertexts, signatures and MACs in
//! every region, per-region state and the audit trail.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_has_the_same_id_and_decrypts_what_the_primary_encrypts() {
    let env = TestEnv::start().await;
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let me = env.dev.account_id.clone();
    let primary = new_mrk(&us).await;
    let id = primary.key_id().to_owned();
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert!(
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(
        primary.arn(),
        Some(format!("arn:aws:kms:{HOME}:{me}:key/{id}").as_str())
    );
    assert_eq!(primary.multi_region(), Some(true));
    assert_eq!(
        shape(&primary),
        (MultiRegionKeyType::Primary, HOME.into(), vec![])
    );
    let ct = encrypt(&us, &id, b"made at home").await;

    let out = us
        .replicate_key()
        .key_id(&id)
        .replica_region(AWAY)
        .description("away")
        .tags(
            Tag::builder()
                .tag_key("site")
                .tag_value("eu")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let replica = out.replica_key_metadata.unwrap();
    assert_eq!(replica.key_id(), id);
    assert_eq!(
        replica.arn(),
        Some(format!("arn:aws:kms:{AWAY}:{me}:key/{id}").as_str())
    );
    assert_eq!(replica.description(), Some("away"));
    assert_eq!(
        shape(&replica),
        (MultiRegionKeyType::Replica, HOME.into(), vec![AWAY.into()])
    );
    assert!(out.replica_policy.unwrap().contains(&me));
    assert_eq!(out.replica_tags.unwrap()[0].tag_value(), "eu");
    // The primary now lists it; the primary's own description and tags stay.
    let p = describe(&us, &id).await;
    assert_eq!(
        shape(&p),
        (MultiRegionKeyType::Primary, HOME.into(), vec![AWAY.into()])
    );
    assert_eq!(p.description(), Some("primary"));
    assert!(
        us.list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .tags()
            .is_empty()
    );

    // Ciphertexts go both ways, without and with the KeyId.
    assert_eq!(decrypt(&eu, &ct).await, b"made at home");
    let back = encrypt(&eu, &id, b"made away").await;
    assert_eq!(decrypt(&us, &back).await, b"made away");
    let named = eu
        .decrypt()
        .key_id(&id)
        .ciphertext_blob(blob(&ct))
        .send()
        .await
        .unwrap();
    assert_eq!(named.key_id(), replica.arn());
    // ReEncrypt in the replica's region, from the primary's ciphertext.
    let re = eu
        .re_encrypt()
        .ciphertext_blob(blob(&ct))
        .destination_key_id(&id)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner();
    assert_eq!(decrypt(&us, &re).await, b"made at home");
    // The other region's ARN is not a KeyId here (as for any key).
    let e = eu
        .encrypt()
        .key_id(primary.arn().unwrap())
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    // Listed under the shared id in both regions.
    for c in [&us, &eu] {
        let keys = c.list_keys().send().await.unwrap();
        let ids: Vec<_> = keys.keys().iter().filter_map(|k| k.key_id()).collect();
        assert_eq!(ids, [id.as_str()]);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_aliases_and_tags_are_per_region_and_the_audit_names_both_copies() {
    let env = TestEnv::start().await;
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let id = new_mrk(&us).await.key_id().to_owned();
    let replica_arn = replicate(&us, &id, AWAY).await.arn().unwrap().to_owned();
    eu.create_alias()
        .alias_name("alias/app")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&eu, "alias/app").await.key_id(), id);
    let aliases = eu.list_aliases().send().await.unwrap();
    assert_eq!(aliases.aliases()[0].target_key_id(), Some(id.as_str()));
    // A grant on the replica names it by its `mrk-` ARN.
    eu.create_grant()
        .key_id(&id)
        .grantee_principal(format!("arn:aws:iam::{}:role/app", env.dev.account_id))
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    let grants = eu.list_grants().key_id(&id).send().await.unwrap();
    assert_eq!(grants.grants()[0].key_id(), Some(replica_arn.as_str()));
    let e = us
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    // Disabling the replica leaves the primary usable.
    eu.disable_key().key_id(&id).send().await.unwrap();
    let e = eu
        .encrypt()
        .key_id(&id)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    let ct = encrypt(&us, &id, b"still fine").await;
    eu.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(decrypt(&eu, &ct).await, b"still fine");

    let intents: Vec<_> = env
        .dev
        .audit_events()
        .unwrap()
        .into_iter()
        .filter(|r| {
            r["eventName"] == "ReplicateKey" && r["additionalEventData"]["phase"] == "intent"
        })
        .collect();
    assert_eq!(intents.len(), 1);
    let arns: Vec<String> = intents[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["ARN"].as_str().map(str::to_owned))
        .collect();
    assert!(arns.contains(&replica_arn), "{arns:?}");
    assert!(
        arns.iter().any(|a| a.contains(&format!(":{HOME}:"))),
        "{arns:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_and_mac_keys_work_across_regions() {
    let env = TestEnv::start().await;
    let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
    let signer = us
        .create_key()
        .multi_region(true)
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
        .clone();
    replicate(&us, &signer, AWAY).await;
    let alg = SigningAlgorithmSpec::EcdsaSha256;
    let sig = us
        .sign()
        .key_id(&signer)
        .message(blob(b"signed at home"))
        .signing_algorithm(alg.clone())
        .send()
        .await
        .unwrap()
        .signature
        .unwrap();
    let ok = eu
        .verify()
        .key_id(&signer)
        .message(blob(b"signed at home"))
        .signature(sig)
        .signing_algorithm(alg)
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid());
    let us_pk = us.get_public_key().key_id(&signer).send().await.unwrap();
    let eu_pk = eu.get_public_key().key_id(&signer).send().await.unwrap();
    assert_eq!(us_pk.public_key, eu_pk.public_key);

    let mac_key = us
        .create_key()
        .multi_region(true)
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
        .clone();
    replicate(&us, &mac_key, AWAY).await;
    let mac = eu
        .generate_mac()
        .key_id(&mac_key)
        .message(blob(b"tagged away"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap()
        .mac
        .unwrap();
    let ok = us
        .verify_mac()
        .key_id(&mac_key)
        .message(blob(b"tagged away"))
        .mac(mac)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert!(ok.mac_valid());
    env.stop().await;
}
