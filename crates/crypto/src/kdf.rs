use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};

use crate::{CryptoError, SecretKey256};

struct Len(usize);
impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (RFC 5869) to a 256-bit key: extract with `salt`, expand with
/// the concatenation of `info` parts.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> Result<SecretKey256, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(ikm);
    let okm = prk
        .expand(info, Len(32))
        .map_err(|_| CryptoError::InvalidLength)?;
    let mut out = [0u8; 32];
    okm.fill(&mut out).map_err(|_| CryptoError::InvalidLength)?;
    let key = SecretKey256::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    Ok(key)
}

/// HKDF-SHA256 to `len` bytes (at most 255 × 32).
pub fn hkdf_sha256_bytes(
    ikm: &[u8],
    salt: &[u8],
    info: &[&[u8]],
    len: usize,
) -> Result<crate::SecretBytes, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(ikm);
    let okm = prk
        .expand(info, Len(len))
        .map_err(|_| CryptoError::InvalidLength)?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; len]);
    okm.fill(&mut out).map_err(|_| CryptoError::InvalidLength)?;
    Ok(crate::SecretBytes::new(out.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 test case 1, truncated to 32 bytes of OKM.
    #[test]
    fn deterministic_and_separated() {
        let k = [0x0b; 32];
        let a = hkdf_sha256(&k, b"salt", &[b"info"]).unwrap();
        let b = hkdf_sha256(&k, b"salt", &[b"in", b"fo"]).unwrap();
        let c = hkdf_sha256(&k, b"salt2", &[b"info"]).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
        let long = hkdf_sha256_bytes(&k, b"salt", &[b"info"], 64).unwrap();
        assert_eq!(
            &long.expose()[..32],
            a.expose(),
            "same stream, longer output"
        );
    }
}
