//! Attacks on authorization through the public API (issue 10, findings 9,
//! 10 and the cross-account probe of 13), and the every-operation check:
//! each row of the operation table, sent by a principal with no permission,
//! is refused with AccessDenied, so an operation that skips authorization
//! fails here.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use base64::Engine;
use strongroom_cli::client::KmsHttpClient;
use strongroom_server::identity;
use strongroom_store::PrincipalKind;

use crate::common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A user of `account` with identity policy `policy`: its ARN, an SDK
/// client and a raw signing client.
async fn user(
    env: &TestEnv,
    account: &str,
    name: &str,
    policy: Option<&str>,
) -> (String, Client, KmsHttpClient) {
    let store = env.dev.store.as_ref();
    let p = identity::create_principal(
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
    let k = identity::create_principal_access_key(store, &env.dev.hsm, &p.arn)
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

fn policy(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

/// Where alias `name` points (root's view), or None.
async fn alias_target(root: &Client, name: &str) -> Option<String> {
    root.list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(name))
        .and_then(|a| a.target_key_id().map(str::to_owned))
}

fn key_id_of(arn: &str) -> String {
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
    let e = carol
        .update_alias()
        .alias_name("alias/carol-app")
        .target_key_id(&theirs)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    assert_eq!(
        alias_target(root, "alias/carol-app").await,
        Some(key_id_of(&mine))
    );
    // An alias that is not hers (and whose key is not hers): refused.
    let e = carol
        .update_alias()
        .alias_name("alias/theirs")
        .target_key_id(&mine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    let e = carol
        .delete_alias()
        .alias_name("alias/theirs")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
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
    let e = carol
        .update_alias()
        .alias_name("alias/carol-app")
        .target_key_id(&mine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
    let e = carol
        .delete_alias()
        .alias_name("alias/carol-app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException", "{e:?}");
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

/// A request body for every row of the operation table that passes input
/// validation and names the victim's resources, so that authorization is
/// what decides. A new operation without a body here fails the test.
fn body_for(op: &str, v: &Victim) -> Option<serde_json::Value> {
    use serde_json::json;
    let k = &v.key;
    Some(match op {
        "CreateKey" | "ListKeys" | "ListAliases" => json!({}),
        "GenerateRandom" => json!({"NumberOfBytes": 16}),
        "ListRetirableGrants" => json!({"RetiringPrincipal": v.grantee}),
        "DescribeKey"
        | "EnableKey"
        | "DisableKey"
        | "ScheduleKeyDeletion"
        | "CancelKeyDeletion"
        | "EnableKeyRotation"
        | "DisableKeyRotation"
        | "GetKeyRotationStatus"
        | "RotateKeyOnDemand"
        | "ListKeyRotations"
        | "DeleteImportedKeyMaterial"
        | "GetPublicKey"
        | "GetKeyPolicy"
        | "ListKeyPolicies"
        | "ListGrants"
        | "ListResourceTags"
        | "ShredKey"
        | "RevokeKey" => json!({"KeyId": k}),
        "UpdateKeyDescription" => json!({"KeyId": k, "Description": "pwned"}),
        "CreateAlias" => json!({"AliasName": "alias/attacker", "TargetKeyId": k}),
        "UpdateAlias" => json!({"AliasName": v.alias, "TargetKeyId": k}),
        "DeleteAlias" => json!({"AliasName": v.alias}),
        "Encrypt" => json!({"KeyId": k, "Plaintext": B64.encode(b"x")}),
        "Decrypt" => json!({"CiphertextBlob": v.ciphertext}),
        "ReEncrypt" => json!({"CiphertextBlob": v.ciphertext, "DestinationKeyId": k}),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            json!({"KeyId": k, "KeySpec": "AES_256"})
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            json!({"KeyId": k, "KeyPairSpec": "ECC_NIST_P256"})
        }
        "GetParametersForImport" => json!({
            "KeyId": k, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"
        }),
        "ImportKeyMaterial" => json!({
            "KeyId": k, "ImportToken": B64.encode([1u8; 32]),
            "EncryptedKeyMaterial": B64.encode([2u8; 32]),
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"
        }),
        "DeriveSharedSecret" => json!({
            "KeyId": k, "KeyAgreementAlgorithm": "ECDH", "PublicKey": B64.encode([4u8; 65])
        }),
        "SuspendKey" => json!({"KeyId": k, "PublicKey": B64.encode([4u8; 65])}),
        "ReinstateKey" => json!({
            "KeyId": k, "ImportToken": B64.encode([1u8; 32]),
            "EncryptedKeyMaterial": B64.encode([2u8; 32])
        }),
        "DeriveKey" => json!({"KeyId": k, "DerivationContext": {"a": "b"}}),
        "Sign" => {
            json!({"KeyId": k, "Message": B64.encode(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"})
        }
        "Verify" => json!({
            "KeyId": k, "Message": B64.encode(b"m"), "SigningAlgorithm": "ECDSA_SHA_256",
            "Signature": B64.encode([0u8; 64])
        }),
        "GenerateMac" => {
            json!({"KeyId": k, "Message": B64.encode(b"m"), "MacAlgorithm": "HMAC_SHA_256"})
        }
        "VerifyMac" => json!({
            "KeyId": k, "Message": B64.encode(b"m"), "MacAlgorithm": "HMAC_SHA_256",
            "Mac": B64.encode([0u8; 32])
        }),
        "PutKeyPolicy" => json!({
            "KeyId": k, "PolicyName": "default",
            "Policy": policy(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}"#),
            "BypassPolicyLockoutSafetyCheck": true
        }),
        "CreateGrant" => json!({
            "KeyId": k, "GranteePrincipal": v.attacker, "Operations": ["Decrypt"]
        }),
        "RetireGrant" => json!({"GrantToken": v.grant_token}),
        "RevokeGrant" => json!({"KeyId": k, "GrantId": v.grant_id}),
        "TagResource" => json!({"KeyId": k, "Tags": [{"TagKey": "owner", "TagValue": "attacker"}]}),
        "UntagResource" => json!({"KeyId": k, "TagKeys": ["team"]}),
        // Known but unsupported: the keyless check comes first.
        "ConnectCustomKeyStore"
        | "CreateCustomKeyStore"
        | "DeleteCustomKeyStore"
        | "DescribeCustomKeyStores"
        | "DisconnectCustomKeyStore"
        | "UpdateCustomKeyStore" => {
            json!({"CustomKeyStoreId": "cks-1234567890abcdef0"})
        }
        "ReplicateKey" => json!({"KeyId": k, "ReplicaRegion": "eu-west-1"}),
        "UpdatePrimaryRegion" => json!({"KeyId": k, "PrimaryRegion": "eu-west-1"}),
        _ => return None,
    })
}

/// The resources an attacker goes after.
struct Victim {
    key: String,
    alias: String,
    ciphertext: String,
    grant_id: String,
    grant_token: String,
    grantee: String,
    attacker: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_refuses_a_principal_without_permission() {
    let env = TestEnv::start().await;
    let me = env.dev.account_id.clone();
    let root = &env.client;
    let key = new_key(root).await;
    root.create_alias()
        .alias_name("alias/victim")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    root.tag_resource()
        .key_id(&key)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("team")
                .tag_value("payroll")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ciphertext = root
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"secret"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let grantee = format!("arn:aws:iam::{me}:user/grantee");
    let grant = root
        .create_grant()
        .key_id(&key)
        .grantee_principal(&grantee)
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let (attacker_arn, _, attacker) = user(&env, &me, "attacker", None).await;
    let victim = Victim {
        key: key.clone(),
        alias: "alias/victim".into(),
        ciphertext: B64.encode(ciphertext.as_ref()),
        grant_id: grant.grant_id.unwrap(),
        grant_token: grant.grant_token.unwrap(),
        grantee,
        attacker: attacker_arn,
    };

    let mut failures = Vec::new();
    for op in strongroom_server::ops::OPERATIONS {
        let Some(body) = body_for(op.name, &victim) else {
            failures.push(format!("{}: no request body in this test", op.name));
            continue;
        };
        let (status, out) = attacker
            .call(op.name, serde_json::to_vec(&body).unwrap())
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        let kind = answer["__type"].as_str().unwrap_or("");
        if status != 400 || kind != "AccessDeniedException" {
            failures.push(format!("{}: {status} {answer}", op.name));
        }
    }
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));

    // Nothing changed.
    let m = root
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(m.key_state, Some(aws_sdk_kms::types::KeyState::Enabled));
    assert_eq!(m.description.as_deref(), Some(""));
    assert_eq!(
        alias_target(root, "alias/victim").await,
        Some(key_id_of(&key))
    );
    assert_eq!(alias_target(root, "alias/attacker").await, None);
    let tags = root.list_resource_tags().key_id(&key).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].tag_value(), "payroll");
    let grants = root.list_grants().key_id(&key).send().await.unwrap();
    assert_eq!(grants.grants().len(), 1);
    let keys = root.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1, "a key was created");
    let p = root
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(!p.contains(r#""AWS":"*""#), "policy replaced: {p}");
    let rotation = root
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(!rotation.key_rotation_enabled);
    env.stop().await;
}
