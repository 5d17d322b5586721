//! Verify answered in the frontend with a cached parsed public key: through
//! aws-sdk-kms it gives the module's answer for valid, invalid, tampered,
//! other-key and wrong-algorithm signatures, and the key's state and the
//! caller's permission are checked as before.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use strongroom_hsm_proto::{Ekt, KeyRef, Request, Response};

use crate::common::*;

/// A Verify question: what it is, algorithm, message, whether the message
/// is a digest, signature.
type Case<'a> = (&'a str, SigningAlgorithmSpec, &'a [u8], bool, Vec<u8>);

async fn signing_key(c: &Client, spec: KeySpec) -> String {
    c.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

async fn sign(c: &Client, key: &str, alg: &SigningAlgorithmSpec, message: &[u8]) -> Vec<u8> {
    c.sign()
        .key_id(key)
        .message(blob(message))
        .signing_algorithm(alg.clone())
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner()
}

/// The frontend's answer: `Ok(true)` for a valid signature, else the code.
async fn frontend_verify(
    c: &Client,
    key: &str,
    alg: &SigningAlgorithmSpec,
    message: &[u8],
    digest: bool,
    signature: &[u8],
) -> Result<bool, String> {
    let mut r = c
        .verify()
        .key_id(key)
        .message(blob(message))
        .signature(blob(signature))
        .signing_algorithm(alg.clone());
    if digest {
        r = r.message_type(MessageType::Digest);
    }
    match r.send().await {
        Ok(out) => Ok(out.signature_valid),
        Err(e) => Err(code(&e)),
    }
}

/// What the module itself answers for the same question (the path Verify
/// took before it moved to the frontend).
async fn module_verify(
    env: &TestEnv,
    key: &str,
    alg: &SigningAlgorithmSpec,
    message: &[u8],
    digest: bool,
    signature: &[u8],
) -> bool {
    let id: uuid::Uuid = key.rsplit('/').next().unwrap().parse().unwrap();
    let v = env.dev.store.get_key_version(id, 1).await.unwrap().unwrap();
    match env
        .dev
        .hsm
        .call(Request::Verify {
            key: KeyRef {
                key_id: id,
                version: 1,
            },
            ekt: Ekt(v.ekt),
            message: zeroize::Zeroizing::new(message.to_vec()),
            digest,
            algorithm: alg.as_str().into(),
            signature: signature.to_vec(),
        })
        .await
        .unwrap()
    {
        Response::Valid(v) => v,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_verify_gives_the_modules_answer_for_valid_tampered_and_foreign_signatures() {
    let env = TestEnv::start().await;
    let c = &env.client;
    for (spec, alg, other_alg) in [
        (
            KeySpec::Rsa2048,
            SigningAlgorithmSpec::RsassaPssSha256,
            Some(SigningAlgorithmSpec::RsassaPkcs1V15Sha256),
        ),
        (
            KeySpec::Rsa3072,
            SigningAlgorithmSpec::RsassaPkcs1V15Sha384,
            Some(SigningAlgorithmSpec::RsassaPssSha384),
        ),
        (
            KeySpec::EccNistP256,
            SigningAlgorithmSpec::EcdsaSha256,
            None,
        ),
        (
            KeySpec::EccNistP384,
            SigningAlgorithmSpec::EcdsaSha384,
            None,
        ),
        (
            KeySpec::EccNistP521,
            SigningAlgorithmSpec::EcdsaSha512,
            None,
        ),
        (
            KeySpec::EccSecgP256K1,
            SigningAlgorithmSpec::EcdsaSha256,
            None,
        ),
    ] {
        let key = signing_key(c, spec.clone()).await;
        let other = signing_key(c, spec.clone()).await;
        let message = b"a message to sign".as_slice();
        let sig = sign(c, &key, &alg, message).await;
        let foreign = sign(c, &other, &alg, message).await;
        let mut tampered = sig.clone();
        let mid = tampered.len() / 2;
        tampered[mid] ^= 0x01;
        let digest = match alg.as_str() {
            a if a.ends_with("256") => strongroom_crypto::sha256(message).to_vec(),
            a if a.ends_with("384") => strongroom_crypto::sha384(message).to_vec(),
            _ => strongroom_crypto::sha512(message).to_vec(),
        };
        let mut cases: Vec<Case> = vec![
            ("valid", alg.clone(), message, false, sig.clone()),
            ("valid digest", alg.clone(), &digest, true, sig.clone()),
            (
                "other message",
                alg.clone(),
                b"another message",
                false,
                sig.clone(),
            ),
            ("tampered", alg.clone(), message, false, tampered),
            ("another key's", alg.clone(), message, false, foreign),
            (
                "truncated",
                alg.clone(),
                message,
                false,
                sig[..sig.len() - 1].to_vec(),
            ),
            ("garbage", alg.clone(), message, false, vec![0x30; 8]),
        ];
        if let Some(o) = &other_alg {
            // A PSS signature checked as PKCS#1 v1.5 (or the reverse).
            cases.push(("other padding", o.clone(), message, false, sig.clone()));
        }
        for (what, a, m, digest, s) in cases {
            let module = module_verify(&env, &key, &a, m, digest, &s).await;
            let frontend = frontend_verify(c, &key, &a, m, digest, &s).await;
            let expected = if module {
                Ok(true)
            } else {
                Err("KMSInvalidSignatureException".to_owned())
            };
            assert_eq!(frontend, expected, "{spec:?} {what}");
        }
        assert_eq!(
            frontend_verify(c, &key, &alg, message, false, &sig).await,
            Ok(true),
            "{spec:?}: a valid signature must verify"
        );
        // Refusals made before any cryptography stay as they were.
        let wrong_alg = if other_alg.is_some() {
            SigningAlgorithmSpec::EcdsaSha256
        } else {
            SigningAlgorithmSpec::RsassaPssSha256
        };
        assert_eq!(
            frontend_verify(c, &key, &wrong_alg, message, false, &sig).await,
            Err("InvalidKeyUsageException".into()),
            "{spec:?}"
        );
        assert_eq!(
            frontend_verify(c, &key, &alg, &digest[1..], true, &sig).await,
            Err("ValidationException".into()),
            "{spec:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_public_key_does_not_bypass_the_keys_state_or_policy() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let alg = SigningAlgorithmSpec::EcdsaSha256;
    let key = signing_key(c, KeySpec::EccNistP256).await;
    let sig = sign(c, &key, &alg, b"m").await;
    // The public key is cached now.
    assert_eq!(
        frontend_verify(c, &key, &alg, b"m", false, &sig).await,
        Ok(true)
    );
    c.disable_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        frontend_verify(c, &key, &alg, b"m", false, &sig).await,
        Err("DisabledException".into())
    );
    c.enable_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        frontend_verify(c, &key, &alg, b"m", false, &sig).await,
        Ok(true)
    );
    // A policy that denies kms:Verify refuses it, cached key or not.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "owner",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:root", env.dev.account_id)},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "no verifying",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Verify",
                "Resource": "*"
            }
        ]
    });
    c.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        frontend_verify(c, &key, &alg, b"m", false, &sig).await,
        Err("AccessDeniedException".into())
    );
    c.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let other = signing_key(c, KeySpec::EccNistP256).await;
    let sig = sign(c, &other, &alg, b"m").await;
    assert_eq!(
        frontend_verify(c, &other, &alg, b"m", false, &sig).await,
        Ok(true)
    );
    c.schedule_key_deletion()
        .key_id(&other)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        frontend_verify(c, &other, &alg, b"m", false, &sig).await,
        Err("KMSInvalidStateException".into())
    );
}
