//! Export, receipts and retention.

use std::io::BufRead;

use flate2::read::GzDecoder;
use serde_json::Value;
use strongroom_audit::{
    AuditError, ExportOptions, SegmentId, acknowledge, export, retain, verify_dir,
};

use crate::common::*;

const DAY_MS: i64 = 86_400_000;

fn options() -> ExportOptions {
    ExportOptions {
        region: "us-east-1".into(),
        ..Default::default()
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    let f = std::fs::File::open(path).expect("open export");
    std::io::BufReader::new(GzDecoder::new(f))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect()
}

fn id(s: &str) -> SegmentId {
    s.parse().expect("segment id")
}

#[test]
fn sealed_segments_export_to_a_directory_and_to_a_file_and_are_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 3);
    let out = tempfile::tempdir().expect("out");
    let done = export(dir.path(), out.path(), &options(), &trusted()).expect("export");
    assert_eq!(done.len(), 3, "the active segment is not exported");
    let first = lines(&done[0].path);
    assert_eq!(first.len(), 5);
    let e = &first[0];
    assert_eq!(e["sequence"], 1);
    assert_eq!(e["event"]["eventName"], "Encrypt");
    assert_eq!(e["event"]["awsRegion"], "us-east-1");
    assert_eq!(
        e["event"]["resources"][0]["ARN"],
        "arn:aws:kms:us-east-1:111122223333:key/6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
    );
    assert_eq!(
        e["event"]["requestParameters"]["encryptionContextKeys"][0],
        "dept"
    );
    assert_eq!(first[4]["hash"], hex::encode(done[0].head));
    assert!(out.path().join("fe-1.0000000000000000.footer").exists());
    let footer: Value = serde_json::from_slice(
        &std::fs::read(out.path().join("fe-1.0000000000000000.footer.json")).expect("footer"),
    )
    .expect("json");
    assert_eq!(footer["headHash"], hex::encode(done[0].head));
    assert_eq!(footer["count"], 5);

    // One file: every segment's records, each followed by its footer.
    let file = out.path().join("all.jsonl.gz");
    let since = ExportOptions {
        since: Some(id("fe-1.1")),
        ..options()
    };
    let done = export(dir.path(), &file, &since, &trusted()).expect("export");
    assert_eq!(done.iter().map(|d| d.id.number).collect::<Vec<_>>(), [1, 2]);
    let all = lines(&file);
    assert_eq!(all.len(), 12);
    assert_eq!(all[0]["sequence"], 6);
    assert_eq!(all[5]["segmentFooter"]["segment"], 1);
    assert_eq!(
        all[11]["segmentFooter"]["headHash"],
        hex::encode(done[1].head)
    );

    for d in &done {
        acknowledge(
            dir.path(),
            &d.id,
            &hex::encode(d.head),
            &*sealer(),
            &trusted(),
            0,
        )
        .expect("ack");
    }
    assert!(
        verify_dir(dir.path(), &trusted(), &[])
            .expect("verify")
            .intact()
    );
}

#[test]
fn a_receipt_for_another_hash_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let before = snapshot(dir.path());
    let e = acknowledge(
        dir.path(),
        &id("fe-1.0"),
        &"ab".repeat(32),
        &*sealer(),
        &trusted(),
        0,
    )
    .expect_err("wrong hash");
    assert!(matches!(e, AuditError::ReceiptMismatch { .. }), "{e}");
    let e = acknowledge(
        dir.path(),
        &id("fe-1.2"),
        &"ab".repeat(32),
        &*sealer(),
        &trusted(),
        0,
    )
    .expect_err("active segment");
    assert!(matches!(e, AuditError::NotSealed(_)), "{e}");
    let e = acknowledge(
        dir.path(),
        &id("fe-1.9"),
        &"ab".repeat(32),
        &*sealer(),
        &trusted(),
        0,
    )
    .expect_err("no such segment");
    assert!(matches!(e, AuditError::NoSuchSegment(_)), "{e}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn retention_deletes_only_acknowledged_segments_older_than_the_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 4);
    let out = tempfile::tempdir().expect("out");
    let done = export(dir.path(), out.path(), &options(), &trusted()).expect("export");
    // Receipts for segments 0 and 1 only.
    for d in &done[..2] {
        acknowledge(
            dir.path(),
            &d.id,
            &hex::encode(d.head),
            &*sealer(),
            &trusted(),
            0,
        )
        .expect("ack");
    }
    // Records are at times ~1000 ms: 10 days later, 30-day retention
    // keeps everything.
    let report = retain(dir.path(), 30, 10 * DAY_MS, &trusted()).expect("retain");
    assert!(report.deleted.is_empty());
    assert_eq!(report.recent.len(), 2);
    let report = retain(dir.path(), 7, 10 * DAY_MS, &trusted()).expect("retain");
    assert_eq!(report.deleted, [id("fe-1.0"), id("fe-1.1")]);
    assert_eq!(report.unacknowledged, [id("fe-1.2"), id("fe-1.3")]);
    let files = segments(dir.path(), "fe-1");
    assert!(files[0].segment.is_none() && files[0].footer.is_some());
    assert!(files[2].segment.is_some() && files[4].segment.is_some());
    // The footers and receipts left keep the chain verifiable.
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(
        (report.chains[0].retired, report.chains[0].last_seq),
        (2, 25)
    );
}

