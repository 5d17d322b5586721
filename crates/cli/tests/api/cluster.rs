//! The cluster under load and failure: its own PostgreSQL, 3 module
//! processes in one domain, 2 `strongroom serve` processes; mixed load
//! (CreateKey and Encrypt) through both frontends while a module is
//! SIGKILLed, restarted and rejoined, a frontend is SIGKILLed and restarted,
//! and PostgreSQL restarts. Afterwards every acknowledged key exists, every
//! acknowledged ciphertext decrypts through both frontends, the audit chain
//! verifies, and the client error rate is reported (docs/deploy.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kms::Client;

use crate::common::blob;
use crate::hsm_process::{Hsm, free_addr, ok, prepared};

/// A PostgreSQL cluster of this test's own (it restarts it).
struct Postgres {
    dir: String,
    url: String,
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

impl Postgres {
    fn start() -> Self {
        let out = Command::new(scripts()).arg("start").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_string()
        };
        Self {
            dir: var("STRONGROOM_PG_DIR"),
            url: var("STRONGROOM_TEST_POSTGRES_URL"),
        }
    }
}

/// Restarts (fast shutdown, then start) the cluster in `dir`.
fn restart_postgres(dir: &str) {
    {
        let data = format!("{dir}/data");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl"]);
            c
        } else {
            Command::new("/usr/lib/postgresql/15/bin/pg_ctl")
        };
        let out = cmd
            .args(["-D", &data, "-m", "fast", "-w", "restart"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(scripts()).args(["stop", &self.dir]).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A `strongroom serve` process; killed when dropped.
struct Frontend {
    child: Child,
    listen: String,
}

impl Frontend {
    fn start(w: &Path, data: &Path, listen: &str, modules: &[String], store: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
            .current_dir(w)
            .args(["serve", "--data-dir"])
            .arg(data)
            .args([
                "--listen",
                listen,
                "--store",
                store,
                "--cache-ttl-ms",
                "500",
            ])
            .args(modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("serving"), "{line}");
        Self {
            child,
            listen: listen.to_string(),
        }
    }
}

impl Drop for Frontend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(listen: &str, akid: &str, secret: &str, retries: bool) -> Client {
    let retry = if retries {
        aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(3)
    } else {
        aws_sdk_kms::config::retry::RetryConfig::disabled()
    };
    Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{listen}"))
            .retry_config(retry)
            .timeout_config(
                aws_sdk_kms::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                akid, secret, None, None, "test",
            ))
            .build(),
    )
}

/// Makes `name` a module in use mode and returns its attestation file.
pub(crate) fn use_mode(w: &Path, h: &Hsm, name: &str) -> String {
    let att = format!("{name}.att");
    ok(w, &["operator", "attest", "--hsm", &h.addr, "--out", &att]);
    let f = prepared(
        w,
        &format!("use-{name}"),
        &["enter-use-mode", "--module", &att],
        &["op1"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &h.addr]);
    att
}

/// Three operators (op1–op3, key files in `w`), a host key for each of
/// `frontends`, and a 2-of-3 domain created on `first` (made a module in
/// use mode as `name`) that lists those frontends' hosts. Returns the
/// domain token file, `t1.json`.
pub(crate) fn operators_and_domain(
    w: &Path,
    first: &Hsm,
    name: &str,
    frontends: &[&Path],
) -> String {
    for i in 1..=3 {
        let (op, key) = (format!("op{i}"), format!("op{i}.key"));
        ok(w, &["operator", "keygen", "--name", &op, "--out", &key]);
    }
    let mut create = vec!["create-domain".to_owned(), "--module".to_owned()];
    create.push(use_mode(w, first, name));
    for op in ["op1", "op2", "op3"] {
        create.extend(["--operator".to_owned(), format!("{op}.key.pub")]);
    }
    create.extend(["--quorum".to_owned(), "2".to_owned()]);
    for front in frontends {
        ok(
            w,
            &["admin", "--data-dir", front.to_str().unwrap(), "host-key"],
        );
        create.extend([
            "--host".to_owned(),
            front.join("host.pub").to_string_lossy().into_owned(),
        ]);
    }
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let f = prepared(w, "create", &create, &["op1", "op2"]);
    ok(
        w,
        &[
            "operator",
            "submit",
            &f,
            "--hsm",
            &first.addr,
            "--out",
            "t1.json",
        ],
    );
    "t1.json".to_owned()
}

/// Adds module `name` to the domain of `token` through member `via`,
/// has it ingest the new token, and returns that token's file.
pub(crate) fn join(w: &Path, via: &str, h: &Hsm, name: &str, token: &str, out: &str) -> String {
    let att = use_mode(w, h, name);
    let f = prepared(
        w,
        &format!("add-{name}"),
        &["add-member", "--domain-token", token, "--module", &att],
        &["op1", "op2"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", via, "--out", out]);
    let f = prepared(
        w,
        &format!("ingest-{name}"),
        &["ingest", "--domain-token", out],
        &["op2", "op3"],
    );
    ok(w, &["operator", "submit", &f, "--hsm", &h.addr]);
    out.to_string()
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    keys: Mutex<Vec<String>>,
    ciphertexts: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

async fn drive(
    c: Client,
    keys: Arc<Vec<String>>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    seed: u64,
) {
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if n.is_multiple_of(10) {
            match c.create_key().send().await {
                Ok(r) => {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                    let arn = r.key_metadata.unwrap().arn.unwrap();
                    tally.keys.lock().unwrap().push(arn);
                }
                Err(_) => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            continue;
        }
        let key = &keys[(n >> 8) as usize % keys.len()];
        let pt = n.to_le_bytes().to_vec();
        match c.encrypt().key_id(key).plaintext(blob(&pt)).send().await {
            Ok(r) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
                let ct = r.ciphertext_blob.unwrap().into_inner();
                tally.ciphertexts.lock().unwrap().push((ct, pt));
            }
            Err(_) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_module_frontend_and_database_failures() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let pg = Postgres::start();
    let a = Hsm::start(&free_addr(), &w.join("a"));
    let b = Hsm::start(&free_addr(), &w.join("b"));
    let mut c = Hsm::start(&free_addr(), &w.join("c"));
    let (f1, f2) = (w.join("f1"), w.join("f2"));
    operators_and_domain(w, &a, "a", &[&f1, &f2]);
    join(w, &a.addr, &b, "b", "t1.json", "t2.json");
    let token = join(w, &a.addr, &c, "c", "t2.json", "t3.json");

    let mut modules: Vec<String> = Vec::new();
    for h in [&a, &b, &c] {
        modules.extend(["--hsm".to_string(), h.addr.clone()]);
    }
    modules.extend([
        "--domain-token".to_string(),
        w.join(&token).display().to_string(),
    ]);
    let admin = |args: &[&str]| {
        let mut all = vec![
            "admin",
            "--data-dir",
            f1.to_str().unwrap(),
            "--store",
            pg.url.as_str(),
        ];
        all.extend(modules.iter().map(String::as_str));
        all.extend_from_slice(args);
        ok(w, &all)
    };
    let account = admin(&["create-account"]).trim().to_string();
    let creds = admin(&["create-access-key", "--account-id", &account]);
    let field = |name: &str| {
        creds
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .to_string()
    };
    let (akid, secret) = (field("AWS_ACCESS_KEY_ID="), field("AWS_SECRET_ACCESS_KEY="));
    let (l1, l2) = (free_addr(), free_addr());
    let _fe1 = Frontend::start(w, &f1, &l1, &modules, &pg.url);
    let mut fe2 = Some(Frontend::start(w, &f2, &l2, &modules, &pg.url));

    let setup = client(&l1, &akid, &secret, true);
    let mut keys = Vec::new();
    for _ in 0..8 {
        keys.push(
            setup
                .create_key()
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .arn
                .unwrap(),
        );
    }
    let keys = Arc::new(keys);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for i in 0..8u64 {
        let listen = if i % 2 == 0 { &l1 } else { &l2 };
        // As applications do: the SDK's standard retries (3 attempts).
        load.spawn(drive(
            client(listen, &akid, &secret, true),
            keys.clone(),
            tally.clone(),
            stop.clone(),
            i + 1,
        ));
    }
    let started = Instant::now();
    let at = |secs: u64| async move {
        let t = Duration::from_secs(secs);
        if let Some(wait) = t.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    };

    // One 12-second round of failures; the soak variant repeats it
    // (STRONGROOM_SOAK_SECS, docs/performance.md).
    let rounds = std::env::var("STRONGROOM_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(1, |s| (s / 12).max(1));
    for round in 0..rounds {
        let t0 = round * 12;
        // A module dies, comes back with a new identity, and is rejoined.
        at(t0 + 2).await;
        c.kill();
        at(t0 + 3).await;
        let c_addr = c.addr.clone();
        drop(c);
        let name = format!("c{}", round + 2);
        let fresh = Hsm::start(&c_addr, &w.join(&name));
        let (w2, a_addr) = (w.to_path_buf(), a.addr.clone());
        let (from, to) = (
            format!("t{}.json", round + 3),
            format!("t{}.json", round + 4),
        );
        c = tokio::task::spawn_blocking(move || {
            join(&w2, &a_addr, &fresh, &name, &from, &to);
            fresh
        })
        .await
        .unwrap();
        // A frontend dies and is restarted.
        at(t0 + 6).await;
        drop(fe2.take());
        at(t0 + 7).await;
        fe2 = Some(Frontend::start(w, &f2, &l2, &modules, &pg.url));
        // The database restarts.
        at(t0 + 9).await;
        let dir = pg.dir.clone();
        tokio::task::spawn_blocking(move || restart_postgres(&dir))
            .await
            .unwrap();
        at(t0 + 12).await;
    }
    let c2 = c;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = load.join_next().await {
        r.unwrap();
    }

    let (oks, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    let rate = failed as f64 / (oks + failed) as f64;
    println!(
        "cluster: {oks} acknowledged, {failed} failed ({:.2}% errors)",
        rate * 100.0
    );
    assert!(oks > 200, "too little load got through: {oks}");
    assert!(
        rate < 0.10,
        "error rate {:.2}% above the documented bound",
        rate * 100.0
    );

    // Everything acknowledged is there, through both frontends.
    let c1 = client(&l1, &akid, &secret, true);
    let cl2 = client(&fe2.as_ref().unwrap().listen, &akid, &secret, true);
    let acked_keys = tally.keys.lock().unwrap().clone();
    for arn in acked_keys {
        c1.describe_key().key_id(&arn).send().await.unwrap();
    }
    let cts = tally.ciphertexts.lock().unwrap().clone();
    for (i, (ct, pt)) in cts.iter().enumerate() {
        let via = if i % 2 == 0 { &c1 } else { &cl2 };
        let out = via
            .decrypt()
            .ciphertext_blob(blob(ct))
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), &pt[..]);
    }
    // The rejoined module took its share of the load.
    let served = crate::hsm_process::requests_served(w, &c2);
    assert!(served > 10, "the rejoined module served {served} requests");
    let verify = admin(&["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
}
