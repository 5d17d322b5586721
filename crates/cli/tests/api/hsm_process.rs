//! Helpers for tests with security modules as real `strongroom-hsm`
//! processes, administered with the real `strongroom operator` commands.

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
pub(crate) fn hsm_binary() -> &'static Path {
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
pub(crate) struct Hsm {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) state: PathBuf,
}

impl Hsm {
    pub(crate) fn start(addr: &str, state: &Path) -> Self {
        Self::start_with(addr, state, &[])
    }

    /// Like [`Self::start`], with extra command-line arguments.
    pub(crate) fn start_with(addr: &str, state: &Path, extra: &[&str]) -> Self {
        let mut hsm = Self::spawn(addr, state, extra);
        hsm.wait_ready();
        hsm
    }

    /// Modules on free addresses with these state directories, started side
    /// by side (each takes a while to come up), in use once all are.
    pub(crate) fn start_all(states: &[PathBuf]) -> Vec<Self> {
        let mut all: Vec<Self> = states
            .iter()
            .map(|s| Self::spawn(&free_addr(), s, &[]))
            .collect();
        all.iter_mut().for_each(Self::wait_ready);
        all
    }

    fn spawn(addr: &str, state: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(state).unwrap();
        let child = Command::new(hsm_binary())
            .args(["--listen", addr, "--state-dir"])
            .arg(state)
            .args(extra)
            .arg("--tamper-file")
            .arg(state.join("TAMPER"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            addr: addr.to_string(),
            state: state.to_path_buf(),
        }
    }

    /// Waits for the first line, which says it is listening.
    fn wait_ready(&mut self) {
        let mut line = String::new();
        BufReader::new(self.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["mode"], "service", "a module starts in service mode");
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hsm {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Runs `strongroom ARGS` in `dir`; returns (success, stdout, stderr).
pub(crate) fn cli(dir: &Path, args: &[&str]) -> (bool, String, String) {
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

pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = cli(dir, args);
    assert!(success, "strongroom {args:?} failed:\n{err}");
    out
}

pub(crate) fn refused(dir: &Path, args: &[&str], why: &str) {
    let (success, _, err) = cli(dir, args);
    assert!(!success, "strongroom {args:?} should have been refused");
    assert!(err.contains(why), "expected {why} in:\n{err}");
}

/// Prepares a command, has `signers` sign it, returns the file name.
pub(crate) fn prepared(dir: &Path, name: &str, request: &[&str], signers: &[&str]) -> String {
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

pub(crate) async fn frontend(
    data: &Path,
    addrs: &[&Hsm],
    token: &Path,
) -> (DevEnvironment, Client) {
    frontend_anchored(data, addrs, token, false).await
}

/// Like [`frontend`]; with `reanchor`, `token` is also the trust anchor
/// (`--trust-anchor`), replacing the one kept in the data directory.
pub(crate) async fn frontend_anchored(
    data: &Path,
    addrs: &[&Hsm],
    token: &Path,
    reanchor: bool,
) -> (DevEnvironment, Client) {
    let dev = start_in(data, |o| {
        o.modules = ExternalModules {
            addrs: addrs.iter().map(|h| h.addr.parse().unwrap()).collect(),
            domain_token: Some(token.to_path_buf()),
            trust_anchor: reanchor.then(|| token.to_path_buf()),
            replication: 0,
        }
    })
    .await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    (dev, client)
}

pub(crate) async fn decrypts(client: &Client, blobs: &[(Vec<u8>, Vec<u8>)]) {
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

pub(crate) fn requests_served(dir: &Path, h: &Hsm) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&ok(dir, &["operator", "status", "--hsm", &h.addr])).unwrap();
    v["requests_served"].as_u64().unwrap()
}

pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
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

pub(crate) fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The erasure certificate a module wrote into its state directory.
pub(crate) fn erasure_certificate(state: &Path) -> Option<PathBuf> {
    files_under(state).into_iter().find(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("erasure-")
    })
}
