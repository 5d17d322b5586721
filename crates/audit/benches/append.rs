//! Append throughput of the audit log per durability mode, at one
//! appender and at 64 concurrent appenders (group commit), with the bytes
//! on disk per Encrypt record printed at the end. Measure on a quiet
//! machine: `cargo bench -p strongroom-audit --bench append`; the disk
//! under `$TMPDIR` is the one measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strongroom_audit::{
    AuditRecord, AuditWriter, ChainId, Durability, Identity, InProcessSealer, LogConfig,
    list_chains,
};

fn encrypt(n: u64) -> AuditRecord {
    AuditRecord {
        time_ms: 1_795_860_000_000 + n as i64,
        request_id: format!("{:08x}-8d4a-4c1b-9e2f-3a4b5c6d7e8f", n as u32),
        operation: "Encrypt".into(),
        identity: Identity {
            kind: "Root".into(),
            arn: Some("arn:aws:iam::111122223333:root".into()),
            account_id: Some("111122223333".into()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            invoked_by: None,
        },
        source_ip: Some([10, 0, 3, 7].into()),
        user_agent: Some("aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0".into()),
        key_arns: vec![
            "arn:aws:kms:us-east-1:111122223333:key/6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b".into(),
        ],
        context: vec![("dept".into(), None)],
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut per_record = Vec::new();
    for mode in [
        Durability::Sync,
        Durability::GroupMs(1),
        Durability::Buffered,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = LogConfig::new(dir.path(), ChainId::new("bench").expect("id"));
        config.durability = mode;
        let sealer = Arc::new(InProcessSealer::generate().expect("key"));
        let (writer, _) = AuditWriter::open(config, sealer).expect("open");
        let appender = writer.appender();
        let mut group = c.benchmark_group(format!("append/{mode}"));
        for concurrency in [1u64, 64] {
            group.throughput(Throughput::Elements(concurrency));
            group.bench_function(format!("concurrency {concurrency}"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for i in 0..iters {
                            let mut tasks = Vec::with_capacity(concurrency as usize);
                            for k in 0..concurrency {
                                let a = appender.clone();
                                tasks.push(tokio::spawn(async move {
                                    a.append(encrypt(i * 64 + k)).await.expect("append")
                                }));
                            }
                            for t in tasks {
                                t.await.expect("task");
                            }
                        }
                        start.elapsed()
                    })
                });
            });
        }
        group.finish();
        rt.block_on(writer.shutdown()).expect("shutdown");
        let (mut bytes, mut records) = (0u64, 0u64);
        for files in list_chains(dir.path())
            .expect("list")
            .into_values()
            .flatten()
        {
            if let Some(seg) = files.segment {
                let data = std::fs::read(&seg).expect("read");
                let parsed = strongroom_audit::parse_segment(&data).expect("parse");
                records += parsed.records.len() as u64;
                bytes += data.len() as u64;
            }
        }
        per_record.push((mode, bytes / records.max(1)));
    }
    for (mode, b) in per_record {
        println!("audit {mode}: {b} bytes on disk per Encrypt record (segment headers included)");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
