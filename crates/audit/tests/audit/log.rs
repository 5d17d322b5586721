//! Appending: numbering, chaining, group commit in every mode, rolling,
//! one writer per chain, size on disk.

use std::time::{Duration, Instant};

use strongroom_audit::{AuditError, Durability, Filter, RecordError, query, verify_dir};

use crate::common::*;

#[test]
fn concurrent_appends_in_every_mode_are_numbered_chained_and_verify_across_segments() {
    for mode in [
        Durability::Sync,
        Durability::GroupMs(2),
        Durability::Buffered,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, report) = open(dir.path(), "fe-1", mode, 2048);
        assert_eq!((report.next_seq, report.last_sealed), (1, None));
        let mut seqs = rt().block_on(async {
            let mut tasks = Vec::new();
            for t in 0..20u64 {
                let a = writer.appender();
                tasks.push(tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for i in 0..10 {
                        let c = a.append(encrypt(t * 10 + i, 1_000 + i as i64)).await;
                        seqs.push(c.expect("append").seq);
                    }
                    seqs
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.expect("task"));
            }
            writer.shutdown().await.expect("shutdown");
            all
        });
        seqs.sort();
        assert_eq!(seqs, (1..=200).collect::<Vec<u64>>(), "{mode}");
        let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
        assert!(report.intact(), "{mode}: {report:?}");
        let c = &report.chains[0];
        assert_eq!((c.records, c.last_seq), (200, 200), "{mode}");
        assert!(c.segments > 5, "{mode}: small segments roll");
        let files = segments(dir.path(), "fe-1");
        assert!(files[..files.len() - 1].iter().all(|f| f.footer.is_some()));
        assert!(
            files.last().expect("last").footer.is_none(),
            "active stays open"
        );
    }
}

#[test]
fn an_encrypt_record_takes_at_most_250_bytes_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, _) = open(dir.path(), "fe-1", Durability::Buffered, 64 << 20);
    let n = 1000;
    rt().block_on(async {
        append_all(
            &writer,
            (0..n)
                .map(|i| encrypt(i, 1_795_860_000_000 + i as i64))
                .collect(),
        )
        .await;
        writer.shutdown().await.expect("shutdown");
    });
    let seg = segments(dir.path(), "fe-1")[0]
        .segment
        .clone()
        .expect("segment");
    let len = std::fs::metadata(&seg).expect("meta").len();
    let parsed =
        strongroom_audit::parse_segment(&std::fs::read(&seg).expect("read")).expect("parse");
    let frames: u64 = parsed
        .records
        .iter()
        .map(|r| (r.encoded_len + strongroom_audit::FRAME_HEADER_LEN) as u64)
        .sum();
    assert!(len - frames < 200, "segment header");
    let per_record = frames / n;
    println!("bytes on disk per Encrypt record: {per_record}");
    assert!(per_record <= 250, "{per_record} bytes per record");
}

#[test]
fn a_second_writer_on_the_same_chain_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, _) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    rt().block_on(append_all(&writer, vec![encrypt(1, 1)]));
    let before = snapshot(dir.path());
    let mut config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    config.durability = Durability::Sync;
    let second = strongroom_audit::AuditWriter::open(config, sealer());
    assert!(matches!(second, Err(AuditError::ChainLocked(_))));
    assert_eq!(snapshot(dir.path()), before);
    // Another chain in the same directory is its own writer.
    let (other, _) = open(dir.path(), "fe-2", Durability::Sync, 1 << 20);
    rt().block_on(async {
        append_all(&other, vec![encrypt(2, 2)]).await;
        other.shutdown().await.expect("shutdown");
        writer.shutdown().await.expect("shutdown");
    });
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.chains.len(), 2);
}

#[test]
fn an_idle_segment_is_sealed_once_it_is_old_enough() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    config.roll.max_age = Duration::from_millis(50);
    let (writer, _) = strongroom_audit::AuditWriter::open(config, sealer()).expect("open");
    rt().block_on(append_all(&writer, vec![encrypt(1, 1)]));
    // Waits for the writer's timer; no assertion on how long it took.
    let deadline = Instant::now() + Duration::from_secs(30);
    while segments(dir.path(), "fe-1")[0].footer.is_none() {
        assert!(Instant::now() < deadline, "segment 0 never sealed");
        std::thread::sleep(Duration::from_millis(20));
    }
    rt().block_on(async {
        append_all(&writer, vec![encrypt(2, 2)]).await;
        writer.shutdown().await.expect("shutdown");
    });
    let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.chains[0].records, 2);
    assert!(segments(dir.path(), "fe-1").len() >= 2);
}

#[test]
fn roll_on_request_seals_only_a_segment_with_records() {
    let root = tempfile::tempdir().expect("tempdir");
    // The log's directory is created on first open.
    let dir = root.path().join("data/audit");
    let (writer, _) = open(&dir, "fe-1", Durability::Sync, 1 << 20);
    rt().block_on(async {
        let a = writer.appender();
        assert_eq!(a.roll().await.expect("roll"), None);
        a.append(encrypt(1, 1)).await.expect("append");
        let sealed = a.roll().await.expect("roll").expect("sealed");
        assert_eq!(sealed.to_string(), "fe-1.0");
        assert_eq!(a.roll().await.expect("roll"), None);
        writer.shutdown().await.expect("shutdown");
    });
    let files = segments(&dir, "fe-1");
    assert!(files[0].footer.is_some());
}

#[test]
fn an_oversized_record_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, _) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    let before = snapshot(dir.path());
    let mut big = encrypt(1, 1);
    big.error = Some(RecordError {
        code: "X".into(),
        message: "m".repeat(2 << 20),
    });
    rt().block_on(async {
        let e = writer.appender().append(big).await.expect_err("too large");
        assert!(matches!(e, AuditError::RecordTooLarge(_)), "{e}");
        writer.shutdown().await.expect("shutdown");
    });
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn appends_after_shutdown_fail_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, _) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    let appender = writer.appender();
    rt().block_on(async {
        writer.shutdown().await.expect("shutdown");
        let before = snapshot(dir.path());
        let e = appender.append(encrypt(1, 1)).await.expect_err("closed");
        assert!(matches!(e, AuditError::Closed), "{e}");
        assert_eq!(snapshot(dir.path()), before);
    });
    let found: Vec<_> = query(dir.path(), Filter::default())
        .expect("query")
        .collect();
    assert!(found.is_empty());
}
