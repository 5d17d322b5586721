//! The life cycle: ids, replicas, ciphertexts, signatures and MACs in
//! every region, per-region state and the audit trail. The replica's
//! claims are each a test over a fresh [`Pair`].

use super::*;

/// A multi-Region primary made at home (description "primary"), clients
/// in both regions, and a ciphertext made at home.
struct Pair {
    env: TestEnv,
    us: Client,
    eu: Client,
    me: String,
    primary: KeyMetadata,
    id: String,
    ct: Vec<u8>,
}

impl Pair {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let (us, eu) = (client_in(&env.dev, HOME), client_in(&env.dev, AWAY));
        let me = env.dev.account_id.clone();
        let primary = new_mrk(&us).await;
        let id = primary.key_id().to_owned();
        let ct = encrypt(&us, &id, b"made at home").await;
        Self {
            env,
            us,
            eu,
            me,
            primary,
            id,
            ct,
        }
    }

    /// Replicates the key away, with description "away" and tag site=eu.
    async fn replicate_away(&self) -> aws_sdk_kms::operation::replicate_key::ReplicateKeyOutput {
        self.us
            .replicate_key()
            .key_id(&self.id)
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
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_region_key_id_is_mrk_and_lowercase_hex_with_its_arn_in_its_region() {
    let f = Pair::start().await;
    let (id, me, primary) = (&f.id, &f.me, &f.primary);
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
        shape(primary),
        (MultiRegionKeyType::Primary, HOME.into(), vec![])
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_has_the_same_id_its_regions_arn_and_its_own_description_policy_and_tags() {
    let f = Pair::start().await;
    let (id, me) = (&f.id, &f.me);
    let out = f.replicate_away().await;
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
    assert!(out.replica_policy.unwrap().contains(me));
    assert_eq!(out.replica_tags.unwrap()[0].tag_value(), "eu");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_lists_its_replica_and_keeps_its_own_description_and_tags() {
    let f = Pair::start().await;
    f.replicate_away().await;
    let p = describe(&f.us, &f.id).await;
    assert_eq!(
        shape(&p),
        (MultiRegionKeyType::Primary, HOME.into(), vec![AWAY.into()])
    );
    assert_eq!(p.description(), Some("primary"));
    assert!(
        f.us.list_resource_tags()
            .key_id(&f.id)
            .send()
            .await
            .unwrap()
            .tags()
            .is_empty()
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciphertexts_go_both_ways_between_primary_and_replica_without_and_with_the_key_id() {
    let f = Pair::start().await;
    let (us, eu) = (&f.us, &f.eu);
    let replica = f.replicate_away().await.replica_key_metadata.unwrap();
    assert_eq!(decrypt(eu, &f.ct).await, b"made at home");
    let back = encrypt(eu, &f.id, b"made away").await;
    assert_eq!(decrypt(us, &back).await, b"made away");
    let named = eu
        .decrypt()
        .key_id(&f.id)
        .ciphertext_blob(blob(&f.ct))
        .send()
        .await
        .unwrap();
    assert_eq!(named.key_id(), replica.arn());
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_in_the_replicas_region_takes_the_primarys_ciphertext() {
    let f = Pair::start().await;
    f.replicate_away().await;
    let re =
        f.eu.re_encrypt()
            .ciphertext_blob(blob(&f.ct))
            .destination_key_id(&f.id)
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap()
            .into_inner();
    assert_eq!(decrypt(&f.us, &re).await, b"made at home");
    f.env.stop().await;
}

/// The other region's ARN is not a KeyId here (as for any key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_regions_arn_of_a_replicated_key_is_not_a_key_id_here() {
    let f = Pair::start().await;
    f.replicate_away().await;
    let e =
        f.eu.encrypt()
            .key_id(f.primary.arn().unwrap())
            .plaintext(blob(b"x"))
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_regions_list_a_replicated_key_under_its_shared_id() {
    let f = Pair::start().await;
    f.replicate_away().await;
    for c in [&f.us, &f.eu] {
        let keys = c.list_keys().send().await.unwrap();
        let ids: Vec<_> = keys.keys().iter().filter_map(|k| k.key_id()).collect();
        assert_eq!(ids, [f.id.as_str()]);
    }
    f.env.stop().await;
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
