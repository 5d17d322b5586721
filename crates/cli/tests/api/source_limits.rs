//! Limits per source: a flood of requests naming access key ids nobody has
//! costs a bounded number of store lookups (counted by the frontend), and
//! one source holding its share of connections cannot keep others out.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use strongroom_cli::client::KmsHttpClient;
use strongroom_server::auth::unknown_keys::UnknownKeyBudget;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zeroize::Zeroizing;

use crate::common::*;

/// A second loopback address: another source, as the frontend sees it.
const OTHER_SOURCE: &str = "127.0.0.2";

fn client_from(
    source: &str,
    endpoint: &str,
    region: &str,
    id: &str,
    secret: Zeroizing<String>,
) -> KmsHttpClient {
    let http = reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    KmsHttpClient::with_http_client(http, endpoint, region, id, secret).unwrap()
}

/// The `__type` of a call's answer (`-` when it succeeded).
async fn answer_type(c: &KmsHttpClient) -> String {
    let (status, body) = c.call("ListKeys", b"{}".to_vec()).await.unwrap();
    if status == 200 {
        return "-".into();
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["__type"].as_str().unwrap_or("").to_owned()
}

fn random_id() -> String {
    format!(
        "AKIA{}",
        hex::encode_upper(strongroom_crypto::random_array::<8>().unwrap())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_unknown_access_key_ids_costs_bounded_store_lookups() {
    let budget = UnknownKeyBudget {
        burst: 10,
        per_minute: 6,
    };
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| o.unknown_key_budget = budget).await;
    let (endpoint, region) = (dev.endpoint(), dev.region.clone());
    let root = client_from(
        "127.0.0.1",
        &endpoint,
        &region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
    );
    assert_eq!(answer_type(&root).await, "-");
    let keys_before = root
        .call_json("ListKeys", serde_json::json!({}))
        .await
        .unwrap();
    let started = Instant::now();
    let before = dev.server.access_key_lookups();

    // One id 100 times, then 200 random ids, all from 127.0.0.1.
    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    let ids = std::iter::repeat_n(random_id(), 100).chain((0..200).map(|_| random_id()));
    for id in ids {
        let c = client_from(
            "127.0.0.1",
            &endpoint,
            &region,
            &id,
            Zeroizing::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
        );
        *answers.entry(answer_type(&c).await).or_default() += 1;
    }
    let lookups = dev.server.access_key_lookups() - before;
    // At most the burst, plus what the budget gave back meanwhile.
    let refilled = (started.elapsed().as_secs_f64() / 60.0 * f64::from(budget.per_minute)).ceil();
    assert!(
        lookups as f64 <= f64::from(budget.burst) + refilled,
        "{lookups} store lookups for 300 unknown-key requests ({answers:?})"
    );
    assert_eq!(answers.values().sum::<usize>(), 300);
    assert!(
        answers
            .keys()
            .all(|t| t == "UnrecognizedClientException" || t == "ThrottlingException"),
        "{answers:?}"
    );
    // The repeated id was looked up once, then answered from memory; the
    // random ones past the budget were refused without a lookup.
    assert!(
        answers
            .get("UnrecognizedClientException")
            .is_some_and(|&n| n >= 100),
        "{answers:?}"
    );
    assert!(
        answers
            .get("ThrottlingException")
            .is_some_and(|&n| n >= 150),
        "{answers:?}"
    );

    // Nothing else changed: the flooding source's known key still works,
    // also once its cache entry has expired (a refresh of a key the store
    // knew is not charged to the spent budget), and a key created now
    // works at once from another source.
    assert_eq!(answer_type(&root).await, "-");
    tokio::time::sleep(strongroom_server::auth::IDENTITY_CACHE_TTL + Duration::from_millis(300))
        .await;
    assert_eq!(answer_type(&root).await, "-");
    let k = strongroom_server::admin::create_access_key(
        dev.store.as_ref(),
        &dev.hsm,
        &dev.account_id,
        None,
    )
    .await
    .unwrap();
    let fresh = client_from(
        OTHER_SOURCE,
        &endpoint,
        &region,
        &k.access_key_id,
        k.secret_access_key,
    );
    assert_eq!(answer_type(&fresh).await, "-");
    assert_eq!(
        root.call_json("ListKeys", serde_json::json!({}))
            .await
            .unwrap(),
        keys_before
    );
    dev.shutdown().await;
}

async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{source}:0").parse().unwrap()).unwrap();
    s.connect(addr).await.unwrap()
}

/// Whether the frontend answers an HTTP request on `s` (any answer: this
/// one is unauthenticated) rather than closing it unanswered.
async fn is_served(mut s: TcpStream) -> bool {
    let req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if s.write_all(req).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    match tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await {
        Ok(Ok(_)) | Ok(Err(_)) => buf.starts_with(b"HTTP/1.1 "),
        Err(_) => panic!("neither answered nor closed within 20 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_over_its_connection_cap_is_refused_while_another_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.max_connections_per_source = 2;
        o.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = dev.server.local_addr();
    // One source holds its two connections, silently.
    let mut held = vec![
        connect_from("127.0.0.1", addr).await,
        connect_from("127.0.0.1", addr).await,
    ];
    // Its third is closed unanswered.
    assert!(!is_served(connect_from("127.0.0.1", addr).await).await);
    // Another source still gets in.
    assert!(is_served(connect_from(OTHER_SOURCE, addr).await).await);
    // The held connections were not touched: each is still served.
    let first = held.pop().unwrap();
    assert!(is_served(first).await);
    // Once one of its connections has ended, the source gets in again.
    let mut again = false;
    for _ in 0..100 {
        if is_served(connect_from("127.0.0.1", addr).await).await {
            again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        again,
        "the source stayed refused after its connection ended"
    );
    drop(held);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signatures_in_made_up_regions_cost_bounded_module_derivations() {
    // dev serves every region, so a scope's signing key is cached only
    // once a signature verified: each forged request in a fresh region
    // would cost the module a derivation, were it not charged to its source.
    let budget = UnknownKeyBudget {
        burst: 5,
        per_minute: 0,
    };
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| o.unknown_key_budget = budget).await;
    let endpoint = dev.endpoint();
    let genuine = client_from(
        OTHER_SOURCE,
        &endpoint,
        "eu-west-1",
        &dev.access_key_id,
        dev.secret_access_key.clone(),
    );
    assert_eq!(answer_type(&genuine).await, "-");
    let before = dev.server.signing_key_derivations();

    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..40 {
        // The real access key id, a wrong secret, a region never seen.
        let forger = client_from(
            "127.0.0.1",
            &endpoint,
            &format!("eu-west-{}", 10 + i),
            &dev.access_key_id,
            Zeroizing::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
        );
        *answers.entry(answer_type(&forger).await).or_default() += 1;
    }
    let derivations = dev.server.signing_key_derivations() - before;
    assert_eq!(derivations, u64::from(budget.burst), "{answers:?}");
    assert_eq!(
        answers.get("InvalidSignatureException"),
        Some(&5),
        "{answers:?}"
    );
    assert_eq!(answers.get("ThrottlingException"), Some(&35), "{answers:?}");

    // Another source is not throttled: its scope is cached, and a new one
    // it signs correctly costs one derivation, refunded once it verifies.
    assert_eq!(answer_type(&genuine).await, "-");
    for region in [
        "ap-south-1",
        "ap-south-2",
        "sa-east-1",
        "ca-central-1",
        "me-south-1",
        "af-south-1",
    ] {
        let c = client_from(
            OTHER_SOURCE,
            &endpoint,
            region,
            &dev.access_key_id,
            dev.secret_access_key.clone(),
        );
        assert_eq!(answer_type(&c).await, "-", "{region}");
    }
    dev.shutdown().await;
}
