//! The security module's per-request cost, without HTTP: what one Encrypt,
//! Decrypt or GenerateDataKey costs inside the module (warm vault), the
//! cold path that opens an EKT, and how RSA-2048 signing scales with the
//! module's worker pool (64 requests in flight, 1 and 2 workers).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use strongroom_hsm::{DomainKey, Module, ModuleConfig};
use strongroom_hsm_proto::{Caller, KeyRef, KeySpecCode, ModuleHandler, Request, Response};
use uuid::Uuid;
use zeroize::Zeroizing;

fn bench(c: &mut Criterion) {
    let mut m = Module::new(
        DomainKey::generate().unwrap(),
        ModuleConfig {
            vault_capacity: 16,
            ..Default::default()
        },
    );
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    let Response::Ekt(ekt) = m
        .handle(
            &Caller::InProcess,
            Request::GenerateBackingKey {
                key,
                spec: KeySpecCode::SymmetricDefault,
            },
        )
        .unwrap()
    else {
        panic!("no EKT")
    };
    let context = strongroom_hsm_proto::context::canonical([("tenant", "acme")]);
    let plaintext = vec![0x42u8; 256];
    let Response::Ciphertext(blob) = m
        .handle(
            &Caller::InProcess,
            Request::Encrypt {
                key,
                ekt: ekt.clone(),
                plaintext: Zeroizing::new(plaintext.clone()),
                context: context.clone(),
            },
        )
        .unwrap()
    else {
        panic!("no ciphertext")
    };

    c.bench_function("module encrypt 256 B (warm)", |b| {
        b.iter(|| {
            black_box(
                m.handle(
                    &Caller::InProcess,
                    Request::Encrypt {
                        key,
                        ekt: ekt.clone(),
                        plaintext: Zeroizing::new(plaintext.clone()),
                        context: context.clone(),
                    },
                )
                .unwrap(),
            )
        })
    });
    c.bench_function("module decrypt 256 B (warm)", |b| {
        b.iter(|| {
            black_box(
                m.handle(
                    &Caller::InProcess,
                    Request::Decrypt {
                        ekt: ekt.clone(),
                        ciphertext: blob.clone(),
                        context: context.clone(),
                    },
                )
                .unwrap(),
            )
        })
    });
    c.bench_function("module generate data key 32 B (warm)", |b| {
        b.iter(|| {
            black_box(
                m.handle(
                    &Caller::InProcess,
                    Request::GenerateDataKey {
                        key,
                        ekt: ekt.clone(),
                        context: context.clone(),
                        length: 32,
                        with_plaintext: true,
                    },
                )
                .unwrap(),
            )
        })
    });
    c.bench_function("module decrypt 256 B (cold: opens the EKT)", |b| {
        b.iter(|| {
            m.handle(
                &Caller::InProcess,
                Request::ForgetKey { key_id: key.key_id },
            )
            .unwrap();
            black_box(
                m.handle(
                    &Caller::InProcess,
                    Request::Decrypt {
                        ekt: ekt.clone(),
                        ciphertext: blob.clone(),
                        context: context.clone(),
                    },
                )
                .unwrap(),
            )
        })
    });
}

/// Signatures kept in flight by the scaling bench (as `strongroom bench
/// --concurrency 64` keeps requests).
const IN_FLIGHT: u64 = 64;

/// RSA-2048 PSS signing through `dispatch` (the module's own path: checks
/// and the EKT cache on this thread, the signature on a worker) with 64
/// requests in flight, for 1 and 2 workers: the scaling of the pool itself,
/// without the HTTP client and frontend that share the cores in
/// `scripts/bench-workers.sh`.
fn sign_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("module sign RSA-2048, 64 in flight");
    group.throughput(Throughput::Elements(1));
    for workers in [1usize, 2] {
        let mut m = Module::new(
            DomainKey::generate().unwrap(),
            ModuleConfig {
                vault_capacity: 16,
                workers,
                ..Default::default()
            },
        );
        let key = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let Response::Ekt(ekt) = m
            .handle(
                &Caller::InProcess,
                Request::GenerateBackingKey {
                    key,
                    spec: KeySpecCode::Rsa2048,
                },
            )
            .unwrap()
        else {
            panic!("no EKT")
        };
        let sign = || Request::Sign {
            key,
            ekt: ekt.clone(),
            message: Zeroizing::new(vec![0x42; 256]),
            digest: false,
            algorithm: "RSASSA_PSS_SHA_256".into(),
        };
        group.bench_function(format!("{workers} worker(s)"), |b| {
            b.iter_custom(|iters| {
                let (done, answers) = mpsc::channel();
                let start = Instant::now();
                let (mut sent, mut received) = (0u64, 0u64);
                while received < iters {
                    while sent < iters && sent - received < IN_FLIGHT {
                        let done = done.clone();
                        m.dispatch(
                            &Caller::InProcess,
                            sign(),
                            Box::new(move |a| {
                                let _ = done.send(a.map(|r| matches!(r, Response::Signature(_))));
                            }),
                        );
                        sent += 1;
                    }
                    let signed = answers.recv().expect("an answer").expect("signed");
                    assert!(signed, "not a signature");
                    received += 1;
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_group! {
    name = scaling;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = sign_scaling
}
criterion_main!(benches, scaling);
