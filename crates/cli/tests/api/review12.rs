//! Attacks on issue 12's code (regions, multi-Region keys) found by review:
//! each failed before its fix.

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Region;
use aws_sdk_kms::types::MultiRegionKeyType;
use strongroom_cli::dev::DevEnvironment;

use crate::common::*;

const HOME: &str = "us-east-1";
const AWAY: &str = "eu-west-1";
const STRANGER: &str = "444455556666";

fn client_in(dev: &DevEnvironment, id: &str, secret: &str, region: &str) -> Client {
    Client::from_conf(
        config_for(dev, id, secret)
            .region(Region::new(region.to_owned()))
            .build(),
    )
}

/// A new account's root, in `region`.
async fn stranger_in(env: &TestEnv, region: &str) -> Client {
    let store = env.dev.store.as_ref();
    let other = strongroom_server::admin::create_account(store, Some(STRANGER.into()))
        .await
        .unwrap();
    let k = strongroom_server::admin::create_access_key(store, &env.dev.hsm, &other.id, None)
        .await
        .unwrap();
    client_in(&env.dev, &k.access_key_id, &k.secret_access_key, region)
}

async fn new_mrk(c: &Client) -> (String, String) {
    let m = c
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    (m.key_id().to_owned(), m.arn().unwrap().to_owned())
}

async fn key_type(c: &Client, key: &str) -> MultiRegionKeyType {
    c.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .multi_region_configuration()
        .unwrap()
        .multi_region_key_type()
        .unwrap()
        .clone()
}

/// AWS: UpdatePrimaryRegion has no cross-account use, like ReplicateKey.
/// Even where both copies' policies let another account do `kms:*`, it
/// cannot move the primary away from its owner's chosen region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_cannot_move_a_primary_even_when_policies_allow_it() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let (id, secret) = (&env.dev.access_key_id, &env.dev.secret_access_key);
    let us = client_in(&env.dev, id, secret, HOME);
    let eu = client_in(&env.dev, id, secret, AWAY);
    let (key, arn) = new_mrk(&us).await;
    us.replicate_key()
        .key_id(&key)
        .replica_region(AWAY)
        .send()
        .await
        .unwrap();
    let shared = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{STRANGER}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    for c in [&us, &eu] {
        c.put_key_policy()
            .key_id(&key)
            .policy(&shared)
            .send()
            .await
            .unwrap();
    }
    let stranger = stranger_in(&env, HOME).await;
    // The policy does let it use the key: the refusal below is the rule.
    stranger.describe_key().key_id(&arn).send().await.unwrap();
    let e = stranger
        .update_primary_region()
        .key_id(&arn)
        .primary_region(AWAY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert_eq!(key_type(&us, &key).await, MultiRegionKeyType::Primary);
    assert_eq!(key_type(&eu, &key).await, MultiRegionKeyType::Replica);
    env.stop().await;
}

/// UpdateAlias and DeleteAlias of an alias naming a multi-Region key's
/// copy: the alias is the owner's to change like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_of_multi_region_keys_can_be_retargeted_and_deleted() {
    let env = TestEnv::start().await;
    let (id, secret) = (&env.dev.access_key_id, &env.dev.secret_access_key);
    let us = client_in(&env.dev, id, secret, HOME);
    let eu = client_in(&env.dev, id, secret, AWAY);
    let (first, _) = new_mrk(&us).await;
    let (second, _) = new_mrk(&us).await;
    us.replicate_key()
        .key_id(&first)
        .replica_region(AWAY)
        .send()
        .await
        .unwrap();
    let plain = new_key(&eu).await;
    for (c, other) in [(&us, &second), (&eu, &plain)] {
        c.create_alias()
            .alias_name("alias/mr")
            .target_key_id(&first)
            .send()
            .await
            .unwrap();
        c.update_alias()
            .alias_name("alias/mr")
            .target_key_id(other)
            .send()
            .await
            .unwrap();
        let m = c
            .describe_key()
            .key_id("alias/mr")
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert!(other.ends_with(m.key_id()), "{other} / {}", m.key_id());
        c.update_alias()
            .alias_name("alias/mr")
            .target_key_id(&first)
            .send()
            .await
            .unwrap();
        c.delete_alias()
            .alias_name("alias/mr")
            .send()
            .await
            .unwrap();
        let left = c.list_aliases().send().await.unwrap();
        assert!(
            left.aliases()
                .iter()
                .all(|a| a.alias_name() != Some("alias/mr")),
            "{left:?}"
        );
    }
    env.stop().await;
}

