//! SigV4 verification cost on the frontend's hot path (signing key cached):
//! canonical request, string to sign, one HMAC, constant-time compare.

use axum::http::{HeaderMap, HeaderValue};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use strongroom_server::sigv4::{self, RequestParts};

fn bench(c: &mut Criterion) {
    let body = br#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","Plaintext":"aGVsbG8="}"#;
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    h.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    h.insert("x-amz-date", HeaderValue::from_static("20261128T120000Z"));
    h.insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.Encrypt"),
    );
    let signed: Vec<String> = ["content-type", "host", "x-amz-date", "x-amz-target"]
        .map(String::from)
        .to_vec();
    let key = sigv4::derive_signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "20261128",
        "us-east-1",
        "kms",
    );
    let payload = hex::encode(strongroom_crypto::sha256(body));
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &h,
        authority: None,
        payload_sha256_hex: &payload,
    };
    let header = sigv4::authorization_header(
        &parts,
        &signed,
        "AKIDEXAMPLE",
        &key,
        "20261128T120000Z",
        "us-east-1",
        "kms",
    )
    .unwrap();

    c.bench_function("sigv4 verify (cached signing key)", |b| {
        b.iter(|| {
            let auth = sigv4::parse_authorization(black_box(&header)).unwrap();
            let payload = hex::encode(strongroom_crypto::sha256(black_box(body)));
            let parts = RequestParts {
                method: "POST",
                path: "/",
                query: "",
                headers: &h,
                authority: None,
                payload_sha256_hex: &payload,
            };
            let creq = sigv4::canonical_request(&parts, &auth.signed_headers, true).unwrap();
            let sig = sigv4::signature(
                &key,
                &sigv4::string_to_sign("20261128T120000Z", &auth.scope(), &creq),
            );
            assert!(strongroom_crypto::constant_time_eq(&sig, &auth.signature));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
