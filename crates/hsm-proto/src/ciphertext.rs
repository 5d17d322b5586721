//! The symmetric ciphertext blob, format version 1 (docs/formats.md).
//!
//! ```text
//! offset len  field
//! 0      1    format version (0x01)
//! 1      16   key UUID
//! 17     4    key version, big-endian
//! 21     32   KDF nonce (HKDF salt for the one-time data key)
//! 53     12   AES-GCM IV
//! 65     n    ciphertext
//! 65+n   16   AES-GCM tag
//! ```
//! The header (bytes 0..65) is public: the frontend reads it to route a
//! Decrypt to the right key version without the caller naming the key.
//!
//! A *derived-key token* (DeriveKey) has the same layout with first byte
//! [`DERIVED_KEY_TOKEN_V1`] and its own key-derivation label in the module:
//! [`CiphertextHeader::parse`] refuses it, so Decrypt and ReEncrypt never
//! open one; only [`CiphertextHeader::parse_derived_key_token`] reads it.

use uuid::Uuid;

use crate::KeyRef;

/// Format version byte of this layout.
pub const FORMAT_V1: u8 = 0x01;
/// First byte of a derived-key token: same layout, another kind of blob.
pub const DERIVED_KEY_TOKEN_V1: u8 = 0xD1;
/// Bytes of KDF nonce.
pub const KDF_NONCE_LEN: usize = 32;
/// AES-GCM IV bytes.
pub const IV_LEN: usize = 12;
/// AES-GCM tag bytes.
pub const TAG_LEN: usize = 16;
/// Offset of the KDF nonce (end of the key reference).
pub const KEY_REF_END: usize = 21;
/// Header length: everything before the ciphertext body.
pub const HEADER_LEN: usize = KEY_REF_END + KDF_NONCE_LEN + IV_LEN;
/// Smallest well-formed blob (empty body).
pub const MIN_LEN: usize = HEADER_LEN + TAG_LEN;

/// Why a blob could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CiphertextFormatError {
    /// Shorter than a header and tag.
    #[error("ciphertext is truncated")]
    Truncated,
    /// Unknown format version byte.
    #[error("unknown ciphertext format version {0}")]
    UnknownVersion(u8),
}

/// The parsed public header of a ciphertext blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CiphertextHeader {
    /// Which key version sealed it.
    pub key: KeyRef,
    /// HKDF salt for the per-message key.
    pub kdf_nonce: [u8; KDF_NONCE_LEN],
    /// AES-GCM IV.
    pub iv: [u8; IV_LEN],
}

impl CiphertextHeader {
    /// Parses the header of a ciphertext `blob`, checking only its shape.
    /// A derived-key token is refused (`UnknownVersion`).
    pub fn parse(blob: &[u8]) -> Result<Self, CiphertextFormatError> {
        Self::parse_as(blob, FORMAT_V1)
    }

    /// Parses the header of a derived-key token; a ciphertext is refused.
    pub fn parse_derived_key_token(blob: &[u8]) -> Result<Self, CiphertextFormatError> {
        Self::parse_as(blob, DERIVED_KEY_TOKEN_V1)
    }

    fn parse_as(blob: &[u8], format: u8) -> Result<Self, CiphertextFormatError> {
        if blob.is_empty() {
            return Err(CiphertextFormatError::Truncated);
        }
        if blob[0] != format {
            return Err(CiphertextFormatError::UnknownVersion(blob[0]));
        }
        if blob.len() < MIN_LEN {
            return Err(CiphertextFormatError::Truncated);
        }
        let key_id = Uuid::from_bytes(blob[1..17].try_into().expect("16 bytes"));
        let version = u32::from_be_bytes(blob[17..21].try_into().expect("4 bytes"));
        Ok(Self {
            key: KeyRef { key_id, version },
            kdf_nonce: blob[21..53].try_into().expect("32 bytes"),
            iv: blob[53..65].try_into().expect("12 bytes"),
        })
    }

    /// Writes the header bytes of a ciphertext.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_as(FORMAT_V1, out);
    }

    /// Writes the header bytes with first byte `format` ([`FORMAT_V1`] or
    /// [`DERIVED_KEY_TOKEN_V1`]).
    pub fn write_as(&self, format: u8, out: &mut Vec<u8>) {
        out.push(format);
        out.extend_from_slice(self.key.key_id.as_bytes());
        out.extend_from_slice(&self.key.version.to_be_bytes());
        out.extend_from_slice(&self.kdf_nonce);
        out.extend_from_slice(&self.iv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> CiphertextHeader {
        CiphertextHeader {
            key: KeyRef {
                key_id: Uuid::from_u128(0x1234),
                version: 7,
            },
            kdf_nonce: [9; 32],
            iv: [3; 12],
        }
    }

    #[test]
    fn header_round_trip() {
        let mut b = Vec::new();
        header().write(&mut b);
        assert_eq!(b.len(), HEADER_LEN);
        b.extend_from_slice(&[0; TAG_LEN]);
        assert_eq!(CiphertextHeader::parse(&b).unwrap(), header());
    }

    #[test]
    fn rejects_short_and_unknown() {
        let mut b = Vec::new();
        header().write(&mut b);
        assert_eq!(
            CiphertextHeader::parse(&b),
            Err(CiphertextFormatError::Truncated)
        );
        assert_eq!(
            CiphertextHeader::parse(&[]),
            Err(CiphertextFormatError::Truncated)
        );
        b.extend_from_slice(&[0; TAG_LEN]);
        b[0] = 2;
        assert_eq!(
            CiphertextHeader::parse(&b),
            Err(CiphertextFormatError::UnknownVersion(2))
        );
    }

    #[test]
    fn a_derived_key_token_never_parses_as_a_ciphertext_nor_the_reverse() {
        let mut token = Vec::new();
        header().write_as(DERIVED_KEY_TOKEN_V1, &mut token);
        token.extend_from_slice(&[0; TAG_LEN]);
        assert_eq!(
            CiphertextHeader::parse(&token),
            Err(CiphertextFormatError::UnknownVersion(DERIVED_KEY_TOKEN_V1))
        );
        assert_eq!(
            CiphertextHeader::parse_derived_key_token(&token).unwrap(),
            header()
        );
        let mut ciphertext = Vec::new();
        header().write(&mut ciphertext);
        ciphertext.extend_from_slice(&[0; TAG_LEN]);
        assert_eq!(
            CiphertextHeader::parse_derived_key_token(&ciphertext),
            Err(CiphertextFormatError::UnknownVersion(FORMAT_V1))
        );
    }
}
