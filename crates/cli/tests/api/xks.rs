//! The AWS KMS External Key Store proxy API (docs/xks.md) on `strongroom
//! dev`, signed as AWS KMS signs. Attacks first: forged and mis-scoped
//! signatures, stale ones, a key store's credential on another's prefix,
//! another account's key, a disabled key, a key policy that denies the key
//! store, tampered ciphertexts, oversized inputs, bad paths, GET and
//! malformed JSON; each gets the specification's errorName and status and
//! changes nothing. Then round trips, keyUsage by policy, credential
//! rotation and the audit trail.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use strongroom_cli::xks_client::{Signing, XksHttpClient};
use strongroom_server::xks::admin;

use crate::common::*;

struct Store {
    client: XksHttpClient,
    arn: String,
    access_key_id: String,
}

async fn key_store(env: &TestEnv, account: &str, prefix: &str) -> Store {
    let (ks, key) = admin::create_keystore(env.dev.store.as_ref(), &env.dev.hsm, account, prefix)
        .await
        .unwrap();
    Store {
        client: XksHttpClient::new(
            &env.dev.endpoint(),
            &ks.prefix,
            "eu-west-1",
            &key.access_key_id,
            key.secret_access_key.clone(),
        )
        .unwrap(),
        arn: ks.arn,
        access_key_id: key.access_key_id,
    }
}

fn meta(op: &str) -> Value {
    json!({
        "awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
        "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "kmsOperation": op,
        "kmsRequestId": format!("req-{op}-4112f4d6"),
        "kmsViaService": "ebs"
    })
}

fn encrypt_body(plaintext: &[u8], aad: Option<&[u8]>, cdiv: bool) -> Value {
    let mut b = json!({
        "requestMetadata": meta("Encrypt"),
        "plaintext": B64.encode(plaintext),
        "encryptionAlgorithm": "AES_GCM",
    });
    if let Some(a) = aad {
        b["additionalAuthenticatedData"] = B64.encode(a).into();
    }
    if cdiv {
        b["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256".into();
    }
    b
}

fn decrypt_body(sealed: &Value, aad: Option<&[u8]>) -> Value {
    let mut b = json!({
        "requestMetadata": meta("Decrypt"),
        "encryptionAlgorithm": "AES_GCM",
        "ciphertext": sealed["ciphertext"],
        "ciphertextMetadata": sealed["ciphertextMetadata"],
        "initializationVector": sealed["initializationVector"],
        "authenticationTag": sealed["authenticationTag"],
    });
    if let Some(a) = aad {
        b["additionalAuthenticatedData"] = B64.encode(a).into();
    }
    b
}

fn key_id_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

fn assert_error(got: (u16, Value), status: u16, name: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["errorName"], name, "{}", got.1);
    let msg = got.1["errorMessage"].as_str().unwrap_or("");
    assert!(msg.len() < 512 && msg.bytes().all(|b| (0x20..=0x7e).contains(&b)));
}

async fn xks_records(env: &TestEnv) -> Vec<Value> {
    env.dev
        .audit_events()
        .unwrap()
        .into_iter()
        .filter(|e| e["eventSource"] == "kms-xks-proxy")
        .collect()
}

