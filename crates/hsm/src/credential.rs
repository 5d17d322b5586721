//! Secret access keys sealed under the domain (format in docs/formats.md),
//! and SigV4 signing keys derived from them inside the module.
//!
//! ```text
//! 0   1   format version (0x01)
//! 1   4   domain key generation, big-endian
//! 5   12  AES-GCM IV
//! 17  n   sealed secret (UTF-8) and 16-byte tag
//! ```
//! AAD: "strongroom credential v1" || domain id || bytes 0..17 || access key id.

use strongroom_crypto::{Iv, sigv4_signing_key};
use strongroom_hsm_proto::{HsmError, SigV4Scope, SigningKey};
use zeroize::Zeroizing;

use crate::DomainKey;

const V1: u8 = 0x01;
const HEAD: usize = 17;
const LABEL: &[u8] = b"strongroom credential v1";

fn aad(domain: &DomainKey, head: &[u8], access_key_id: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(LABEL.len() + 16 + HEAD + access_key_id.len());
    a.extend_from_slice(LABEL);
    a.extend_from_slice(domain.id().as_bytes());
    a.extend_from_slice(head);
    a.extend_from_slice(access_key_id.as_bytes());
    a
}

/// Seals `secret` for `access_key_id`.
pub fn seal(domain: &DomainKey, access_key_id: &str, secret: &str) -> Result<Vec<u8>, HsmError> {
    if secret.is_empty() || secret.len() > 128 {
        return Err(HsmError::InvalidRequest(
            "secret access key must be 1-128 bytes".into(),
        ));
    }
    let iv = Iv::random().map_err(|e| HsmError::Internal(e.to_string()))?;
    let mut out = Vec::with_capacity(HEAD + secret.len() + 16);
    out.push(V1);
    out.extend_from_slice(&domain.generation().to_be_bytes());
    out.extend_from_slice(&iv.bytes());
    let aad = aad(domain, &out, access_key_id);
    domain
        .credential_wrap()
        .seal_append(iv, &aad, secret.as_bytes(), &mut out)
        .map_err(|e| HsmError::Internal(e.to_string()))?;
    Ok(out)
}

/// The domain-key generation a sealed credential names.
pub fn generation_of(sealed: &[u8]) -> Result<u32, HsmError> {
    if sealed.len() < HEAD + 16 || sealed[0] != V1 {
        return Err(HsmError::InvalidCredential);
    }
    Ok(u32::from_be_bytes(
        sealed[1..5]
            .try_into()
            .map_err(|_| HsmError::InvalidCredential)?,
    ))
}

/// Derives `kSigning` for `scope` from a sealed secret (SigV4's key chain).
pub fn derive_sigv4(
    domain: &DomainKey,
    access_key_id: &str,
    sealed: &[u8],
    scope: &SigV4Scope,
) -> Result<SigningKey, HsmError> {
    let secret = open(domain, access_key_id, sealed)?;
    let k_signing = sigv4_signing_key(&secret, &scope.date, &scope.region, &scope.service);
    Ok(SigningKey(k_signing))
}

/// Re-seals a sealed secret under `to` (a newer generation).
pub fn reseal(
    from: &DomainKey,
    to: &DomainKey,
    access_key_id: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, HsmError> {
    let secret = open(from, access_key_id, sealed)?;
    let text = std::str::from_utf8(&secret).map_err(|_| HsmError::InvalidCredential)?;
    seal(to, access_key_id, text)
}

fn open(
    domain: &DomainKey,
    access_key_id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    if sealed.len() < HEAD + 16
        || sealed[0] != V1
        || sealed[1..5] != domain.generation().to_be_bytes()
    {
        return Err(HsmError::InvalidCredential);
    }
    let iv: [u8; 12] = sealed[5..17].try_into().expect("12");
    let aad = aad(domain, &sealed[..HEAD], access_key_id);
    let mut buf = Zeroizing::new(sealed[HEAD..].to_vec());
    let n = domain
        .credential_wrap()
        .open_in_place(iv, &aad, &mut buf)
        .map_err(|_| HsmError::InvalidCredential)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_documented_signing_key() {
        // The derived key from AWS's SigV4 documentation example.
        let d = DomainKey::generate().unwrap();
        let sealed = seal(
            &d,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
        .unwrap();
        let scope = SigV4Scope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        let k = derive_sigv4(&d, "AKIDEXAMPLE", &sealed, &scope).unwrap();
        let hex: String = k.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn bound_to_access_key_and_domain() {
        let d = DomainKey::generate().unwrap();
        let sealed = seal(&d, "AKID1", "secret").unwrap();
        let scope = SigV4Scope {
            date: "20250101".into(),
            region: "r".into(),
            service: "kms".into(),
        };
        assert!(derive_sigv4(&d, "AKID2", &sealed, &scope).is_err());
        assert!(derive_sigv4(&DomainKey::generate().unwrap(), "AKID1", &sealed, &scope).is_err());
        let mut t = sealed.clone();
        *t.last_mut().unwrap() ^= 1;
        assert_eq!(
            derive_sigv4(&d, "AKID1", &t, &scope).unwrap_err(),
            HsmError::InvalidCredential
        );
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }
}
