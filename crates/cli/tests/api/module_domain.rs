//! A 3-module domain built by a 2-of-3 ceremony, used through a frontend
//! with failover, then tamper, rejoin, rotation and full recovery, all with
//! real `strongroom-hsm` processes and `strongroom operator` commands.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kms::Client;

use crate::common::blob;
use crate::hsm_process::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_module_domain_from_ceremony_to_recovery() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let front = w.join("frontend");
    let mut a = Hsm::start(&free_addr(), &w.join("a"));
    let b = Hsm::start(&free_addr(), &w.join("b"));
    let mut c = Hsm::start(&free_addr(), &w.join("c"));

    // Operators and their keys, each on "their own machine" (files).
    for i in 1..=3 {
        ok(
            w,
            &[
                "operator",
                "keygen",
                "--name",
                &format!("op{i}"),
                "--out",
                &format!("op{i}.key"),
            ],
        );
    }
    for (h, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        ok(
            w,
            &[
                "operator",
                "attest",
                "--hsm",
                &h.addr,
                "--out",
                &format!("{name}.att"),
            ],
        );
        // A fresh module has no custodians: one operator signature suffices.
        let f = prepared(
            w,
            &format!("use-{name}"),
            &["enter-use-mode", "--module", &format!("{name}.att")],
            &["op1"],
        );
        ok(w, &["operator", "submit", &f, "--hsm", &h.addr]);
    }
    ok(
        w,
        &["admin", "--data-dir", front.to_str().unwrap(), "host-key"],
    );
    let host_pub = front.join("host.pub");

    // CreateDomain needs two of the three.
    let create = [
        "create-domain",
        "--module",
        "a.att",
        "--operator",
        "op1.key.pub",
        "--operator",
        "op2.key.pub",
        "--operator",
        "op3.key.pub",
        "--quorum",
        "2",
        "--host",
        host_pub.to_str().unwrap(),
        "--min-generation-lifespan-secs",
        "0",
    ];
    let f = prepared(w, "create", &create, &["op1"]);
    refused(
        w,
        &["operator", "submit", &f, "--hsm", &a.addr],
        "QuorumNotMet",
    );
    ok(w, &["operator", "sign", &f, "--key", "op2.key"]);
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &a.addr, "--out", "t1.json",
        ],
    );

    // One operator alone cannot add a member.
    let f = prepared(
        w,
        "add-b",
        &[
            "add-member",
            "--domain-token",
            "t1.json",
            "--module",
            "b.att",
        ],
        &["op3"],
    );
    refused(
        w,
        &["operator", "submit", &f, "--hsm", &a.addr],
        "QuorumNotMet",
    );
    ok(w, &["operator", "sign", &f, "--key", "op1.key"]);
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &a.addr, "--out", "t2.json",
        ],
    );
    let f = prepared(
        w,
        "add-c",
        &[
            "add-member",
            "--domain-token",
            "t2.json",
            "--module",
            "c.att",
        ],
        &["op2", "op3"],
    );
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &a.addr, "--out", "t3.json",
        ],
    );
    let ingest = prepared(
        w,
        "ingest3",
        &["ingest", "--domain-token", "t3.json"],
        &["op1", "op2"],
    );
    ok(
        w,
        &[
            "operator", "submit", &ingest, "--hsm", &b.addr, "--hsm", &c.addr,
        ],
    );
    refused(
        w,
        &["operator", "submit", &ingest, "--hsm", &b.addr],
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
        &["operator", "submit", &late, "--hsm", &b.addr],
        "Expired",
    );

    // A frontend over all three: keys made through one module open through the others.
    let (dev, client) = frontend(&front, &[&a, &b, &c], &w.join("t3.json")).await;
    let root_secret = dev.secret_access_key.to_string();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let mut blobs = Vec::new();
    let mut data_keys = Vec::new();
    for i in 0..6u8 {
        let pt = vec![i; 32];
        let ct = client
            .encrypt()
            .key_id(&key)
            .plaintext(blob(&pt))
            .send()
            .await
            .unwrap();
        blobs.push((ct.ciphertext_blob.unwrap().into_inner(), pt));
        let dk = client
            .generate_data_key()
            .key_id(&key)
            .number_of_bytes(32)
            .send()
            .await
            .unwrap();
        data_keys.push(dk.plaintext.unwrap().into_inner());
    }
    decrypts(&client, &blobs).await;
    // Many requests in flight at once share each module connection.
    let calls = (0..64).map(|i| {
        let (client, (ct, pt)) = (client.clone(), blobs[i % blobs.len()].clone());
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
    // The modules' own logs (the quorum-signed ceremony) reach the
    // frontend's audit trail, next to the API requests.
    let mut module_commands = Vec::new();
    for _ in 0..100 {
        module_commands = dev
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
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let create = module_commands
        .first()
        .expect("CreateDomain copied from a module log");
    assert_eq!(
        create["additionalEventData"]["detail"]["signers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A VOLATILE key goes into every member's memory only: any of them
    // decrypts it (requests rotate over all three).
    let raw = strongroom_cli::client::KmsHttpClient::new(
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let volatile = raw
        .call_json("CreateKey", serde_json::json!({"StorageClass": "VOLATILE"}))
        .await
        .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let vct = client
        .encrypt()
        .key_id(&volatile)
        .plaintext(blob(b"in memory only"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner();
    let volatile_blobs = vec![(vct.clone(), b"in memory only".to_vec())];
    for _ in 0..3 {
        decrypts(&client, &volatile_blobs).await;
    }
    for h in [&a, &b, &c] {
        assert!(
            requests_served(w, h) > 3,
            "requests spread over every member"
        );
    }

    // Tamper on B: it erases itself and signs a certificate; A and C keep serving.
    std::fs::write(b.state.join("TAMPER"), b"").unwrap();
    let cert = || erasure_certificate(&b.state);
    wait_for("B's erasure certificate", || cert().is_some());
    let verified = ok(
        w,
        &[
            "operator",
            "verify-erasure",
            cert().unwrap().to_str().unwrap(),
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
    c.kill();
    decrypts(&client, &blobs).await;

    // C comes back: a new identity the frontend does not trust until a
    // member adds it with a quorum and it ingests the domain.
    let c_addr = c.addr.clone();
    drop(c);
    let c2 = Hsm::start(&c_addr, &w.join("c2"));
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
    let f = prepared(
        w,
        "add-c2",
        &[
            "add-member",
            "--domain-token",
            "t3.json",
            "--module",
            "c2.att",
        ],
        &["op1", "op3"],
    );
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &a.addr, "--out", "t4.json",
        ],
    );
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

    // Rotate the domain key, re-wrap the store, retire generation 1.
    let f = prepared(
        w,
        "rotate",
        &["rotate-domain-key", "--domain-token", "t4.json"],
        &["op1", "op2"],
    );
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &a.addr, "--out", "t5.json",
        ],
    );
    let f = prepared(
        w,
        "ingest5",
        &["ingest", "--domain-token", "t5.json"],
        &["op1", "op2"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &c2.addr]);
    let admin = |extra: &[&str]| {
        let mut args = vec![
            "admin",
            "--data-dir",
            front.to_str().unwrap(),
            "--hsm",
            &a.addr,
            "--hsm",
            &c2.addr,
            "--domain-token",
            "t5.json",
        ];
        args.extend_from_slice(extra);
        ok(w, &args)
    };
    let status: serde_json::Value = serde_json::from_str(&admin(&["rewrap-status"])).unwrap();
    assert!(
        status["ekts_by_generation"]["1"].as_u64().unwrap() >= 1,
        "{status}"
    );
    let f = prepared(
        w,
        "retire-early",
        &[
            "retire-domain-key",
            "--domain-token",
            "t5.json",
            "--generation",
            "1",
            "--ekts-remaining",
            "2",
        ],
        &["op1", "op3"],
    );
    refused(
        w,
        &["operator", "submit", &f, "--hsm", &a.addr],
        "rewrap them first",
    );
    admin(&["rewrap", "--batch", "1"]);
    let status: serde_json::Value = serde_json::from_str(&admin(&["rewrap-status"])).unwrap();
    assert!(
        status["ekts_by_generation"].get("1").is_none()
            && status["credentials_by_generation"].get("1").is_none(),
        "{status}"
    );
    let f = prepared(
        w,
        "retire",
        &[
            "retire-domain-key",
            "--domain-token",
            "t5.json",
            "--generation",
            "1",
            "--ekts-remaining",
            "0",
        ],
        &["op1", "op3"],
    );
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &a.addr, "--out", "t6.json",
        ],
    );
    let f = prepared(
        w,
        "ingest6",
        &["ingest", "--domain-token", "t6.json"],
        &["op2", "op3"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &c2.addr]);
    // The running frontend cached generation-1 EKTs; it recovers by itself.
    decrypts(&client, &blobs).await;
    dev.shutdown().await;

    // Every member gone. The operators rebuild the domain in a fresh module.
    a.kill();
    drop(c2);
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
        ok(
            w,
            &[
                "operator",
                "unseal",
                "--domain-token",
                "t6.json",
                "--module",
                "r.att",
                "--key",
                &format!("{op}.key"),
                "--out",
                &format!("{op}.share"),
            ],
        );
    }
    let only_one = prepared(
        w,
        "recover1",
        &[
            "recover-domain",
            "--domain-token",
            "t6.json",
            "--module",
            "r.att",
            "--share",
            "op1.share",
        ],
        &["op1", "op3"],
    );
    refused(
        w,
        &["operator", "submit", &only_one, "--hsm", &r.addr],
        "QuorumNotMet",
    );
    let f = prepared(
        w,
        "recover",
        &[
            "recover-domain",
            "--domain-token",
            "t6.json",
            "--module",
            "r.att",
            "--share",
            "op1.share",
            "--share",
            "op3.share",
        ],
        &["op1", "op3"],
    );
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &r.addr, "--out", "t7.json",
        ],
    );
    // Recovery changed every member, so the frontend's kept anchor cannot
    // vouch for t7: the operator re-anchors it explicitly.
    let (dev, client) = frontend_anchored(&front, &[&r], &w.join("t7.json"), true).await;
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
    let data = front.to_str().unwrap();
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
    let listen = free_addr();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .current_dir(w)
        .args(["serve", "--data-dir", data, "--listen", &listen])
        .args(modules)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("serving"), "{line}");
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{listen}"))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            &akid, &secret, None, None, "test",
        ))
        .build();
    let served = Client::from_conf(conf);
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
    let _ = serve.kill();
    let _ = serve.wait();

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
