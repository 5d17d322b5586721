//! Users, roles and temporary credentials through aws-sdk-kms: the key
//! policy delegates to identity policies as AWS does, a key policy may name
//! a user directly, explicit denies in identity policies win, principal
//! tags reach conditions, role sessions need their token and expire, and a
//! user of another account needs both the key policy and its own identity
//! policy. Each claim is its own test over a fresh [`Fixture`].

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Credentials;
use aws_sdk_kms::error::ProvideErrorMetadata;
use strongroom_server::admin::{self, TemporaryCredentials};
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

/// Our account with a key under the default policy (delegation to the
/// account's identity policies).
struct Fixture {
    env: TestEnv,
    me: String,
    key: String,
}

impl Fixture {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let me = env.dev.account_id.clone();
        let key = new_key(&env.client).await;
        Self { env, me, key }
    }

    fn root(&self) -> &Client {
        &self.env.client
    }

    /// A user of our account: (ARN, client).
    async fn user(&self, name: &str, policy: Option<&str>, tags: &[&str]) -> (String, Client) {
        user(&self.env, &self.me, name, policy, tags).await
    }

    /// Encrypt and Decrypt on our keys, and ListKeys.
    fn alice_policy(&self) -> String {
        let me = &self.me;
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:*:{me}:key/*"}},
            {{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}}]}}"#
        )
    }

    /// A second key whose policy lets `bob_arn`, and anyone tagged
    /// team=blue, Encrypt: its ARN.
    async fn key_naming(&self, bob_arn: &str) -> String {
        let me = &self.me;
        let named = format!(
            r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"{bob_arn}"}},"Action":"kms:Encrypt","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"kms:Encrypt","Resource":"*",
            "Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"blue"}}}}}}]}}"#
        );
        self.root()
            .create_key()
            .policy(named)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .arn
            .unwrap()
    }

    /// A session of a new role `app` (with [`Self::alice_policy`]).
    async fn role_session(&self, session: &str) -> TemporaryCredentials {
        let store = self.env.dev.store.as_ref();
        admin::create_principal(
            store,
            &self.me,
            PrincipalKind::Role,
            "app",
            Some(self.alice_policy()),
            Vec::new(),
            None,
        )
        .await
        .unwrap();
        let role_arn = format!("arn:aws:iam::{}:role/app", self.me);
        admin::assume_role(store, &self.env.dev.hsm, &role_arn, session, 900)
            .await
            .unwrap()
    }

    /// A client for `t` presenting `token` as its session token.
    fn session_client(&self, t: &TemporaryCredentials, token: &str) -> Client {
        with_token(
            &self.env,
            &t.key.access_key_id,
            &t.key.secret_access_key,
            token,
        )
    }
}

/// Default key policy = delegation to the account: a user needs an
/// identity policy, and gets exactly what it allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_default_key_policy_a_user_gets_what_its_identity_policy_allows() {
    let f = Fixture::start().await;
    let (bob_arn, bob) = f.user("bob", None, &[]).await;
    let e = encrypts(&bob, &f.key).await.unwrap_err();
    assert!(e.starts_with("AccessDeniedException"), "{e}");
    assert!(
        e.contains(&format!(
            "User: {bob_arn} is not authorized to perform: kms:Encrypt"
        )),
        "{e}"
    );
    let e = bob.list_keys().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let (_, alice) = f.user("alice", Some(&f.alice_policy()), &[]).await;
    encrypts(&alice, &f.key).await.unwrap();
    alice.list_keys().send().await.unwrap();
    let e = alice.create_key().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_policy_naming_a_user_needs_no_identity_policy_and_grants_only_its_actions() {
    let f = Fixture::start().await;
    let (bob_arn, bob) = f.user("bob", None, &[]).await;
    let key2 = f.key_naming(&bob_arn).await;
    encrypts(&bob, &key2).await.unwrap();
    let ct = f
        .root()
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
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principal_tags_reach_key_policy_conditions() {
    let f = Fixture::start().await;
    let (bob_arn, _) = f.user("bob", None, &[]).await;
    let key2 = f.key_naming(&bob_arn).await;
    let (_, dave) = f.user("dave", None, &["team=blue"]).await;
    let (_, erin) = f.user("erin", None, &["team=red"]).await;
    encrypts(&dave, &key2).await.unwrap();
    assert!(encrypts(&erin, &key2).await.is_err());
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_deny_in_an_identity_policy_wins_over_the_key_policy() {
    let f = Fixture::start().await;
    let carol_policy = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
                                          {"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}"#;
    let (_, carol) = f.user("carol", Some(carol_policy), &[]).await;
    let e = encrypts(&carol, &f.key).await.unwrap_err();
    assert!(
        e.contains("explicit deny in an identity-based policy"),
        "{e}"
    );
    carol.describe_key().key_id(&f.key).send().await.unwrap();
    f.env.stop().await;
}

/// Roles: temporary credentials that work only with their session token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_session_works_only_with_its_own_session_token() {
    let f = Fixture::start().await;
    let t = f.role_session("worker-1").await;
    assert!(t.key.access_key_id.starts_with("ASIA"));
    let session = f.session_client(&t, &t.session_token);
    encrypts(&session, &f.key).await.unwrap();
    let forged = f.session_client(&t, "bm90IHRoZSB0b2tlbg==");
    assert!(
        encrypts(&forged, &f.key)
            .await
            .unwrap_err()
            .starts_with("UnrecognizedClientException")
    );
    let no_token = client_for(&f.env.dev, &t.key.access_key_id, &t.key.secret_access_key);
    assert!(encrypts(&no_token, &f.key).await.is_err());
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_role_session_is_refused_as_expired() {
    let f = Fixture::start().await;
    let expired = f.role_session("worker-2").await;
    let db = rusqlite::Connection::open(f.env.dir.path().join("strongroom.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE access_keys SET expires_at = 1 WHERE access_key_id = ?1",
        [&expired.key.access_key_id],
    )
    .unwrap();
    let old = f.session_client(&expired, &expired.session_token);
    let e = encrypts(&old, &f.key).await.unwrap_err();
    assert!(e.starts_with("ExpiredTokenException"), "{e}");
    f.env.stop().await;
}

/// Another account's user needs our key policy *and* its own identity
/// policy; the identity policy alone does not open another account's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_user_needs_our_key_policy_and_its_own_identity_policy() {
    let f = Fixture::start().await;
    let (me, key) = (&f.me, &f.key);
    let (bob_arn, _) = f.user("bob", None, &[]).await;
    let key2 = f.key_naming(&bob_arn).await;
    other_account_client(&f.env, PARTNER).await;
    let shared = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{PARTNER}:root"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    f.root()
        .put_key_policy()
        .key_id(key)
        .policy_name("default")
        .policy(shared)
        .send()
        .await
        .unwrap();
    let pat_policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"{key}"}}]}}"#
    );
    let (_, pat) = user(&f.env, PARTNER, "pat", Some(&pat_policy), &[]).await;
    let (_, quinn) = user(&f.env, PARTNER, "quinn", None, &[]).await;
    encrypts(&pat, key).await.unwrap();
    assert!(encrypts(&quinn, key).await.is_err());
    let (_, pat2) = user(&f.env, PARTNER, "pat2", Some(&pat_policy), &[]).await;
    encrypts(&pat2, &key2)
        .await
        .expect_err("key2's policy does not allow the partner");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_names_users_and_role_sessions() {
    let f = Fixture::start().await;
    let (bob_arn, bob) = f.user("bob", None, &[]).await;
    encrypts(&bob, &f.key).await.unwrap_err();
    let t = f.role_session("worker-1").await;
    let session = f.session_client(&t, &t.session_token);
    encrypts(&session, &f.key).await.unwrap();
    let recs: Vec<serde_json::Value> = f.env.dev.audit_events().unwrap();
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
    f.env.stop().await;
}
