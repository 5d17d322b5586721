//! A `strongroom-hsm` process with a worker pool (`--workers 2`), used
//! through a real frontend and aws-sdk-kms: concurrent RSA signing gives
//! correct signatures, also across ForgetKey, and a tamper erasure in the middle of a stream of
//! signs is a clean cut: no sign started after one was seen to fail
//! succeeds, nothing signs afterwards, and Verify still answers from the
//! frontend's cached public key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, SigningAlgorithmSpec};
use strongroom_crypto::{AsymmetricSpec, SignInput, SigningAlgorithm, verify_signature};

use crate::common::blob;
use crate::hsm_process::*;

/// One module in use mode, in a domain of one operator listing the
/// frontend in `w/front`; returns the module and the domain token file.
fn one_module_domain(w: &Path, module_args: &[&str]) -> (Hsm, PathBuf) {
    let h = Hsm::start_with(&free_addr(), &w.join("m"), module_args);
    ok(
        w,
        &["operator", "keygen", "--name", "op", "--out", "op.key"],
    );
    ok(
        w,
        &["operator", "attest", "--hsm", &h.addr, "--out", "m.att"],
    );
    let f = prepared(w, "use", &["enter-use-mode", "--module", "m.att"], &["op"]);
    ok(w, &["operator", "submit", &f, "--hsm", &h.addr]);
    let front = w.join("front");
    ok(
        w,
        &["admin", "--data-dir", front.to_str().unwrap(), "host-key"],
    );
    let host = front.join("host.pub");
    let f = prepared(
        w,
        "create",
        &[
            "create-domain",
            "--module",
            "m.att",
            "--operator",
            "op.key.pub",
            "--quorum",
            "1",
            "--host",
            host.to_str().unwrap(),
        ],
        &["op"],
    );
    ok(
        w,
        &[
            "operator",
            "submit",
            &f,
            "--hsm",
            &h.addr,
            "--out",
            "token.json",
        ],
    );
    (h, w.join("token.json"))
}

async fn rsa_key(c: &Client) -> (String, Vec<u8>) {
    let key = c
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let spki = c
        .get_public_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    (key, spki)
}

async fn sign(c: &Client, key: &str, message: &[u8]) -> Result<Vec<u8>, String> {
    c.sign()
        .key_id(key)
        .message(blob(message))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .map(|o| o.signature.unwrap().into_inner())
        .map_err(|e| crate::common::code(&e))
}

fn verifies(spki: &[u8], message: &[u8], signature: &[u8]) -> bool {
    verify_signature(
        AsymmetricSpec::Rsa2048,
        spki,
        SigningAlgorithm::RsaPssSha256,
        SignInput::Raw(message),
        signature,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rsa_signs_on_a_two_worker_module_each_verify_across_forget_key() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (hsm, token) = one_module_domain(w, &["--workers", "2"]);
    let (dev, c) = frontend(&w.join("front"), &[&hsm], &token).await;
    let (key, spki) = rsa_key(&c).await;
    let key_id: uuid::Uuid = key.rsplit('/').next().unwrap().parse().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..32 {
        let (c, key) = (c.clone(), key.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            for i in 0..4 {
                let message = format!("task {t} message {i}").into_bytes();
                let s = sign(&c, &key, &message).await.unwrap();
                out.push((message, s));
            }
            out
        });
    }
    // ForgetKey (what a deletion sends the modules) interleaved with the
    // signs: the module drops the pair while workers may use it; the signs
    // after it open the EKT again, and every signature is still right.
    for _ in 0..5 {
        dev.hsm.forget_key(key_id).await.unwrap();
        tokio::task::yield_now().await;
    }
    let mut n = 0;
    while let Some(r) = tasks.join_next().await {
        for (message, s) in r.unwrap() {
            assert!(verifies(&spki, &message, &s), "a wrong signature");
            n += 1;
        }
    }
    assert_eq!(n, 128);
    // The frontend's Verify agrees.
    let s = sign(&c, &key, b"checked by Verify").await.unwrap();
    let ok = c
        .verify()
        .key_id(&key)
        .message(blob(b"checked by Verify"))
        .signature(blob(&s))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tamper_amid_signing_no_sign_succeeds_after_a_refusal_was_seen() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (hsm, token) = one_module_domain(w, &["--workers", "2"]);
    let (dev, c) = frontend(&w.join("front"), &[&hsm], &token).await;
    let (key, spki) = rsa_key(&c).await;
    let before = sign(&c, &key, b"signed before").await.unwrap();

    // Signers that stop at their first refusal. A refusal seen by any of
    // them means the erasure has happened: a sign *started* after that
    // must not succeed.
    let refused_seen = Arc::new(AtomicBool::new(false));
    let signed = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8 {
        let (c, key, spki) = (c.clone(), key.clone(), spki.clone());
        let (refused_seen, signed) = (refused_seen.clone(), signed.clone());
        tasks.spawn(async move {
            for i in 0..100_000 {
                let message = format!("signer {t} message {i}").into_bytes();
                let after_refusal = refused_seen.load(Ordering::SeqCst);
                match sign(&c, &key, &message).await {
                    Ok(s) => {
                        assert!(!after_refusal, "a sign started after a refusal succeeded");
                        assert!(verifies(&spki, &message, &s), "a wrong signature");
                        signed.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        refused_seen.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
            panic!("the module never stopped signing");
        });
    }
    wait_for("signs under way", || signed.load(Ordering::SeqCst) >= 16);
    std::fs::write(hsm.state.join("TAMPER"), b"").unwrap();
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    wait_for("the erasure certificate", || {
        erasure_certificate(&hsm.state).is_some()
    });
    // Nothing signs any more.
    assert!(sign(&c, &key, b"after").await.is_err());
    // Verify needs no module: the frontend answers from the cached key.
    let verify = |m: &'static [u8], s: Vec<u8>| {
        c.verify()
            .key_id(&key)
            .message(blob(m))
            .signature(blob(&s))
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
    };
    assert!(
        verify(b"signed before", before.clone())
            .await
            .unwrap()
            .signature_valid
    );
    let e = verify(b"signed befor3", before).await.unwrap_err();
    assert_eq!(crate::common::code(&e), "KMSInvalidSignatureException");
    dev.shutdown().await;
}
