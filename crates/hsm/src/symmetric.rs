//! Symmetric encryption of customer data under a backing key, per the
//! ciphertext format in `strongroom_hsm_proto::ciphertext`, and of
//! derived-key tokens (same layout, another first byte and KDF label, so
//! neither ever opens as the other).

use strongroom_crypto::{Aes256GcmKey, Iv, hkdf_sha256, random_array};
use strongroom_hsm_proto::ciphertext::{
    CiphertextHeader, DERIVED_KEY_TOKEN_V1, FORMAT_V1, HEADER_LEN, KEY_REF_END, TAG_LEN,
};
use strongroom_hsm_proto::{HsmError, KeyRef};
use zeroize::Zeroizing;

/// What a blob is: its first byte and the label its message keys derive with.
#[derive(Clone, Copy)]
struct BlobKind {
    format: u8,
    kdf_label: &'static [u8],
}

const CIPHERTEXT: BlobKind = BlobKind {
    format: FORMAT_V1,
    kdf_label: b"strongroom ciphertext v1",
};

const DERIVED_KEY_TOKEN: BlobKind = BlobKind {
    format: DERIVED_KEY_TOKEN_V1,
    kdf_label: b"strongroom derived key token v1",
};

/// The one-time AES-256-GCM key for one message: HKDF-SHA256 of the backing
/// key, salted with the message's random nonce, bound to the blob's kind,
/// key id and version.
fn message_key(
    kind: BlobKind,
    backing: &[u8; 32],
    header: &[u8],
    nonce: &[u8],
) -> Result<Aes256GcmKey, HsmError> {
    let k = hkdf_sha256(backing, nonce, &[kind.kdf_label, &header[..KEY_REF_END]])
        .map_err(|e| HsmError::Internal(e.to_string()))?;
    Ok(Aes256GcmKey::new(&k))
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(header.len() + context.len());
    a.extend_from_slice(header);
    a.extend_from_slice(context);
    a
}

