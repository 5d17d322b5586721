//! XKS proxy API refusals, each with the specification's errorName and
//! status and nothing changed: another account's or an unknown key, bad
//! paths, GET, malformed JSON, oversized inputs, tampered ciphertexts, a
//! disabled key, a non-AES key, and key policies that deny the key store
//! (AccessDeniedException, with an audit record).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use strongroom_cli::xks_client::Signing;

use crate::common::*;
use crate::xks::{
    assert_error, decrypt_body, encrypt_body, key_id_of, key_store, meta, xks_records,
};

#[tokio::test]
async fn unknown_and_other_account_keys_are_not_found_and_bad_paths_are_invalid_uris() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let other = other_account_client(&env, "222233334444").await;
    let theirs = new_key(&other).await;
    for external in [
        key_id_of(&theirs),
        "00000000-0000-4000-8000-000000000000",
        "no-such-alias",
    ] {
        for (api, body) in [
            ("encrypt", encrypt_body(b"x", None, false)),
            ("metadata", json!({"requestMetadata": meta("DescribeKey")})),
        ] {
            let got = ks
                .client
                .call(&format!("keys/{external}/{api}"), &body)
                .await
                .unwrap();
            assert_error(got, 404, "KeyNotFoundException");
        }
    }
    let body = serde_json::to_vec(&json!({"requestMetadata": meta("x")})).unwrap();
    for path in [
        "/nope/kms/xks/v1/health",
        "/ks/kms/xks/v1/keys/k/sign",
        "/ks/kms/xks/v1/key/k/encrypt",
        "/ks/kms/xks/v1/keys/a%20b/encrypt",
    ] {
        let got = ks
            .client
            .send("POST", path, body.clone(), &Signing::default())
            .await
            .unwrap();
        assert_error(got, 404, "InvalidUriPathException");
    }
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    for api in [
        "health".to_owned(),
        format!("keys/{id}/encrypt"),
        format!("keys/{id}/metadata"),
    ] {
        let got = ks
            .client
            .send(
                "GET",
                &ks.client.path(&api),
                Vec::new(),
                &Signing::default(),
            )
            .await
            .unwrap();
        assert_eq!(got.0, 405, "{api}");
    }
    env.stop().await;
}

#[tokio::test]
async fn malformed_json_and_oversized_inputs_get_validation_and_unsupported_operation() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    let path = ks.client.path(&format!("keys/{id}/encrypt"));
    for raw in [&b"{"[..], b"[]", b"", b"{\"requestMetadata\":1}"] {
        let got = ks
            .client
            .send("POST", &path, raw.to_vec(), &Signing::default())
            .await
            .unwrap();
        assert_error(got, 400, "ValidationException");
    }
    let mut no_request_id = encrypt_body(b"x", None, false);
    no_request_id["requestMetadata"]["kmsRequestId"] = Value::Null;
    let got = ks
        .client
        .call(&format!("keys/{id}/encrypt"), &no_request_id)
        .await
        .unwrap();
    assert_error(got, 400, "ValidationException");
    let mut wrong_alg = encrypt_body(b"x", None, false);
    wrong_alg["encryptionAlgorithm"] = "AES_CBC".into();
    assert_error(
        ks.client
            .call(&format!("keys/{id}/encrypt"), &wrong_alg)
            .await
            .unwrap(),
        400,
        "ValidationException",
    );
    let big = encrypt_body(&vec![1; 8193], None, false);
    assert_error(
        ks.client
            .call(&format!("keys/{id}/encrypt"), &big)
            .await
            .unwrap(),
        501,
        "UnsupportedOperationException",
    );
    let big_aad = encrypt_body(b"x", Some(&vec![1; 8193]), false);
    assert_error(
        ks.client
            .call(&format!("keys/{id}/encrypt"), &big_aad)
            .await
            .unwrap(),
        501,
        "UnsupportedOperationException",
    );
    let huge = vec![b' '; 70 * 1024];
    let got = ks
        .client
        .send("POST", &path, huge, &Signing::default())
        .await
        .unwrap();
    assert_error(got, 501, "UnsupportedOperationException");
    // Unknown kmsOperation values and extra metadata fields are accepted.
    let mut future = encrypt_body(b"x", None, false);
    future["requestMetadata"]["kmsOperation"] = "BulkEncrypt".into();
    future["requestMetadata"]["kmsRecipientAttestationImageSha384"] = "abc".into();
    assert_eq!(
        ks.client
            .call(&format!("keys/{id}/encrypt"), &future)
            .await
            .unwrap()
            .0,
        200
    );
    env.stop().await;
}

