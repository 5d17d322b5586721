//! The audit log of a real `strongroom dev` process: killed with SIGKILL
//! under load, every answered request keeps its record and the chain
//! verifies after restart; on a full disk (a file size limit,
//! `RLIMIT_FSIZE`, which stops root too) requests fail with
//! `KMSInternalException` and nothing is answered without its record;
//! export, receipts and retention through `strongroom admin audit`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::RequestId;
use serde_json::Value;

use crate::audit::admin;
use crate::common::*;

/// A `strongroom dev` child process and a client for its root.
struct DevProcess {
    child: Child,
    client: Client,
}

impl DevProcess {
    /// Starts `strongroom dev` on `dir`, with a file size limit in bytes
    /// (SIGXFSZ ignored, so writes past it fail with EFBIG) if given.
    fn start(dir: &Path, fsize_limit: Option<u64>, extra: &[&str]) -> Self {
        let limit = fsize_limit
            .map(|b| format!("ulimit -f {}; ", b.div_ceil(512)))
            .unwrap_or_default();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("trap '' XFSZ; {limit}exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_strongroom"))
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir)
            .args(extra)
            .env("STRONGROOM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut endpoint, mut key, mut secret) = (None, None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("export AWS_ENDPOINT_URL_KMS=") {
                endpoint = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("export AWS_ACCESS_KEY_ID=") {
                key = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("export AWS_SECRET_ACCESS_KEY=") {
                secret = Some(v.to_string());
                break;
            }
        }
        // Keep reading stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint.expect("dev printed no endpoint"))
            .credentials_provider(Credentials::new(
                key.unwrap(),
                secret.unwrap(),
                None,
                None,
                "audit-process-test",
            ))
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build();
        Self {
            child,
            client: Client::from_conf(config),
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for DevProcess {
    /// A test that fails part-way must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every record `strongroom admin audit query` prints for `args`.
fn query(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "query", "--limit", "10000000"];
    all.extend_from_slice(args);
    let (rc, out) = admin(dir, &all);
    assert_eq!(rc, 0, "{out}");
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].take())
        .collect()
}

fn request_ids(events: &[Value]) -> HashSet<String> {
    events
        .iter()
        .map(|e| e["requestID"].as_str().unwrap().to_string())
        .collect()
}

/// The size of the largest file under `dir` whose name does not start
/// with `except`.
fn largest_file(dir: &Path, except: &str) -> u64 {
    let mut largest = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let meta = e.metadata().unwrap();
        if meta.is_dir() {
            largest = largest.max(largest_file(&e.path(), except));
        } else if !e.file_name().to_string_lossy().starts_with(except) {
            largest = largest.max(meta.len());
        }
    }
    largest
}

