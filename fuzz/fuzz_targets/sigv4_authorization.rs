//! The SigV4 `Authorization` header and `X-Amz-Date`
//! (crates/server/src/sigv4.rs): parsed from every request before the
//! caller is known.
//! Asserts: never panics; a parsed header has a well-formed scope and
//! lowercase, non-empty signed header names, and renders back to a header
//! that parses equal; a parsed date formats to a date that parses equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_server::sigv4::{ALGORITHM, format_amz_date, parse_amz_date, parse_authorization};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(auth) = parse_authorization(text) {
        assert!(!auth.signed_headers.is_empty());
        assert!(
            auth.signed_headers
                .iter()
                .all(|h| !h.is_empty() && !h.bytes().any(|b| b.is_ascii_uppercase()))
        );
        for part in [&auth.access_key_id, &auth.date, &auth.region, &auth.service] {
            assert!(!part.is_empty() && !part.contains('/'));
        }
        let rendered = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            auth.access_key_id,
            auth.scope(),
            auth.signed_headers.join(";"),
            hex::encode(auth.signature)
        );
        assert_eq!(parse_authorization(&rendered), Ok(auth));
    }
    if let Some(t) = parse_amz_date(text) {
        assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
    }
});