/// Encrypts `plaintext` under `backing` (the key `key` names).
pub fn encrypt(
    backing: &[u8; 32],
    key: KeyRef,
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, HsmError> {
    seal(CIPHERTEXT, backing, key, plaintext, context)
}

/// Decrypts ciphertext `blob` (whose parsed header is `header`) under
/// `backing`.
pub fn decrypt(
    backing: &[u8; 32],
    header: &CiphertextHeader,
    blob: &[u8],
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    open(CIPHERTEXT, backing, header, blob, context)
}

/// Seals a derived key as a derived-key token under `backing`.
pub fn seal_derived_key_token(
    backing: &[u8; 32],
    key: KeyRef,
    derived: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, HsmError> {
    seal(DERIVED_KEY_TOKEN, backing, key, derived, context)
}

/// Opens derived-key token `blob` (whose header, parsed as a token, is
/// `header`) under `backing`.
pub fn open_derived_key_token(
    backing: &[u8; 32],
    header: &CiphertextHeader,
    blob: &[u8],
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    open(DERIVED_KEY_TOKEN, backing, header, blob, context)
}

fn seal(
    kind: BlobKind,
    backing: &[u8; 32],
    key: KeyRef,
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, HsmError> {
    let internal = |e: strongroom_crypto::CryptoError| HsmError::Internal(e.to_string());
    let iv = Iv::random().map_err(internal)?;
    let header = CiphertextHeader {
        key,
        kdf_nonce: random_array().map_err(internal)?,
        iv: iv.bytes(),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    header.write_as(kind.format, &mut out);
    let mk = message_key(kind, backing, &out, &header.kdf_nonce)?;
    let aad = aad(&out, context);
    mk.seal_append(iv, &aad, plaintext, &mut out)
        .map_err(internal)?;
    Ok(out)
}

fn open(
    kind: BlobKind,
    backing: &[u8; 32],
    header: &CiphertextHeader,
    blob: &[u8],
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    // The caller parsed the header; the first byte must still say this kind.
    if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != kind.format {
        return Err(HsmError::InvalidCiphertext);
    }
    let (head, body) = blob.split_at(HEADER_LEN);
    let mk = message_key(kind, backing, head, &header.kdf_nonce)?;
    let mut buf = Zeroizing::new(body.to_vec());
    let aad = aad(head, context);
    let n = mk
        .open_in_place(header.iv, &aad, &mut buf)
        .map_err(|_| HsmError::InvalidCiphertext)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_hsm_proto::context::canonical;
    use uuid::Uuid;

    fn setup() -> ([u8; 32], KeyRef, Vec<u8>, Vec<u8>) {
        let backing = [0x5a; 32];
        let key = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let ctx = canonical([("tenant", "acme"), ("purpose", "test")]);
        let blob = encrypt(&backing, key, b"attack at dawn", &ctx).unwrap();
        (backing, key, ctx, blob)
    }

    fn open(backing: &[u8; 32], blob: &[u8], ctx: &[u8]) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let h = CiphertextHeader::parse(blob).map_err(|_| HsmError::InvalidCiphertext)?;
        decrypt(backing, &h, blob, ctx)
    }

    #[test]
    fn round_trip_with_context_in_any_order() {
        let (backing, key, _, blob) = setup();
        let h = CiphertextHeader::parse(&blob).unwrap();
        assert_eq!(h.key, key);
        let ctx2 = canonical([("purpose", "test"), ("tenant", "acme")]);
        assert_eq!(
            &open(&backing, &blob, &ctx2).unwrap()[..],
            b"attack at dawn"
        );
    }

    #[test]
    fn every_tampering_fails() {
        let (backing, _, ctx, blob) = setup();
        // A flipped bit anywhere: header (version, key id, version, nonce, IV),
        // body or tag.
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            assert!(
                open(&backing, &t, &ctx).is_err(),
                "flip at byte {i} accepted"
            );
        }
        assert!(open(&backing, &blob, &canonical([("tenant", "acme")])).is_err());
        assert!(open(&backing, &blob, &canonical(std::iter::empty())).is_err());
        assert!(open(&backing, &blob[..blob.len() - 1], &ctx).is_err());
        assert!(open(&backing, &blob[..HEADER_LEN], &ctx).is_err());
        let mut longer = blob.clone();
        longer.push(0);
        assert!(open(&backing, &longer, &ctx).is_err());
        assert!(open(&[0x5b; 32], &blob, &ctx).is_err(), "other backing key");
    }

    #[test]
    fn a_derived_key_token_never_opens_as_a_ciphertext_even_relabelled() {
        let (backing, key, ctx, _) = setup();
        let token = seal_derived_key_token(&backing, key, &[7; 32], &ctx).unwrap();
        assert!(
            open(&backing, &token, &ctx).is_err(),
            "parsed as a ciphertext"
        );
        let h = CiphertextHeader::parse_derived_key_token(&token).unwrap();
        assert!(decrypt(&backing, &h, &token, &ctx).is_err());
        // First byte rewritten to the ciphertext's: another KDF label and
        // AAD, so the AEAD fails.
        let mut relabelled = token.clone();
        relabelled[0] = FORMAT_V1;
        assert!(open(&backing, &relabelled, &ctx).is_err());
        assert_eq!(
            &open_derived_key_token(&backing, &h, &token, &ctx).unwrap()[..],
            &[7; 32]
        );
        // And a ciphertext never opens as a token.
        let (_, _, _, blob) = setup();
        let hc = CiphertextHeader::parse(&blob).unwrap();
        assert!(open_derived_key_token(&backing, &hc, &blob, &ctx).is_err());
    }

    #[test]
    fn each_message_has_its_own_nonce_and_iv() {
        let (backing, key, ctx, a) = setup();
        let b = encrypt(&backing, key, b"attack at dawn", &ctx).unwrap();
        assert_ne!(a[21..65], b[21..65]);
        assert_ne!(a[65..], b[65..]);
    }
}
