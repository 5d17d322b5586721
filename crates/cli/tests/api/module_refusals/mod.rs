//! Security module processes refuse what they must: garbage on the socket,
//! unpinned or unlisted peers, the wrong mode, bad measurements, tampered
//! commands; and they keep their logs and answer SIGUSR1 with erasure.
//! Each claim is its own test over a module built up as far as it needs
//! ([`Bench::started`] → [`Bench::attested`] → [`Bench::updated`] →
//! [`Bench::in_domain`]).

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use strongroom_crypto::SigningKeyPair;
use strongroom_hsm_proto::net::{ModulePins, host_tls_config};
use strongroom_hsm_proto::{HsmClient, HsmError, Request, Response};
use tempfile::TempDir;

use crate::hsm_process::*;
use network::stranger;

mod network;

/// A work directory (operator files live there) and a module on TCP.
struct Bench {
    work: TempDir,
    tcp: Hsm,
}

/// The code package the update stage installs: its SHA-384, hex.
fn package_hash() -> String {
    hex::encode(strongroom_crypto::sha384(b"package v2"))
}

impl Bench {
    /// A fresh module.
    fn started() -> Self {
        let work = tempfile::tempdir().unwrap();
        let tcp = Hsm::start(&free_addr(), &work.path().join("tcp"));
        Self { work, tcp }
    }

    fn w(&self) -> &Path {
        self.work.path()
    }

    /// An operator `op1` (its key in `op1.key`) and the module's
    /// attestation in `tcp.att`.
    fn attested() -> Self {
        let b = Self::started();
        let w = b.w();
        ok(
            w,
            &["operator", "keygen", "--name", "op1", "--out", "op1.key"],
        );
        ok(
            w,
            &[
                "operator",
                "attest",
                "--hsm",
                &b.tcp.addr,
                "--out",
                "tcp.att",
            ],
        );
        b
    }

    /// Code update [`package_hash`] version 2.0 installed by op1, in
    /// service mode.
    fn updated() -> Self {
        let b = Self::attested();
        let w = b.w();
        let pkg = package_hash();
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
        ok(w, &["operator", "submit", &f, "--hsm", &b.tcp.addr]);
        b
    }

    /// In use mode, with a domain (token `t1.json`, operator op1, quorum 1)
    /// whose only host is the frontend in `front/`: the domain id.
    fn in_domain() -> (Self, uuid::Uuid) {
        let b = Self::updated();
        let w = b.w();
        let front = w.join("front");
        ok(
            w,
            &["admin", "--data-dir", front.to_str().unwrap(), "host-key"],
        );
        let f = prepared(
            w,
            "use",
            &["enter-use-mode", "--module", "tcp.att"],
            &["op1"],
        );
        ok(w, &["operator", "submit", &f, "--hsm", &b.tcp.addr]);
        let host = front.join("host.pub");
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
                "operator",
                "submit",
                &f,
                "--hsm",
                &b.tcp.addr,
                "--out",
                "t1.json",
            ],
        );
        let (_, t1) = strongroom_cli::operator::read_token(&w.join("t1.json")).unwrap();
        (b, t1.domain_id)
    }
}

/// Garbage, an absurd frame length, and undecodable frames close the
/// connection; the module keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_absurd_frames_close_the_connection_and_the_module_keeps_serving() {
    let b = Bench::started();
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0xff, 0xff, 0xff, 0xff, 1, 2, 3][..],
    ] {
        let mut s = std::net::TcpStream::connect(&b.tcp.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(junk).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(
            n == 0 || buf[0] == 0x15,
            "the module answered garbage with data"
        );
    }
    let r = stranger(&b.tcp.addr).call(Request::Status).await;
    assert!(matches!(r, Ok(Response::Status(_))), "{r:?}");
}

