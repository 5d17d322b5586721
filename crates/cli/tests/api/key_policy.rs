//! Key policies through aws-sdk-kms: the default policy, cross-account use
//! by ARN, conditions on encryption context, explicit deny (also with a
//! negated operator on an absent key), the lockout safety check, unknown
//! condition operators, and re-encryption across accounts. Each claim about
//! one key's policy is its own test over a fresh [`Fixture`].

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;

use crate::common::*;

fn policy(account: &str, other: &str, extra: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Sid":"owner","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Sid":"partner","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{other}:root"}},
            "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey","kms:DescribeKey","kms:ReEncryptFrom"],"Resource":"*"}}
          {extra}
        ]}}"#
    )
}

const PARTNER: &str = "222233334444";

/// A key of ours (with the default policy) and a partner account.
struct Fixture {
    env: TestEnv,
    me: String,
    partner: Client,
    arn: String,
}

impl Fixture {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let me = env.dev.account_id.clone();
        let partner = other_account_client(&env, PARTNER).await;
        let arn = new_key(&env.client).await;
        Self {
            env,
            me,
            partner,
            arn,
        }
    }

    fn c(&self) -> &Client {
        &self.env.client
    }

    /// Puts [`policy`] for us and the partner, with `extra` statements.
    async fn put(&self, extra: &str) {
        self.c()
            .put_key_policy()
            .key_id(&self.arn)
            .policy_name("default")
            .policy(policy(&self.me, PARTNER, extra))
            .send()
            .await
            .unwrap();
    }

    /// Tries to put `document` as the key's policy.
    async fn put_document(&self, document: &str, bypass: bool) -> Result<(), String> {
        self.c()
            .put_key_policy()
            .key_id(&self.arn)
            .policy_name("default")
            .policy(document)
            .set_bypass_policy_lockout_safety_check(bypass.then_some(true))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    }

    /// Encrypts `text` under the key for `tenant`: the ciphertext.
    async fn encrypt_for(&self, tenant: &str, text: &[u8]) -> aws_sdk_kms::primitives::Blob {
        self.c()
            .encrypt()
            .key_id(&self.arn)
            .plaintext(blob(text))
            .encryption_context("tenant", tenant)
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap()
    }
}

/// An explicit deny of Decrypt unless the context says tenant=acme.
const TENANT_ONLY: &str = r#",{"Sid":"tenant-only","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
        "Condition":{"StringNotEquals":{"kms:EncryptionContext:tenant":"acme"}}}"#;

