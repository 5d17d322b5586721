//! P-384 identities: ECDSA signing keys (modules, hosts, operators) and
//! static ECDH agreement keys, with sealing of small secrets to a recipient's
//! agreement key (ephemeral ECDH P-384 → HKDF-SHA256 → AES-256-GCM).
//!
//! Public keys travel as DER `SubjectPublicKeyInfo`.

use aws_lc_rs::agreement::{self, ECDH_P384, UnparsedPublicKey as PeerKey};
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use zeroize::Zeroizing;

use crate::{Aes256GcmKey, CryptoError, IV_LEN, Iv, hkdf_sha256};

/// An ECDSA P-384 signing key. No `Clone`; `Debug` shows only the public key.
pub struct SigningKeyPair {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeyPair(public {})", short_hex(&self.public))
    }
}

impl SigningKeyPair {
    /// A fresh key.
    pub fn generate() -> Result<Self, CryptoError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| CryptoError::Random)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Loads a PKCS#8 (DER) private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, CryptoError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der)
            .map_err(|_| CryptoError::InvalidKey)?;
        let public = pair
            .public_key()
            .as_der()
            .map_err(|_| CryptoError::InvalidKey)?
            .as_ref()
            .to_vec();
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            public,
        })
    }

    /// The private key as PKCS#8 DER, to hand to TLS or write to a key file.
    pub fn expose_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key (DER SubjectPublicKeyInfo).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// An ASN.1 DER ECDSA P-384/SHA-384 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| CryptoError::Random)
    }
}

/// Whether `signature` is a valid ECDSA P-384/SHA-384 signature of
/// `message` by `public_key` (DER SubjectPublicKeyInfo or SEC1 point).
pub fn verify_p384(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, public_key)
        .verify(message, signature)
        .is_ok()
}

/// A static ECDH P-384 key for receiving sealed secrets. No `Clone`.
pub struct AgreementKeyPair {
    private: agreement::PrivateKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for AgreementKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgreementKeyPair(public {})", short_hex(&self.public))
    }
}

impl AgreementKeyPair {
    /// A fresh key.
    pub fn generate() -> Result<Self, CryptoError> {
        let private =
            agreement::PrivateKey::generate(&ECDH_P384).map_err(|_| CryptoError::Random)?;
        Self::from_private(private)
    }

    /// Loads a private scalar (48 bytes, big-endian).
    pub fn from_scalar(bytes: &[u8]) -> Result<Self, CryptoError> {
        let private = agreement::PrivateKey::from_private_key(&ECDH_P384, bytes)
            .map_err(|_| CryptoError::InvalidKey)?;
        Self::from_private(private)
    }

    fn from_private(private: agreement::PrivateKey) -> Result<Self, CryptoError> {
        let public = private
            .compute_public_key()
            .map_err(|_| CryptoError::InvalidKey)?
            .as_der()
            .map_err(|_| CryptoError::InvalidKey)?
            .as_ref()
            .to_vec();
        Ok(Self { private, public })
    }

    /// The private scalar, to write to an operator's key file.
    pub fn expose_scalar(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let bin: aws_lc_rs::encoding::EcPrivateKeyBin<'static> = self
            .private
            .as_be_bytes()
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Zeroizing::new(bin.as_ref().to_vec()))
    }

    /// The public key (DER SubjectPublicKeyInfo).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Opens a blob made by [`seal_to`] for this key with the same `label`.
    pub fn open(&self, label: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (eph_len, rest) = blob
            .split_first_chunk::<2>()
            .ok_or(CryptoError::AuthenticationFailed)?;
        let eph_len = usize::from(u16::from_be_bytes(*eph_len));
        if rest.len() < eph_len + IV_LEN + crate::AES_GCM_TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let (eph, rest) = rest.split_at(eph_len);
        let (iv, sealed) = rest.split_at(IV_LEN);
        let key = agreement::agree(
            &self.private,
            PeerKey::new(&ECDH_P384, eph),
            CryptoError::AuthenticationFailed,
            |z| derive_seal_key(z, label, eph, &self.public),
        )?;
        let mut body = Zeroizing::new(sealed.to_vec());
        let aad = seal_aad(label, eph, &self.public);
        let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::InvalidLength)?;
        let n = Aes256GcmKey::new(&key)
            .open_in_place(iv, &aad, &mut body)?
            .len();
        body.truncate(n);
        Ok(body)
    }
}

