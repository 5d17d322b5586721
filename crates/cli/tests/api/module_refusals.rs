//! Security module processes refuse what they must: garbage on the socket,
//! unpinned or unlisted peers, the wrong mode, bad measurements, tampered
//! commands; and they keep their logs and answer SIGUSR1 with erasure.

use std::process::Command;
use std::time::Duration;

use crate::hsm_process::*;

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
        // A fresh module lists no host: no cryptography for anyone.
        let r = any(&h.addr)
            .call(Request::GenerateRandom { length: 8 })
            .await;
        assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
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
    expected.extend_from_slice(b"\nvault_capacity=4096\ntamper_file=true\ntags=\n");
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
    let generate = Request::GenerateBackingKey {
        key,
        spec: strongroom_hsm_proto::KeySpecCode::SymmetricDefault,
    };
    let (_, t1) = strongroom_cli::operator::read_token(&w.join("t1.json")).unwrap();
    let r = any(&tcp.addr)
        .with_domain(t1.domain_id)
        .call(generate.clone())
        .await;
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    let r = any(&tcp.addr).call(generate.clone()).await;
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    // Even the listed host must name the domain its request is for.
    let der = zeroize::Zeroizing::new(std::fs::read(w.join("front/host.key")).unwrap());
    let listed = HsmClient::remote(
        &[tcp.addr.parse().unwrap()],
        host_tls_config(
            &SigningKeyPair::from_pkcs8(&der).unwrap(),
            ModulePins::any(),
        )
        .unwrap(),
    );
    let r = listed.call(generate.clone()).await;
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    assert!(matches!(
        listed.with_domain(t1.domain_id).call(generate).await,
        Ok(Response::Ekt(_))
    ));
    // A tampered command file is refused (by whichever check the flipped
    // byte hits: body, signer or signature); the same command untampered
    // works.
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
                || err.contains("UnknownOperator")
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
    let cert = || erasure_certificate(&unix.state);
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

// ---- Denial of service before authentication (issue 10, finding 5) ----

mod network {
    use std::time::Duration;

    use strongroom_crypto::SigningKeyPair;
    use strongroom_hsm_proto::frame::{HEADER_LEN, WIRE_VERSION};
    use strongroom_hsm_proto::net::{ModulePins, SERVER_NAME, host_tls_config};
    use strongroom_hsm_proto::{HsmClient, HsmError, Request, Response};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::hsm_process::*;

