//! AES-256-GCM for the AWS KMS External Key Store (XKS) proxy API
//! (docs/xks.md, docs/formats.md): the pieces of one sealed message as the
//! API carries them, the `ciphertextMetadata` Strongroom writes, and the
//! AES-GCM additional data the specification defines. No cryptography
//! here: the module seals and opens, the frontend only reads the metadata
//! to pick the key version.

use serde::{Deserialize, Serialize};

/// First byte of Strongroom's XKS `ciphertextMetadata`, version 1.
pub const METADATA_V1: u8 = 0x58;
/// Bytes of the per-message key-derivation nonce in the metadata.
pub const KDF_NONCE_LEN: usize = 15;
/// Length of the metadata: format byte, key version (u32 BE), nonce. The
/// specification allows at most 20 bytes.
pub const METADATA_LEN: usize = 1 + 4 + KDF_NONCE_LEN;
/// IV length (the specification allows 12 or 16; Strongroom makes 12).
pub const IV_LEN: usize = 12;
/// Authentication tag length (always 16).
pub const TAG_LEN: usize = 16;
/// Largest plaintext (and ciphertext) Strongroom accepts; the
/// specification requires at least 4,300 bytes.
pub const MAX_PLAINTEXT: usize = 8192;
/// Largest `additionalAuthenticatedData` (the specification's 8,192).
pub const MAX_AAD: usize = 8192;
/// Largest `ciphertextMetadata` the specification allows.
pub const MAX_METADATA: usize = 20;

/// One sealed message: what Encrypt answers and Decrypt is given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XksSealed {
    /// `ciphertextMetadata` (Strongroom's: [`METADATA_LEN`] bytes).
    pub metadata: Vec<u8>,
    /// `initializationVector`.
    pub iv: Vec<u8>,
    /// `ciphertext` (as long as the plaintext).
    pub ciphertext: Vec<u8>,
    /// `authenticationTag`.
    pub tag: Vec<u8>,
}

/// Strongroom's `ciphertextMetadata`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XksMetadata {
    /// The key version that sealed the message.
    pub version: u32,
    /// The per-message key-derivation nonce.
    pub kdf_nonce: [u8; KDF_NONCE_LEN],
}

impl XksMetadata {
    /// The metadata bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(METADATA_LEN);
        out.push(METADATA_V1);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.kdf_nonce);
        out
    }

    /// Parses metadata Strongroom wrote; `None` for anything else (a
    /// tampered or foreign ciphertext, which then cannot be opened).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() != METADATA_LEN || b[0] != METADATA_V1 {
            return None;
        }
        let version = u32::from_be_bytes(b[1..5].try_into().ok()?);
        if version == 0 {
            return None;
        }
        Some(Self {
            version,
            kdf_nonce: b[5..].try_into().ok()?,
        })
    }
}

/// The AES-GCM additional data the specification defines:
/// `u16 BE len(aad) ‖ aad ‖ u8 len(metadata) ‖ metadata`, so neither field
/// can be shifted into the other. `None` when a length does not fit.
pub fn gcm_aad(aad: &[u8], metadata: &[u8]) -> Option<Vec<u8>> {
    let aad_len = u16::try_from(aad.len()).ok()?;
    let meta_len = u8::try_from(metadata.len()).ok()?;
    let mut out = Vec::with_capacity(3 + aad.len() + metadata.len());
    out.extend_from_slice(&aad_len.to_be_bytes());
    out.extend_from_slice(aad);
    out.push(meta_len);
    out.extend_from_slice(metadata);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_refuses_anything_else() {
        let m = XksMetadata {
            version: 7,
            kdf_nonce: [9; KDF_NONCE_LEN],
        };
        let b = m.to_bytes();
        assert_eq!(b.len(), METADATA_LEN);
        assert!(b.len() <= MAX_METADATA);
        assert_eq!(XksMetadata::parse(&b), Some(m));
        let mut other = b.clone();
        other[0] ^= 1;
        assert_eq!(XksMetadata::parse(&other), None);
        assert_eq!(XksMetadata::parse(&b[..19]), None);
        let mut zero = b.clone();
        zero[1..5].copy_from_slice(&[0; 4]);
        assert_eq!(XksMetadata::parse(&zero), None);
        assert_eq!(XksMetadata::parse(&[]), None);
    }

    #[test]
    fn gcm_aad_is_length_prefixed_as_the_specification_says() {
        assert_eq!(gcm_aad(b"", b"").unwrap(), vec![0, 0, 0]);
        assert_eq!(
            gcm_aad(b"ab", b"xyz").unwrap(),
            vec![0, 2, b'a', b'b', 3, b'x', b'y', b'z']
        );
        // The spec's example: metadata passed as AAD does not collide.
        assert_ne!(gcm_aad(b"", b"m"), gcm_aad(b"m", b""));
        assert!(gcm_aad(&vec![0; 65_536], b"").is_none());
        assert!(gcm_aad(b"", &[0; 256]).is_none());
    }
}