#[tokio::test]
async fn tampered_tag_iv_aad_ciphertext_or_metadata_is_invalid_ciphertext() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    let c = &ks.client;
    let (_, sealed) = c
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"secret data", Some(b"aad"), false),
        )
        .await
        .unwrap();
    let flip = |field: &str, i: usize| {
        let mut s = sealed.clone();
        let mut b = B64.decode(s[field].as_str().unwrap()).unwrap();
        b[i] ^= 1;
        s[field] = B64.encode(b).into();
        s
    };
    let cases = [
        decrypt_body(&flip("authenticationTag", 0), Some(b"aad")),
        decrypt_body(&flip("initializationVector", 3), Some(b"aad")),
        decrypt_body(&flip("ciphertext", 0), Some(b"aad")),
        decrypt_body(&flip("ciphertextMetadata", 19), Some(b"aad")),
        decrypt_body(&flip("ciphertextMetadata", 0), Some(b"aad")),
        decrypt_body(&sealed, Some(b"aaD")),
        decrypt_body(&sealed, None),
    ];
    for (i, body) in cases.iter().enumerate() {
        let got = c.call(&format!("keys/{id}/decrypt"), body).await.unwrap();
        assert_eq!(got.0, 400, "case {i}: {}", got.1);
        assert_eq!(got.1["errorName"], "InvalidCiphertextException", "case {i}");
    }
    // Another key of the same key store does not open it either.
    let other = key_id_of(&new_key(&env.client).await).to_owned();
    let got = c
        .call(
            &format!("keys/{other}/decrypt"),
            &decrypt_body(&sealed, Some(b"aad")),
        )
        .await
        .unwrap();
    assert_error(got, 400, "InvalidCiphertextException");
    // The untouched one still opens.
    let (s, out) = c
        .call(
            &format!("keys/{id}/decrypt"),
            &decrypt_body(&sealed, Some(b"aad")),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        B64.decode(out["plaintext"].as_str().unwrap()).unwrap(),
        b"secret data"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_disabled_key_is_invalid_state_and_its_metadata_says_disabled() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    let (_, sealed) = ks
        .client
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap();
    env.client.disable_key().key_id(&id).send().await.unwrap();
    assert_error(
        ks.client
            .call(
                &format!("keys/{id}/encrypt"),
                &encrypt_body(b"x", None, false),
            )
            .await
            .unwrap(),
        400,
        "InvalidStateException",
    );
    assert_error(
        ks.client
            .call(&format!("keys/{id}/decrypt"), &decrypt_body(&sealed, None))
            .await
            .unwrap(),
        400,
        "InvalidStateException",
    );
    let (s, md) = ks
        .client
        .call(
            &format!("keys/{id}/metadata"),
            &json!({"requestMetadata": meta("DescribeKey")}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(md["keyStatus"], "DISABLED");
    env.client.enable_key().key_id(&id).send().await.unwrap();
    let (s, _) = ks
        .client
        .call(&format!("keys/{id}/decrypt"), &decrypt_body(&sealed, None))
        .await
        .unwrap();
    assert_eq!(s, 200);
    env.stop().await;
}

#[tokio::test]
async fn a_non_aes_key_is_invalid_key_usage() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let hmac = env
        .client
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let got = ks
        .client
        .call(
            &format!("keys/{hmac}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap();
    assert_error(got, 400, "InvalidKeyUsageException");
    let (s, md) = ks
        .client
        .call(
            &format!("keys/{hmac}/metadata"),
            &json!({"requestMetadata": meta("DescribeKey")}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(md["keySpec"], "HMAC_256");
    assert_eq!(md["keyUsage"], json!([]));
    env.stop().await;
}

fn policy(account: &str, store_arn: &str, deny: &[&str]) -> String {
    let mut statements = vec![json!({
        "Sid": "Admin", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*", "Resource": "*"
    })];
    if !deny.is_empty() {
        statements.push(json!({"Sid": "NoXks", "Effect": "Deny", "Principal": {"AWS": store_arn}, "Action": deny, "Resource": "*"}));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A key store, and keys whose policies name the account (so the key
/// store's identity policy counts) and deny the key store what it may not do.
struct Denials {
    env: TestEnv,
    ks: crate::xks::Store,
}

impl Denials {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let ks = key_store(&env, &env.dev.account_id, "ks").await;
        Self { env, ks }
    }

    /// A new key whose policy denies the key store `deny`: its id.
    async fn key_with(&self, deny: &[&str]) -> String {
        let client = &self.env.client;
        let id = key_id_of(&new_key(client).await).to_owned();
        client
            .put_key_policy()
            .key_id(&id)
            .policy(policy(&self.env.dev.account_id, &self.ks.arn, deny))
            .send()
            .await
            .unwrap();
        id
    }

    /// XKS `api` (metadata or encrypt) on key `id`: (status, body).
    async fn call(&self, id: &str, api: &str) -> (u16, Value) {
        let body = if api == "metadata" {
            json!({"requestMetadata": meta("DescribeKey")})
        } else {
            encrypt_body(b"x", None, false)
        };
        let path = format!("keys/{id}/{api}");
        self.ks.client.call(&path, &body).await.unwrap()
    }
}

#[tokio::test]
async fn the_key_policy_decides_the_key_usage_xks_metadata_reports() {
    let f = Denials::start().await;
    let usage = |id: String| {
        let f = &f;
        async move {
            let (s, md) = f.call(&id, "metadata").await;
            assert_eq!(s, 200, "{md}");
            md["keyUsage"].clone()
        }
    };
    let encrypt_only = f.key_with(&["kms:Decrypt"]).await;
    let decrypt_only = f.key_with(&["kms:Encrypt"]).await;
    let no_usage = f.key_with(&["kms:Encrypt", "kms:Decrypt"]).await;
    assert_eq!(usage(encrypt_only).await, json!(["ENCRYPT"]));
    assert_eq!(usage(decrypt_only).await, json!(["DECRYPT"]));
    assert_eq!(usage(no_usage).await, json!([]));
    f.env.stop().await;
}

#[tokio::test]
async fn an_operation_the_key_policy_denies_the_key_store_is_access_denied() {
    let f = Denials::start().await;
    let encrypt_only = f.key_with(&["kms:Decrypt"]).await;
    let decrypt_only = f.key_with(&["kms:Encrypt"]).await;
    let no_usage = f.key_with(&["kms:Encrypt", "kms:Decrypt"]).await;
    let (s, sealed) = f.call(&encrypt_only, "encrypt").await;
    assert_eq!(s, 200);
    let path = format!("keys/{encrypt_only}/decrypt");
    let got = f.ks.client.call(&path, &decrypt_body(&sealed, None)).await;
    assert_error(got.unwrap(), 403, "AccessDeniedException");
    assert_error(
        f.call(&decrypt_only, "encrypt").await,
        403,
        "AccessDeniedException",
    );
    assert_error(
        f.call(&no_usage, "encrypt").await,
        403,
        "AccessDeniedException",
    );
    f.env.stop().await;
}

/// A key store denied everything is refused (AccessDeniedException, with
/// audit records naming it and the request), and the key stays enabled.
#[tokio::test]
async fn a_key_store_denied_everything_is_refused_audited_and_changes_nothing() {
    let f = Denials::start().await;
    let denied = f.key_with(&["kms:*"]).await;
    for api in ["metadata", "encrypt"] {
        assert_error(f.call(&denied, api).await, 403, "AccessDeniedException");
    }
    let recs = xks_records(&f.env).await;
    let refused: Vec<&Value> = recs
        .iter()
        .filter(|r| {
            r["errorCode"] == "AccessDeniedException"
                && r["resources"][0]["ARN"]
                    .as_str()
                    .is_some_and(|a| a.ends_with(&denied))
        })
        .collect();
    assert_eq!(refused.len(), 2, "{recs:#?}");
    assert_eq!(refused[1]["eventName"], "XksEncrypt");
    assert_eq!(refused[1]["userIdentity"]["arn"], f.ks.arn);
    assert_eq!(
        refused[1]["additionalEventData"]["xks"]["kmsRequestId"],
        "req-Encrypt-4112f4d6"
    );
    let d = f
        .env
        .client
        .describe_key()
        .key_id(&denied)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(d.key_state, Some(aws_sdk_kms::types::KeyState::Enabled));
    f.env.stop().await;
}

#[tokio::test]
async fn a_rotated_key_opens_every_version_and_a_shredded_one_opens_nothing() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let arn = new_key(&env.client).await;
    let id = key_id_of(&arn).to_owned();
    let c = &ks.client;
    let (_, v1) = c
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"one", None, false),
        )
        .await
        .unwrap();
    env.client
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let (_, v2) = c
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"two", None, false),
        )
        .await
        .unwrap();
    assert_ne!(v1["ciphertextMetadata"], v2["ciphertextMetadata"]);
    for (sealed, pt) in [(&v1, &b"one"[..]), (&v2, b"two")] {
        let (s, out) = c
            .call(&format!("keys/{id}/decrypt"), &decrypt_body(sealed, None))
            .await
            .unwrap();
        assert_eq!(s, 200, "{out}");
        assert_eq!(B64.decode(out["plaintext"].as_str().unwrap()).unwrap(), pt);
    }
    let raw = strongroom_cli::client::KmsHttpClient::new(
        &env.dev.endpoint(),
        &env.dev.region,
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    strongroom_cli::kms::shred(&raw, &arn).await.unwrap();
    for sealed in [&v1, &v2] {
        let got = c
            .call(&format!("keys/{id}/decrypt"), &decrypt_body(sealed, None))
            .await
            .unwrap();
        assert_error(got, 400, "InvalidStateException");
    }
    let got = c
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap();
    assert_error(got, 400, "InvalidStateException");
    env.stop().await;
}

#[tokio::test]
async fn key_policy_conditions_on_the_aws_request_metadata_decide() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    let account = env.dev.account_id.clone();
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "OnlyEbs", "Effect": "Deny", "Principal": {"AWS": ks.arn.clone()},
         "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringNotEquals": {"strongroom:XksViaService": "ebs"}}}
    ]});
    env.client
        .put_key_policy()
        .key_id(&id)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap();
    let (s, out) = ks
        .client
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{out}");
    let mut via_s3 = encrypt_body(b"x", None, false);
    via_s3["requestMetadata"]["kmsViaService"] = "s3".into();
    let got = ks
        .client
        .call(&format!("keys/{id}/encrypt"), &via_s3)
        .await
        .unwrap();
    assert_error(got, 403, "AccessDeniedException");
    env.stop().await;
}
