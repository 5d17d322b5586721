//! Multi-Region keys: `mrk-` ids, ReplicateKey, UpdatePrimaryRegion,
//! ciphertexts, signatures and MACs that work in every region holding a
//! copy, rotation reaching replicas, deletion and per-region state, other
//! tenants, and bad input.

use std::time::{Duration, Instant};

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Region;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{
    KeyMetadata, KeySpec, KeyUsageType, MacAlgorithmSpec, MultiRegionKeyType, SigningAlgorithmSpec,
    Tag,
};
use strongroom_cli::dev::DevEnvironment;

use crate::common::*;

const HOME: &str = "us-east-1";
const AWAY: &str = "eu-west-1";
const THIRD: &str = "us-west-2";

fn client_in(dev: &DevEnvironment, region: &str) -> Client {
    Client::from_conf(
        config_for(dev, &dev.access_key_id, &dev.secret_access_key)
            .region(Region::new(region.to_owned()))
            .build(),
    )
}

async fn new_mrk(c: &Client) -> KeyMetadata {
    c.create_key()
        .multi_region(true)
        .description("primary")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

async fn describe(c: &Client, key: &str) -> KeyMetadata {
    c.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

/// (type, primary region, replica regions) of a key's configuration.
fn shape(m: &KeyMetadata) -> (MultiRegionKeyType, String, Vec<String>) {
    let c = m.multi_region_configuration().unwrap();
    (
        c.multi_region_key_type().unwrap().clone(),
        c.primary_key().unwrap().region().unwrap().to_owned(),
        c.replica_keys()
            .iter()
            .map(|r| r.region().unwrap().to_owned())
            .collect(),
    )
}

async fn replicate(c: &Client, key: &str, region: &str) -> KeyMetadata {
    c.replicate_key()
        .key_id(key)
        .replica_region(region)
        .send()
        .await
        .unwrap()
        .replica_key_metadata
        .unwrap()
}

async fn encrypt(c: &Client, key: &str, text: &[u8]) -> Vec<u8> {
    c.encrypt()
        .key_id(key)
        .plaintext(blob(text))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

async fn decrypt(c: &Client, ct: &[u8]) -> Vec<u8> {
    c.decrypt()
        .ciphertext_blob(blob(ct))
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner()
}

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
    assert!(
        ["AccessDeniedException", "InvalidCiphertextException"].contains(&code(&e).as_str()),
        "{}",
        code(&e)
    );
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
