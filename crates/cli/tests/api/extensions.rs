//! The seed's operations (docs/extensions.md): ShredKey with its signed
//! certificate and the "nothing usable left" checks, and RevokeKey.

use strongroom_cli::client::KmsHttpClient;
use strongroom_cli::kms;

use crate::common::*;
use crate::material_release::releasing_policy;

fn raw_client(env: &TestEnv) -> KmsHttpClient {
    KmsHttpClient::new(
        &env.dev.endpoint(),
        &env.dev.region,
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
        None,
    )
    .unwrap()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shred_destroys_every_version_with_a_verifiable_certificate() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let raw = raw_client(&env);
    let arn = new_key(c).await;
    let id: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    let mut blobs = Vec::new();
    for i in 0..3u8 {
        if i > 0 {
            c.rotate_key_on_demand().key_id(&arn).send().await.unwrap();
        }
        let ct = c
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(&[i; 8]))
            .send()
            .await
            .unwrap();
        blobs.push(ct.ciphertext_blob.unwrap());
    }
    let mut ekts = Vec::new();
    for v in 1..=3 {
        ekts.push(
            env.dev
                .store
                .get_key_version(id, v)
                .await
                .unwrap()
                .unwrap()
                .ekt,
        );
    }

    let cert = kms::shred(&raw, &arn).await.unwrap();
    assert_eq!(cert["VersionsDestroyed"], 3);
    let report = kms::verify_shred(&cert, None).unwrap();
    assert_eq!(
        report.confirmed_by.len(),
        1,
        "the in-process module confirmed"
    );
    assert!(report.unconfirmed_modules.is_empty());
    // A forged or altered certificate fails verification.
    let mut forged = cert.clone();
    let sig = forged["Statements"][0]["Signature"]
        .as_str()
        .unwrap()
        .to_string();
    forged["Statements"][0]["Signature"] = format!("A{}", &sig[1..]).into();
    assert!(kms::verify_shred(&forged, None).is_err());
    let mut other_key = cert.clone();
    other_key["KeyId"] = arn
        .replace(&id.to_string(), &uuid::Uuid::new_v4().to_string())
        .into();
    assert!(kms::verify_shred(&other_key, None).is_err());

    // Nothing usable is left: every use fails with a clear state, no EKT is
    // in the store, and no file of the data directory holds one.
    for b in blobs {
        let e = c.decrypt().ciphertext_blob(b).send().await.unwrap_err();
        assert_eq!(code(&e), "KMSInvalidStateException");
    }
    let e = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let described = raw
        .call_json("DescribeKey", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap();
    assert_eq!(described["KeyMetadata"]["KeyState"], "Shredded");
    for v in 1..=3 {
        assert!(
            env.dev
                .store
                .get_key_version(id, v)
                .await
                .unwrap()
                .is_none()
        );
    }
    for f in files_under(env.dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        for e in &ekts {
            assert!(
                !bytes.windows(e.len()).any(|w| w == &e[..]),
                "{} still holds an EKT",
                f.display()
            );
        }
    }
    // It cannot be shredded twice, re-enabled or rescheduled.
    assert!(kms::shred(&raw, &arn).await.is_err());
    let e = c.enable_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_are_unusable_but_stay_sealed() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let raw = raw_client(&env);
    let arn = new_key(c).await;
    let id: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms::revoke(&raw, &arn).await.unwrap();
    let e = c.decrypt().ciphertext_blob(ct).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c.enable_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c
        .schedule_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    assert!(kms::revoke(&raw, &arn).await.is_err(), "revoking twice");
    // Unlike a shred, the EKT stays, counted apart so retiring its
    // domain-key generation is not held back by it.
    assert!(
        env.dev
            .store
            .get_key_version(id, 1)
            .await
            .unwrap()
            .is_some()
    );
    let status = strongroom_cli::rewrap::status(env.dev.store.as_ref())
        .await
        .unwrap();
    assert_eq!(status.revoked_ekts_by_generation.get(&1), Some(&1));
    let err = raw
        .call_json("RevokeKey", serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("ValidationException") || err.to_string().contains("NotFound"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_keys_return_their_material_once_and_say_so_for_ever() {
    use base64::Engine;
    let env = TestEnv::start().await;
    let raw = raw_client(&env);
    let policy = releasing_policy(&env.dev.account_id);
    let created = raw
        .call_json(
            "CreateKey",
            serde_json::json!({"ExposeKeyMaterial": true, "Policy": policy}),
        )
        .await
        .unwrap();
    let arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(created["KeyMetadata"]["Exposed"], true);
    let material = base64::engine::general_purpose::STANDARD
        .decode(created["KeyMaterial"].as_str().unwrap())
        .unwrap();
    assert_eq!(material.len(), 32);
    // The material is the key: a ciphertext from the service opens with it
    // outside (docs/formats.md), as the imported-material test also shows.
    let c = &env.client;
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"shared"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let ct = ct.into_inner();
    let header = &ct[..65];
    let mk = strongroom_crypto::hkdf_sha256(
        material.as_slice(),
        &header[21..53],
        &[b"strongroom ciphertext v1", &header[..21]],
    )
    .unwrap();
    let mut body = ct[65..].to_vec();
    let mut aad = header.to_vec();
    aad.extend_from_slice(&strongroom_hsm_proto::context::canonical(std::iter::empty()));
    let plain = strongroom_crypto::Aes256GcmKey::new(&mk)
        .open_in_place(header[53..65].try_into().unwrap(), &aad, &mut body)
        .unwrap();
    assert_eq!(plain, b"shared");
    // DescribeKey never returns the material again, and says it is exposed.
    let described = raw
        .call_json("DescribeKey", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap();
    assert_eq!(described["KeyMetadata"]["Exposed"], true);
    assert!(described.get("KeyMaterial").is_none());
    // An ordinary key is not exposed and shows no such field.
    let plain_key = new_key(c).await;
    let d = raw
        .call_json("DescribeKey", serde_json::json!({"KeyId": plain_key}))
        .await
        .unwrap();
    assert!(d["KeyMetadata"].get("Exposed").is_none());
    // HMAC: the HMAC key itself, usable outside.
    let h = raw
        .call_json(
            "CreateKey",
            serde_json::json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "ExposeKeyMaterial": true, "Policy": policy}),
        )
        .await
        .unwrap();
    let hkey = base64::engine::general_purpose::STANDARD
        .decode(h["KeyMaterial"].as_str().unwrap())
        .unwrap();
    let mac = c
        .generate_mac()
        .key_id(h["KeyMetadata"]["Arn"].as_str().unwrap())
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .message(blob(b"m"))
        .send()
        .await
        .unwrap()
        .mac
        .unwrap();
    assert_eq!(
        mac.as_ref(),
        &strongroom_crypto::hmac_sha256(&hkey, b"m")[..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_keys_are_deterministic_per_version_and_context() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = TestEnv::start().await;
    let raw = raw_client(&env);
    let c = &env.client;
    let arn = c
        .create_key()
        .policy(releasing_policy(&env.dev.account_id))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let derive = |ctx: &'static str, reveal: bool| {
        let raw = &raw;
        let arn = arn.clone();
        async move {
            raw.call_json(
                "DeriveKey",
                serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": ctx}, "ReturnDerivedKey": reveal}),
            )
            .await
            .unwrap()
        }
    };
    let hidden = derive("acme", false).await;
    assert!(hidden.get("DerivedKey").is_none());
    let d1 = derive("acme", true).await;
    let d2 = derive("acme", true).await;
    let other = derive("globex", true).await;
    let key1 = b64.decode(d1["DerivedKey"].as_str().unwrap()).unwrap();
    assert_eq!(key1.len(), 32);
    assert_eq!(
        d1["DerivedKey"], d2["DerivedKey"],
        "same version and context, same key"
    );
    assert_ne!(d1["DerivedKey"], other["DerivedKey"]);
    // The token is no ciphertext (Decrypt refuses it); DeriveKey with it
    // and ReturnDerivedKey reveals the key it holds.
    let token = b64
        .decode(hidden["DerivedKeyToken"].as_str().unwrap())
        .unwrap();
    let e = c
        .decrypt()
        .ciphertext_blob(blob(&token))
        .encryption_context("tenant", "acme")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    let by_token = serde_json::json!({"KeyId": arn, "DerivationContext": {"tenant": "acme"},
        "DerivedKeyToken": hidden["DerivedKeyToken"], "ReturnDerivedKey": true});
    let opened = raw.call_json("DeriveKey", by_token.clone()).await.unwrap();
    assert_eq!(opened["DerivedKey"], d1["DerivedKey"]);
    // Revealing derived material marks the KMS key exposed.
    let d = raw
        .call_json("DescribeKey", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap();
    assert_eq!(d["KeyMetadata"]["Exposed"], true);
    // A rotation derives new keys; old tokens still reveal theirs.
    c.rotate_key_on_demand().key_id(&arn).send().await.unwrap();
    let after = derive("acme", true).await;
    assert_ne!(after["DerivedKey"], d1["DerivedKey"]);
    let old = raw.call_json("DeriveKey", by_token).await.unwrap();
    assert_eq!(old["DerivedKey"], d1["DerivedKey"]);
    let bad = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "KeySpec": "AES_512"}),
        )
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("ValidationException"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_keys_live_only_in_module_memory() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |_| {}).await;
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let raw = KmsHttpClient::new(
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let created = raw
        .call_json("CreateKey", serde_json::json!({"StorageClass": "VOLATILE"}))
        .await
        .unwrap();
    assert_eq!(created["KeyMetadata"]["StorageClass"], "VOLATILE");
    let arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let id: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"fleeting"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let out = c
        .decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"fleeting");
    c.generate_data_key()
        .key_id(&arn)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert!(
        dev.store.get_key_version(id, 1).await.unwrap().is_none(),
        "never written to the store"
    );
    let e = c
        .enable_key_rotation()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    for bad in [
        serde_json::json!({"StorageClass": "VOLATILE", "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
        serde_json::json!({"StorageClass": "VOLATILE", "ExposeKeyMaterial": true}),
        serde_json::json!({"StorageClass": "SOMETIMES"}),
    ] {
        let e = raw.call_json("CreateKey", bad).await.unwrap_err();
        assert!(e.to_string().contains("ValidationException"), "{e}");
    }
    dev.shutdown().await;

    // A restart (a new in-process module) loses it for good.
    let dev = start_in(dir.path(), |_| {}).await;
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let e = c.decrypt().ciphertext_blob(ct).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    c.schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_policy_can_forbid_operations_on_exposed_keys() {
    let env = TestEnv::start().await;
    let raw = raw_client(&env);
    let c = &env.client;
    let me = env.dev.account_id.clone();
    let policy = format!(
        r#"{{"Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Deny","Principal":"*","Action":["kms:Encrypt","kms:GenerateDataKey*"],"Resource":"*",
            "Condition":{{"Bool":{{"strongroom:KeyExposed":"true"}}}}}}]}}"#
    );
    let exposed = raw
        .call_json(
            "CreateKey",
            serde_json::json!({"ExposeKeyMaterial": true, "Policy": releasing_policy(&me)}),
        )
        .await
        .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let normal = new_key(c).await;
    // Encrypt before the policy, to have something to decrypt after.
    let ct = c
        .encrypt()
        .key_id(&exposed)
        .plaintext(blob(b"old"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    for k in [&exposed, &normal] {
        c.put_key_policy()
            .key_id(k)
            .policy_name("default")
            .policy(&policy)
            .send()
            .await
            .unwrap();
    }
    let e = c
        .encrypt()
        .key_id(&exposed)
        .plaintext(blob(b"new"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        c.decrypt().ciphertext_blob(ct).send().await.is_ok(),
        "old data still readable"
    );
    assert!(
        c.encrypt()
            .key_id(&normal)
            .plaintext(blob(b"new"))
            .send()
            .await
            .is_ok()
    );
}
