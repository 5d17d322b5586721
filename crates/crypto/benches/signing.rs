//! Per-core cost of the signing primitives behind Sign and Verify:
//! ECDSA P-256 and RSA-2048 (PSS, SHA-256), 256-byte messages.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use strongroom_crypto::{
    AsymmetricKey, AsymmetricSpec, SignInput, SigningAlgorithm, verify_signature,
};

fn bench(c: &mut Criterion) {
    let msg = [7u8; 256];
    for (name, spec, alg) in [
        (
            "ecdsa_p256",
            AsymmetricSpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
        ),
        (
            "rsa2048_pss_sha256",
            AsymmetricSpec::Rsa2048,
            SigningAlgorithm::RsaPssSha256,
        ),
    ] {
        let key = AsymmetricKey::generate(spec).unwrap();
        let sig = key.sign(alg, SignInput::Raw(&msg)).unwrap();
        c.bench_function(&format!("{name}/sign"), |b| {
            b.iter(|| key.sign(alg, SignInput::Raw(black_box(&msg))).unwrap())
        });
        c.bench_function(&format!("{name}/verify"), |b| {
            b.iter(|| {
                assert!(verify_signature(
                    spec,
                    key.public_key(),
                    alg,
                    SignInput::Raw(black_box(&msg)),
                    &sig
                ))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