/// ScheduleKeyDeletion counted a primary's replicas before it took the
/// write lock, so a ReplicateKey finishing in between left a primary
/// pending deletion with a replica (and, once swept, a replica without a
/// primary). One of the two must be refused, each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_is_never_scheduled_for_deletion_while_it_gets_a_replica() {
    let env = TestEnv::start().await;
    let (id, secret) = (&env.dev.access_key_id, &env.dev.secret_access_key);
    let us = client_in(&env.dev, id, secret, HOME);
    for round in 0..8 {
        let (key, _) = new_mrk(&us).await;
        let replicate = us.replicate_key().key_id(&key).replica_region(AWAY).send();
        let schedule = us
            .schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(7)
            .send();
        let (replicated, scheduled) = tokio::join!(replicate, schedule);
        assert!(
            replicated.is_err() || scheduled.is_err(),
            "round {round}: both succeeded"
        );
        let m = us
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let replicas = m.multi_region_configuration().unwrap().replica_keys().len();
        let pending = m.key_state() == Some(&aws_sdk_kms::types::KeyState::PendingDeletion);
        assert!(!(pending && replicas > 0), "round {round}: {m:?}");
    }
    env.stop().await;
}

/// Two frontends on one PostgreSQL store, each trusting cached metadata
/// for a minute (so frontend `a` acts on what it read before `b` changed
/// the key). `None` where PostgreSQL is not installed.
async fn two_frontends(dir: &std::path::Path) -> Option<(DevEnvironment, DevEnvironment)> {
    let url = fresh_postgres_url().await?;
    let start = |url: String, chain: &'static str| async move {
        start_in(dir, |o| {
            o.store_url = Some(url);
            o.metadata_cache_ttl = Some(std::time::Duration::from_secs(60));
            o.audit.audit_chain = Some(chain.into());
        })
        .await
    };
    let a = start(url.clone(), "fe-a").await;
    let b = start(url, "fe-b").await;
    Some((a, b))
}

fn root_in(dev: &DevEnvironment, region: &str) -> Client {
    client_in(dev, &dev.access_key_id, &dev.secret_access_key, region)
}

/// ReplicateKey checked the primary's state (and role) on the frontend's
/// cached copy but wrote against the stored one: a primary another
/// frontend had just scheduled for deletion got a replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_frontend_does_not_replicate_a_primary_pending_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_frontends(dir.path()).await else {
        return;
    };
    let (us_a, us_b) = (root_in(&a, HOME), root_in(&b, HOME));
    let (key, _) = new_mrk(&us_a).await;
    assert_eq!(key_type(&us_a, &key).await, MultiRegionKeyType::Primary);
    us_b.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let e = us_a
        .replicate_key()
        .key_id(&key)
        .replica_region(AWAY)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException", "{e:?}");
    let away = root_in(&b, AWAY).list_keys().send().await.unwrap();
    assert!(away.keys().is_empty(), "{away:?}");
    a.shutdown().await;
    b.shutdown().await;
}

/// UpdatePrimaryRegion checked that KeyId names the primary on the
/// frontend's cached copy: after another frontend moved the primary, a
/// stale one made a second primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_frontend_does_not_make_a_second_primary() {
    const THIRD: &str = "us-west-2";
    let dir = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_frontends(dir.path()).await else {
        return;
    };
    let (us_a, us_b) = (root_in(&a, HOME), root_in(&b, HOME));
    let (key, _) = new_mrk(&us_a).await;
    for region in [AWAY, THIRD] {
        us_a.replicate_key()
            .key_id(&key)
            .replica_region(region)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(key_type(&us_a, &key).await, MultiRegionKeyType::Primary);
    us_b.update_primary_region()
        .key_id(&key)
        .primary_region(AWAY)
        .send()
        .await
        .unwrap();
    let e = us_a
        .update_primary_region()
        .key_id(&key)
        .primary_region(THIRD)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException", "{e:?}");
    let mut primaries = Vec::new();
    for region in [HOME, AWAY, THIRD] {
        if key_type(&root_in(&b, region), &key).await == MultiRegionKeyType::Primary {
            primaries.push(region);
        }
    }
    assert_eq!(primaries, [AWAY]);
    a.shutdown().await;
    b.shutdown().await;
}