    /// A TLS session to the module as a stranger (a fresh host key).
    pub(crate) async fn stranger_tls(addr: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
        let key = SigningKeyPair::generate().unwrap();
        let cfg = host_tls_config(&key, ModulePins::any()).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from(SERVER_NAME).unwrap();
        tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// A client for `addr` with a fresh (unlisted) host key.
    pub(crate) fn stranger(addr: &str) -> HsmClient {
        let key = SigningKeyPair::generate().unwrap();
        HsmClient::remote(
            &[addr.parse().unwrap()],
            host_tls_config(&key, ModulePins::any()).unwrap(),
        )
    }

    /// Whether the module closed the stream (EOF or reset) rather than
    /// answering; fails if it does neither within a generous bound.
    async fn module_hung_up<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> bool {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) => false,
            Err(_) => panic!("the module neither answered nor closed the connection"),
        }
    }

    fn header(version: u8, class: u8, len: u32) -> Vec<u8> {
        let mut h = vec![version, class];
        h.extend_from_slice(&1u64.to_be_bytes());
        h.extend_from_slice(&len.to_be_bytes());
        assert_eq!(h.len(), HEADER_LEN);
        h
    }

    fn rss_kib(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    async fn answers_status(addr: &str) {
        let r = stranger(addr).call(Request::Status).await;
        assert!(matches!(r, Ok(Response::Status(_))), "{r:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn huge_length_prefixes_and_unknown_versions_from_a_stranger_are_cut_off_unallocated() {
        let work = tempfile::tempdir().unwrap();
        let hsm = Hsm::start(&free_addr(), work.path());
        answers_status(&hsm.addr).await;
        let before = rss_kib(hsm.child.id());
        // 4 GiB and 64 MiB claims, in each class, each followed by 4 MiB
        // of body that a module reading it would have to keep.
        let body = vec![0x41u8; 4 << 20];
        for (class, len) in [(1, u32::MAX), (1, 64 << 20), (2, 64 << 20), (2, u32::MAX)] {
            for _ in 0..2 {
                let mut s = stranger_tls(&hsm.addr).await;
                s.write_all(&header(WIRE_VERSION, class, len))
                    .await
                    .unwrap();
                let _ = s.write_all(&body).await;
                assert!(module_hung_up(&mut s).await, "class {class} len {len}");
            }
        }
        // An old (version 1: bare length) frame and unknown versions.
        for first in [
            &[0u8, 0, 0, 16][..],
            &[1, 1, 0, 0][..],
            &[3, 1, 0, 0][..],
            &[0xff; 4][..],
        ] {
            let mut s = stranger_tls(&hsm.addr).await;
            s.write_all(first).await.unwrap();
            s.write_all(&[0u8; 32]).await.unwrap();
            assert!(module_hung_up(&mut s).await, "{first:?}");
        }
        let after = rss_kib(hsm.child.id());
        assert!(
            after < before + 24 * 1024,
            "module RSS grew from {before} KiB to {after} KiB"
        );
        answers_status(&hsm.addr).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_partial_and_silent_peers_are_disconnected_while_others_are_served() {
        let work = tempfile::tempdir().unwrap();
        let hsm = Hsm::start_with(
            &free_addr(),
            work.path(),
            &[
                "--frame-timeout-secs",
                "1",
                "--handshake-timeout-secs",
                "1",
                "--idle-timeout-secs",
                "1",
            ],
        );
        // A frame started and never finished.
        let mut partial = stranger_tls(&hsm.addr).await;
        partial
            .write_all(&header(WIRE_VERSION, 1, 1000))
            .await
            .unwrap();
        partial.write_all(&[0u8; 10]).await.unwrap();
        // A TCP peer that never starts TLS, and a TLS peer that never sends.
        let mut mute_tcp = TcpStream::connect(&hsm.addr).await.unwrap();
        let mut silent = stranger_tls(&hsm.addr).await;
        // Meanwhile everyone else is served.
        answers_status(&hsm.addr).await;
        assert!(module_hung_up(&mut partial).await);
        assert!(module_hung_up(&mut mute_tcp).await);
        assert!(module_hung_up(&mut silent).await);
        answers_status(&hsm.addr).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strangers_get_a_small_pool_of_their_own_and_idle_out_quickly() {
        let work = tempfile::tempdir().unwrap();
        let hsm = Hsm::start_with(
            &free_addr(),
            work.path(),
            &["--max-connections", "64", "--handshake-timeout-secs", "3"],
        );
        let held: Vec<HsmClient> = (0..strongroom_hsm::server::STRANGER_CONNECTIONS)
            .map(|_| stranger(&hsm.addr))
            .collect();
        for c in &held {
            assert!(matches!(
                c.call(Request::Status).await,
                Ok(Response::Status(_))
            ));
        }
        // The global cap (64) is far off, yet one more stranger is cut off:
        // strangers cannot take the slots frontends need.
        let r = stranger(&hsm.addr).call(Request::Status).await;
        assert!(matches!(r, Err(HsmError::Unavailable(_))), "{r:?}");
        // Silent strangers are closed after the short deadline, freeing
        // their pool without anyone dropping them.
        wait_for("a stranger slot freed by the idle deadline", || {
            let c = stranger(&hsm.addr);
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(c.call(Request::Status))
            })
            .is_ok()
        });
        drop(held);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_beyond_the_cap_are_refused_while_existing_ones_keep_working() {
        let work = tempfile::tempdir().unwrap();
        let hsm = Hsm::start_with(&free_addr(), work.path(), &["--max-connections", "3"]);
        let mut held: Vec<HsmClient> = (0..3).map(|_| stranger(&hsm.addr)).collect();
        for c in &held {
            assert!(matches!(
                c.call(Request::Status).await,
                Ok(Response::Status(_))
            ));
        }
        let extra = stranger(&hsm.addr);
        let r = extra.call(Request::Status).await;
        assert!(matches!(r, Err(HsmError::Unavailable(_))), "{r:?}");
        // The three admitted connections still work.
        for c in &held {
            assert!(matches!(
                c.call(Request::Status).await,
                Ok(Response::Status(_))
            ));
        }
        // Closing one frees its slot.
        drop(held.pop());
        let mut admitted = false;
        wait_for("a freed connection slot", || {
            let c = stranger(&hsm.addr);
            admitted = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(c.call(Request::Status))
            })
            .is_ok();
            admitted
        });
    }
}
