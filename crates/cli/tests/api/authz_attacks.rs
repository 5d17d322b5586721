//! Attacks on authorization through the public API (issue 10, findings 9,
//! 10 and the cross-account probe of 13). The every-operation check is in
//! `authz_every_operation`.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use strongroom_cli::client::KmsHttpClient;
use strongroom_server::admin;
use strongroom_store::PrincipalKind;

use crate::common::*;

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A user of `account` with identity policy `policy`: its ARN, an SDK
/// client and a raw signing client.
pub(crate) async fn user(
    env: &TestEnv,
    account: &str,
    name: &str,
    policy: Option<&str>,
) -> (String, Client, KmsHttpClient) {
    let store = env.dev.store.as_ref();
    let p = admin::create_principal(
        store,
        account,
        PrincipalKind::User,
        name,
        policy.map(str::to_owned),
        Vec::new(),
        None,
    )
    .await
    .unwrap();
    let k = admin::create_principal_access_key(store, &env.dev.hsm, &p.arn)
        .await
        .unwrap();
    let raw = KmsHttpClient::new(
        &env.dev.endpoint(),
        &env.dev.region,
        &k.access_key_id,
        k.secret_access_key.clone(),
        None,
    )
    .unwrap();
    (
        p.arn,
        client_for(&env.dev, &k.access_key_id, &k.secret_access_key),
        raw,
    )
}

pub(crate) fn policy(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

/// UpdateAlias by `c`: Ok, or the error code.
async fn update_alias(c: &Client, name: &str, target: &str) -> Result<(), String> {
    c.update_alias()
        .alias_name(name)
        .target_key_id(target)
        .send()
        .await
        .map(drop)
        .map_err(|e| code(&e))
}

/// DeleteAlias by `c`: Ok, or the error code.
async fn delete_alias(c: &Client, name: &str) -> Result<(), String> {
    c.delete_alias()
        .alias_name(name)
        .send()
        .await
        .map(drop)
        .map_err(|e| code(&e))
}

/// Where alias `name` points (root's view), or None.
pub(crate) async fn alias_target(root: &Client, name: &str) -> Option<String> {
    root.list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(name))
        .and_then(|a| a.target_key_id().map(str::to_owned))
}

