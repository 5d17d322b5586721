//! XKS proxy API requests (crates/server/src/xks): the URI path and the
//! JSON bodies of GetHealthStatus, GetKeyMetadata, Encrypt and Decrypt, as
//! the frontend parses them before anything is looked up.
//! Input: a selector byte (which parser), then the path or body bytes.
//! Asserts: never panics; a body is refused only as ValidationException or
//! UnsupportedOperationException (sizes over Strongroom's limits); what is
//! accepted is within the specification's limits; an accepted path's
//! prefix is one an administrator could have created.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_hsm_proto::xks::{IV_LEN, MAX_AAD, MAX_METADATA, MAX_PLAINTEXT, TAG_LEN};
use strongroom_server::xks::error::XksError;
use strongroom_server::xks::{path, wire};

fn refused_as_input(e: &XksError) {
    assert!(
        matches!(
            e,
            XksError::Validation(_) | XksError::UnsupportedOperation(_)
        ),
        "refused with {e:?}"
    );
    assert!(e.message().len() < 512);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        0 => {
            let Ok(s) = std::str::from_utf8(input) else {
                return;
            };
            if let Ok((prefix, endpoint)) = path::parse(s) {
                assert!(path::valid_prefix(prefix));
                assert_eq!(path::normalize_prefix(prefix).as_deref(), Some(prefix));
                if let Some(id) = endpoint.external_key_id() {
                    assert!(!id.is_empty() && id.len() <= path::MAX_EXTERNAL_KEY_ID);
                }
            }
        }
        1 | 2 => match wire::parse_metadata_only(input, selector % 5 == 2) {
            Ok(m) => assert!(m.kms_request_id.is_some() && m.kms_operation.is_some()),
            Err(e) => refused_as_input(&e),
        },
        3 => match wire::parse_encrypt(input) {
            Ok(e) => assert!(e.plaintext.len() <= MAX_PLAINTEXT && e.aad.len() <= MAX_AAD),
            Err(e) => refused_as_input(&e),
        },
        _ => match wire::parse_decrypt(input) {
            Ok(d) => {
                assert!(d.sealed.ciphertext.len() <= MAX_PLAINTEXT && d.aad.len() <= MAX_AAD);
                assert!(d.sealed.iv.len() == IV_LEN || d.sealed.iv.len() == 16);
                assert_eq!(d.sealed.tag.len(), TAG_LEN);
                assert!(d.sealed.metadata.len() <= MAX_METADATA);
            }
            Err(e) => refused_as_input(&e),
        },
    }
});