/// A fresh module, on TCP or a Unix socket, lists no host: it answers
/// Status to anyone, and cryptography to no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_module_on_tcp_or_unix_answers_status_but_no_cryptography() {
    let b = Bench::started();
    let sock = format!("unix:{}", b.w().join("m.sock").display());
    let unix = Hsm::start(&sock, &b.w().join("unix"));
    for h in [&b.tcp, &unix] {
        assert!(matches!(
            stranger(&h.addr).call(Request::Status).await,
            Ok(Response::Status(_))
        ));
        let r = stranger(&h.addr)
            .call(Request::GenerateRandom { length: 8 })
            .await;
        assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_pinned_to_another_modules_key_refuses_to_talk_to_this_one() {
    let b = Bench::started();
    let key = SigningKeyPair::generate().unwrap();
    let wrong = ModulePins::keys([SigningKeyPair::generate().unwrap().public_key().to_vec()]);
    let pinned = HsmClient::remote(
        &[b.tcp.addr.parse().unwrap()],
        host_tls_config(&key, wrong).unwrap(),
    );
    assert!(matches!(
        pinned.call(Request::Status).await,
        Err(HsmError::Unavailable(_))
    ));
}

/// `operator verify-attestation` of `tcp.att` expecting `measurement`.
fn verify_attestation(measurement: &str) -> Vec<&str> {
    vec![
        "operator",
        "verify-attestation",
        "tcp.att",
        "--expect-measurement",
        measurement,
    ]
}

/// The attestation's measurement is SHA-384 of the executable and its
/// behaviour-changing configuration.
#[test]
fn the_attested_measurement_is_sha384_of_the_binary_and_its_configuration() {
    let b = Bench::attested();
    let w = b.w();
    let mut expected = std::fs::read(hsm_binary()).unwrap();
    expected.extend_from_slice(b"\nvault_capacity=4096\ntamper_file=true\ntags=\n");
    let expected = hex::encode(strongroom_crypto::sha384(&expected));
    ok(w, &verify_attestation(&expected));
    let zeros = "00".repeat(48);
    refused(w, &verify_attestation(&zeros), "measurement mismatch");
}

/// Code updates are approved by hash, in service mode, and attested.
#[test]
fn a_code_update_approved_by_hash_in_service_mode_is_attested() {
    let b = Bench::updated();
    let att = ok(b.w(), &["operator", "attest", "--hsm", &b.tcp.addr]);
    assert!(
        att.contains(&package_hash()) && att.contains("2.0"),
        "{att}"
    );
}

/// A client for `addr` with the host key kept in `data`.
fn host_from(data: &Path, addr: &str) -> HsmClient {
    let der = zeroize::Zeroizing::new(std::fs::read(data.join("host.key")).unwrap());
    HsmClient::remote(
        &[addr.parse().unwrap()],
        host_tls_config(
            &SigningKeyPair::from_pkcs8(&der).unwrap(),
            ModulePins::any(),
        )
        .unwrap(),
    )
}

/// A domain whose only host is the frontend: another host is refused, even
/// naming the domain; the listed host must name the domain too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_listed_host_naming_its_domain_gets_cryptography() {
    let (b, domain) = Bench::in_domain();
    let key = strongroom_hsm_proto::KeyRef {
        key_id: uuid::Uuid::new_v4(),
        version: 1,
    };
    let generate = Request::GenerateBackingKey {
        key,
        spec: strongroom_hsm_proto::KeySpecCode::SymmetricDefault,
    };
    let addr = &b.tcp.addr;
    let r = stranger(addr)
        .with_domain(domain)
        .call(generate.clone())
        .await;
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    let r = stranger(addr).call(generate.clone()).await;
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    let listed = host_from(&b.w().join("front"), addr);
    let r = listed.call(generate.clone()).await;
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    assert!(matches!(
        listed.with_domain(domain).call(generate).await,
        Ok(Response::Ekt(_))
    ));
}

/// A tampered command file is refused (by whichever check the flipped byte
/// hits: body, signer or signature); the same command untampered works.
#[test]
fn a_tampered_command_file_is_refused_and_the_untampered_one_works() {
    let (b, _) = Bench::in_domain();
    let w = b.w();
    let front2 = w.join("front2");
    ok(
        w,
        &["admin", "--data-dir", front2.to_str().unwrap(), "host-key"],
    );
    let host2 = front2.join("host.pub");
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
    let (success, _, err) = cli(w, &["operator", "submit", &f, "--hsm", &b.tcp.addr]);
    assert!(
        !success
            && (err.contains("InvalidSignature")
                || err.contains("UnknownOperator")
                || err.contains("Malformed")
                || err.contains("bad data")),
        "{err}"
    );
    std::fs::write(w.join(&f), original).unwrap();
    ok(w, &["operator", "submit", &f, "--hsm", &b.tcp.addr]);
}

/// Logs are hash-chained, listed and readable, and hold every command and
/// mode change.
#[test]
fn module_logs_are_listed_readable_and_hash_chained() {
    let (b, _) = Bench::in_domain();
    let (w, addr) = (b.w(), &b.tcp.addr);
    let listing = ok(w, &["operator", "logs", "--hsm", addr]);
    assert!(listing.contains("open"), "{listing}");
    let text = ok(w, &["operator", "logs", "--hsm", addr, "--log-id", "1"]);
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
}

/// A log closed by a restart is deleted only with a quorum-signed receipt
/// of its hash.
#[test]
fn a_closed_log_is_deleted_only_with_a_receipt_of_its_hash() {
    let (mut b, _) = Bench::in_domain();
    let addr = b.tcp.addr.clone();
    b.tcp.kill();
    let again = Hsm::start(&addr, &b.w().join("tcp"));
    let w = b.w();
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
    let delete = |name: &str, sha384: &str| {
        let request = [
            "delete-log",
            "--module",
            "again.att",
            "--log-id",
            "1",
            "--sha384",
            sha384,
        ];
        prepared(w, name, &request, &["op1"])
    };
    let bad = delete("del-bad", &"11".repeat(48));
    refused(
        w,
        &["operator", "submit", &bad, "--hsm", &again.addr],
        "does not match",
    );
    let del = delete("del", &hash);
    ok(w, &["operator", "submit", &del, "--hsm", &again.addr]);
    let listing = ok(w, &["operator", "logs", "--hsm", &again.addr]);
    assert!(!listing.lines().any(|l| l.starts_with("1 ")), "{listing}");
}

/// The other tamper sensor: SIGUSR1 erases the module, which signs an
/// erasure certificate and stays in service mode.
#[test]
fn sigusr1_erases_a_module_which_certifies_it_and_stays_in_service_mode() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let sock = format!("unix:{}", w.join("m.sock").display());
    let unix = Hsm::start(&sock, &w.join("unix"));
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
}
