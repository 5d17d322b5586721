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

/// Runs `f` on a thread of its own; panics if it has not returned after a
/// minute (it is blocked, not slow: every case here answers at once or
/// never). A reader left blocked on a FIFO is released by `unblock`.
fn must_return<T: Send + 'static>(
    what: &str,
    unblock: &std::path::Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(v) => v,
        Err(_) => {
            // Opening the FIFO at both ends lets a blocked reader or
            // writer go.
            drop(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(unblock),
            );
            panic!("{what} blocked on a FIFO planted in the audit directory");
        }
    }
}

fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn footers_and_key_listings_that_are_fifos_or_oversized_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    let footer = segments(dir.path(), "fe-1")[1]
        .footer
        .clone()
        .expect("footer 1");

    // The last footer is a FIFO: opening the chain is refused at once.
    mkfifo(&footer);
    let d = dir.path().to_path_buf();
    let opened = must_return("opening the chain", &footer, move || {
        let config = strongroom_audit::LogConfig::new(&d, chain("fe-1"));
        strongroom_audit::AuditWriter::open(config, sealer()).map(|_| ())
    });
    let e = opened.expect_err("refused");
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let d = dir.path().to_path_buf();
    let report = must_return("verify", &footer, move || {
        verify_dir(&d, &trusted(), &[]).expect("verify")
    });
    assert!(!report.intact(), "{report:?}");

    // A footer far larger than any footer: refused without reading it.
    std::fs::remove_file(&footer).expect("rm");
    let f = std::fs::File::create(&footer).expect("create");
    f.set_len(2 << 20).expect("grow");
    let config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    let e = strongroom_audit::AuditWriter::open(config, sealer())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("more than"), "{e}");

    // seal-keys.json as a FIFO: the listing reads as empty, at once.
    let keys = dir.path().join(strongroom_audit::SEAL_KEYS_FILE);
    mkfifo(&keys);
    let d = dir.path().to_path_buf();
    let listed = must_return("reading seal-keys.json", &keys, move || {
        strongroom_audit::listed_seal_keys(&d)
    });
    assert!(listed.is_empty());
}

#[test]
fn planted_lock_and_temporary_files_neither_block_the_writer_nor_redirect_its_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 1);
    // The chain's lock file is a FIFO: opening is refused, not stuck.
    let lock = dir.path().join("fe-1.lock");
    mkfifo(&lock);
    let d = dir.path().to_path_buf();
    let opened = must_return("opening the chain", &lock, move || {
        let config = strongroom_audit::LogConfig::new(&d, chain("fe-1"));
        strongroom_audit::AuditWriter::open(config, sealer()).map(|_| ())
    });
    assert!(opened.is_err());
    std::fs::remove_file(&lock).expect("rm");

    // The next footer's temporary file is a FIFO, and seal-keys.json's a
    // symlink to a file of someone else's: sealing and listing go on and
    // write only their own files.
    let (writer, _) = open(dir.path(), "fe-1", Durability::Sync, 1 << 20);
    let active = segments(dir.path(), "fe-1")
        .last()
        .expect("active")
        .id
        .clone();
    let tmp = dir
        .path()
        .join(format!("{}.tmp", active.file_name("footer")));
    mkfifo(&tmp);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"not the audit log's").expect("victim");
    std::os::unix::fs::symlink(
        &victim,
        dir.path()
            .join(format!("{}.tmp", strongroom_audit::SEAL_KEYS_FILE)),
    )
    .expect("symlink");
    let rolled = must_return("sealing a segment", &tmp, move || {
        let rt = rt();
        rt.block_on(async {
            let r = writer.appender().roll().await;
            writer.shutdown().await.expect("shutdown");
            r
        })
    });
    assert_eq!(rolled.expect("sealed"), Some(active.clone()));
    strongroom_audit::list_seal_key(dir.path(), &[7; 32]).expect("list");
    assert_eq!(
        std::fs::read(&victim).expect("victim"),
        b"not the audit log's"
    );
    assert_eq!(strongroom_audit::listed_seal_keys(dir.path()).len(), 1);
    assert!(
        verify_dir(dir.path(), &trusted(), &[])
            .expect("verify")
            .intact()
    );
}

#[test]
fn a_closed_segment_whose_footer_was_removed_is_refused_not_resealed() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 2);
    // Someone who writes the directory removes the footer of segment 1
    // (segment 2 follows it) and rewrites one of its records; a writer
    // that sealed what it found would have the module vouch for the edit.
    let files = segments(dir.path(), "fe-1");
    std::fs::remove_file(files[1].footer.as_ref().expect("footer 1")).expect("rm");
    rewrite_record(files[1].segment.as_ref().expect("segment 1"), 0, |r| {
        r.operation = "Decrypt".into()
    });
    let before = snapshot(dir.path());
    let config = strongroom_audit::LogConfig::new(dir.path(), chain("fe-1"));
    let e = strongroom_audit::AuditWriter::open(config, sealer())
        .err()
        .expect("refused");
    assert!(matches!(e, AuditError::Tampered { .. }), "{e}");
    assert_eq!(snapshot(dir.path()), before, "nothing sealed or cut");
}
