//! A 3-module domain built by a 2-of-3 ceremony, used through a frontend
//! with failover, then tamper, rejoin, rotation and full recovery, all with
//! real `strongroom-hsm` processes and `strongroom operator` commands. Each
//! step is its own test over a fixture built up to the step before it
//! ([`Cast`] → [`Cast::domain`] → [`Cast::frontend`]).

use std::time::{Duration, Instant};

use crate::common::blob;
use crate::hsm_process::*;

mod cast;
use cast::{Cast, Served, ingest, serve, submit_for_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_domain_and_adding_a_member_need_two_of_three_operators() {
    let cast = Cast::start();
    let w = cast.w();
    let f = cast.create_domain(&["op1"]);
    refused(
        w,
        &["operator", "submit", &f, "--hsm", &cast.a.addr],
        "QuorumNotMet",
    );
    ok(w, &["operator", "sign", &f, "--key", "op2.key"]);
    submit_for_token(w, &f, &cast.a, "t1.json");
    let f = cast.add_member("add-b", "t1.json", "b.att", &["op3"]);
    refused(
        w,
        &["operator", "submit", &f, "--hsm", &cast.a.addr],
        "QuorumNotMet",
    );
    ok(w, &["operator", "sign", &f, "--key", "op1.key"]);
    submit_for_token(w, &f, &cast.a, "t2.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_ingest_and_an_expired_command_are_refused() {
    let (cast, ingest) = Cast::domain();
    let w = cast.w();
    refused(
        w,
        &["operator", "submit", &ingest, "--hsm", &cast.b.addr],
        "Replayed",
    );
    let late = prepared(
        w,
        "late",
        &[
            "--expires-in",
            "0",
            "set-name",
            "--module",
            "b.att",
            "--name",
            "x",
        ],
        &["op1", "op2"],
    );
    std::thread::sleep(Duration::from_millis(1100));
    refused(
        w,
        &["operator", "submit", &late, "--hsm", &cast.b.addr],
        "Expired",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_through_one_member_open_through_every_member_many_at_once() {
    let s = Cast::frontend().await;
    decrypts(&s.client, &s.blobs).await;
    // Many requests in flight at once share each module connection.
    let calls = (0..64).map(|i| {
        let (client, (ct, pt)) = (s.client.clone(), s.blobs[i % s.blobs.len()].clone());
        tokio::spawn(async move {
            let out = client
                .decrypt()
                .ciphertext_blob(blob(&ct))
                .send()
                .await
                .unwrap();
            assert_eq!(out.plaintext.unwrap().as_ref(), &pt[..]);
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    for h in [&s.cast.a, &s.cast.b, &s.cast.c] {
        assert!(
            requests_served(s.cast.w(), h) > 3,
            "requests spread over every member"
        );
    }
    s.dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quorum_signed_ceremony_reaches_the_frontends_audit_trail() {
    let s = Cast::frontend().await;
    let mut module_commands = Vec::new();
    for _ in 0..100 {
        module_commands = s
            .dev
            .audit_events()
            .unwrap()
            .into_iter()
            .filter(|r| {
                r["eventSource"] == "strongroom-hsm" && r["eventName"] == "Module:CreateDomain"
            })
            .collect();
        if !module_commands.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let create = module_commands
        .first()
        .expect("CreateDomain copied from a module log");
    let signers = create["additionalEventData"]["detail"]["signers"]
        .as_array()
        .unwrap();
    assert_eq!(signers.len(), 2);
    s.dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volatile_key_lives_in_every_members_memory() {
    let s = Cast::frontend().await;
    let vct = s.volatile_ciphertext().await;
    // Requests rotate over all three members: each of them decrypts it.
    let volatile_blobs = vec![(vct, b"in memory only".to_vec())];
    for _ in 0..3 {
        decrypts(&s.client, &volatile_blobs).await;
    }
    s.dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_member_erases_itself_a_dead_one_fails_over_and_a_new_one_rejoins() {
    let Served {
        mut cast,
        dev,
        client,
        blobs,
        ..
    } = Cast::frontend().await;
    let w = cast.work.path().to_path_buf();
    let w = w.as_path();
    // Tamper on B: it erases itself and signs a certificate; A and C keep serving.
    std::fs::write(cast.b.state.join("TAMPER"), b"").unwrap();
    let cert = || erasure_certificate(&cast.b.state);
    wait_for("B's erasure certificate", || cert().is_some());
    let cert_path = cert().unwrap();
    let verified = ok(
        w,
        &[
            "operator",
            "verify-erasure",
            cert_path.to_str().unwrap(),
            "--domain-token",
            "t3.json",
        ],
    );
    assert!(
        verified.contains("\"verified\": true") && verified.contains("tamper sentinel"),
        "{verified}"
    );
    decrypts(&client, &blobs).await;
    decrypts(&client, &blobs).await;

    // C dies; A alone serves, no client error.
    cast.c.kill();
    decrypts(&client, &blobs).await;

    // C comes back: a new identity the frontend does not trust until a
    // member adds it with a quorum and it ingests the domain.
    let c2 = Hsm::start(&cast.c.addr, &w.join("c2"));
    ok(
        w,
        &["operator", "attest", "--hsm", &c2.addr, "--out", "c2.att"],
    );
    let f = prepared(
        w,
        "use-c2",
        &["enter-use-mode", "--module", "c2.att"],
        &["op3"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &c2.addr]);
    let f = cast.add_member("add-c2", "t3.json", "c2.att", &["op1", "op3"]);
    submit_for_token(w, &f, &cast.a, "t4.json");
    let f = prepared(
        w,
        "ingest4",
        &["ingest", "--domain-token", "t4.json"],
        &["op2", "op3"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &c2.addr]);
    let before = requests_served(w, &c2);
    let start = Instant::now();
    loop {
        decrypts(&client, &blobs).await;
        if requests_served(w, &c2) > before + 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the frontend never used the rejoined module"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_key_rotation_rewraps_the_store_before_the_old_generation_retires() {
    let Served {
        cast,
        dev,
        client,
        blobs,
        ..
    } = Cast::frontend().await;
    let w = cast.w();
    let members = [&cast.a, &cast.b, &cast.c];
    let f = prepared(
        w,
        "rotate",
        &["rotate-domain-key", "--domain-token", "t3.json"],
        &["op1", "op2"],
    );
    submit_for_token(w, &f, &cast.a, "t5.json");
    ingest(
        w,
        "ingest5",
        "t5.json",
        &["op1", "op2"],
        &[&cast.b, &cast.c],
    );
    let admin = |extra: &[&str]| {
        let mut args = vec!["admin", "--data-dir", cast.front.to_str().unwrap()];
        for h in members {
            args.extend_from_slice(&["--hsm", &h.addr]);
        }
        args.extend_from_slice(&["--domain-token", "t5.json"]);
        args.extend_from_slice(extra);
        ok(w, &args)
    };
    let status: serde_json::Value = serde_json::from_str(&admin(&["rewrap-status"])).unwrap();
    assert!(
        status["ekts_by_generation"]["1"].as_u64().unwrap() >= 1,
        "{status}"
    );
    let retire = |name: &str, remaining: &str| {
        let request = [
            "retire-domain-key",
            "--domain-token",
            "t5.json",
            "--generation",
            "1",
            "--ekts-remaining",
            remaining,
        ];
        prepared(w, name, &request, &["op1", "op3"])
    };
    let early = retire("retire-early", "2");
    refused(
        w,
        &["operator", "submit", &early, "--hsm", &cast.a.addr],
        "rewrap them first",
    );
    admin(&["rewrap", "--batch", "1"]);
    let status: serde_json::Value = serde_json::from_str(&admin(&["rewrap-status"])).unwrap();
    assert!(
        status["ekts_by_generation"].get("1").is_none()
            && status["credentials_by_generation"].get("1").is_none(),
        "{status}"
    );
    let f = retire("retire", "0");
    submit_for_token(w, &f, &cast.a, "t6.json");
    ingest(
        w,
        "ingest6",
        "t6.json",
        &["op2", "op3"],
        &[&cast.b, &cast.c],
    );
    // The running frontend cached generation-1 EKTs; it recovers by itself.
    decrypts(&client, &blobs).await;
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_member_lost_the_operators_rebuild_the_domain_and_serve_runs_on_it() {
    let s = Cast::frontend().await;
    let vct = s.volatile_ciphertext().await;
    let Served {
        mut cast,
        dev,
        blobs,
        data_keys,
        root_secret,
        ..
    } = s;
    dev.shutdown().await;
    let w = cast.work.path().to_path_buf();
    let w = w.as_path();
    // Every member gone. The operators rebuild the domain in a fresh module.
    for h in [&mut cast.a, &mut cast.b, &mut cast.c] {
        h.kill();
    }
    let r = Hsm::start(&free_addr(), &w.join("r"));
    ok(
        w,
        &["operator", "attest", "--hsm", &r.addr, "--out", "r.att"],
    );
    let f = prepared(
        w,
        "use-r",
        &["enter-use-mode", "--module", "r.att"],
        &["op1"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &r.addr]);
    for op in ["op1", "op3"] {
        let (key, share) = (format!("{op}.key"), format!("{op}.share"));
        let unseal = [
            "operator",
            "unseal",
            "--domain-token",
            "t3.json",
            "--module",
            "r.att",
            "--key",
            &key,
            "--out",
            &share,
        ];
        ok(w, &unseal);
    }
    let recover = |name: &str, shares: &[&str]| {
        let mut request = vec![
            "recover-domain",
            "--domain-token",
            "t3.json",
            "--module",
            "r.att",
        ];
        for share in shares {
            request.extend_from_slice(&["--share", share]);
        }
        prepared(w, name, &request, &["op1", "op3"])
    };
    let only_one = recover("recover1", &["op1.share"]);
    refused(
        w,
        &["operator", "submit", &only_one, "--hsm", &r.addr],
        "QuorumNotMet",
    );
    let f = recover("recover", &["op1.share", "op3.share"]);
    submit_for_token(w, &f, &r, "t7.json");
    // Recovery changed every member, so the frontend's kept anchor cannot
    // vouch for t7: the operator re-anchors it explicitly.
    let (dev, client) = frontend_anchored(&cast.front, &[&r], &w.join("t7.json"), true).await;
    decrypts(&client, &blobs).await;
    // The domain survived; its volatile key did not.
    let e = client
        .decrypt()
        .ciphertext_blob(blob(&vct))
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::common::code(&e), "KMSInvalidStateException");
    let account = dev.account_id.clone();
    dev.shutdown().await;

    // The production frontend, `strongroom serve`, on the recovered domain,
    // with an access key made by `strongroom admin` through the module.
    let modules = ["--hsm", r.addr.as_str(), "--domain-token", "t7.json"];
    let data = cast.front.to_str().unwrap();
    let mut args = vec!["admin", "--data-dir", data];
    args.extend_from_slice(&modules);
    args.extend_from_slice(&["create-access-key", "--account-id", &account]);
    let creds = ok(w, &args);
    let field = |name: &str| {
        creds
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .to_string()
    };
    let (akid, secret) = (field("AWS_ACCESS_KEY_ID="), field("AWS_SECRET_ACCESS_KEY="));
    let (mut server, served) = serve(w, data, &modules, &akid, &secret);
    decrypts(&served, &blobs).await;
    // With no module left, clients get AWS's retryable dependency error.
    drop(r);
    let err = served
        .decrypt()
        .ciphertext_blob(blob(&blobs[0].0))
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::common::code(&err), "DependencyTimeoutException");
    let _ = server.kill();
    let _ = server.wait();

    // No data key, and no root secret, ever reached a file.
    for f in files_under(w) {
        let bytes = std::fs::read(&f).unwrap();
        for k in &data_keys {
            assert!(
                !bytes.windows(k.len()).any(|x| x == &k[..]),
                "{} holds a data key",
                f.display()
            );
        }
        assert!(
            !bytes
                .windows(root_secret.len())
                .any(|x| x == root_secret.as_bytes()),
            "{} holds the root secret",
            f.display()
        );
    }
}
