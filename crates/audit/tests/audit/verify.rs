//! `verify_dir` against each way of tampering with a chain.

use strongroom_audit::{ExportedHead, Problem, VerifyReport, verify_dir};

use crate::common::*;

/// A chain with segments 0-3 sealed and 4 active.
fn chain_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 4);
    dir
}

fn verify(dir: &std::path::Path, heads: &[ExportedHead]) -> VerifyReport {
    verify_dir(dir, &trusted(), heads).expect("verify")
}

fn problems(dir: &std::path::Path, heads: &[ExportedHead]) -> Vec<Problem> {
    verify(dir, heads).chains.remove(0).problems
}

fn head(dir: &std::path::Path) -> ExportedHead {
    let c = verify(dir, &[]).chains.remove(0);
    ExportedHead {
        chain: c.chain,
        seq: c.last_seq,
        hash: c.head,
    }
}

#[test]
fn an_untouched_chain_verifies() {
    let dir = chain_dir();
    let pinned = head(dir.path());
    let report = verify(dir.path(), &[pinned]);
    assert!(report.intact(), "{report:?}");
    let c = &report.chains[0];
    assert_eq!((c.segments, c.records, c.last_seq), (5, 25, 25));
}

#[test]
fn an_edited_record_in_a_sealed_segment_is_reported() {
    let dir = chain_dir();
    let seg = segments(dir.path(), "fe-1")[1]
        .segment
        .clone()
        .expect("segment 1");
    rewrite_record(&seg, 3, |r| {
        r.identity.arn = Some("arn:aws:iam::111122223333:user/x".into())
    });
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[..], [Problem::Edited { segment, .. }] if segment.number == 1),
        "{p:?}"
    );
}

#[test]
fn a_flipped_bit_in_a_sealed_segment_is_reported() {
    let dir = chain_dir();
    let seg = segments(dir.path(), "fe-1")[2]
        .segment
        .clone()
        .expect("segment 2");
    let mut bytes = std::fs::read(&seg).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&seg, bytes).expect("write");
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[..], [Problem::Edited { segment, .. }] if segment.number == 2),
        "{p:?}"
    );
}

#[test]
fn a_deleted_segment_is_reported_as_missing() {
    let dir = chain_dir();
    let files = segments(dir.path(), "fe-1")[2].clone();
    std::fs::remove_file(files.segment.expect("segment")).expect("rm");
    std::fs::remove_file(files.footer.expect("footer")).expect("rm");
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[..], [Problem::MissingSegment { segment, .. }] if segment.number == 2),
        "{p:?}"
    );
}

#[test]
fn records_deleted_without_a_receipt_are_reported() {
    let dir = chain_dir();
    let files = segments(dir.path(), "fe-1")[1].clone();
    std::fs::remove_file(files.segment.expect("segment")).expect("rm");
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[..], [Problem::MissingSegment { segment, detail }]
            if segment.number == 1 && detail.contains("without a receipt")),
        "{p:?}"
    );
}

#[test]
fn a_footer_resealed_with_an_attackers_own_key_is_refused() {
    let dir = chain_dir();
    let footer = segments(dir.path(), "fe-1")[0]
        .footer
        .clone()
        .expect("footer");
    let attacker = forge_footer(&footer, |b| b.count = 4);
    let p = problems(dir.path(), &[]);
    assert!(
        p.contains(&Problem::UntrustedSeal {
            segment: "fe-1.0".parse().expect("id"),
            sealer: strongroom_audit::ed25519_key_id(&attacker.public_key()),
        }),
        "{p:?}"
    );
    assert!(!verify(dir.path(), &[]).intact());
}

#[test]
fn a_footer_whose_body_was_edited_under_its_valid_seal_is_refused() {
    let dir = chain_dir();
    let footer = segments(dir.path(), "fe-1")[1]
        .footer
        .clone()
        .expect("footer");
    // The seal was the trusted key's, over the body before the edit.
    edit_footer_keeping_its_seal(&footer, |b| b.last_time_ms += 1);
    let p = problems(dir.path(), &[]);
    assert!(
        p.contains(&Problem::BadSeal {
            segment: "fe-1.1".parse().expect("id")
        }),
        "{p:?}"
    );
}

