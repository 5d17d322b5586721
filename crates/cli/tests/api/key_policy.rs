//! Key policies through aws-sdk-kms: the default policy, cross-account use
//! by ARN, conditions on encryption context, explicit deny (also with a
//! negated operator on an absent key), the lockout safety check, unknown
//! condition operators, and re-encryption across accounts.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policies_govern_every_request() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let me = env.dev.account_id.clone();
    let partner = other_account_client(&env, "222233334444").await;
    let arn = new_key(c).await;
    let uuid = arn.rsplit('/').next().unwrap().to_string();

    let default = c
        .get_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(default.contains(&format!("arn:aws:iam::{me}:root")) && default.contains("kms:*"));
    let names = c
        .list_key_policies()
        .key_id(&arn)
        .send()
        .await
        .unwrap()
        .policy_names
        .unwrap();
    assert_eq!(names, vec!["default".to_string()]);
    let e = c
        .get_key_policy()
        .key_id(&arn)
        .policy_name("other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");

    // The partner account may use the key by its ARN, within what the policy says.
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(policy(&me, "222233334444", ""))
        .send()
        .await
        .unwrap();
    let ct = partner
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"shared"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let out = partner
        .decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"shared");
    partner
        .generate_data_key()
        .key_id(&arn)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert!(partner.describe_key().key_id(&arn).send().await.is_ok());
    let e = partner
        .schedule_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let message = aws_sdk_kms::error::ProvideErrorMetadata::message(&e)
        .unwrap_or("")
        .to_string();
    assert!(
        message.contains(
            "arn:aws:iam::222233334444:root is not authorized to perform: kms:ScheduleKeyDeletion"
        ),
        "{message}"
    );
    let e = partner
        .describe_key()
        .key_id(&uuid)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "NotFoundException",
        "a bare id names the caller's own keys"
    );

    // An explicit deny with a condition on the encryption context wins.
    let deny = r#",{"Sid":"tenant-only","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
        "Condition":{"StringNotEquals":{"kms:EncryptionContext:tenant":"acme"}}}"#;
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(policy(&me, "222233334444", deny))
        .send()
        .await
        .unwrap();
    let acme = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"a"))
        .encryption_context("tenant", "acme")
        .send()
        .await
        .unwrap();
    let globex = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"g"))
        .encryption_context("tenant", "globex")
        .send()
        .await
        .unwrap();
    c.decrypt()
        .ciphertext_blob(acme.ciphertext_blob.unwrap())
        .encryption_context("tenant", "acme")
        .send()
        .await
        .unwrap();
    let e = c
        .decrypt()
        .ciphertext_blob(globex.ciphertext_blob.unwrap())
        .encryption_context("tenant", "globex")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        aws_sdk_kms::error::ProvideErrorMetadata::message(&e)
            .unwrap_or("")
            .contains("explicit deny")
    );

    // Malformed documents and lock-outs are refused and change nothing.
    let e = c
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy("{\"Statement\":[]}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocumentException");
    let partner_only = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222233334444:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let e = c
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(partner_only)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocumentException");
    assert!(
        c.get_key_policy()
            .key_id(&arn)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .contains("tenant-only")
    );
    // With the bypass the owner can lock itself out, and then cannot undo it.
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(partner_only)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap();
    let e = c
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(policy(&me, "222233334444", ""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(partner.describe_key().key_id(&arn).send().await.is_ok());

    // A policy at CreateKey.
    let created = c
        .create_key()
        .policy(policy(&me, "222233334444", ""))
        .send()
        .await
        .unwrap();
    let created = created.key_metadata.unwrap().arn.unwrap();
    assert!(
        partner
            .encrypt()
            .key_id(&created)
            .plaintext(blob(b"x"))
            .send()
            .await
            .is_ok()
    );
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
