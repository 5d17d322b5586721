//! Crash safety and a full disk, with `audit-load` as the child process.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use strongroom_audit::{Durability, Filter, query, verify_dir};

use crate::common::*;

const LOAD: &str = env!("CARGO_BIN_EXE_audit-load");

fn load(dir: &Path, durability: &str, prefix: &str, extra: &[&str]) -> Command {
    // SIGXFSZ ignored (inherited through exec), so a file size limit makes
    // writes fail with EFBIG instead of killing the child.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("trap '' XFSZ; exec \"$0\" \"$@\"")
        .arg(LOAD)
        .args(["--dir", &dir.to_string_lossy(), "--chain", "fe-crash"])
        .args(["--durability", durability, "--prefix", prefix])
        .args(["--key", &hex::encode(KEY)])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    c
}

/// The child's answers: durable ids, failed ids, and what its commit
/// observer counted (when it ended by itself).
struct Answers {
    ok: Vec<String>,
    err: Vec<String>,
    observed: Option<usize>,
}

/// Reads the child's answers until `stop` says so or the child ends.
fn answers(child: &mut Child, mut stop: impl FnMut(usize) -> bool) -> Answers {
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut ok, mut err, mut observed) = (Vec::new(), Vec::new(), None);
    let mut lines = out.lines();
    for line in lines.by_ref() {
        let line = line.expect("line");
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("ok"), Some(_seq), Some(id)) => ok.push(id.to_string()),
            (Some("err"), Some(id), _) => err.push(id.to_string()),
            (Some("observed"), Some(n), None) => observed = n.parse().ok(),
            _ => panic!("unexpected line {line:?}"),
        }
        if stop(ok.len()) {
            // SIGKILL; every answer already printed is still in the pipe.
            child.kill().expect("kill");
            break;
        }
    }
    for line in lines {
        let line = line.expect("line");
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("ok"), Some(_), Some(id)) => ok.push(id.to_string()),
            (Some("err"), Some(id), _) => err.push(id.to_string()),
            (Some("observed"), Some(n), None) => observed = n.parse().ok(),
            _ => {}
        }
    }
    child.wait().expect("wait");
    Answers { ok, err, observed }
}

fn present(dir: &Path) -> HashSet<String> {
    query(dir, Filter::default())
        .expect("query")
        .map(|r| r.expect("record").record.request_id)
        .collect()
}

#[test]
fn sigkilled_writer_loses_no_durable_record_and_its_torn_tail_is_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut durable: Vec<String> = Vec::new();
    let modes = ["sync", "group-ms=2", "buffered"];
    for round in 0..12usize {
        let mode = modes[round % modes.len()];
        let mut child = load(
            dir.path(),
            mode,
            &format!("k{round}"),
            &["--segment-bytes", "3000", "--concurrency", "32"],
        )
        .spawn()
        .expect("spawn audit-load");
        let kill_after = 30 + 17 * round;
        let ok = answers(&mut child, |n| n >= kill_after).ok;
        assert!(ok.len() >= kill_after, "round {round}: child stopped early");
        durable.extend(ok);

        // Every other round, also leave what a write cut short leaves.
        let torn = round % 2 == 1;
        if torn {
            let active = segments(dir.path(), "fe-crash")
                .into_iter()
                .rev()
                .find_map(|f| f.footer.is_none().then_some(f.segment).flatten())
                .expect("an active segment");
            std::fs::OpenOptions::new()
                .append(true)
                .open(active)
                .expect("open")
                .write_all(&[0x90, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
                .expect("write");
        }
        let (writer, report) = open(dir.path(), "fe-crash", Durability::Sync, 3000);
        if torn {
            assert!(report.truncated_bytes >= 11, "round {round}: {report:?}");
        }
        rt().block_on(writer.shutdown()).expect("shutdown");
        let found = present(dir.path());
        let lost: Vec<&String> = durable.iter().filter(|id| !found.contains(*id)).collect();
        assert!(lost.is_empty(), "round {round} ({mode}): lost {lost:?}");
        let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
        assert!(report.intact(), "round {round}: {report:?}");
        assert!(
            report.chains[0].notes.is_empty(),
            "round {round}: tail repaired"
        );
    }
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(report.chains[0].segments > 3, "kills landed across rolls");
}

#[test]
fn a_full_disk_fails_appends_counts_nothing_failed_and_the_writer_recovers_when_space_returns() {
    for mode in ["sync", "buffered"] {
        let dir = tempfile::tempdir().expect("tempdir");
        // Files may grow to 8 KiB: the first segment fills, appends fail
        // (EFBIG, as on a full disk) until 20 have failed; then the limit
        // is lifted and the rest go through.
        let mut child = load(
            dir.path(),
            mode,
            "f",
            &[
                "--records",
                "300",
                "--concurrency",
                "4",
                "--fsize-limit",
                "8192",
                "--relief-after-errors",
                "20",
            ],
        )
        .spawn()
        .expect("spawn audit-load");
        let Answers { ok, err, observed } = answers(&mut child, |_| false);
        assert!(
            err.len() >= 20,
            "{mode}: appends failed while the disk was full"
        );
        assert_eq!(
            ok.len() + err.len(),
            300,
            "{mode}: every append was answered"
        );
        let found = present(dir.path());
        assert!(
            ok.iter().all(|id| found.contains(id)),
            "{mode}: every ok is there"
        );
        assert!(
            err.iter().all(|id| !found.contains(id)),
            "{mode}: nothing answered as failed was kept"
        );
        assert_eq!(found.len(), ok.len());
        assert_eq!(
            observed,
            Some(ok.len()),
            "{mode}: the commit observer counted exactly the committed records"
        );
        let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
        assert!(report.intact(), "{mode}: {report:?}");
        // Appends after the failures continued the chain.
        assert!(ok.len() > 200, "{mode}: recovered");
    }
}
