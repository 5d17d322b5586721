//! Denial of service before authentication (issue 10, finding 5): huge or
//! unknown frames, slow and silent peers, and connection caps.

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
