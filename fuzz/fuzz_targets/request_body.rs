//! AWS JSON request bodies, for every operation the frontend serves
//! (`strongroom_server::fuzz_parse_request`, the dispatcher's parsing).
//! Input: an operation selector byte, then the body.
//! Asserts: never panics; a body is refused only as a SerializationException;
//! accepted bodies are JSON objects (or empty); whitespace around a body
//! does not change whether it parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_server::error::KmsError;
use strongroom_server::{fuzz_operations, fuzz_parse_request};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let ops = fuzz_operations();
    let op = ops[usize::from(selector) % ops.len()];
    let result = fuzz_parse_request(op, body);
    match &result {
        Ok(()) => {
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            assert!(
                first.is_none_or(|&b| b == b'{') || op == "CreateAuthenticationProof",
                "{op} accepted a body that is not an object"
            );
        }
        Err(KmsError::Serialization(_)) => {}
        Err(other) => panic!("{op}: refused with {other:?}, not a SerializationException"),
    }
    if op != "CreateAuthenticationProof" && !body.is_empty() {
        let mut padded = b" \n".to_vec();
        padded.extend_from_slice(body);
        padded.extend_from_slice(b"\t ");
        assert_eq!(
            fuzz_parse_request(op, &padded).is_ok(),
            result.is_ok(),
            "{op}"
        );
    }
});