#[test]
fn a_footer_sealed_by_a_key_listed_only_in_the_audit_directory_is_refused() {
    let dir = chain_dir();
    let footer = segments(dir.path(), "fe-1")[2]
        .footer
        .clone()
        .expect("footer");
    // The attacker writes the directory: a forged footer, and its key in
    // the directory's convenience listing of seal keys.
    let attacker = forge_footer(&footer, |_| {});
    strongroom_audit::list_seal_key(dir.path(), &attacker.public_key()).expect("list");
    let id = strongroom_audit::ed25519_key_id(&attacker.public_key());
    assert!(
        strongroom_audit::listed_seal_keys(dir.path())
            .iter()
            .any(|k| k.id == id)
    );
    let p = problems(dir.path(), &[]);
    assert!(
        p.contains(&Problem::UntrustedSeal {
            segment: "fe-1.2".parse().expect("id"),
            sealer: id,
        }),
        "{p:?}"
    );
}

#[test]
fn footers_of_the_legacy_hmac_key_verify_only_when_that_key_is_trusted() {
    use strongroom_audit::{SealedFooter, TrustedKeys, legacy_hmac_key_id};
    let dir = chain_dir();
    // Re-seal every footer as an earlier version did: HMAC-SHA256 under a
    // file key, over the same message, naming the key by its hash.
    let key = [9u8; 32];
    for files in segments(dir.path(), "fe-1") {
        let Some(path) = files.footer else { continue };
        let mut f = SealedFooter::decode(&std::fs::read(&path).expect("read")).expect("footer");
        f.sealer = legacy_hmac_key_id(&key);
        f.seal = strongroom_crypto::HmacSha256Key::new(&key)
            .sign(&f.body.sealed_message())
            .to_vec();
        std::fs::write(&path, f.encode()).expect("write");
    }
    let mut legacy = TrustedKeys::default();
    legacy.add_legacy_hmac(&key);
    let report = verify_dir(dir.path(), &legacy, &[]).expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.chains[0].legacy_sealed, 4);
    // Without the legacy key, they vouch for nothing.
    assert!(!verify(dir.path(), &[]).intact());
}

#[test]
fn a_sealed_segment_cut_short_is_reported_as_truncated() {
    let dir = chain_dir();
    let seg = segments(dir.path(), "fe-1")[3]
        .segment
        .clone()
        .expect("segment 3");
    drop_last_records(&seg, 2);
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[..], [Problem::Truncated { segment, detail }]
            if segment.number == 3 && detail.contains("3 of the 5")),
        "{p:?}"
    );
}

#[test]
fn truncating_the_head_is_caught_against_an_exported_head() {
    let dir = chain_dir();
    let pinned = head(dir.path());
    let active = segments(dir.path(), "fe-1")[4]
        .segment
        .clone()
        .expect("active");
    drop_last_records(&active, 3);
    // On its own the shortened chain is consistent: this is the limit the
    // docs state.
    assert!(problems(dir.path(), &[]).is_empty());
    let p = problems(dir.path(), &[pinned]);
    assert!(
        matches!(&p[..], [Problem::Truncated { detail, .. }] if detail.contains("record 25")),
        "{p:?}"
    );
}

#[test]
fn an_edited_newest_record_is_caught_against_an_exported_head() {
    let dir = chain_dir();
    let pinned = head(dir.path());
    let active = segments(dir.path(), "fe-1")[4]
        .segment
        .clone()
        .expect("active");
    rewrite_record(&active, 4, |r| r.operation = "GenerateDataKey".into());
    let p = problems(dir.path(), &[pinned]);
    assert!(
        matches!(&p[..], [Problem::Fork { detail, .. }] if detail.contains("record 25")),
        "{p:?}"
    );
}

#[test]
fn a_segment_from_another_history_is_reported_as_a_fork() {
    let dir = chain_dir();
    // The same writer id, another history, sealed with the same key: a
    // second frontend started with a copied host key.
    let other = tempfile::tempdir().expect("tempdir");
    let (writer, _) = open(
        other.path(),
        "fe-1",
        strongroom_audit::Durability::Sync,
        1 << 20,
    );
    rt().block_on(async {
        let a = writer.appender();
        for round in 0..3 {
            for i in 0..5 {
                a.append(denied_decrypt(round * 5 + i, 1))
                    .await
                    .expect("append");
            }
            a.roll().await.expect("roll");
        }
        writer.shutdown().await.expect("shutdown");
    });
    for ext in ["seg", "footer"] {
        let name = format!("fe-1.{:016x}.{ext}", 2);
        std::fs::copy(other.path().join(&name), dir.path().join(&name)).expect("copy");
    }
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[0], Problem::Fork { segment, .. } if segment.number == 2),
        "{p:?}"
    );
}

