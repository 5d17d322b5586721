//! The PostgreSQL cluster tests use (this crate's, and the cli's with
//! feature `test-cluster`): the one
//! `STRONGROOM_TEST_POSTGRES_URL` names (scripts/test.sh and CI start one);
//! else a throw-away cluster of the test process's own, started with
//! scripts/postgres.sh when PostgreSQL's binaries are installed and stopped
//! when the process exits; else none, said once on the terminal, and the
//! PostgreSQL tests return without running.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tokio_postgres::NoTls;
use uuid::Uuid;

/// Where scripts/postgres.sh finds PostgreSQL (it would install it with
/// apt-get otherwise, which a test must not do).
const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

/// The cluster's URL, or why there is none.
fn cluster() -> &'static Result<String, String> {
    static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if let Ok(url) = std::env::var("STRONGROOM_TEST_POSTGRES_URL") {
            return Ok(url);
        }
        let started = start_own_cluster();
        if let Err(why) = &started {
            // Straight to the terminal: the test harness captures print!.
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL store tests not run: {why} (set STRONGROOM_TEST_POSTGRES_URL, \
                 or run scripts/test.sh)"
            );
        }
        started
    })
}

/// Starts a cluster with scripts/postgres.sh and a watcher that stops it
/// once this process has exited.
fn start_own_cluster() -> Result<String, String> {
    if !Path::new(POSTGRES_BIN).join("initdb").exists() {
        return Err(format!(
            "STRONGROOM_TEST_POSTGRES_URL is unset and {POSTGRES_BIN} is not installed"
        ));
    }
    let out = Command::new(script())
        .arg("start")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("scripts/postgres.sh did not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/postgres.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let var = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(str::to_owned)
            .ok_or_else(|| format!("scripts/postgres.sh printed no {name}"))
    };
    let (dir, url) = (
        var("STRONGROOM_PG_DIR")?,
        var("STRONGROOM_TEST_POSTGRES_URL")?,
    );
    // Tests have no teardown: a watcher in a process group of its own (so
    // a Ctrl-C to the tests spares it) stops the cluster when we are gone.
    let watcher = Command::new("sh")
        .args([
            "-c",
            r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" stop "$2""#,
        ])
        .arg(std::process::id().to_string())
        .arg(script())
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = watcher {
        let _ = Command::new(script()).args(["stop", &dir]).status();
        return Err(format!("could not watch the cluster: {e}"));
    }
    Ok(url)
}

/// The URL of a new, empty database in the test cluster; `None` (said
/// once, on the terminal) when there is no cluster.
pub async fn fresh_database_url() -> Option<String> {
    let url = cluster().as_ref().ok()?;
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let name = format!("sr_{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}
