//! AES-256-GCM for the AWS KMS External Key Store proxy API (docs/xks.md,
//! docs/formats.md). Each message is sealed under its own key, derived
//! with HKDF-SHA256 from the version's backing key and a random nonce
//! carried in the `ciphertextMetadata`: no bound on messages per backing
//! key from random 96-bit IVs, and a message key used only here, never for
//! Strongroom's own ciphertexts. The additional data is the one the
//! specification defines, so the metadata (version and nonce) is
//! authenticated too.

use strongroom_crypto::{Aes256GcmKey, Iv, hkdf_sha256, random_array, sha256};
use strongroom_hsm_proto::xks::{
    IV_LEN, MAX_AAD, MAX_PLAINTEXT, TAG_LEN, XksMetadata, XksSealed, gcm_aad,
};
use strongroom_hsm_proto::{HsmError, KeyRef};
use zeroize::Zeroizing;

/// The HKDF label of XKS message keys.
const KDF_LABEL: &[u8] = b"strongroom xks aes-256-gcm v1";

fn internal(e: strongroom_crypto::CryptoError) -> HsmError {
    HsmError::Internal(e.to_string())
}

/// HKDF-SHA256(ikm = backing key, salt = nonce, info = label ‖ key id ‖
/// version BE).
fn message_key(backing: &[u8; 32], key: KeyRef, nonce: &[u8]) -> Result<Aes256GcmKey, HsmError> {
    let k = hkdf_sha256(
        backing,
        nonce,
        &[KDF_LABEL, key.key_id.as_bytes(), &key.version.to_be_bytes()],
    )
    .map_err(internal)?;
    Ok(Aes256GcmKey::new(&k))
}

fn check_sizes(data_len: usize, aad: &[u8]) -> Result<(), HsmError> {
    if data_len > MAX_PLAINTEXT || aad.len() > MAX_AAD {
        return Err(HsmError::InvalidRequest(format!(
            "XKS data is at most {MAX_PLAINTEXT} bytes and AAD at most {MAX_AAD}"
        )));
    }
    Ok(())
}

/// The ciphertext data integrity value: SHA-256 over AAD ‖ metadata ‖ IV ‖
/// ciphertext ‖ tag (the specification's appendix C).
pub fn cdiv(aad: &[u8], sealed: &XksSealed) -> [u8; 32] {
    let mut all = Vec::with_capacity(
        aad.len() + sealed.metadata.len() + IV_LEN + sealed.ciphertext.len() + TAG_LEN,
    );
    for part in [
        aad,
        &sealed.metadata,
        &sealed.iv,
        &sealed.ciphertext,
        &sealed.tag,
    ] {
        all.extend_from_slice(part);
    }
    sha256(&all)
}

/// Seals `plaintext` under version `key` of a backing key; with
/// `with_cdiv`, computes the integrity value from the sealed parts and
/// only then checks that they open to the plaintext (the order appendix C
/// asks for: a corruption after the check would otherwise go unnoticed).
pub fn seal(
    backing: &[u8; 32],
    key: KeyRef,
    plaintext: &[u8],
    aad: &[u8],
    with_cdiv: bool,
) -> Result<(XksSealed, Option<[u8; 32]>), HsmError> {
    check_sizes(plaintext.len(), aad)?;
    let metadata = XksMetadata {
        version: key.version,
        kdf_nonce: random_array().map_err(internal)?,
    }
    .to_bytes();
    let iv = Iv::random().map_err(internal)?;
    let iv_bytes = iv.bytes();
    let mk = message_key(backing, key, &metadata[5..])?;
    let gcm_aad =
        gcm_aad(aad, &metadata).ok_or_else(|| HsmError::InvalidRequest("AAD too long".into()))?;
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    mk.seal_append(iv, &gcm_aad, plaintext, &mut out)
        .map_err(internal)?;
    let tag = out.split_off(plaintext.len());
    let sealed = XksSealed {
        metadata,
        iv: iv_bytes.to_vec(),
        ciphertext: out,
        tag,
    };
    if !with_cdiv {
        return Ok((sealed, None));
    }
    let value = cdiv(aad, &sealed);
    let reopened = open(backing, key, &sealed, aad)?;
    if !strongroom_crypto::constant_time_eq(&reopened, plaintext) {
        return Err(HsmError::Internal(
            "an XKS message did not open to its plaintext".into(),
        ));
    }
    Ok((sealed, Some(value)))
}