pub(crate) fn key_id_of(arn: &str) -> String {
    arn.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_without_alias_permission_cannot_delete_or_update_anothers_alias() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let root = &env.client;
    let k1 = new_key(root).await;
    let k2 = new_key(root).await;
    root.create_alias()
        .alias_name("alias/payroll")
        .target_key_id(&k1)
        .send()
        .await
        .unwrap();
    // Mallory may do anything to keys, but nothing to aliases.
    let keys_only =
        policy(r#"{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/*"}"#);
    let (_, mallory, _) = user(&env, &me, "mallory", Some(&keys_only)).await;
    let (_, nobody, _) = user(&env, &me, "nobody", None).await;

    for c in [&mallory, &nobody] {
        let e = c
            .delete_alias()
            .alias_name("alias/payroll")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
        let e = c
            .update_alias()
            .alias_name("alias/payroll")
            .target_key_id(&k2)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
        let e = c
            .create_alias()
            .alias_name("alias/mallory")
            .target_key_id(&k2)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    }
    // Nothing changed.
    assert_eq!(
        alias_target(root, "alias/payroll").await,
        Some(key_id_of(&k1))
    );
    assert_eq!(alias_target(root, "alias/mallory").await, None);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_alias_needs_the_alias_and_both_the_old_and_the_new_key() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let root = &env.client;
    let mine = new_key(root).await;
    let theirs = new_key(root).await;
    let also_mine = new_key(root).await;
    root.create_alias()
        .alias_name("alias/carol-app")
        .target_key_id(&mine)
        .send()
        .await
        .unwrap();
    root.create_alias()
        .alias_name("alias/theirs")
        .target_key_id(&theirs)
        .send()
        .await
        .unwrap();
    // Carol may manage her aliases, and use her two keys only.
    let carol_policy = policy(&format!(
        r#"{{"Effect":"Allow","Action":["kms:UpdateAlias","kms:DeleteAlias"],"Resource":"arn:aws:kms:*:*:alias/carol-*"}},
           {{"Effect":"Allow","Action":["kms:UpdateAlias","kms:DeleteAlias"],"Resource":["{mine}","{also_mine}"]}}"#
    ));
    let (_, carol, _) = user(&env, &me, "carol", Some(&carol_policy)).await;

    // New key she may not use: refused.
    assert_eq!(
        update_alias(&carol, "alias/carol-app", &theirs).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        alias_target(root, "alias/carol-app").await,
        Some(key_id_of(&mine))
    );
    // An alias that is not hers (and whose key is not hers): refused.
    assert_eq!(
        update_alias(&carol, "alias/theirs", &mine).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        delete_alias(&carol, "alias/theirs").await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        alias_target(root, "alias/theirs").await,
        Some(key_id_of(&theirs))
    );
    // Her alias, moved from a key she may not use (the old key counts).
    root.update_alias()
        .alias_name("alias/carol-app")
        .target_key_id(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        update_alias(&carol, "alias/carol-app", &mine).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        delete_alias(&carol, "alias/carol-app").await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        alias_target(root, "alias/carol-app").await,
        Some(key_id_of(&theirs))
    );
    // With the alias and both keys hers, it works (the refusals above were
    // about the resources, not about her).
    root.update_alias()
        .alias_name("alias/carol-app")
        .target_key_id(&mine)
        .send()
        .await
        .unwrap();
    carol
        .update_alias()
        .alias_name("alias/carol-app")
        .target_key_id(&also_mine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        alias_target(root, "alias/carol-app").await,
        Some(key_id_of(&also_mine))
    );
    carol
        .delete_alias()
        .alias_name("alias/carol-app")
        .send()
        .await
        .unwrap();
    assert_eq!(alias_target(root, "alias/carol-app").await, None);
    env.stop().await;
}

/// A key whose policy lets the account's root do everything except what
/// `deny` (one statement) forbids.
async fn key_with_deny(root: &Client, account: &str, deny: &str) -> String {
    let p = policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}},{deny}"#
    ));
    root.create_key()
        .policy(p)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_halves_are_authorized_each_with_only_their_own_context() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let root = &env.client;
    // The source refuses to be re-encrypted from when the context carries
    // `stage` (a key only the destination context has).
    let source = key_with_deny(
        root,
        &me,
        r#"{"Effect":"Deny","Principal":"*","Action":"kms:ReEncryptFrom","Resource":"*","Condition":{"Null":{"kms:EncryptionContext:stage":"false"}}}"#,
    )
    .await;
    // The destination refuses ReEncryptTo when the context carries `tenant`
    // (a key only the source context has).
    let destination = key_with_deny(
        root,
        &me,
        r#"{"Effect":"Deny","Principal":"*","Action":"kms:ReEncryptTo","Resource":"*","Condition":{"Null":{"kms:EncryptionContext:tenant":"false"}}}"#,
    )
    .await;
    let ct = root
        .encrypt()
        .key_id(&source)
        .plaintext(blob(b"payload"))
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    // Source half sees only {tenant}, destination half only {stage}: both
    // denies stay out of it, as in AWS.
    let out = root
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("tenant", "a")
        .destination_key_id(&destination)
        .destination_encryption_context("stage", "prod")
        .send()
        .await
        .unwrap();
    let moved = out.ciphertext_blob.unwrap();
    let back = root
        .decrypt()
        .ciphertext_blob(moved)
        .encryption_context("stage", "prod")
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().as_ref(), b"payload");

    // Each deny still bites on its own half's context.
    let e = root
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("tenant", "a")
        .destination_key_id(&destination)
        .destination_encryption_context("tenant", "b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    assert!(
        e.message().unwrap_or("").contains("kms:ReEncryptTo"),
        "{e:?}"
    );
    let stage_ct = root
        .encrypt()
        .key_id(&source)
        .plaintext(blob(b"payload"))
        .encryption_context("stage", "x")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let e = root
        .re_encrypt()
        .ciphertext_blob(stage_ct)
        .source_encryption_context("stage", "x")
        .destination_key_id(&destination)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    assert!(
        e.message().unwrap_or("").contains("kms:ReEncryptFrom"),
        "{e:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_grants_count_only_for_their_own_half_and_context() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let root = &env.client;
    let source = new_key(root).await;
    let destination = new_key(root).await;
    let (dave_arn, dave, _) = user(&env, &me, "dave", None).await;
    // Dave may re-encrypt from the source with {tenant: a} and to the
    // destination with {tenant: b}, by grants only.
    root.create_grant()
        .key_id(&source)
        .grantee_principal(&dave_arn)
        .operations(aws_sdk_kms::types::GrantOperation::ReEncryptFrom)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_equals("tenant", "a")
                .build(),
        )
        .send()
        .await
        .unwrap();
    root.create_grant()
        .key_id(&destination)
        .grantee_principal(&dave_arn)
        .operations(aws_sdk_kms::types::GrantOperation::ReEncryptTo)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_equals("tenant", "b")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ct = root
        .encrypt()
        .key_id(&source)
        .plaintext(blob(b"payload"))
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    dave.re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("tenant", "a")
        .destination_key_id(&destination)
        .destination_encryption_context("tenant", "b")
        .send()
        .await
        .unwrap();
    // The destination's context does not satisfy the source grant, nor
    // the source's the destination grant.
    let e = dave
        .re_encrypt()
        .ciphertext_blob(ct)
        .source_encryption_context("tenant", "a")
        .destination_key_id(&destination)
        .destination_encryption_context("tenant", "a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    env.stop().await;
}