/// Seals `secret` so that only the holder of `recipient` (an agreement
/// public key, DER) can open it, bound to `label`.
pub fn seal_to(recipient: &[u8], label: &[u8], secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let eph = agreement::PrivateKey::generate(&ECDH_P384).map_err(|_| CryptoError::Random)?;
    let eph_pub = eph
        .compute_public_key()
        .map_err(|_| CryptoError::Random)?
        .as_der()
        .map_err(|_| CryptoError::Random)?
        .as_ref()
        .to_vec();
    let key = agreement::agree(
        &eph,
        PeerKey::new(&ECDH_P384, recipient),
        CryptoError::InvalidKey,
        |z| derive_seal_key(z, label, &eph_pub, recipient),
    )?;
    let eph_len = u16::try_from(eph_pub.len()).map_err(|_| CryptoError::InvalidLength)?;
    let mut out = Vec::with_capacity(2 + eph_pub.len() + IV_LEN + secret.len() + 16);
    out.extend_from_slice(&eph_len.to_be_bytes());
    out.extend_from_slice(&eph_pub);
    let iv = Iv::random()?;
    out.extend_from_slice(&iv.bytes());
    Aes256GcmKey::new(&key).seal_append(
        iv,
        &seal_aad(label, &eph_pub, recipient),
        secret,
        &mut out,
    )?;
    Ok(out)
}

fn derive_seal_key(
    shared: &[u8],
    label: &[u8],
    eph: &[u8],
    recipient: &[u8],
) -> Result<crate::SecretKey256, CryptoError> {
    hkdf_sha256(shared, b"strongroom seal-to v1", &[label, eph, recipient])
}

fn seal_aad(label: &[u8], eph: &[u8], recipient: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(label.len() + eph.len() + recipient.len() + 6);
    for part in [label, eph, recipient] {
        aad.extend_from_slice(&(part.len() as u16).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

fn short_hex(b: &[u8]) -> String {
    crate::sha256(b)[..8]
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reload() {
        let k = SigningKeyPair::generate().unwrap();
        let sig = k.sign(b"command").unwrap();
        assert!(verify_p384(k.public_key(), b"command", &sig));
        assert!(!verify_p384(k.public_key(), b"commanD", &sig));
        let other = SigningKeyPair::generate().unwrap();
        assert!(!verify_p384(other.public_key(), b"command", &sig));
        let again = SigningKeyPair::from_pkcs8(k.expose_pkcs8()).unwrap();
        assert_eq!(again.public_key(), k.public_key());
        assert!(!format!("{k:?}").contains("pkcs8"));
    }

    #[test]
    fn seal_to_opens_only_for_recipient_and_label() {
        let r = AgreementKeyPair::generate().unwrap();
        let blob = seal_to(r.public_key(), b"label", b"secret bytes").unwrap();
        assert_eq!(&r.open(b"label", &blob).unwrap()[..], b"secret bytes");
        assert!(r.open(b"other", &blob).is_err());
        let other = AgreementKeyPair::generate().unwrap();
        assert!(other.open(b"label", &blob).is_err());
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert!(r.open(b"label", &bad).is_err(), "bit flip at {i}");
        }
        assert!(r.open(b"label", &blob[..blob.len() - 1]).is_err());
        let reloaded = AgreementKeyPair::from_scalar(&r.expose_scalar().unwrap()).unwrap();
        assert_eq!(
            &reloaded.open(b"label", &blob).unwrap()[..],
            b"secret bytes"
        );
    }
}
