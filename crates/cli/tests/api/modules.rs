//! Security modules as real `strongroom-hsm` processes, administered with
//! the real `strongroom operator` commands: a 2-of-3 ceremony, use through
//! a frontend with failover, tamper, rejoin, rotation, and recovery.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_kms::Client;
use strongroom_cli::dev::DevEnvironment;
use strongroom_cli::modules::ExternalModules;

use crate::common::{blob, client_for, start_in};

/// The module daemon, built once (it is another package's binary, which
/// cargo does not build for this package's tests).
fn hsm_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "strongroom-hsm",
                "--bin",
                "strongroom-hsm",
            ])
            .status()
            .expect("running cargo");
        assert!(status.success(), "building strongroom-hsm");
        let dir = Path::new(env!("CARGO_BIN_EXE_strongroom"))
            .parent()
            .unwrap();
        dir.join("strongroom-hsm")
    })
}

/// A running module process; killed when dropped.
struct Hsm {
    child: Child,
    addr: String,
    state: PathBuf,
}

impl Hsm {
    fn start(addr: &str, state: &Path) -> Self {
        std::fs::create_dir_all(state).unwrap();
        let mut child = Command::new(hsm_binary())
            .args(["--listen", addr, "--state-dir"])
            .arg(state)
            .arg("--tamper-file")
            .arg(state.join("TAMPER"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first line says it is listening.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["mode"], "service", "a module starts in service mode");
        Self {
            child,
            addr: addr.to_string(),
            state: state.to_path_buf(),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hsm {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Runs `strongroom ARGS` in `dir`; returns (success, stdout, stderr).
fn cli(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = cli(dir, args);
    assert!(success, "strongroom {args:?} failed:\n{err}");
    out
}

fn refused(dir: &Path, args: &[&str], why: &str) {
    let (success, _, err) = cli(dir, args);
    assert!(!success, "strongroom {args:?} should have been refused");
    assert!(err.contains(why), "expected {why} in:\n{err}");
}

/// Prepares a command, has `signers` sign it, returns the file name.
fn prepared(dir: &Path, name: &str, request: &[&str], signers: &[&str]) -> String {
    let file = format!("{name}.cmd.json");
    let mut args = vec!["operator", "request", "--out", &file];
    args.extend_from_slice(request);
    ok(dir, &args);
    for s in signers {
        ok(
            dir,
            &["operator", "sign", &file, "--key", &format!("{s}.key")],
        );
    }
    file
}

async fn frontend(data: &Path, addrs: &[&Hsm], token: &Path) -> (DevEnvironment, Client) {
    let dev = start_in(data, |o| {
        o.modules = ExternalModules {
            addrs: addrs.iter().map(|h| h.addr.parse().unwrap()).collect(),
            domain_token: Some(token.to_path_buf()),
        }
    })
    .await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    (dev, client)
}

async fn decrypts(client: &Client, blobs: &[(Vec<u8>, Vec<u8>)]) {
    for (ct, pt) in blobs {
        let out = client
            .decrypt()
            .ciphertext_blob(blob(ct))
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), &pt[..]);
    }
}

fn requests_served(dir: &Path, h: &Hsm) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&ok(dir, &["operator", "status", "--hsm", &h.addr])).unwrap();
    v["requests_served"].as_u64().unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
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

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

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
    for h in [&a, &b, &c] {
        assert!(
            requests_served(w, h) > 3,
            "requests spread over every member"
        );
    }

    // Tamper on B: it erases itself and signs a certificate; A and C keep serving.
    std::fs::write(b.state.join("TAMPER"), b"").unwrap();
    let cert = || {
        files_under(&b.state).into_iter().find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("erasure-")
        })
    };
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
    let (dev, client) = frontend(&front, &[&r], &w.join("t7.json")).await;
    decrypts(&client, &blobs).await;
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
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            &akid, &secret, None, None, "test",
        ))
        .build();
    decrypts(&Client::from_conf(conf), &blobs).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_refuse_strangers_garbage_and_wrong_modes() {
    use std::io::{Read, Write};
    use strongroom_crypto::SigningKeyPair;
    use strongroom_hsm_proto::net::{ModulePins, host_tls_config};
    use strongroom_hsm_proto::{HsmClient, HsmError, Request, Response};

    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tcp = Hsm::start(&free_addr(), &w.join("tcp"));
    let sock = format!("unix:{}", w.join("m.sock").display());
    let unix = Hsm::start(&sock, &w.join("unix"));

    // Garbage, an absurd frame length, and undecodable frames close the
    // connection; the module keeps serving.
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0xff, 0xff, 0xff, 0xff, 1, 2, 3][..],
    ] {
        let mut s = std::net::TcpStream::connect(&tcp.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(junk).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(
            n == 0 || buf[0] == 0x15,
            "the module answered garbage with data"
        );
    }
    let any = |addr: &str| {
        let key = SigningKeyPair::generate().unwrap();
        HsmClient::remote(
            &[addr.parse().unwrap()],
            host_tls_config(&key, ModulePins::any()).unwrap(),
        )
    };
    for h in [&tcp, &unix] {
        assert!(matches!(
            any(&h.addr).call(Request::Status).await,
            Ok(Response::Status(_))
        ));
        // A fresh module is in service mode: no cryptography.
        let r = any(&h.addr)
            .call(Request::GenerateRandom { length: 8 })
            .await;
        assert!(matches!(r, Err(HsmError::WrongMode(_))), "{r:?}");
    }
    // A host pinned to another module's key refuses to talk to this one.
    let key = SigningKeyPair::generate().unwrap();
    let wrong = ModulePins::keys([SigningKeyPair::generate().unwrap().public_key().to_vec()]);
    let pinned = HsmClient::remote(
        &[tcp.addr.parse().unwrap()],
        host_tls_config(&key, wrong).unwrap(),
    );
    assert!(matches!(
        pinned.call(Request::Status).await,
        Err(HsmError::Unavailable(_))
    ));

    // The attestation's measurement is SHA-384 of the executable and its
    // behaviour-changing configuration.
    let mut expected = std::fs::read(hsm_binary()).unwrap();
    expected.extend_from_slice(b"\nvault_capacity=4096\ntamper_file=true\n");
    let expected = hex::encode(strongroom_crypto::sha384(&expected));
    ok(
        w,
        &["operator", "keygen", "--name", "op1", "--out", "op1.key"],
    );
    ok(
        w,
        &["operator", "attest", "--hsm", &tcp.addr, "--out", "tcp.att"],
    );
    ok(
        w,
        &[
            "operator",
            "verify-attestation",
            "tcp.att",
            "--expect-measurement",
            &expected,
        ],
    );
    refused(
        w,
        &[
            "operator",
            "verify-attestation",
            "tcp.att",
            "--expect-measurement",
            &"00".repeat(48),
        ],
        "measurement mismatch",
    );

    // Code updates are approved by hash, in service mode, and attested.
    let pkg = hex::encode(strongroom_crypto::sha384(b"package v2"));
    let f = prepared(
        w,
        "update",
        &[
            "install-update",
            "--module",
            "tcp.att",
            "--sha384",
            &pkg,
            "--version",
            "2.0",
        ],
        &["op1"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &tcp.addr]);
    let att = ok(w, &["operator", "attest", "--hsm", &tcp.addr]);
    assert!(att.contains(&pkg) && att.contains("2.0"), "{att}");

    // A domain whose only host is the frontend: another host is refused.
    ok(
        w,
        &[
            "admin",
            "--data-dir",
            w.join("front").to_str().unwrap(),
            "host-key",
        ],
    );
    let f = prepared(
        w,
        "use",
        &["enter-use-mode", "--module", "tcp.att"],
        &["op1"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &tcp.addr]);
    let host = w.join("front/host.pub");
    let f = prepared(
        w,
        "create",
        &[
            "create-domain",
            "--module",
            "tcp.att",
            "--operator",
            "op1.key.pub",
            "--quorum",
            "1",
            "--host",
            host.to_str().unwrap(),
        ],
        &["op1"],
    );
    ok(
        w,
        &[
            "operator", "submit", &f, "--hsm", &tcp.addr, "--out", "t1.json",
        ],
    );
    let key = strongroom_hsm_proto::KeyRef {
        key_id: uuid::Uuid::new_v4(),
        version: 1,
    };
    let r = any(&tcp.addr)
        .call(Request::GenerateBackingKey {
            key,
            spec: strongroom_hsm_proto::KeySpecCode::SymmetricDefault,
        })
        .await;
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    // A tampered command file is refused; the same command untampered works.
    ok(
        w,
        &[
            "admin",
            "--data-dir",
            w.join("front2").to_str().unwrap(),
            "host-key",
        ],
    );
    let host2 = w.join("front2/host.pub");
    let f = prepared(
        w,
        "addhost",
        &[
            "add-host",
            "--domain-token",
            "t1.json",
            "--host",
            host2.to_str().unwrap(),
        ],
        &["op1"],
    );
    let original = std::fs::read_to_string(w.join(&f)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
    let data = v["data"].as_str().unwrap().to_string();
    let mid = data.len() / 2;
    let swapped = if &data[mid..mid + 1] == "A" { "B" } else { "A" };
    v["data"] = format!("{}{}{}", &data[..mid], swapped, &data[mid + 1..]).into();
    std::fs::write(w.join(&f), v.to_string()).unwrap();
    let (success, _, err) = cli(w, &["operator", "submit", &f, "--hsm", &tcp.addr]);
    assert!(
        !success
            && (err.contains("InvalidSignature")
                || err.contains("Malformed")
                || err.contains("bad data")),
        "{err}"
    );
    std::fs::write(w.join(&f), original).unwrap();
    ok(w, &["operator", "submit", &f, "--hsm", &tcp.addr]);

    // Logs: hash-chained, listed, readable; a closed log is deleted only
    // with a quorum-signed receipt of its hash.
    let listing = ok(w, &["operator", "logs", "--hsm", &tcp.addr]);
    assert!(listing.contains("open"), "{listing}");
    let text = ok(
        w,
        &["operator", "logs", "--hsm", &tcp.addr, "--log-id", "1"],
    );
    assert!(
        text.contains("\"event\":\"command\"") && text.contains("CreateDomain"),
        "{text}"
    );
    assert!(
        text.contains("InstallUpdate") && text.contains("\"mode\":\"use\""),
        "{text}"
    );
    assert_eq!(
        strongroom_hsm::log::verify_chain(&[&text]),
        Ok(text.lines().count())
    );
    let mut tcp = tcp;
    let addr = tcp.addr.clone();
    tcp.kill();
    let again = Hsm::start(&addr, &w.join("tcp"));
    let listing = ok(w, &["operator", "logs", "--hsm", &again.addr]);
    let first = listing.lines().next().unwrap().to_string();
    assert!(first.contains("closed"), "{listing}");
    let hash = first.split_whitespace().nth(4).unwrap().to_string();
    ok(
        w,
        &[
            "operator",
            "attest",
            "--hsm",
            &again.addr,
            "--out",
            "again.att",
        ],
    );
    let bad = prepared(
        w,
        "del-bad",
        &[
            "delete-log",
            "--module",
            "again.att",
            "--log-id",
            "1",
            "--sha384",
            &"11".repeat(48),
        ],
        &["op1"],
    );
    refused(
        w,
        &["operator", "submit", &bad, "--hsm", &again.addr],
        "does not match",
    );
    let del = prepared(
        w,
        "del",
        &[
            "delete-log",
            "--module",
            "again.att",
            "--log-id",
            "1",
            "--sha384",
            &hash,
        ],
        &["op1"],
    );
    ok(w, &["operator", "submit", &del, "--hsm", &again.addr]);
    let listing = ok(w, &["operator", "logs", "--hsm", &again.addr]);
    assert!(!listing.lines().any(|l| l.starts_with("1 ")), "{listing}");

    // The other tamper sensor: SIGUSR1.
    let status = Command::new("kill")
        .args(["-USR1", &unix.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let cert = || {
        files_under(&unix.state).into_iter().find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("erasure-")
        })
    };
    wait_for("the SIGUSR1 erasure certificate", || cert().is_some());
    let v = ok(
        w,
        &[
            "operator",
            "verify-erasure",
            cert().unwrap().to_str().unwrap(),
        ],
    );
    assert!(v.contains("SIGUSR1"), "{v}");
    let s: serde_json::Value =
        serde_json::from_str(&ok(w, &["operator", "status", "--hsm", &unix.addr])).unwrap();
    assert_eq!(
        (s["erased"].as_bool(), s["mode"].as_str()),
        (Some(true), Some("service"))
    );
    drop(unix);
}
