//! Denial-of-service and log-injection attacks on the HTTP frontend, from
//! raw TCP: bodies sent by clients that never authenticate, slowloris,
//! connection floods, floods of unauthenticated requests, hostile header
//! text.

use std::time::Duration;

use serde_json::Value;
use strongroom_server::unauthenticated::EVENT_NAME;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

async fn audit_records(dev: &strongroom_cli::dev::DevEnvironment) -> Vec<Value> {
    dev.audit_events().unwrap()
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body); fails if
/// none comes within 30 s (a server waiting for a body never sent).
async fn read_response(s: &mut TcpStream) -> (u16, String) {
    tokio::time::timeout(Duration::from_secs(30), read_response_now(s))
        .await
        .expect("no response within 30 s")
}

async fn read_response_now(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "connection closed before a response head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// Whether the server closes the connection (EOF or reset) within 20 s.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut sink = [0u8; 1024];
    let read = async {
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .is_ok()
}

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_megabyte_body_is_refused_before_it_is_sent() {
    let env = TestEnv::start().await;
    let before = audit_records(&env.dev).await.len();
    let cases = [
        ("", "MissingAuthenticationTokenException"),
        (
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n",
            "UnrecognizedClientException",
        ),
        ("Authorization: garbage\r\n", "IncompleteSignatureException"),
    ];
    for (auth, expected) in cases {
        let mut s = TcpStream::connect(env.dev.server.local_addr())
            .await
            .unwrap();
        // Headers only, announcing a 1 MiB body that is never sent.
        s.write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n\
                 X-Amz-Target: TrentService.ListKeys\r\n{auth}Content-Length: {MIB}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let (status, body) = read_response(&mut s).await;
        assert!(status == 400 || status == 403, "{status} {body}");
        assert!(body.contains(expected), "{body}");
        assert!(
            closed_by_server(&mut s).await,
            "connection kept open for the body"
        );
    }
    // Even a known access key does not buy more than the cap.
    let mut s = TcpStream::connect(env.dev.server.local_addr())
        .await
        .unwrap();
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={}\r\nContent-Length: {}\r\n\r\n",
            env.dev.access_key_id,
            "0".repeat(64),
            MIB + 1
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (status, body) = read_response(&mut s).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("exceeds 1048576 bytes"), "{body}");
    assert!(closed_by_server(&mut s).await);
    // Nothing changed: no audit row per refused request.
    assert_eq!(audit_records(&env.dev).await.len(), before);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_client_is_disconnected_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = dev.server.local_addr();
    // Headers trickle in, a byte at a time, forever.
    let slow = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
        for _ in 0..200 {
            if s.write_all(b"X").await.is_err() {
                return true;
            }
            let mut b = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(100), s.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                // A 408 or any answer means the server gave up on it too.
                Ok(Ok(_)) => return closed_by_server(&mut s).await,
                Err(_) => {}
            }
        }
        false
    });
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    for _ in 0..5 {
        c.list_keys().send().await.unwrap();
    }
    assert!(
        slow.await.unwrap(),
        "slowloris connection still open after 20 s"
    );
    c.list_keys().send().await.unwrap();
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_until_others_end() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.max_connections = 3;
        o.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = dev.server.local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // The fourth is closed at once, without an answer.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), extra.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "over-cap connection was served: {read:?} {buf:?}"
    );
    // Once the held connections end, clients are served again.
    drop(held);
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let mut served = false;
    for _ in 0..100 {
        if c.list_keys().send().await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "no client served after the held connections closed");
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_unauthenticated_requests_leave_a_bounded_audit_trail() {
    let env = TestEnv::start().await;
    let audit_dir = env.dev.audit_dir().to_path_buf();
    let before = audit_records(&env.dev).await.len();
    let addr = env.dev.server.local_addr();
    // Hostile header text: a marker the trail must never contain.
    let hostile_ua = format!("ATTACKER-UA-{}\t\u{e9}", "y".repeat(1000));
    let mut tasks = tokio::task::JoinSet::new();
    for conn in 0..8 {
        let ua = hostile_ua.clone();
        tasks.spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut pipeline = Vec::new();
            for i in 0..1250 {
                let auth = if i % 2 == 0 {
                    format!(
                        "Authorization: AWS4-HMAC-SHA256 Credential=ATTACKERKEY{conn}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={}\r\n",
                        "0".repeat(64)
                    )
                } else {
                    String::new()
                };
                pipeline.extend_from_slice(
                    format!(
                        "POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n\
                         X-Amz-Target: TrentService.ATTACKERTARGET\r\n{auth}Content-Length: 0\r\n\r\n"
                    )
                    .as_bytes(),
                );
                if pipeline.len() > 256 * 1024 {
                    s.write_all(&pipeline).await.unwrap();
                    pipeline.clear();
                }
            }
            s.write_all(&pipeline).await.unwrap();
            for _ in 0..1250 {
                let (status, _) = read_response(&mut s).await;
                assert!(status == 400 || status == 403, "{status}");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    // The last summary is written on shutdown.
    let _dir = env.stop().await;
    let after = strongroom_cli::audit_cmd::read_events(&audit_dir).unwrap();
    let new = &after[before..];
    assert!(
        new.len() <= 3,
        "{} audit records for 10,000 refusals",
        new.len()
    );
    let counted: u64 = new
        .iter()
        .filter(|r| r["eventName"] == EVENT_NAME)
        .map(|r| r["additionalEventData"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 10_000);
    let summary = new.iter().find(|r| r["eventName"] == EVENT_NAME).unwrap();
    assert!(
        summary["additionalEventData"]["accessKeyIds"]
            .as_object()
            .unwrap()
            .contains_key("ATTACKERKEY0")
    );
    // No attacker-controlled text beyond the sanitised key ids.
    for r in new {
        let text = r.to_string();
        assert!(!text.contains("ATTACKER-UA"), "{text}");
        assert!(!text.contains("ATTACKERTARGET"), "{text}");
        assert!(text.len() < 4000, "{}", text.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_callers_hostile_user_agent_is_stored_bounded_and_printable() {
    let env = TestEnv::start().await;
    let raw = strongroom_cli::client::KmsHttpClient::new(
        &env.dev.endpoint(),
        &env.dev.region,
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let ua = format!("evil\tagent-{}", "z".repeat(5000));
    raw.call_json_with_headers("ListKeys", serde_json::json!({}), &[("user-agent", &ua)])
        .await
        .unwrap();
    let recs = audit_records(&env.dev).await;
    let rec = recs
        .iter()
        .rev()
        .find(|r| r["eventName"] == "ListKeys")
        .unwrap();
    let stored = rec["userAgent"].as_str().unwrap();
    assert_eq!(stored.len(), 256);
    assert!(stored.starts_with("evil?agent-zzz"), "{stored}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_trickled_under_a_known_access_key_times_out_and_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut s = TcpStream::connect(dev.server.local_addr()).await.unwrap();
    // A known (not secret) access key id gets the body read, within limits.
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={}\r\nContent-Length: 1000\r\n\r\n{{\"KeyId\":",
            dev.access_key_id,
            "0".repeat(64),
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (status, body) = read_response(&mut s).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("was not received within"), "{body}");
    assert!(
        closed_by_server(&mut s).await,
        "connection kept open for the body"
    );
    // Other clients are served.
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    c.list_keys().send().await.unwrap();
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_preface_only_connections_cannot_hold_every_slot() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.max_connections = 4;
        o.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = dev.server.local_addr();
    // Two sockets that never send a byte, two that send only the HTTP/2
    // preface and an empty SETTINGS frame: all four slots taken.
    let mut held = Vec::new();
    for i in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                .await
                .unwrap();
            s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
        }
        held.push(s);
    }
    // Each is closed by the server within the deadlines (the header
    // timeout before any byte; the idle timeout once bytes came, which is
    // longer, so the preface-only ones are checked against 90 s).
    for (i, s) in held.iter_mut().enumerate() {
        let mut buf = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(90), s.read_to_end(&mut buf)).await;
        assert!(
            matches!(r, Ok(Ok(_)) | Ok(Err(_))),
            "connection {i} still held after 90 s"
        );
    }
    // The held sockets are still open on our side, yet clients are served.
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    c.list_keys().send().await.unwrap();
    dev.shutdown().await;
}
