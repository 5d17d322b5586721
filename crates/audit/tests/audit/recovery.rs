//! Opening a chain after a crash or after tampering.

use std::io::Write;

use strongroom_audit::{AuditError, Durability, Filter, query, verify_dir};

use crate::common::*;

fn request_ids(dir: &std::path::Path) -> Vec<String> {
    query(dir, Filter::default())
        .expect("query")
        .map(|r| r.expect("record").record.request_id)
        .collect()
}

#[test]
fn a_torn_tail_is_cut_off_without_losing_a_committed_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let committed = request_ids(dir.path());
    let active = segments(dir.path(), "fe-1")[2]
        .segment
        .clone()
        .expect("active");
    // What a crash in the middle of an append leaves: a frame header that
    // promises 200 bytes, and 30 of them.
    let torn = [&200u32.to_le_bytes()[..], &[0xAB; 34]].concat();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&active)
        .expect("open")
        .write_all(&torn)
        .expect("write");
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(report.intact(), "a torn tail is not tampering: {report:?}");
    assert_eq!(report.chains[0].notes.len(), 1, "{report:?}");

    let (writer, report) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    assert_eq!(report.truncated_bytes, torn.len() as u64);
    assert_eq!((report.next_seq, report.last_sealed), (16, Some(1)));
    rt().block_on(async {
        append_all(&writer, vec![encrypt(99, 2000)]).await;
        writer.shutdown().await.expect("shutdown");
    });
    let after = request_ids(dir.path());
    assert_eq!(after[..15], committed[..]);
    assert_eq!(after.len(), 16);
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(
        report.intact() && report.chains[0].notes.is_empty(),
        "{report:?}"
    );
}

#[test]
fn damage_before_the_end_is_refused_not_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 1);
    let active = segments(dir.path(), "fe-1")[1]
        .segment
        .clone()
        .expect("active");
    let mut bytes = std::fs::read(&active).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&active, &bytes).expect("write");
    let before = snapshot(dir.path());
    let mut config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    config.durability = Durability::Sync;
    let e = strongroom_audit::AuditWriter::open(config, sealer())
        .err()
        .expect("refused");
    assert!(matches!(e, AuditError::Tampered { .. }), "{e}");
    assert_eq!(snapshot(dir.path()), before, "nothing cut off");
}

#[test]
fn an_edited_last_sealed_segment_is_refused_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let sealed = segments(dir.path(), "fe-1")[1]
        .segment
        .clone()
        .expect("segment 1");
    rewrite_record(&sealed, 2, |r| r.operation = "Decrypt".into());
    let before = snapshot(dir.path());
    let config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    let e = strongroom_audit::AuditWriter::open(config, sealer())
        .err()
        .expect("refused");
    assert!(matches!(e, AuditError::Tampered { .. }), "{e}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_footer_forged_without_the_key_is_refused_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let footer = segments(dir.path(), "fe-1")[1]
        .footer
        .clone()
        .expect("footer 1");
    forge_footer(&footer, |_| {});
    let before = snapshot(dir.path());
    let config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    let e = strongroom_audit::AuditWriter::open(config, sealer())
        .err()
        .expect("refused");
    assert!(matches!(e, AuditError::UntrustedSeal { .. }), "{e}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_segment_whose_header_a_crash_cut_short_is_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 1);
    // Seal the active segment, then leave a next segment cut inside its
    // magic, as a crash right after creating it would.
    let (writer, _) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    rt().block_on(async {
        writer.appender().roll().await.expect("roll");
        writer.shutdown().await.expect("shutdown");
    });
    // The next open begins segment 2.
    let (writer, _) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    rt().block_on(writer.shutdown()).expect("shutdown");
    let files = segments(dir.path(), "fe-1");
    let last = files
        .last()
        .expect("last")
        .segment
        .clone()
        .expect("segment 2");
    std::fs::write(&last, b"SRAUD").expect("write");
    let (writer, report) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    assert_eq!(report.next_seq, 11);
    rt().block_on(async {
        append_all(&writer, vec![encrypt(50, 5000)]).await;
        writer.shutdown().await.expect("shutdown");
    });
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.chains[0].records, 11);
}
