//! Shared fixtures.

use std::path::Path;
use std::sync::Arc;

use strongroom_audit::{
    AuditRecord, AuditWriter, ChainId, Durability, FooterSealer, Identity, InProcessSealer,
    LogConfig, RecordError, RecoveryReport, SegmentFiles, TrustedKeys, list_chains,
};

/// The seed of the key the tests seal footers with (the security
/// module's audit seal key stands in a frontend).
pub const KEY: [u8; 32] = [0x42; 32];

/// The tests' sealer.
pub fn sealer() -> Arc<dyn FooterSealer> {
    Arc::new(InProcessSealer::from_seed(KEY).expect("key"))
}

/// The keys the tests trust: the sealer's.
pub fn trusted() -> TrustedKeys {
    sealer().trusted()
}

/// A chain id.
pub fn chain(id: &str) -> ChainId {
    ChainId::new(id).expect("chain id")
}

/// A typical successful Encrypt record by the root of 111122223333.
pub fn encrypt(n: u64, time_ms: i64) -> AuditRecord {
    AuditRecord {
        time_ms,
        request_id: format!("{:08x}-8d4a-4c1b-9e2f-3a4b5c6d7e8f", n as u32),
        operation: "Encrypt".into(),
        identity: Identity {
            kind: "Root".into(),
            arn: Some("arn:aws:iam::111122223333:root".into()),
            account_id: Some("111122223333".into()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            invoked_by: None,
        },
        source_ip: Some("10.0.3.7".parse().expect("ip")),
        user_agent: Some("aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0".into()),
        key_arns: vec![
            "arn:aws:kms:us-east-1:111122223333:key/6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b".into(),
        ],
        context: vec![("dept".into(), None)],
        ..Default::default()
    }
}

/// A failed Decrypt by another principal.
pub fn denied_decrypt(n: u64, time_ms: i64) -> AuditRecord {
    let mut r = encrypt(n, time_ms);
    r.operation = "Decrypt".into();
    r.identity.arn = Some("arn:aws:iam::111122223333:user/mallory".into());
    r.identity.kind = "IAMUser".into();
    r.key_arns =
        vec!["arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555".into()];
    r.error = Some(RecordError {
        code: "AccessDeniedException".into(),
        message: "not authorized".into(),
    });
    r
}

/// Opens `id` in `dir` with `durability` and segments of `segment_bytes`.
pub fn open(
    dir: &Path,
    id: &str,
    durability: Durability,
    segment_bytes: u64,
) -> (AuditWriter, RecoveryReport) {
    let mut config = LogConfig::new(dir, chain(id));
    config.durability = durability;
    config.roll.max_bytes = segment_bytes;
    AuditWriter::open(config, sealer()).expect("open the chain")
}

/// Appends `records` one after another through `writer`.
pub async fn append_all(writer: &AuditWriter, records: Vec<AuditRecord>) {
    let a = writer.appender();
    for r in records {
        a.append(r).await.expect("append");
    }
}

/// The segment files of `id` in `dir`.
pub fn segments(dir: &Path, id: &str) -> Vec<SegmentFiles> {
    list_chains(dir)
        .expect("list")
        .remove(&chain(id))
        .unwrap_or_default()
}

/// Every file name in `dir`, sorted, with its contents.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let p = e.expect("entry").path();
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A tokio runtime for a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Rewrites record `index` of the segment file at `path` with `edit`, with
/// a correct checksum: an attacker who knows the format but not the key.
pub fn rewrite_record(path: &Path, index: usize, edit: impl FnOnce(&mut AuditRecord)) {
    use strongroom_audit::{decode_record, encode_record, push_frame, scan_frames};
    let bytes = std::fs::read(path).expect("read segment");
    let (frames, _) = scan_frames(&bytes[8..]);
    let mut out = bytes[..8].to_vec();
    let mut edit = Some(edit);
    for (i, f) in frames.iter().enumerate() {
        let body = &bytes[8 + f.start..8 + f.end];
        if i == index + 1 {
            let (seq, mut record) = decode_record(body).expect("decode");
            if let Some(edit) = edit.take() {
                edit(&mut record);
            }
            push_frame(&mut out, &encode_record(seq, &record));
        } else {
            push_frame(&mut out, body);
        }
    }
    std::fs::write(path, out).expect("write segment");
}

/// Cuts the last `n` records off the segment file at `path` (at a frame
/// boundary, so the file looks whole).
pub fn drop_last_records(path: &Path, n: usize) {
    use strongroom_audit::scan_frames;
    let bytes = std::fs::read(path).expect("read segment");
    let (frames, _) = scan_frames(&bytes[8..]);
    let keep = frames[frames.len() - n - 1].end + 8;
    std::fs::write(path, &bytes[..keep]).expect("write segment");
}

/// Re-seals the footer at `path` with an attacker's own key after `edit`;
/// returns the attacker's sealer.
pub fn forge_footer(
    path: &Path,
    edit: impl FnOnce(&mut strongroom_audit::FooterBody),
) -> InProcessSealer {
    use strongroom_audit::SealedFooter;
    let mut f = SealedFooter::decode(&std::fs::read(path).expect("read")).expect("footer");
    edit(&mut f.body);
    let attacker = InProcessSealer::generate().expect("key");
    let forged = SealedFooter::seal(f.body, &attacker).expect("seal");
    std::fs::write(path, forged.encode()).expect("write footer");
    attacker
}

/// Edits the footer at `path`, keeping its (now wrong) seal and key name.
pub fn edit_footer_keeping_its_seal(
    path: &Path,
    edit: impl FnOnce(&mut strongroom_audit::FooterBody),
) {
    use strongroom_audit::SealedFooter;
    let mut f = SealedFooter::decode(&std::fs::read(path).expect("read")).expect("footer");
    edit(&mut f.body);
    std::fs::write(path, f.encode()).expect("write footer");
}

/// A chain `id` in `dir` with `sealed` sealed segments of 5 records each
/// and 5 more records in the active segment, times 1000, 1001, …
pub fn build_chain(dir: &Path, id: &str, sealed: u64) {
    let (writer, _) = open(dir, id, Durability::Sync, 1 << 20);
    rt().block_on(async {
        let a = writer.appender();
        let mut n = 0;
        for _ in 0..sealed {
            for _ in 0..5 {
                a.append(encrypt(n, 1000 + n as i64)).await.expect("append");
                n += 1;
            }
            a.roll().await.expect("roll");
        }
        for _ in 0..5 {
            a.append(encrypt(n, 1000 + n as i64)).await.expect("append");
            n += 1;
        }
        writer.shutdown().await.expect("shutdown");
    });
}