/// A policy that lets only the partner do anything.
const PARTNER_ONLY: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222233334444:root"},"Action":"kms:*","Resource":"*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_has_one_default_policy_giving_its_account_everything() {
    let f = Fixture::start().await;
    let default = f
        .c()
        .get_key_policy()
        .key_id(&f.arn)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let me = &f.me;
    assert!(default.contains(&format!("arn:aws:iam::{me}:root")) && default.contains("kms:*"));
    let names = f
        .c()
        .list_key_policies()
        .key_id(&f.arn)
        .send()
        .await
        .unwrap()
        .policy_names
        .unwrap();
    assert_eq!(names, vec!["default".to_string()]);
    let e = f
        .c()
        .get_key_policy()
        .key_id(&f.arn)
        .policy_name("other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_named_in_the_policy_uses_the_key_by_arn_within_its_actions() {
    let f = Fixture::start().await;
    f.put("").await;
    let (partner, arn) = (&f.partner, &f.arn);
    let ct = partner
        .encrypt()
        .key_id(arn)
        .plaintext(blob(b"shared"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let out = partner.decrypt().ciphertext_blob(ct).send().await.unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"shared");
    partner
        .generate_data_key()
        .key_id(arn)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert!(partner.describe_key().key_id(arn).send().await.is_ok());
    let e = partner
        .schedule_key_deletion()
        .key_id(arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let message = ProvideErrorMetadata::message(&e).unwrap_or("").to_string();
    assert!(
        message.contains(
            "arn:aws:iam::222233334444:root is not authorized to perform: kms:ScheduleKeyDeletion"
        ),
        "{message}"
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_key_id_names_only_the_callers_own_keys() {
    let f = Fixture::start().await;
    f.put("").await;
    let uuid = f.arn.rsplit('/').next().unwrap();
    let e = f
        .partner
        .describe_key()
        .key_id(uuid)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "NotFoundException",
        "a bare id names the caller's own keys"
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_deny_conditioned_on_the_encryption_context_wins() {
    let f = Fixture::start().await;
    f.put(TENANT_ONLY).await;
    let acme = f.encrypt_for("acme", b"a").await;
    let globex = f.encrypt_for("globex", b"g").await;
    f.c()
        .decrypt()
        .ciphertext_blob(acme)
        .encryption_context("tenant", "acme")
        .send()
        .await
        .unwrap();
    let e = f
        .c()
        .decrypt()
        .ciphertext_blob(globex)
        .encryption_context("tenant", "globex")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        ProvideErrorMetadata::message(&e)
            .unwrap_or("")
            .contains("explicit deny")
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_lockout_policies_are_refused_and_change_nothing() {
    let f = Fixture::start().await;
    f.put(TENANT_ONLY).await;
    let e = f.put_document("{\"Statement\":[]}", false).await;
    assert_eq!(e.unwrap_err(), "MalformedPolicyDocumentException");
    let e = f.put_document(PARTNER_ONLY, false).await;
    assert_eq!(e.unwrap_err(), "MalformedPolicyDocumentException");
    assert!(
        f.c()
            .get_key_policy()
            .key_id(&f.arn)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .contains("tenant-only")
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_bypass_the_owner_can_lock_itself_out_and_then_cannot_undo_it() {
    let f = Fixture::start().await;
    f.put_document(PARTNER_ONLY, true).await.unwrap();
    let e = f.put_document(&policy(&f.me, PARTNER, ""), false).await;
    assert_eq!(e.unwrap_err(), "AccessDeniedException");
    assert!(f.partner.describe_key().key_id(&f.arn).send().await.is_ok());
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_given_at_create_key_is_in_force() {
    let f = Fixture::start().await;
    let created = f
        .c()
        .create_key()
        .policy(policy(&f.me, PARTNER, ""))
        .send()
        .await
        .unwrap();
    let created = created.key_metadata.unwrap().arn.unwrap();
    assert!(
        f.partner
            .encrypt()
            .key_id(&created)
            .plaintext(blob(b"x"))
            .send()
            .await
            .is_ok()
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_across_accounts() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let me = env.dev.account_id.clone();
    let partner = other_account_client(&env, "555544443333").await;
    let mine = new_key(c).await;
    c.put_key_policy()
        .key_id(&mine)
        .policy_name("default")
        .policy(policy(&me, "555544443333", ""))
        .send()
        .await
        .unwrap();
    let theirs = new_key(&partner).await;
    let ct = c
        .encrypt()
        .key_id(&mine)
        .plaintext(blob(b"moving house"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    // The partner moves my ciphertext under its own key (kms:ReEncryptFrom on mine).
    let moved = partner
        .re_encrypt()
        .ciphertext_blob(ct)
        .destination_key_id(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.source_key_id.as_deref(), Some(mine.as_str()));
    let out = partner
        .decrypt()
        .ciphertext_blob(moved.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"moving house");
    // I cannot re-encrypt into the partner's key: its policy is the default.
    let ct = c
        .encrypt()
        .key_id(&mine)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let e = c
        .re_encrypt()
        .ciphertext_blob(ct)
        .destination_key_id(&theirs)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
}

/// The reported bypass: "Deny Encrypt if StringNotEquals
/// kms:EncryptionContext:tenant = a" let an Encrypt with no encryption
/// context through, because the negated operator failed open on the absent
/// key. In AWS it holds, so the Deny applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_unless_tenant_refuses_encrypt_without_encryption_context() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let me = env.dev.account_id.clone();
    let key = new_key(c).await;
    let deny = r#",{"Sid":"tenant-a-only","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",
                  "Condition":{"StringNotEquals":{"kms:EncryptionContext:tenant":"a"}}}"#;
    c.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(policy(&me, "222233334444", deny))
        .send()
        .await
        .unwrap();
    let encrypt = |ctx: Option<(&str, &str)>| {
        let mut r = c.encrypt().key_id(&key).plaintext(blob(b"tenant data"));
        if let Some((k, v)) = ctx {
            r = r.encryption_context(k, v);
        }
        r.send()
    };
    let e = encrypt(None).await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    let e = encrypt(Some(("tenant", "b"))).await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    let e = encrypt(Some(("other", "a"))).await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    encrypt(Some(("tenant", "a"))).await.unwrap();

    // An operator AWS does not define is refused when the policy is put,
    // and the policy in force stays as it was.
    let before = c
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy;
    for bad in [
        r#",{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringNotEqual":{"kms:EncryptionContext:tenant":"a"}}}"#,
        r#",{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"NumericLessThan":{"kms:ExpirationDays":"ten"}}}"#,
    ] {
        let e = c
            .put_key_policy()
            .key_id(&key)
            .policy_name("default")
            .policy(policy(&me, "222233334444", bad))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "MalformedPolicyDocumentException", "{e:?}");
    }
    let after = c
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy;
    assert_eq!(before, after);
    let e = encrypt(None).await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    env.stop().await;
}
