//! Users, roles and temporary credentials through aws-sdk-kms: the key
//! policy delegates to identity policies as AWS does, a key policy may name
//! a user directly, explicit denies in identity policies win, principal
//! tags reach conditions, role sessions need their token and expire, and a
//! user of another account needs both the key policy and its own identity
//! policy.

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Credentials;
use aws_sdk_kms::error::ProvideErrorMetadata;
use strongroom_server::admin;
use strongroom_store::PrincipalKind;

use crate::common::*;

const PARTNER: &str = "222233334444";

async fn user(
    env: &TestEnv,
    account: &str,
    name: &str,
    policy: Option<&str>,
    tags: &[&str],
) -> (String, Client) {
    let store = env.dev.store.as_ref();
    let p = admin::create_principal(
        store,
        account,
        PrincipalKind::User,
        name,
        policy.map(str::to_owned),
        admin::parse_tags(&tags.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap(),
        None,
    )
    .await
    .unwrap();
    let k = admin::create_principal_access_key(store, &env.dev.hsm, &p.arn)
        .await
        .unwrap();
    (
        p.arn,
        client_for(&env.dev, &k.access_key_id, &k.secret_access_key),
    )
}

fn with_token(env: &TestEnv, ak: &str, secret: &str, token: &str) -> Client {
    let conf = config_for(&env.dev, ak, secret)
        .credentials_provider(Credentials::new(
            ak,
            secret,
            Some(token.to_string()),
            None,
            "strongroom-test",
        ))
        .build();
    Client::from_conf(conf)
}

async fn encrypts(c: &Client, key: &str) -> Result<(), String> {
    c.encrypt()
        .key_id(key)
        .plaintext(blob(b"p"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {}", code(&e), e.message().unwrap_or("")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_follow_aws_evaluation() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let root = &env.client;
    let key = new_key(root).await;

    // Default key policy = delegation to the account: a user needs an
    // identity policy.
    let (bob_arn, bob) = user(&env, &me, "bob", None, &[]).await;
    let e = encrypts(&bob, &key).await.unwrap_err();
    assert!(e.starts_with("AccessDeniedException"), "{e}");
    assert!(
        e.contains(&format!(
            "User: {bob_arn} is not authorized to perform: kms:Encrypt"
        )),
        "{e}"
    );
    let e = bob.list_keys().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let alice_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:*:{me}:key/*"}},
            {{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}}]}}"#
    );
    let (_, alice) = user(&env, &me, "alice", Some(&alice_policy), &[]).await;
    encrypts(&alice, &key).await.unwrap();
    alice.list_keys().send().await.unwrap();
    let e = alice.create_key().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");

    // A key policy that names a user directly needs no identity policy.
    let named = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"{bob_arn}"}},"Action":"kms:Encrypt","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"kms:Encrypt","Resource":"*",
            "Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"blue"}}}}}}]}}"#
    );
    let key2 = root
        .create_key()
        .policy(named)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    encrypts(&bob, &key2).await.unwrap();
    let ct = root
        .encrypt()
        .key_id(&key2)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let e = bob.decrypt().ciphertext_blob(ct).send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    // Principal tags reach conditions.
    let (_, dave) = user(&env, &me, "dave", None, &["team=blue"]).await;
    let (_, erin) = user(&env, &me, "erin", None, &["team=red"]).await;
    encrypts(&dave, &key2).await.unwrap();
    assert!(encrypts(&erin, &key2).await.is_err());

    // An explicit deny in an identity policy wins over the key policy.
    let carol_policy = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
                                          {"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}"#;
    let (_, carol) = user(&env, &me, "carol", Some(carol_policy), &[]).await;
    let e = encrypts(&carol, &key).await.unwrap_err();
    assert!(
        e.contains("explicit deny in an identity-based policy"),
        "{e}"
    );
    carol.describe_key().key_id(&key).send().await.unwrap();

    // Roles: temporary credentials with a session token, which expire.
    let store = env.dev.store.as_ref();
    admin::create_principal(
        store,
        &me,
        PrincipalKind::Role,
        "app",
        Some(alice_policy.clone()),
        Vec::new(),
        None,
    )
    .await
    .unwrap();
    let role_arn = format!("arn:aws:iam::{me}:role/app");
    let t = admin::assume_role(store, &env.dev.hsm, &role_arn, "worker-1", 900)
        .await
        .unwrap();
    assert!(t.key.access_key_id.starts_with("ASIA"));
    let session = with_token(
        &env,
        &t.key.access_key_id,
        &t.key.secret_access_key,
        &t.session_token,
    );
    encrypts(&session, &key).await.unwrap();
    let forged = with_token(
        &env,
        &t.key.access_key_id,
        &t.key.secret_access_key,
        "bm90IHRoZSB0b2tlbg==",
    );
    assert!(
        encrypts(&forged, &key)
            .await
            .unwrap_err()
            .starts_with("UnrecognizedClientException")
    );
    let no_token = client_for(&env.dev, &t.key.access_key_id, &t.key.secret_access_key);
    assert!(encrypts(&no_token, &key).await.is_err());
    let expired = admin::assume_role(store, &env.dev.hsm, &role_arn, "worker-2", 900)
        .await
        .unwrap();
    let db = rusqlite::Connection::open(env.dir.path().join("strongroom.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE access_keys SET expires_at = 1 WHERE access_key_id = ?1",
        [&expired.key.access_key_id],
    )
    .unwrap();
    let old = with_token(
        &env,
        &expired.key.access_key_id,
        &expired.key.secret_access_key,
        &expired.session_token,
    );
    let e = encrypts(&old, &key).await.unwrap_err();
    assert!(e.starts_with("ExpiredTokenException"), "{e}");

    // Another account's user needs our key policy *and* its own identity policy.
    other_account_client(&env, PARTNER).await;
    let shared = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{PARTNER}:root"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    root.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(shared)
        .send()
        .await
        .unwrap();
    let pat_policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"{key}"}}]}}"#
    );
    let (_, pat) = user(&env, PARTNER, "pat", Some(&pat_policy), &[]).await;
    let (_, quinn) = user(&env, PARTNER, "quinn", None, &[]).await;
    encrypts(&pat, &key).await.unwrap();
    assert!(encrypts(&quinn, &key).await.is_err());
    // The identity policy alone does not open another account's key.
    let (_, pat2) = user(&env, PARTNER, "pat2", Some(&pat_policy), &[]).await;
    encrypts(&pat2, &key2)
        .await
        .expect_err("key2's policy does not allow the partner");

    // The audit trail names users and role sessions.
    let recs: Vec<serde_json::Value> = env.dev.audit_events().unwrap();
    assert!(
        recs.iter()
            .any(|r| r["userIdentity"]["type"] == "IAMUser" && r["userIdentity"]["arn"] == bob_arn)
    );
    assert!(
        recs.iter()
            .any(|r| r["userIdentity"]["type"] == "AssumedRole"
                && r["userIdentity"]["arn"] == t.session_arn
                && r["errorCode"].is_null())
    );
    env.stop().await;
}
