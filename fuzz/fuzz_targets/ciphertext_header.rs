//! Symmetric ciphertext blob header (crates/hsm-proto/src/ciphertext.rs):
//! the frontend parses it from every Decrypt/ReEncrypt body.
//! Asserts: never panics; a parsed header re-writes to the exact input
//! bytes and re-parses equal; each refusal names the right reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_hsm_proto::ciphertext::{
    CiphertextFormatError, CiphertextHeader, FORMAT_V1, HEADER_LEN, MIN_LEN,
};

fuzz_target!(|data: &[u8]| {
    match CiphertextHeader::parse(data) {
        Ok(header) => {
            assert!(data.len() >= MIN_LEN);
            let mut out = Vec::new();
            header.write(&mut out);
            assert_eq!(out, data[..HEADER_LEN]);
            out.extend_from_slice(&data[HEADER_LEN..]);
            assert_eq!(CiphertextHeader::parse(&out), Ok(header));
        }
        Err(CiphertextFormatError::Truncated) => {
            assert!(data.len() < MIN_LEN);
            assert!(data.first().is_none_or(|&v| v == FORMAT_V1));
        }
        Err(CiphertextFormatError::UnknownVersion(v)) => {
            assert_eq!(data.first(), Some(&v));
            assert_ne!(v, FORMAT_V1);
        }
    }
});