#[test]
fn an_unacknowledged_segment_survives_any_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 3);
    // A receipt for another segment's hash does not count.
    let out = tempfile::tempdir().expect("out");
    let done = export(dir.path(), out.path(), &options(), &trusted()).expect("export");
    let receipt = dir.path().join("fe-1.0000000000000001.receipt");
    std::fs::write(
        &receipt,
        format!(
            "{{\"hash\":\"{}\",\"acknowledged_ms\":0}}",
            hex::encode(done[0].head)
        ),
    )
    .expect("write");
    let before = snapshot(dir.path());
    let report = retain(dir.path(), 0, i64::MAX / 2, &trusted()).expect("retain");
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(report.unacknowledged.len(), 3);
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn export_and_receipts_refuse_a_forged_footer_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let footer = segments(dir.path(), "fe-1")[1]
        .footer
        .clone()
        .expect("footer");
    forge_footer(&footer, |b| b.last_time_ms = 0);
    let out = tempfile::tempdir().expect("out");
    let e = export(dir.path(), out.path(), &options(), &trusted()).expect_err("forged");
    assert!(matches!(e, AuditError::UntrustedSeal { .. }), "{e}");
    assert!(snapshot(out.path()).is_empty());
    let before = snapshot(dir.path());
    let e = acknowledge(
        dir.path(),
        &id("fe-1.1"),
        &"00".repeat(32),
        &*sealer(),
        &trusted(),
        0,
    )
    .expect_err("forged");
    assert!(matches!(e, AuditError::UntrustedSeal { .. }), "{e}");
    // Retention never deletes under a footer it cannot verify.
    let report = retain(dir.path(), 0, i64::MAX / 2, &trusted()).expect("retain");
    assert!(report.deleted.is_empty());
    assert_eq!(snapshot(dir.path()), before);
    // An edited footer under its old, valid seal is refused alike.
    let footer = segments(dir.path(), "fe-1")[0]
        .footer
        .clone()
        .expect("footer");
    edit_footer_keeping_its_seal(&footer, |b| b.last_time_ms = 0);
    let e = export(dir.path(), out.path(), &options(), &trusted()).expect_err("edited");
    assert!(matches!(e, AuditError::BadSeal(_)), "{e}");
    assert!(snapshot(out.path()).is_empty());
}

#[test]
fn a_receipt_forged_without_the_module_deletes_nothing() {
    use strongroom_audit::{InProcessSealer, Receipt};

    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let out = tempfile::tempdir().expect("out");
    let done = export(dir.path(), out.path(), &options(), &trusted()).expect("export");
    // Whoever can write the directory, but cannot ask the module, records
    // receipts for both sealed segments' true hashes with their own key;
    // the second one then claims the trusted key's name.
    let attacker = InProcessSealer::generate().expect("key");
    for d in &done {
        acknowledge(
            dir.path(),
            &d.id,
            &hex::encode(d.head),
            &attacker,
            &trusted(),
            0,
        )
        .expect("the tool writes what it is given");
    }
    let path = dir.path().join(done[1].id.file_name("receipt"));
    let mut r: Receipt =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    r.sealer = sealer().seal(b"x").expect("seal").sealer;
    std::fs::write(&path, serde_json::to_vec(&r).expect("json")).expect("write");
    let before = snapshot(dir.path());
    let report = retain(dir.path(), 0, i64::MAX / 2, &trusted()).expect("retain");
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(report.unacknowledged.len(), 2);
    assert_eq!(snapshot(dir.path()), before);
    // With the records deleted by hand, verify does not count them retired.
    std::fs::remove_file(
        segments(dir.path(), "fe-1")[0]
            .segment
            .clone()
            .expect("seg"),
    )
    .expect("rm");
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(!report.intact());
    assert_eq!(report.chains[0].retired, 0);
}

#[test]
fn export_refuses_records_that_do_not_match_their_footer() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let seg = segments(dir.path(), "fe-1")[0]
        .segment
        .clone()
        .expect("segment");
    rewrite_record(&seg, 0, |r| r.operation = "Decrypt".into());
    let out = tempfile::tempdir().expect("out");
    let file = out.path().join("x.gz");
    let e = export(dir.path(), &file, &options(), &trusted()).expect_err("edited");
    assert!(matches!(e, AuditError::Tampered { .. }), "{e}");
    assert!(snapshot(out.path()).is_empty());
}