/// A seed file's parse error named the line and quoted the lines around
/// it: the secret access key and the key material next to a typo went to
/// the terminal and any log of it. The error still names the field and
/// its line, and shows no secret.
#[tokio::test]
async fn a_seed_parse_error_shows_no_secret_from_the_lines_around_it() {
    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzSECRET";
    const MATERIAL: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
    let files = tempfile::tempdir().unwrap();
    let text = format!(
        "accounts:\n  - id: \"111122223333\"\n    credentials:\n      - access_key_id: AKIAREVIEW12SEEDKEY0\n        secret_access_key: {SECRET}\n        colour: blue\nkeys:\n  - id: 0b5d8f3a-7a9e-4a5b-9bd7-1c1f4d2b8c9e\n    material: {MATERIAL}\n    descripton: typo\n"
    );
    let seed = files.path().join("seed.yaml");
    std::fs::write(&seed, &text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    opts.seed = Some(seed);
    let err = format!(
        "{:#}",
        strongroom_cli::dev::start(opts)
            .await
            .err()
            .expect("refused")
    );
    assert!(err.contains("colour") && err.contains("line 6"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    assert!(!err.contains(&SECRET[..12]), "{err}");
    // The key's line: a typo next to its material.
    let text = text.replace("        colour: blue\n", "");
    let seed = files.path().join("seed2.yaml");
    std::fs::write(&seed, &text).unwrap();
    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    opts.seed = Some(seed);
    let err = format!(
        "{:#}",
        strongroom_cli::dev::start(opts)
            .await
            .err()
            .expect("refused")
    );
    assert!(err.contains("descripton"), "{err}");
    assert!(!err.contains(&MATERIAL[..12]), "{err}");
}

/// RetireGrant on a multi-Region key's copy recorded the copy's internal
/// row id as the key's ARN (`key/<uuid>`, a key no request can name) in
/// the audit trail, instead of its `key/mrk-…` ARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_a_grant_on_a_multi_region_key_audits_its_mrk_arn() {
    let env = TestEnv::start().await;
    let (id, secret) = (&env.dev.access_key_id, &env.dev.secret_access_key);
    let us = client_in(&env.dev, id, secret, HOME);
    let (key, arn) = new_mrk(&us).await;
    let root = format!("arn:aws:iam::{}:root", env.dev.account_id);
    let grant = us
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{}:role/app", env.dev.account_id))
        .retiring_principal(&root)
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    us.retire_grant()
        .key_id(&arn)
        .grant_id(grant.grant_id().unwrap())
        .send()
        .await
        .unwrap();
    let retired: Vec<_> = env
        .dev
        .audit_events()
        .unwrap()
        .into_iter()
        .filter(|r| r["eventName"] == "RetireGrant")
        .collect();
    assert!(!retired.is_empty());
    for r in &retired {
        let arns: Vec<&str> = r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["ARN"].as_str())
            .filter(|a| a.contains(":key/"))
            .collect();
        assert_eq!(arns, [arn.as_str()], "{r}");
    }
    env.stop().await;
}

/// DeriveKey on a multi-Region key: with ReturnDerivedKey the derived key
/// (the same in every region: the copies share their material) left in
/// clear while only the one copy was marked exposed, so a policy on
/// `strongroom:KeyExposed` in another region still trusted its twin. Like
/// the other extensions, DeriveKey refuses multi-Region keys and changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derive_key_refuses_multi_region_keys_and_exposes_no_copy() {
    use crate::material_release::{refused, releasing_policy};
    let env = TestEnv::start().await;
    let raw_in = |region: &str| {
        strongroom_cli::client::KmsHttpClient::new(
            &env.dev.endpoint(),
            region,
            &env.dev.access_key_id,
            env.dev.secret_access_key.clone(),
            None,
        )
        .unwrap()
    };
    let (us, eu) = (raw_in(HOME), raw_in(AWAY));
    let policy = releasing_policy(&env.dev.account_id);
    let made = us
        .call_json(
            "CreateKey",
            serde_json::json!({"MultiRegion": true, "Policy": policy}),
        )
        .await
        .unwrap();
    let key = made["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    us.call_json(
        "ReplicateKey",
        serde_json::json!({"KeyId": key, "ReplicaRegion": AWAY, "Policy": policy}),
    )
    .await
    .unwrap();
    for reveal in [true, false] {
        let r = us
            .call_json(
                "DeriveKey",
                serde_json::json!({"KeyId": key, "DerivationContext": {"t": "a"}, "ReturnDerivedKey": reveal}),
            )
            .await;
        assert_eq!(refused(r), "UnsupportedOperationException");
    }
    for c in [&us, &eu] {
        let d = c
            .call_json("DescribeKey", serde_json::json!({"KeyId": key}))
            .await
            .unwrap();
        assert_ne!(d["KeyMetadata"]["Exposed"], true, "{d}");
    }
    env.stop().await;
}

