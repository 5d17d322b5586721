//! The security module's per-request cost, without HTTP: what one Encrypt,
//! Decrypt or GenerateDataKey costs inside the module (warm vault), and the
//! cold path that opens an EKT.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
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

criterion_group!(benches, bench);
criterion_main!(benches);
