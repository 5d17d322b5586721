//! The SigV4 canonical request (crates/server/src/sigv4.rs), built from
//! attacker-chosen method, path, query, headers and signed header names.
//! Input (text, one field per line): method, path, query, signed header
//! names (`a;b`), then `name: value` header lines.
//! Asserts: never panics; the canonical URI holds only unreserved bytes,
//! `/` and `%XX` escapes (and, normalized, starts with `/` and has no
//! empty segment); the canonical query is a fixed point; a canonical
//! request has exactly one line per signed header, so no header value,
//! path or query can add or hide a line of what is signed.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::fields;
use strongroom_server::sigv4::{
    RequestParts, canonical_query, canonical_request, canonical_uri, signature, string_to_sign,
};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn check_uri(uri: &str, normalized: bool) {
    let b = uri.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                assert!(i + 2 < b.len(), "{uri}");
                assert!(
                    b[i + 1..i + 3]
                        .iter()
                        .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                );
                i += 3;
            }
            c => {
                assert!(c.is_ascii_alphanumeric() || b"-_.~/".contains(&c), "{uri}");
                i += 1;
            }
        }
    }
    if normalized {
        assert!(uri.starts_with('/'), "{uri}");
        assert!(!uri.contains("//"), "{uri}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let f = fields(&text, 5);
    let (method, path, query) = (f[0], f[1], f[2]);
    let signed: Vec<String> = f[3].split(';').map(str::to_owned).collect();
    let mut headers = HeaderMap::new();
    for line in f[4].lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    for normalize in [true, false] {
        check_uri(&canonical_uri(path, normalize), normalize);
    }
    let query_once = canonical_query(query);
    assert_eq!(canonical_query(&query_once), query_once);
    for authority in [None, Some("kms.fuzz.test")] {
        let parts = RequestParts {
            method,
            path,
            query,
            headers: &headers,
            authority,
            payload_sha256_hex: EMPTY_SHA256,
        };
        for normalize in [true, false] {
            let Ok(creq) = canonical_request(&parts, &signed, normalize) else {
                continue;
            };
            assert_eq!(creq.split('\n').count(), 6 + signed.len(), "{creq:?}");
            let sts = string_to_sign(
                "20231114T221320Z",
                "20231114/us-east-1/kms/aws4_request",
                &creq,
            );
            let _ = signature(&[1; 32], &sts);
        }
    }
});
