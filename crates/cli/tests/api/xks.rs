//! The AWS KMS External Key Store proxy API (docs/xks.md) on `strongroom
//! dev`, signed as AWS KMS signs: round trips (with and without AAD, CDIV,
//! by key id and alias), health and the audit trail; attacks on
//! authentication (forged, mis-scoped and stale signatures, another key
//! store's credential, KMS credentials on XKS and back); credential
//! rotation. Refusals of bad requests are in `xks_refusals`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use strongroom_cli::xks_client::{Signing, XksHttpClient};
use strongroom_server::xks::admin;

use crate::common::*;

pub(crate) struct Store {
    pub(crate) client: XksHttpClient,
    pub(crate) arn: String,
    pub(crate) access_key_id: String,
}

pub(crate) async fn key_store(env: &TestEnv, account: &str, prefix: &str) -> Store {
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

pub(crate) fn meta(op: &str) -> Value {
    json!({
        "awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
        "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "kmsOperation": op,
        "kmsRequestId": format!("req-{op}-4112f4d6"),
        "kmsViaService": "ebs"
    })
}

pub(crate) fn encrypt_body(plaintext: &[u8], aad: Option<&[u8]>, cdiv: bool) -> Value {
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

pub(crate) fn decrypt_body(sealed: &Value, aad: Option<&[u8]>) -> Value {
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

pub(crate) fn key_id_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

pub(crate) fn assert_error(got: (u16, Value), status: u16, name: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["errorName"], name, "{}", got.1);
    let msg = got.1["errorMessage"].as_str().unwrap_or("");
    assert!(msg.len() < 512 && msg.bytes().all(|b| (0x20..=0x7e).contains(&b)));
}

pub(crate) async fn xks_records(env: &TestEnv) -> Vec<Value> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_drives_xks_encrypt_and_decrypt_without_errors() {
    use strongroom_cli::bench::{BenchOp, BenchOptions, XksTarget};
    let env = TestEnv::start().await;
    let (ks, cred) = admin::create_keystore(
        env.dev.store.as_ref(),
        &env.dev.hsm,
        &env.dev.account_id,
        "bench",
    )
    .await
    .unwrap();
    for op in [BenchOp::XksEncrypt, BenchOp::XksDecrypt] {
        let report = strongroom_cli::bench::run(BenchOptions {
            endpoint: env.dev.endpoint(),
            region: env.dev.region.clone(),
            access_key_id: env.dev.access_key_id.clone(),
            secret_access_key: env.dev.secret_access_key.clone(),
            op,
            concurrency: 4,
            duration: std::time::Duration::from_millis(300),
            payload_bytes: 4096,
            key_id: None,
            ca_bundle: None,
            key_spec: None,
            signing_algorithm: None,
            xks: Some(XksTarget {
                uri_prefix: ks.prefix.clone(),
                access_key_id: cred.access_key_id.clone(),
                secret_access_key: cred.secret_access_key.clone(),
                aad_bytes: 1024,
            }),
        })
        .await
        .unwrap();
        assert!(report.requests > 10, "{report}");
        assert_eq!(report.errors, 0, "{report}");
    }
    env.stop().await;
}