/// A frontend configured as `strongroom serve` configures one (AWS's
/// credential rules, only us-east-1), on the store and modules of a `dev`.
async fn serve_frontend(dev: &DevEnvironment) -> strongroom_server::RunningServer {
    strongroom_server::start(
        strongroom_server::ServerConfig {
            region: HOME.parse().unwrap(),
            regions: strongroom_server::region::RegionSet::listed(vec![HOME.parse().unwrap()])
                .unwrap(),
            credential_rules: strongroom_server::admin::CredentialRules::Aws,
            ..second_frontend_config(dev).await
        },
        dev.store.clone(),
        dev.hsm.clone(),
    )
    .await
    .unwrap()
}

/// `dev --access-key-id test --secret-access-key test` stores the test
/// suites' fake credentials; a `serve` on that store (a dev database
/// promoted, a shared PostgreSQL) accepted them, although serve refuses to
/// create them. They authenticate only where dev's rules apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_test_credentials_a_dev_stored() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.access_key_id = Some("test".into());
        o.secret_access_key = Some(zeroize::Zeroizing::new("test".into()));
    })
    .await;
    let serve = serve_frontend(&dev).await;
    let at = |endpoint: String, id: &str, secret: &str| {
        Client::from_conf(
            config_for(&dev, id, secret)
                .region(Region::new(HOME))
                .endpoint_url(endpoint)
                .build(),
        )
    };
    // dev takes them.
    let key = new_key(&at(dev.endpoint(), "test", "test")).await;
    let e = at(serve.endpoint(), "test", "test")
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException", "{e:?}");
    // AWS-shaped credentials of the same account work on both.
    let store = dev.store.as_ref();
    let k = strongroom_server::admin::create_access_key(store, &dev.hsm, &dev.account_id, None)
        .await
        .unwrap();
    at(serve.endpoint(), &k.access_key_id, &k.secret_access_key)
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    serve.shutdown().await;
    dev.shutdown().await;
}

/// An alias and its key are of one account (AWS). Where a key policy let
/// another account do `kms:*`, that account's CreateAlias and UpdateAlias
/// pointed its alias at the key: an alias it then could not use, update
/// or delete (every later lookup by a bare id is its own account's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_alias_cannot_point_at_a_key() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let (id, secret) = (&env.dev.access_key_id, &env.dev.secret_access_key);
    let us = client_in(&env.dev, id, secret, HOME);
    let shared = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{STRANGER}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let theirs = us
        .create_key()
        .policy(&shared)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let stranger = stranger_in(&env, HOME).await;
    stranger
        .describe_key()
        .key_id(&theirs)
        .send()
        .await
        .unwrap();
    let e = stranger
        .create_alias()
        .alias_name("alias/borrowed")
        .target_key_id(&theirs)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    let own = new_key(&stranger).await;
    stranger
        .create_alias()
        .alias_name("alias/mine")
        .target_key_id(&own)
        .send()
        .await
        .unwrap();
    let e = stranger
        .update_alias()
        .alias_name("alias/mine")
        .target_key_id(&theirs)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    let listed = stranger.list_aliases().send().await.unwrap();
    let names: Vec<_> = listed
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .filter(|n| !n.starts_with("alias/aws/"))
        .collect();
    assert_eq!(names, ["alias/mine"]);
    let m = stranger
        .describe_key()
        .key_id("alias/mine")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(Some(m.arn().unwrap()), Some(own.as_str()));
    env.stop().await;
}
