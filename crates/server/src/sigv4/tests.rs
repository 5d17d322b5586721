//! SigV4 against AWS's published signing test suite (testdata/sigv4).

use super::*;
use axum::http::{HeaderName, HeaderValue};
use std::path::Path;

struct Vector {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn parse_request(text: &str) -> Vector {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let method = request_line.split(' ').next().unwrap().to_owned();
    let target = request_line[method.len() + 1..request_line.len() - " HTTP/1.1".len()].to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            // obs-fold continuation of the previous header
            let last = raw.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (k, v) = line.split_once(':').unwrap();
        raw.push((k.to_owned(), v.trim_start().to_owned()));
    }
    let mut headers = HeaderMap::new();
    for (k, v) in raw {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    Vector {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn run_vector(dir: &Path) -> Result<(), String> {
    // One case ships without a context: it uses the suite's usual one.
    let ctx_path = if dir.join("context.json").exists() {
        dir.join("context.json")
    } else {
        dir.with_file_name("get-vanilla").join("context.json")
    };
    let ctx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ctx_path).unwrap()).unwrap();
    let normalize = ctx["normalize"].as_bool().unwrap_or(true);
    let secret = ctx["credentials"]["secret_access_key"].as_str().unwrap();
    let signed = std::fs::read_to_string(dir.join("header-signed-request.txt")).unwrap();
    let v = parse_request(&signed);
    let auth_value = v
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let auth = parse_authorization(&auth_value).map_err(|e| e.to_string())?;
    let payload = hex::encode(sha256(&v.body));
    let parts = RequestParts {
        method: &v.method,
        path: &v.path,
        query: &v.query,
        headers: &v.headers,
        authority: None,
        payload_sha256_hex: &payload,
    };
    let creq =
        canonical_request(&parts, &auth.signed_headers, normalize).map_err(|e| e.to_string())?;
    let want = std::fs::read_to_string(dir.join("header-canonical-request.txt")).unwrap();
    // The suite's canonical requests hash the body only when told to.
    let want_payload = want.lines().last().unwrap().to_owned();
    let creq = creq
        .rsplit_once('\n')
        .map(|(h, _)| format!("{h}\n{want_payload}"))
        .unwrap();
    if creq != want {
        return Err(format!(
            "canonical request differs:\n--- ours\n{creq}\n--- theirs\n{want}"
        ));
    }
    let amz_date = v.headers.get("x-amz-date").unwrap().to_str().unwrap();
    let key = derive_signing_key(secret, &auth.date, &auth.region, &auth.service);
    let sig = signature(&key, &string_to_sign(amz_date, &auth.scope(), &creq));
    if !strongroom_crypto::constant_time_eq(&sig, &auth.signature) {
        return Err("signature does not verify".into());
    }
    // And a single flipped bit in the signature must fail.
    let mut bad = auth.signature;
    bad[0] ^= 1;
    assert!(!strongroom_crypto::constant_time_eq(&sig, &bad));
    Ok(())
}

#[test]
fn aws_signing_test_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4");
    let mut failures = Vec::new();
    let mut ran = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("header-signed-request.txt").exists() {
            continue;
        }
        ran += 1;
        if let Err(e) = run_vector(&dir) {
            failures.push(format!(
                "{}: {e}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(ran >= 30, "only {ran} vectors found");
    assert!(
        failures.is_empty(),
        "{} of {ran} vectors failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn parse_rejects_malformed_headers() {
    for bad in [
        "",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=a/b/c/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=Host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        assert!(parse_authorization(bad).is_err(), "{bad}");
    }
}

#[test]
fn amz_date_round_trip() {
    let t = parse_amz_date("20150830T123600Z").unwrap();
    assert_eq!(format_amz_date(t), "20150830T123600Z");
    assert!(parse_amz_date("2015-08-30T12:36:00Z").is_none());
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn names(list: &str) -> Vec<String> {
    list.split(';').map(str::to_owned).collect()
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

/// A KMS request as aws-sdk-rust sends it (it signs all but `user-agent`,
/// `x-amzn-trace-id`, `authorization` and `transfer-encoding`).
const SDK_HEADERS: &[(&str, &str)] = &[
    (
        "amz-sdk-invocation-id",
        "7c1b9ffe-2b4c-4e3c-9d6a-8b1a2f3e4d5c",
    ),
    ("amz-sdk-request", "attempt=1; max=1"),
    ("content-length", "2"),
    ("content-type", "application/x-amz-json-1.1"),
    ("host", "127.0.0.1:4566"),
    ("user-agent", "aws-sdk-rust/1.3.9 os/linux lang/rust/1.91.0"),
    ("x-amz-date", "20261130T120000Z"),
    ("x-amz-security-token", "c2Vzc2lvbg=="),
    ("x-amz-target", "TrentService.Encrypt"),
    ("x-amz-user-agent", "aws-sdk-rust/1.3.9 api/kms/1.129.0"),
    (
        "x-amzn-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    ),
];

#[test]
fn what_real_sdks_sign_passes_the_unsigned_header_check() {
    let h = header_map(SDK_HEADERS);
    let rust_sdk = names(
        "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;\
         x-amz-security-token;x-amz-target;x-amz-user-agent",
    );
    assert!(unsigned_protected_headers(&h, &rust_sdk, &["content-type"]).is_empty());
    // botocore (boto3, the AWS CLI) leaves out only expect, user-agent,
    // x-amzn-trace-id and transfer-encoding, and sends fewer headers.
    let boto = header_map(&[
        ("content-type", "application/x-amz-json-1.1"),
        ("host", "127.0.0.1:4566"),
        ("user-agent", "Boto3/1.40.0 md/Botocore#1.40.0"),
        ("x-amz-date", "20261130T120000Z"),
        ("x-amz-target", "TrentService.Decrypt"),
    ]);
    let signed = names("content-type;host;x-amz-date;x-amz-target");
    assert!(unsigned_protected_headers(&boto, &signed, &["content-type"]).is_empty());
}

#[test]
fn unsigned_amz_and_strongroom_headers_are_reported() {
    let mut h = header_map(SDK_HEADERS);
    h.insert("x-strongroom-auth-proof", HeaderValue::from_static("p.q"));
    h.insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED"));
    let only_minimum = names("host;x-amz-date");
    assert_eq!(
        sorted(unsigned_protected_headers(&h, &only_minimum, &[])),
        vec![
            "x-amz-content-sha256",
            "x-amz-security-token",
            "x-amz-target",
            "x-amz-user-agent",
            "x-strongroom-auth-proof",
        ]
    );
    // Content-Type only where the caller says so (KMS: it decides how the
    // body is read); user-agent and x-amzn-trace-id never.
    assert!(
        unsigned_protected_headers(&h, &only_minimum, &["content-type"]).contains(&"content-type")
    );
    let all_but_target = names(
        "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;\
         x-amz-user-agent;x-strongroom-auth-proof",
    );
    assert_eq!(
        unsigned_protected_headers(&h, &all_but_target, &["content-type"]),
        vec!["x-amz-target"]
    );
}

/// The reported attack, at the level of the signature: a request signed
/// over `host` and `x-amz-date` only still verifies after its X-Amz-Target
/// is changed, so the signature alone cannot catch it; the unsigned-header
/// check does.
#[test]
fn changed_unsigned_target_still_verifies_so_the_header_check_must_refuse_it() {
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let key = derive_signing_key(secret, "20261130", "us-east-1", "kms");
    let mut h = header_map(&[
        ("content-type", "application/x-amz-json-1.1"),
        ("host", "kms.example"),
        ("x-amz-date", "20261130T120000Z"),
        ("x-amz-target", "TrentService.Encrypt"),
    ]);
    let payload = hex::encode(sha256(b"{}"));
    let minimum = names("host;x-amz-date");
    let parts = |h: &HeaderMap| {
        let creq = canonical_request(
            &RequestParts {
                method: "POST",
                path: "/",
                query: "",
                headers: h,
                authority: None,
                payload_sha256_hex: &payload,
            },
            &minimum,
            true,
        )
        .unwrap();
        signature(
            &key,
            &string_to_sign(
                "20261130T120000Z",
                "20261130/us-east-1/kms/aws4_request",
                &creq,
            ),
        )
    };
    let signed = parts(&h);
    h.insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.DisableKey"),
    );
    assert_eq!(parts(&h), signed, "the signature does not cover the target");
    assert_eq!(
        sorted(unsigned_protected_headers(&h, &minimum, &["content-type"])),
        vec!["content-type", "x-amz-target"]
    );
}

/// Every request of AWS's signing suite signs its `x-amz-*` headers, but
/// one: `post-sts-header-after` adds the session token after signing,
/// which we refuse.
#[test]
fn aws_suite_requests_sign_their_amz_headers_but_the_token_added_after_signing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4");
    let mut refused = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(dir.join("header-signed-request.txt")) else {
            continue;
        };
        let v = parse_request(&text);
        let auth =
            parse_authorization(v.headers.get("authorization").unwrap().to_str().unwrap()).unwrap();
        let unsigned = unsigned_protected_headers(&v.headers, &auth.signed_headers, &[]);
        if !unsigned.is_empty() {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            refused.push(format!("{name}: {}", unsigned.join(",")));
        }
    }
    assert_eq!(
        refused,
        vec!["post-sts-header-after: x-amz-security-token".to_string()]
    );
}