fn encrypt_usage(dir: &Path) -> u64 {
    let (rc, out) = admin(dir, &["usage", "--json"]);
    assert_eq!(rc, 0, "{out}");
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "Encrypt")
        .map(|r| r["requests"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_frontend_under_load_keeps_every_answered_record_and_exact_usage() {
    let dir = tempfile::tempdir().unwrap();
    let answered = Arc::new(Mutex::new(HashSet::new()));
    let mut key = None;
    // Small segments, so kills land around seals too.
    let flags = ["--audit-segment-bytes", "8192"];
    for round in 0..4 {
        let dev = DevProcess::start(dir.path(), None, &flags);
        if key.is_none() {
            key = Some(new_key(&dev.client).await);
        }
        let arn = key.clone().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let (c, arn, answered) = (dev.client.clone(), arn.clone(), answered.clone());
            tasks.spawn(async move {
                while let Ok(out) = c
                    .encrypt()
                    .key_id(&arn)
                    .plaintext(blob(b"durable"))
                    .send()
                    .await
                {
                    let id = out.request_id().unwrap().to_string();
                    answered.lock().unwrap().insert(id);
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(600 + 150 * round)).await;
        dev.kill();
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        // Restarting recovers the chain (a torn tail is cut); every answer
        // given has its record.
        let dev = DevProcess::start(dir.path(), None, &flags);
        dev.client.list_keys().send().await.unwrap();
        let recorded = request_ids(&query(dir.path(), &["--operation", "Encrypt"]));
        let answered = answered.lock().unwrap().clone();
        let lost: Vec<_> = answered.difference(&recorded).collect();
        assert!(
            lost.is_empty(),
            "round {round}: answered without a record: {lost:?}"
        );
        let (rc, out) = admin(dir.path(), &["audit", "verify"]);
        assert_eq!(rc, 0, "round {round}: {out}");
        dev.stop();
    }
    assert!(answered.lock().unwrap().len() > 20);
    // Usage counts exactly the successful records, across every crash.
    let succeeded = query(dir.path(), &["--operation", "Encrypt", "--succeeded"]).len() as u64;
    assert_eq!(encrypt_usage(dir.path()), succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_fails_requests_with_kms_internal_and_answers_nothing_unrecorded() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(dir.path(), None, &["--audit-durability", "sync"]);
    let arn = new_key(&dev.client).await;
    let keys_before = dev.client.list_keys().send().await.unwrap().keys().len();
    dev.stop();
    let before = query(dir.path(), &[]).len();
    // Files may grow a little past the largest one outside the database
    // and SQLite's 32 KiB shared-memory file: the open segment fills up
    // after some more records.
    let room = largest_file(dir.path(), "strongroom.db").max(32 << 10) + 8192;
    let dev = DevProcess::start(dir.path(), Some(room), &["--audit-durability", "sync"]);
    let mut answered = HashSet::new();
    let mut failed = 0;
    for _ in 0..2000 {
        match dev
            .client
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"on a full disk"))
            .send()
            .await
        {
            Ok(out) => {
                answered.insert(out.request_id().unwrap().to_string());
            }
            Err(e) => {
                assert_eq!(code(&e), "KMSInternalException", "{e:?}");
                assert_eq!(e.message(), Some("The audit record could not be written."));
                failed += 1;
                if failed == 3 {
                    break;
                }
            }
        }
    }
    assert!(
        failed == 3 && !answered.is_empty(),
        "{failed} {}",
        answered.len()
    );
    // A state change whose intent cannot be written does not happen.
    let e = dev.client.create_key().send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInternalException");
    dev.kill();

    // Space returns: the service recovers and nothing unanswered was kept.
    let dev = DevProcess::start(dir.path(), None, &[]);
    assert_eq!(
        dev.client.list_keys().send().await.unwrap().keys().len(),
        keys_before
    );
    dev.client
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"room again"))
        .send()
        .await
        .unwrap();
    let events = query(dir.path(), &[]);
    let encrypts = request_ids(
        &events[before..]
            .iter()
            .filter(|e| e["eventName"] == "Encrypt")
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert!(answered.is_subset(&encrypts));
    // The failed requests left no record: only the answered ones and the
    // one after recovery.
    assert_eq!(encrypts.len(), answered.len() + 1);
    assert!(
        !events[before..]
            .iter()
            .any(|e| e["eventName"] == "CreateKey")
    );
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_ack_and_retention_delete_only_acknowledged_segments() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(dir.path(), None, &["--audit-segment-bytes", "4096"]);
    let arn = new_key(&dev.client).await;
    for _ in 0..60 {
        dev.client
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"kept until received"))
            .send()
            .await
            .unwrap();
    }
    dev.stop();
    let out_dir = tempfile::tempdir().unwrap();
    let (rc, out) = admin(
        dir.path(),
        &["audit", "export", "--to", out_dir.path().to_str().unwrap()],
    );
    assert_eq!(rc, 0, "{out}");
    let exported: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[4].to_string())
        })
        .collect();
    assert!(exported.len() >= 3, "{out}");
    let (first, head) = &exported[0];
    let chain = first.rsplit_once('.').unwrap().0.to_string();
    assert!(
        out_dir
            .path()
            .join(format!("{chain}.0000000000000000.json.gz"))
            .exists()
    );
    // A receipt for another hash is refused.
    let (rc, _) = admin(
        dir.path(),
        &["audit", "ack", first, "--hash", &"0".repeat(64)],
    );
    assert_ne!(rc, 0);
    let (rc, out) = admin(dir.path(), &["audit", "ack", first, "--hash", head]);
    assert_eq!(rc, 0, "{out}");

    // Retention (run by the frontend at start) deletes the acknowledged
    // segment only; unacknowledged ones survive any retention.
    let seg = |n: u64| {
        dir.path()
            .join("audit")
            .join(format!("{chain}.{n:016x}.seg"))
    };
    let dev = DevProcess::start(dir.path(), None, &["--audit-retain-days", "0"]);
    for _ in 0..100 {
        if !seg(0).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!seg(0).exists(), "the acknowledged segment was kept");
    for n in 1..exported.len() as u64 {
        assert!(seg(n).exists(), "unacknowledged segment {n} was deleted");
    }
    dev.stop();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("(1 retired)"), "{out}");

    // A forged footer is caught by verify and stops an export.
    let footer = dir
        .path()
        .join("audit")
        .join(format!("{chain}.0000000000000001.footer"));
    let mut bytes = std::fs::read(&footer).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&footer, &bytes).unwrap();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    let again = tempfile::tempdir().unwrap();
    let (rc, _) = admin(
        dir.path(),
        &["audit", "export", "--to", again.path().to_str().unwrap()],
    );
    assert_ne!(rc, 0);
}
