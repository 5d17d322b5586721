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
