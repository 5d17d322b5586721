//! Every row of the operation table, sent over HTTP by a principal with no
//! permission, is refused with AccessDenied and changes nothing: an
//! operation that skips authorization (or a new one without a request body
//! here) fails this test.

use base64::Engine;

use crate::authz_attacks::{B64, alias_target, key_id_of, policy, user};
use crate::common::*;

/// A request body for every row of the operation table that passes input
/// validation and names the victim's resources, so that authorization is
/// what decides. A new operation without a body here fails the test.
pub(crate) fn body_for(op: &str, v: &Victim) -> Option<serde_json::Value> {
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
        "UpdateSuspensionOwner" => json!({
            "KeyId": k, "CurrentOwnerPublicKey": B64.encode([4u8; 65]),
            "NewOwnerPublicKey": B64.encode([5u8; 65]), "ValidTo": 4_000_000_000u64,
            "Signature": B64.encode([6u8; 64])
        }),
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
        "GetKeyLastUsage" => json!({"KeyId": k}),
        "Encapsulate" => json!({"KeyId": k, "EncapsulationAlgorithm": "ML_KEM"}),
        "Decapsulate" => json!({
            "KeyId": k, "SharedSecretCiphertextBlob": B64.encode([1u8; 32]),
            "EncapsulationAlgorithm": "ML_KEM"
        }),
        _ => return None,
    })
}

/// The resources an attacker goes after.
pub(crate) struct Victim {
    pub(crate) key: String,
    pub(crate) alias: String,
    pub(crate) ciphertext: String,
    pub(crate) grant_id: String,
    pub(crate) grant_token: String,
    pub(crate) grantee: String,
    pub(crate) attacker: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_refuses_a_principal_without_permission() {
    let env = TestEnv::start().await;
    let root = &env.client;
    let (victim, attacker) = set_up_victim(&env).await;

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
    assert_victim_untouched(root, &victim, 1).await;
    env.stop().await;
}

/// A key of the root's with an alias, a tag, a ciphertext and a grant, and
/// a user of the same account with no permission (and its raw client).
pub(crate) async fn set_up_victim(
    env: &TestEnv,
) -> (Victim, strongroom_cli::client::KmsHttpClient) {
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
    let (attacker_arn, _, attacker) = user(env, &me, "attacker", None).await;
    let victim = Victim {
        key: key.clone(),
        alias: "alias/victim".into(),
        ciphertext: B64.encode(ciphertext.as_ref()),
        grant_id: grant.grant_id.unwrap(),
        grant_token: grant.grant_token.unwrap(),
        grantee,
        attacker: attacker_arn,
    };
    (victim, attacker)
}

/// Fails unless the victim's resources are exactly as `set_up_victim` left
/// them, and its ciphertext still decrypts (no module forgot the key).
/// `keys`: how many keys the account holds in the region, the victim's
/// included.
pub(crate) async fn assert_victim_untouched(
    root: &aws_sdk_kms::Client,
    victim: &Victim,
    keys: usize,
) {
    let key = victim.key.clone();
    let ciphertext = B64.decode(&victim.ciphertext).unwrap();
    let plain = root
        .decrypt()
        .ciphertext_blob(blob(&ciphertext))
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"secret");
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
    let listed = root.list_keys().send().await.unwrap();
    assert_eq!(listed.keys().len(), keys, "a key was created");
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
}