/// Opens `sealed` under version `key` of a backing key. Anything that does
/// not authenticate (another version's or foreign metadata, a wrong IV
/// length, tampering, other AAD) is `InvalidCiphertext`.
pub fn open(
    backing: &[u8; 32],
    key: KeyRef,
    sealed: &XksSealed,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    check_sizes(sealed.ciphertext.len(), aad)?;
    let meta = XksMetadata::parse(&sealed.metadata).ok_or(HsmError::InvalidCiphertext)?;
    if meta.version != key.version || sealed.tag.len() != TAG_LEN {
        return Err(HsmError::InvalidCiphertext);
    }
    let iv: [u8; IV_LEN] = sealed
        .iv
        .as_slice()
        .try_into()
        .map_err(|_| HsmError::InvalidCiphertext)?;
    let mk = message_key(backing, key, &meta.kdf_nonce)?;
    let gcm_aad = gcm_aad(aad, &sealed.metadata).ok_or(HsmError::InvalidCiphertext)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(sealed.ciphertext.len() + TAG_LEN));
    buf.extend_from_slice(&sealed.ciphertext);
    buf.extend_from_slice(&sealed.tag);
    let n = mk
        .open_in_place(iv, &gcm_aad, &mut buf)
        .map_err(|_| HsmError::InvalidCiphertext)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(version: u32) -> KeyRef {
        KeyRef {
            key_id: Uuid::from_u128(0x1234),
            version,
        }
    }

    const BACKING: [u8; 32] = [0x42; 32];

    #[test]
    fn round_trip_with_and_without_aad_and_the_largest_sizes() {
        for (pt, aad) in [
            (b"hello".to_vec(), Vec::new()),
            (vec![7; MAX_PLAINTEXT], vec![9; MAX_AAD]),
            (Vec::new(), b"ctx".to_vec()),
        ] {
            let (s, c) = seal(&BACKING, key(1), &pt, &aad, false).unwrap();
            assert!(c.is_none());
            assert_eq!(s.iv.len(), 12);
            assert_eq!(s.tag.len(), 16);
            assert_eq!(s.ciphertext.len(), pt.len());
            assert_eq!(&open(&BACKING, key(1), &s, &aad).unwrap()[..], &pt[..]);
        }
    }

    #[test]
    fn cdiv_is_sha256_of_the_parts_in_the_specified_order() {
        let (s, c) = seal(&BACKING, key(3), b"data key", b"aad", true).unwrap();
        let mut all = b"aad".to_vec();
        all.extend_from_slice(&s.metadata);
        all.extend_from_slice(&s.iv);
        all.extend_from_slice(&s.ciphertext);
        all.extend_from_slice(&s.tag);
        assert_eq!(c, Some(sha256(&all)));
    }

    #[test]
    fn every_tampering_fails_as_invalid_ciphertext() {
        let (s, _) = seal(&BACKING, key(2), b"attack at dawn", b"aad", false).unwrap();
        type Tamper = Box<dyn Fn(&mut XksSealed)>;
        let flips: Vec<Tamper> = vec![
            Box::new(|s| s.tag[0] ^= 1),
            Box::new(|s| s.iv[11] ^= 1),
            Box::new(|s| s.ciphertext[0] ^= 1),
            Box::new(|s| s.metadata[19] ^= 1),
            Box::new(|s| s.metadata[4] ^= 1),
            Box::new(|s| s.iv.push(0)),
            Box::new(|s| {
                s.tag.pop();
            }),
            Box::new(|s| s.metadata.clear()),
        ];
        for (i, flip) in flips.iter().enumerate() {
            let mut t = s.clone();
            flip(&mut t);
            assert_eq!(
                open(&BACKING, key(2), &t, b"aad").unwrap_err(),
                HsmError::InvalidCiphertext,
                "tampering {i} accepted"
            );
        }
        for aad in [&b"aaD"[..], b"", b"aad\0"] {
            assert!(open(&BACKING, key(2), &s, aad).is_err());
        }
        assert!(open(&BACKING, key(1), &s, b"aad").is_err(), "other version");
        assert!(open(&[0x43; 32], key(2), &s, b"aad").is_err(), "other key");
        let other_id = KeyRef {
            key_id: Uuid::from_u128(0x9999),
            version: 2,
        };
        assert!(
            open(&BACKING, other_id, &s, b"aad").is_err(),
            "other key id"
        );
    }

    #[test]
    fn metadata_passed_as_aad_does_not_open() {
        // The specification's example of why lengths are in the AAD.
        let (s, _) = seal(&BACKING, key(1), b"x", b"", false).unwrap();
        let moved = XksSealed {
            metadata: Vec::new(),
            ..s.clone()
        };
        assert!(open(&BACKING, key(1), &moved, &s.metadata).is_err());
    }

    #[test]
    fn oversized_inputs_are_refused_before_any_crypto() {
        assert!(matches!(
            seal(&BACKING, key(1), &vec![0; MAX_PLAINTEXT + 1], b"", false),
            Err(HsmError::InvalidRequest(_))
        ));
        assert!(matches!(
            seal(&BACKING, key(1), b"x", &vec![0; MAX_AAD + 1], false),
            Err(HsmError::InvalidRequest(_))
        ));
    }

    #[test]
    fn each_message_has_its_own_nonce_and_iv() {
        let (a, _) = seal(&BACKING, key(1), b"same", b"", false).unwrap();
        let (b, _) = seal(&BACKING, key(1), b"same", b"", false).unwrap();
        assert_ne!(a.metadata, b.metadata);
        assert_ne!(a.iv, b.iv);
        assert_ne!(a.ciphertext, b.ciphertext);
    }
}