#[tokio::test]
async fn round_trips_with_and_without_aad_cdiv_metadata_alias_and_health() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "keystores/one").await;
    let arn = new_key(&env.client).await;
    let id = key_id_of(&arn);
    env.client
        .create_alias()
        .alias_name("alias/xks-one")
        .target_key_id(id)
        .send()
        .await
        .unwrap();
    let c = &ks.client;
    let (status, md) = c
        .call(
            &format!("keys/{id}/metadata"),
            &json!({"requestMetadata": meta("DescribeKey")}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{md}");
    assert_eq!(
        md,
        json!({"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"})
    );
    for external in [id, "xks-one"] {
        for (aad, cdiv) in [
            (None, false),
            (Some(&b"project=nile"[..]), true),
            (Some(&[7u8; 8192][..]), true),
        ] {
            let pt = vec![0x5a; 4300];
            let (s, sealed) = c
                .call(
                    &format!("keys/{external}/encrypt"),
                    &encrypt_body(&pt, aad, cdiv),
                )
                .await
                .unwrap();
            assert_eq!(s, 200, "{sealed}");
            assert_eq!(
                B64.decode(sealed["initializationVector"].as_str().unwrap())
                    .unwrap()
                    .len(),
                12
            );
            assert_eq!(
                B64.decode(sealed["authenticationTag"].as_str().unwrap())
                    .unwrap()
                    .len(),
                16
            );
            let md = B64
                .decode(sealed["ciphertextMetadata"].as_str().unwrap())
                .unwrap();
            assert!(md.len() <= 20);
            if cdiv {
                let mut all = aad.unwrap_or_default().to_vec();
                for f in [
                    "ciphertextMetadata",
                    "initializationVector",
                    "ciphertext",
                    "authenticationTag",
                ] {
                    all.extend(B64.decode(sealed[f].as_str().unwrap()).unwrap());
                }
                assert_eq!(
                    sealed["ciphertextDataIntegrityValue"],
                    B64.encode(strongroom_crypto::sha256(&all))
                );
            } else {
                assert!(sealed.get("ciphertextDataIntegrityValue").is_none());
            }
            let (s, out) = c
                .call(
                    &format!("keys/{external}/decrypt"),
                    &decrypt_body(&sealed, aad),
                )
                .await
                .unwrap();
            assert_eq!(s, 200, "{out}");
            assert_eq!(B64.decode(out["plaintext"].as_str().unwrap()).unwrap(), pt);
        }
    }
    let (s, health) = c
        .call(
            "health",
            &json!({"requestMetadata": {"kmsRequestId": "h1", "kmsOperation": "KmsHealthCheck"}}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{health}");
    assert_eq!(health["xksProxyVendor"], "Strongroom");
    assert!(health["xksProxyFleetSize"].as_u64().unwrap() >= 1);
    assert_eq!(health["ekmFleetDetails"][0]["healthStatus"], "ACTIVE");
    // Audited with the AWS principal and KMS request id.
    let recs = xks_records(&env).await;
    let enc = recs
        .iter()
        .find(|r| r["eventName"] == "XksEncrypt")
        .expect("an XksEncrypt record");
    assert_eq!(enc["userIdentity"]["arn"], ks.arn);
    assert_eq!(enc["userIdentity"]["accessKeyId"], ks.access_key_id);
    assert_eq!(enc["resources"][0]["ARN"], arn);
    let x = &enc["additionalEventData"]["xks"];
    assert_eq!(x["kmsRequestId"], "req-Encrypt-4112f4d6");
    assert_eq!(x["awsPrincipalArn"], "arn:aws:iam::123456789012:user/Alice");
    assert_eq!(x["uriPrefix"], "/keystores/one");
    assert!(recs.iter().any(|r| r["eventName"] == "XksGetHealthStatus"
        && r["additionalEventData"]["xks"]["kmsRequestId"] == "h1"));
    env.stop().await;
}

#[tokio::test]
async fn forged_mis_scoped_and_stale_signatures_fail_authentication_and_leave_no_record() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    let path = ks.client.path(&format!("keys/{id}/encrypt"));
    let body = serde_json::to_vec(&encrypt_body(b"x", None, false)).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let attempts = [
        Signing {
            secret: Some("a-forged-secret-of-the-right-length-0000000000"),
            ..Default::default()
        },
        Signing {
            service: "kms",
            ..Default::default()
        },
        Signing {
            at: now - time::Duration::minutes(6),
            ..Default::default()
        },
        Signing {
            at: now + time::Duration::minutes(6),
            ..Default::default()
        },
    ];
    for s in &attempts {
        let got = ks
            .client
            .send("POST", &path, body.clone(), s)
            .await
            .unwrap();
        assert_error(got, 401, "AuthenticationFailedException");
    }
    // The account root's KMS credentials are no key store's.
    let root = XksHttpClient::new(
        &env.dev.endpoint(),
        "/ks",
        "eu-west-1",
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
    )
    .unwrap();
    assert_error(
        root.call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap(),
        401,
        "AuthenticationFailedException",
    );
    // No credential at all.
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", env.dev.endpoint()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(
        xks_records(&env).await.is_empty(),
        "unauthenticated requests are only counted"
    );
    // The genuine signature still works.
    let (s, _) = ks
        .client
        .call(
            "health",
            &json!({"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "x"}}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    env.stop().await;
}

#[tokio::test]
async fn a_key_store_credential_is_unknown_to_the_kms_api() {
    let env = TestEnv::start().await;
    let (_, key) = admin::create_keystore(
        env.dev.store.as_ref(),
        &env.dev.hsm,
        &env.dev.account_id,
        "ks",
    )
    .await
    .unwrap();
    let kms = client_for(&env.dev, &key.access_key_id, &key.secret_access_key);
    let err = kms.list_keys().send().await.unwrap_err();
    assert_eq!(code(&err), "UnrecognizedClientException");
    env.stop().await;
}

#[tokio::test]
async fn a_credential_of_one_key_store_does_not_sign_for_another() {
    let env = TestEnv::start().await;
    let a = key_store(&env, &env.dev.account_id, "store-a").await;
    let b = key_store(&env, &env.dev.account_id, "store-b").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    // A's credential, replayed on B's prefix (signed for that path).
    let path = b.client.path(&format!("keys/{id}/encrypt"));
    let body = serde_json::to_vec(&encrypt_body(b"x", None, false)).unwrap();
    let got = a
        .client
        .send("POST", &path, body, &Signing::default())
        .await
        .unwrap();
    assert_error(got, 401, "AuthenticationFailedException");
    let (s, _) = b
        .client
        .call(
            &format!("keys/{id}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    env.stop().await;
}

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

fn policy(account: &str, store_arn: &str, allow: &[&str], deny: &[&str]) -> String {
    let mut statements = vec![json!({
        "Sid": "Admin", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*", "Resource": "*"
    })];
    if !allow.is_empty() {
        statements.push(json!({"Sid": "Xks", "Effect": "Allow", "Principal": {"AWS": store_arn}, "Action": allow, "Resource": "*"}));
    }
    if !deny.is_empty() {
        statements.push(json!({"Sid": "NoXks", "Effect": "Deny", "Principal": {"AWS": store_arn}, "Action": deny, "Resource": "*"}));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[tokio::test]
async fn key_policy_decides_key_usage_and_a_denial_is_access_denied_and_audited() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let acct = env.dev.account_id.clone();
    let key_with = |allow: &'static [&'static str], deny: &'static [&'static str]| {
        let (client, arn) = (env.client.clone(), ks.arn.clone());
        let acct = acct.clone();
        async move {
            let id = key_id_of(&new_key(&client).await).to_owned();
            client
                .put_key_policy()
                .key_id(&id)
                .policy(policy(&acct, &arn, allow, deny))
                .send()
                .await
                .unwrap();
            id
        }
    };
    // The key policies name the account (so the key store's identity
    // policy counts) and deny the key store what it may not do.
    let encrypt_only = key_with(&[], &["kms:Decrypt"]).await;
    let decrypt_only = key_with(&[], &["kms:Encrypt"]).await;
    let no_usage = key_with(&[], &["kms:Encrypt", "kms:Decrypt"]).await;
    let denied = key_with(&[], &["kms:*"]).await;
    let usage = |id: String| {
        let c = &ks.client;
        async move {
            let (s, md) = c
                .call(
                    &format!("keys/{id}/metadata"),
                    &json!({"requestMetadata": meta("DescribeKey")}),
                )
                .await
                .unwrap();
            assert_eq!(s, 200, "{md}");
            md["keyUsage"].clone()
        }
    };
    assert_eq!(usage(encrypt_only.clone()).await, json!(["ENCRYPT"]));
    assert_eq!(usage(decrypt_only.clone()).await, json!(["DECRYPT"]));
    assert_eq!(usage(no_usage.clone()).await, json!([]));
    let c = &ks.client;
    let (s, sealed) = c
        .call(
            &format!("keys/{encrypt_only}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_error(
        c.call(
            &format!("keys/{encrypt_only}/decrypt"),
            &decrypt_body(&sealed, None),
        )
        .await
        .unwrap(),
        403,
        "AccessDeniedException",
    );
    assert_error(
        c.call(
            &format!("keys/{decrypt_only}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap(),
        403,
        "AccessDeniedException",
    );
    assert_error(
        c.call(
            &format!("keys/{no_usage}/encrypt"),
            &encrypt_body(b"x", None, false),
        )
        .await
        .unwrap(),
        403,
        "AccessDeniedException",
    );
    for api in ["metadata", "encrypt"] {
        let body = if api == "metadata" {
            json!({"requestMetadata": meta("DescribeKey")})
        } else {
            encrypt_body(b"x", None, false)
        };
        assert_error(
            c.call(&format!("keys/{denied}/{api}"), &body)
                .await
                .unwrap(),
            403,
            "AccessDeniedException",
        );
    }
    let recs = xks_records(&env).await;
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
    assert_eq!(refused[1]["userIdentity"]["arn"], ks.arn);
    assert_eq!(
        refused[1]["additionalEventData"]["xks"]["kmsRequestId"],
        "req-Encrypt-4112f4d6"
    );
    // The denied key is still enabled and its policy unchanged.
    let d = env
        .client
        .describe_key()
        .key_id(&denied)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(d.key_state, Some(aws_sdk_kms::types::KeyState::Enabled));
    env.stop().await;
}

#[tokio::test]
async fn a_second_credential_rotates_in_and_a_revoked_one_stops_signing() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let health =
        json!({"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "KmsHealthCheck"}});
    assert_eq!(ks.client.call("health", &health).await.unwrap().0, 200);
    let second = admin::add_credential(env.dev.store.as_ref(), &env.dev.hsm, "/ks")
        .await
        .unwrap();
    assert!((20..=30).contains(&second.access_key_id.len()));
    assert!(
        second
            .access_key_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert!((43..=64).contains(&second.secret_access_key.len()));
    let c2 = XksHttpClient::new(
        &env.dev.endpoint(),
        "/ks",
        "us-west-2",
        &second.access_key_id,
        second.secret_access_key.clone(),
    )
    .unwrap();
    assert_eq!(c2.call("health", &health).await.unwrap().0, 200);
    admin::revoke_credential(env.dev.store.as_ref(), "/ks", &ks.access_key_id)
        .await
        .unwrap();
    // Identities are cached for IDENTITY_CACHE_TTL.
    tokio::time::sleep(
        strongroom_server::auth::IDENTITY_CACHE_TTL + std::time::Duration::from_secs(1),
    )
    .await;
    assert_error(
        ks.client.call("health", &health).await.unwrap(),
        401,
        "AuthenticationFailedException",
    );
    assert_eq!(c2.call("health", &health).await.unwrap().0, 200);
    let listed = admin::list(env.dev.store.as_ref()).await.unwrap();
    let creds = &listed[0].1;
    assert_eq!(creds.iter().filter(|c| c.live).count(), 1);
    assert!(
        creds
            .iter()
            .any(|c| c.access_key_id == ks.access_key_id && !c.live)
    );
    env.stop().await;
}
