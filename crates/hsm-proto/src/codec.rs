//! The one binary encoding of everything modules, hosts and operators
//! exchange or sign: postcard (serde, varint integers, no self-description),
//! behind a format version byte.
//!
//! - [`encode`] / [`decode`]: `FORMAT_VERSION ‖ postcard(value)`, for signed
//!   bodies (commands, domain tokens, reports, import tokens, suspended
//!   bundles) and operator files. The version byte is inside what is
//!   signed, so a body cannot be reinterpreted under another format.
//! - [`encode_bare`] / [`decode_bare`]: postcard alone, for wire frames,
//!   whose header carries the wire version (see [`crate::net`]).
//!
//! Decoding is bounded by its input: postcard refuses a length prefix
//! longer than the bytes left (so no allocation is sized from it), and
//! trailing bytes are refused too.

use serde::{Deserialize, Serialize};

/// The version byte in front of every encoded body and file (2: postcard;
/// 1 was bincode 1 and had no version byte).
pub const FORMAT_VERSION: u8 = 2;

/// A body that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not decode as the expected structure.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The bytes were written in a format version this build does not speak.
    #[error(
        "unsupported format version {found} of {what} (this build speaks version {FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version byte found.
        found: u8,
    },
}

fn type_name<T>() -> &'static str {
    std::any::type_name::<T>().rsplit("::").next().unwrap_or("")
}

/// `FORMAT_VERSION ‖ postcard(value)`.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    postcard::to_io(value, &mut out).expect("serialising plain data into a Vec cannot fail");
    out
}

/// Decodes what [`encode`] produced: refuses another version, trailing
/// bytes, and lengths beyond the input.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => decode_bare(rest),
        Some((&found, _)) => Err(DecodeError::UnsupportedVersion {
            what: type_name::<T>(),
            found,
        }),
        None => Err(DecodeError::Malformed(type_name::<T>())),
    }
}

/// postcard alone (the frame header carries the version).
pub fn encode_bare<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serialising plain data cannot fail")
}

/// Decodes what [`encode_bare`] produced, refusing trailing bytes.
pub fn decode_bare<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        _ => Err(DecodeError::Malformed(type_name::<T>())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::SignedCommand;
    use crate::{Ekt, Request};

    #[test]
    fn bodies_round_trip_behind_their_version_byte() {
        let req = Request::RewrapKeys {
            ekts: vec![Ekt(vec![1, 2, 3]), Ekt(vec![])],
        };
        let bytes = encode(&req);
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back: Request = decode(&bytes).unwrap();
        assert_eq!(&bytes[1..], &encode_bare(&back)[..]);
        assert!(matches!(back, Request::RewrapKeys { ekts } if ekts.len() == 2));
    }

    #[test]
    fn an_unknown_format_version_is_refused_by_name() {
        let mut bytes = encode(&SignedCommand {
            body: vec![1, 2],
            signatures: vec![],
        });
        for v in [0u8, 1, 3, 0xff] {
            bytes[0] = v;
            let e = decode::<SignedCommand>(&bytes).unwrap_err();
            assert_eq!(
                e,
                DecodeError::UnsupportedVersion {
                    what: "SignedCommand",
                    found: v
                }
            );
            assert!(e.to_string().contains("unsupported format version"), "{e}");
        }
        assert!(decode::<SignedCommand>(&[]).is_err());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&Ekt(vec![9; 4]));
        bytes.push(0);
        assert_eq!(decode::<Ekt>(&bytes), Err(DecodeError::Malformed("Ekt")));
    }
}
