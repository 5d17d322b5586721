//! DeriveKey's token (review finding: derived-key tokens opened with
//! Decrypt). A principal with `kms:*` but not `kms:RevealDerivedKey`
//! derives a key and tries every way to get it in clear; only a reveal
//! allowed by a policy naming kms:RevealDerivedKey works, and it marks the
//! key exposed.

use base64::Engine;
use strongroom_cli::client::KmsHttpClient;

use crate::common::*;
use crate::material_release::{kms_star_policy, raw, refused, releasing_policy};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn exposed(raw: &KmsHttpClient, arn: &str) -> bool {
    let d = raw
        .call_json("DescribeKey", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap();
    d["KeyMetadata"]["Exposed"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_star_principal_decrypting_a_derived_key_token_is_refused_and_the_key_stays_unexposed()
{
    let env = TestEnv::start().await;
    let raw = raw(&env);
    let c = &env.client;
    let account = &env.dev.account_id;
    let arn = raw
        .call_json(
            "CreateKey",
            serde_json::json!({"Policy": kms_star_policy(account)}),
        )
        .await
        .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let derived = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"}}),
        )
        .await
        .unwrap();
    assert!(derived.get("DerivedKey").is_none());
    let token_b64 = derived["DerivedKeyToken"].as_str().unwrap().to_string();
    let token = B64.decode(&token_b64).unwrap();

    // Decrypt, with and without the context, and ReEncrypt: refused as a
    // ciphertext they cannot open.
    for with_context in [true, false] {
        let mut d = c.decrypt().ciphertext_blob(blob(&token));
        if with_context {
            d = d.encryption_context("tenant", "acme");
        }
        let e = d.send().await.unwrap_err();
        assert_eq!(code(&e), "InvalidCiphertextException");
    }
    let e = c
        .re_encrypt()
        .ciphertext_blob(blob(&token))
        .source_encryption_context("tenant", "acme")
        .destination_key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    // Revealing by token, or deriving in clear, needs kms:RevealDerivedKey.
    let by_token = serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"},
        "DerivedKeyToken": token_b64, "ReturnDerivedKey": true});
    let r = raw.call_json("DeriveKey", by_token.clone()).await;
    assert_eq!(refused(r), "AccessDeniedException");
    let r = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"}, "ReturnDerivedKey": true}),
        )
        .await;
    assert_eq!(refused(r), "AccessDeniedException");
    // A token without a reveal is not a way around it either.
    let r = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"}, "DerivedKeyToken": token_b64}),
        )
        .await;
    assert_eq!(refused(r), "ValidationException");
    // Nothing changed: the key is not marked exposed.
    assert!(!exposed(&raw, &arn).await);

    // Once a policy names kms:RevealDerivedKey, the token reveals the key
    // (the same one DeriveKey reveals), and the key is marked exposed.
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(releasing_policy(account))
        .send()
        .await
        .unwrap();
    let opened = raw.call_json("DeriveKey", by_token.clone()).await.unwrap();
    assert!(exposed(&raw, &arn).await);
    let again = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"}, "ReturnDerivedKey": true}),
        )
        .await
        .unwrap();
    assert_eq!(opened["DerivedKey"], again["DerivedKey"]);
    assert_eq!(
        B64.decode(opened["DerivedKey"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    // The token names its version: after a rotation it still reveals the
    // old derived key, while DeriveKey derives a new one.
    c.rotate_key_on_demand().key_id(&arn).send().await.unwrap();
    let old = raw.call_json("DeriveKey", by_token).await.unwrap();
    assert_eq!(old["DerivedKey"], opened["DerivedKey"]);
    let new = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"}, "ReturnDerivedKey": true}),
        )
        .await
        .unwrap();
    assert_ne!(new["DerivedKey"], opened["DerivedKey"]);
    // Another context, or an ordinary ciphertext as the token: refused.
    let r = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "globex"},
                "DerivedKeyToken": derived["DerivedKeyToken"], "ReturnDerivedKey": true}),
        )
        .await;
    assert_eq!(refused(r), "InvalidCiphertextException");
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"data"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let r = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivedKeyToken": B64.encode(ct.as_ref()),
                "ReturnDerivedKey": true}),
        )
        .await;
    assert_eq!(refused(r), "InvalidCiphertextException");
}