/// The message with `arn` blanked, to compare refusals for two ARNs.
fn without(msg: &str, arn: &str) -> String {
    msg.replace(arn, "<ARN>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_probe_cannot_tell_denied_keys_from_missing_ones() {
    let env = TestEnv::start().await;
    let owner = env.dev.account_id.clone();
    let root = &env.client;
    let plain = new_key(root).await;
    let denying = key_with_deny(
        root,
        &owner,
        r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:CallerAccount":"OWNER"}}}"#
            .replace("OWNER", &owner)
            .as_str(),
    )
    .await;
    let missing = format!(
        "arn:aws:kms:{}:{owner}:key/{}",
        env.dev.region,
        uuid::Uuid::new_v4()
    );
    let attacker = other_account_client(&env, "999988887777").await;

    let mut answers = Vec::new();
    for arn in [&plain, &denying, &missing] {
        let e = attacker
            .describe_key()
            .key_id(arn)
            .send()
            .await
            .unwrap_err();
        let enc = attacker
            .encrypt()
            .key_id(arn)
            .plaintext(blob(b"x"))
            .send()
            .await
            .unwrap_err();
        let del = attacker
            .schedule_key_deletion()
            .key_id(arn)
            .send()
            .await
            .unwrap_err();
        answers.push(
            [
                &e.into_service_error() as &dyn ProvideErrorMetadata,
                &enc.into_service_error(),
                &del.into_service_error(),
            ]
            .iter()
            .map(|e| {
                (
                    e.code().unwrap_or("").to_owned(),
                    without(e.message().unwrap_or(""), arn),
                )
            })
            .collect::<Vec<_>>(),
        );
    }
    assert!(
        answers[0].iter().all(|(c, _)| c == "AccessDeniedException"),
        "{answers:?}"
    );
    assert_eq!(answers[0], answers[1], "a key policy's deny shows");
    assert_eq!(answers[0], answers[2], "existence shows");
    // Nothing changed.
    for arn in [&plain, &denying] {
        let m = root
            .describe_key()
            .key_id(arn)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(m.key_state, Some(aws_sdk_kms::types::KeyState::Enabled));
    }
    env.stop().await;
}