#[test]
fn a_closed_segment_without_its_footer_is_reported() {
    let dir = chain_dir();
    let footer = segments(dir.path(), "fe-1")[3]
        .footer
        .clone()
        .expect("footer");
    std::fs::remove_file(footer).expect("rm");
    let p = problems(dir.path(), &[]);
    assert!(
        matches!(&p[..], [Problem::Unsealed { segment }] if segment.number == 3),
        "{p:?}"
    );
}

#[test]
fn records_missing_between_segments_are_reported_as_a_gap() {
    use strongroom_audit::{SegmentHeader, encode_header, encode_record, push_frame};
    let dir = chain_dir();
    let before = head(dir.path());
    // Replace the open segment by one that links to the right hash but
    // starts three records later.
    let active = segments(dir.path(), "fe-1")[4]
        .segment
        .clone()
        .expect("active");
    let first_seq = 21 + 3;
    // The head after segment 3 is what segment 4's header must name.
    let sealed_head = {
        let f = segments(dir.path(), "fe-1")[3]
            .footer
            .clone()
            .expect("footer");
        strongroom_audit::SealedFooter::decode(&std::fs::read(f).expect("read"))
            .expect("footer")
            .body
            .head
    };
    let bytes = {
        let mut b = encode_header(&SegmentHeader {
            chain: "fe-1".into(),
            number: 4,
            first_seq,
            prev_head: sealed_head,
            created_ms: 0,
        });
        push_frame(&mut b, &encode_record(first_seq, &encrypt(99, 5000)));
        b
    };
    std::fs::write(&active, bytes).expect("write");
    let p = problems(dir.path(), &[before]);
    assert!(
        matches!(&p[0], Problem::Gap { segment, expected_seq: 21, found_seq: 24 } if segment.number == 4),
        "{p:?}"
    );
}

#[test]
fn a_forged_receipt_does_not_hide_a_deleted_sealed_segment() {
    use strongroom_audit::SealedFooter;
    let dir = tempfile::tempdir().expect("tempdir");
    build_chain(dir.path(), "fe-1", 3);
    let files = &segments(dir.path(), "fe-1")[1];
    let footer =
        SealedFooter::decode(&std::fs::read(files.footer.as_ref().expect("footer")).expect("read"))
            .expect("decode");
    // Write access to the directory, but not the footer key: delete the
    // records and write a receipt naming the (public) head hash.
    std::fs::remove_file(files.segment.as_ref().expect("segment")).expect("rm");
    for seal in ["", "00"] {
        std::fs::write(
            dir.path().join("fe-1.0000000000000001.receipt"),
            format!(
                "{{\"hash\":\"{}\",\"acknowledged_ms\":0,\"seal\":\"{seal}\"}}",
                hex::encode(footer.body.head)
            ),
        )
        .expect("write receipt");
        let report = verify_dir(dir.path(), &trusted(), &[]).expect("verify");
        assert!(!report.intact(), "deletion passed as retired: {report:?}");
        assert_eq!(report.chains[0].retired, 0, "{report:?}");
    }
}

#[test]
fn a_segment_header_at_the_largest_sequence_number_is_reported_not_a_panic() {
    use strongroom_audit::{SegmentHeader, encode_header, encode_record, push_frame};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = encode_header(&SegmentHeader {
        chain: "fe-1".into(),
        number: 0,
        first_seq: u64::MAX,
        prev_head: [0; 32],
        created_ms: 0,
    });
    push_frame(&mut bytes, &encode_record(u64::MAX, &encrypt(0, 1000)));
    push_frame(&mut bytes, &encode_record(0, &encrypt(1, 1000)));
    std::fs::write(dir.path().join("fe-1.0000000000000000.seg"), bytes).expect("write");
    let r = std::panic::catch_unwind(|| verify_dir(dir.path(), &trusted(), &[]));
    let report = r.expect("verify panicked").expect("verify");
    assert!(!report.intact(), "{report:?}");
}
