//! Customer asymmetric keys (AWS RSA, ECC and ML-DSA key specs):
//! generation, PKCS#8 round trips, signing and verification of raw
//! messages or digests, and RSA-OAEP. Private halves are used only inside
//! the module.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, KeyPair, PqdsaKeyPair, RsaKeyPair, UnparsedPublicKey,
};
use zeroize::Zeroizing;

use crate::{CryptoError, ml_dsa};

/// Asymmetric key specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsymmetricSpec {
    /// RSA 2048.
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
    /// ECDSA on NIST P-256.
    EccNistP256,
    /// ECDSA on NIST P-384.
    EccNistP384,
    /// ECDSA on NIST P-521.
    EccNistP521,
    /// ECDSA on secp256k1.
    EccSecgP256k1,
    /// Ed25519 (AWS `ECC_NIST_EDWARDS25519`).
    Ed25519,
    /// ML-DSA-44, FIPS 204 (AWS `ML_DSA_44`).
    MlDsa44,
    /// ML-DSA-65 (AWS `ML_DSA_65`).
    MlDsa65,
    /// ML-DSA-87 (AWS `ML_DSA_87`).
    MlDsa87,
}

/// Signature algorithms, by AWS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// `RSASSA_PSS_SHA_256`.
    RsaPssSha256,
    /// `RSASSA_PSS_SHA_384`.
    RsaPssSha384,
    /// `RSASSA_PSS_SHA_512`.
    RsaPssSha512,
    /// `RSASSA_PKCS1_V1_5_SHA_256`.
    RsaPkcs1Sha256,
    /// `RSASSA_PKCS1_V1_5_SHA_384`.
    RsaPkcs1Sha384,
    /// `RSASSA_PKCS1_V1_5_SHA_512`.
    RsaPkcs1Sha512,
    /// `ECDSA_SHA_256`.
    EcdsaSha256,
    /// `ECDSA_SHA_384`.
    EcdsaSha384,
    /// `ECDSA_SHA_512`.
    EcdsaSha512,
    /// `ED25519_SHA_512`: pure Ed25519 over the raw message.
    Ed25519Sha512,
    /// `ML_DSA_SHAKE_256`: pure ML-DSA (empty context) over the raw message.
    MlDsaShake256,
}

impl SigningAlgorithm {
    /// Every algorithm with its AWS name.
    pub const ALL: [(SigningAlgorithm, &'static str); 11] = [
        (Self::RsaPssSha256, "RSASSA_PSS_SHA_256"),
        (Self::RsaPssSha384, "RSASSA_PSS_SHA_384"),
        (Self::RsaPssSha512, "RSASSA_PSS_SHA_512"),
        (Self::RsaPkcs1Sha256, "RSASSA_PKCS1_V1_5_SHA_256"),
        (Self::RsaPkcs1Sha384, "RSASSA_PKCS1_V1_5_SHA_384"),
        (Self::RsaPkcs1Sha512, "RSASSA_PKCS1_V1_5_SHA_512"),
        (Self::EcdsaSha256, "ECDSA_SHA_256"),
        (Self::EcdsaSha384, "ECDSA_SHA_384"),
        (Self::EcdsaSha512, "ECDSA_SHA_512"),
        (Self::Ed25519Sha512, "ED25519_SHA_512"),
        (Self::MlDsaShake256, "ML_DSA_SHAKE_256"),
    ];

    /// The algorithm with this AWS name.
    pub fn from_aws(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(a, _)| *a)
    }

    /// The AWS name.
    pub fn aws_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .unwrap_or("")
    }

    /// Whether the algorithm can sign a digest (`MessageType` DIGEST):
    /// RSA and ECDSA; pure Ed25519 and ML-DSA sign the message itself.
    pub fn takes_digest(self) -> bool {
        !matches!(self, Self::Ed25519Sha512 | Self::MlDsaShake256)
    }

    /// The digest length in bytes, for algorithms that hash with SHA-2.
    pub fn digest_len(self) -> Option<usize> {
        self.digest().map(|d| d.output_len())
    }

    /// The SHA-2 digest the algorithm signs (none for ML-DSA).
    pub(crate) fn digest(self) -> Option<&'static digest::Algorithm> {
        use SigningAlgorithm::*;
        match self {
            RsaPssSha256 | RsaPkcs1Sha256 | EcdsaSha256 => Some(&digest::SHA256),
            RsaPssSha384 | RsaPkcs1Sha384 | EcdsaSha384 => Some(&digest::SHA384),
            RsaPssSha512 | RsaPkcs1Sha512 | EcdsaSha512 | Ed25519Sha512 => Some(&digest::SHA512),
            MlDsaShake256 => None,
        }
    }

    /// The digest `input` stands for: the hash of a raw message, or the
    /// given digest when it has the algorithm's length.
    pub(crate) fn digest_of(self, input: SignInput<'_>) -> Result<Digest, CryptoError> {
        let alg = self.digest().ok_or(CryptoError::InvalidLength)?;
        match input {
            SignInput::Raw(m) => Ok(digest::digest(alg, m)),
            SignInput::Digest(d) => {
                Digest::import_less_safe(d, alg).map_err(|_| CryptoError::InvalidLength)
            }
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn signature::RsaEncoding> {
        use SigningAlgorithm::*;
        Some(match self {
            RsaPssSha256 => &signature::RSA_PSS_SHA256,
            RsaPssSha384 => &signature::RSA_PSS_SHA384,
            RsaPssSha512 => &signature::RSA_PSS_SHA512,
            RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
            RsaPkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
            RsaPkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
            _ => return None,
        })
    }

    pub(crate) fn rsa_verification(self) -> Option<&'static signature::RsaParameters> {
        use SigningAlgorithm::*;
        Some(match self {
            RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// RSA-OAEP variants, by AWS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    /// `RSAES_OAEP_SHA_1`.
    Sha1,
    /// `RSAES_OAEP_SHA_256`.
    Sha256,
}

impl OaepHash {
    /// The variant with this AWS name.
    pub fn from_aws(name: &str) -> Option<Self> {
        match name {
            "RSAES_OAEP_SHA_1" => Some(Self::Sha1),
            "RSAES_OAEP_SHA_256" => Some(Self::Sha256),
            _ => None,
        }
    }

    fn algorithm(self) -> &'static OaepAlgorithm {
        match self {
            OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
            OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// What is signed: the message itself, or its digest.
#[derive(Debug, Clone, Copy)]
pub enum SignInput<'a> {
    /// `MessageType` RAW.
    Raw(&'a [u8]),
    /// `MessageType` DIGEST: the digest of the algorithm's hash.
    Digest(&'a [u8]),
}

impl AsymmetricSpec {
    /// Whether the key is RSA.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// Whether the key is ML-DSA (FIPS 204).
    pub fn is_ml_dsa(self) -> bool {
        matches!(self, Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87)
    }

    /// Whether the key can do ECDH (`KEY_AGREEMENT`): the NIST curves.
    pub fn agrees_keys(self) -> bool {
        matches!(
            self,
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521
        )
    }

    /// The signing algorithms the spec supports.
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[
                RsaPssSha256,
                RsaPssSha384,
                RsaPssSha512,
                RsaPkcs1Sha256,
                RsaPkcs1Sha384,
                RsaPkcs1Sha512,
            ],
            Self::EccNistP256 | Self::EccSecgP256k1 => &[EcdsaSha256],
            Self::EccNistP384 => &[EcdsaSha384],
            Self::EccNistP521 => &[EcdsaSha512],
            Self::Ed25519 => &[Ed25519Sha512],
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => &[MlDsaShake256],
        }
    }

    fn ecdsa_signing(self) -> Option<&'static signature::EcdsaSigningAlgorithm> {
        Some(match self {
            Self::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            Self::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            Self::EccSecgP256k1 => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
            _ => return None,
        })
    }

    pub(crate) fn ecdsa_verification(
        self,
    ) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
        Some(match self {
            Self::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1,
            Self::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1,
            Self::EccSecgP256k1 => &signature::ECDSA_P256K1_SHA256_ASN1,
            _ => return None,
        })
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(signature::Ed25519KeyPair),
    MlDsa(PqdsaKeyPair),
}

/// A customer's asymmetric key pair. No `Clone`; `Debug` shows the spec.
pub struct AsymmetricKey {
    spec: AsymmetricSpec,
    pair: Pair,
    pkcs8: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
}

impl std::fmt::Debug for AsymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AsymmetricKey({:?}, <redacted>)", self.spec)
    }
}

pub(crate) fn check(spec: AsymmetricSpec, alg: SigningAlgorithm) -> Result<(), CryptoError> {
    if spec.signing_algorithms().contains(&alg) {
        Ok(())
    } else {
        Err(CryptoError::InvalidKey)
    }
}

impl AsymmetricKey {
    /// A fresh key. RSA-4096 generation takes about a second.
    pub fn generate(spec: AsymmetricSpec) -> Result<Self, CryptoError> {
        let pkcs8 = match spec {
            AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 | AsymmetricSpec::Rsa4096 => {
                let size = match spec {
                    AsymmetricSpec::Rsa2048 => KeySize::Rsa2048,
                    AsymmetricSpec::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let pair = RsaKeyPair::generate(size).map_err(|_| CryptoError::Random)?;
                let der = pair.as_der().map_err(|_| CryptoError::Random)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            AsymmetricSpec::Ed25519 => {
                let doc = signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| CryptoError::Random)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            _ if spec.is_ml_dsa() => ml_dsa::generate_pkcs8(spec)?,
            _ => {
                let alg = spec.ecdsa_signing().ok_or(CryptoError::InvalidKey)?;
                let doc = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new())
                    .map_err(|_| CryptoError::Random)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
        };
        Self::from_pkcs8(spec, &pkcs8)
    }

    /// Loads a PKCS#8 private key of `spec`.
    pub fn from_pkcs8(spec: AsymmetricSpec, der: &[u8]) -> Result<Self, CryptoError> {
        let (pair, public) = if spec.is_rsa() {
            let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| CryptoError::InvalidKey)?;
            let bits = pair.public_modulus_len() * 8;
            let want = match spec {
                AsymmetricSpec::Rsa2048 => 2048,
                AsymmetricSpec::Rsa3072 => 3072,
                _ => 4096,
            };
            if bits != want {
                return Err(CryptoError::InvalidKey);
            }
            let public = pair
                .public_key()
                .as_der()
                .map_err(|_| CryptoError::InvalidKey)?
                .as_ref()
                .to_vec();
            (Pair::Rsa(pair), public)
        } else if spec == AsymmetricSpec::Ed25519 {
            let pair =
                signature::Ed25519KeyPair::from_pkcs8(der).map_err(|_| CryptoError::InvalidKey)?;
            let public = pair
                .public_key()
                .as_der()
                .map_err(|_| CryptoError::InvalidKey)?
                .as_ref()
                .to_vec();
            (Pair::Ed(pair), public)
        } else if spec.is_ml_dsa() {
            let (pair, public) = ml_dsa::from_pkcs8(spec, der)?;
            (Pair::MlDsa(pair), public)
        } else {
            let alg = spec.ecdsa_signing().ok_or(CryptoError::InvalidKey)?;
            let pair = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| CryptoError::InvalidKey)?;
            let public = pair
                .public_key()
                .as_der()
                .map_err(|_| CryptoError::InvalidKey)?
                .as_ref()
                .to_vec();
            (Pair::Ec(pair), public)
        };
        Ok(Self {
            spec,
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            public,
        })
    }

    /// The spec.
    pub fn spec(&self) -> AsymmetricSpec {
        self.spec
    }

    /// The private key as PKCS#8 DER (to seal it, or for data key pairs).
    pub fn expose_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key, DER SubjectPublicKeyInfo.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Signs `input` with `alg` (which the spec must support).
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, CryptoError> {
        check(self.spec, alg)?;
        if !alg.takes_digest() {
            // Pure Ed25519 and ML-DSA sign the message itself, never a digest.
            let SignInput::Raw(m) = input else {
                return Err(CryptoError::InvalidLength);
            };
            return match &self.pair {
                Pair::Ed(pair) => Ok(pair.sign(m).as_ref().to_vec()),
                Pair::MlDsa(pair) => ml_dsa::sign(pair, m),
                _ => Err(CryptoError::InvalidKey),
            };
        }
        let digest = alg.digest_of(input)?;
        match &self.pair {
            Pair::Rsa(pair) => {
                let enc = alg.rsa_encoding().ok_or(CryptoError::InvalidKey)?;
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(enc, &digest, &mut sig)
                    .map_err(|_| CryptoError::InvalidKey)?;
                Ok(sig)
            }
            Pair::Ec(pair) => pair
                .sign_digest(&digest)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::InvalidKey),
            Pair::Ed(_) | Pair::MlDsa(_) => Err(CryptoError::InvalidKey),
        }
    }

    /// Whether `sig` is this key's signature over `input` with `alg`.
    pub fn verify(&self, alg: SigningAlgorithm, input: SignInput<'_>, sig: &[u8]) -> bool {
        verify_signature(self.spec, &self.public, alg, input, sig)
    }

    /// RSA-OAEP decryption.
    pub fn decrypt(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if !self.spec.is_rsa() {
            return Err(CryptoError::InvalidKey);
        }
        let key =
            PrivateDecryptingKey::from_pkcs8(&self.pkcs8).map_err(|_| CryptoError::InvalidKey)?;
        let key = OaepPrivateDecryptingKey::new(key).map_err(|_| CryptoError::InvalidKey)?;
        let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
        let n = key
            .decrypt(hash.algorithm(), ciphertext, &mut out, None)
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

impl AsymmetricKey {
    /// ECDH with `peer` (DER SubjectPublicKeyInfo on the same curve): the
    /// raw shared secret (the x-coordinate), as AWS DeriveSharedSecret
    /// returns it. NIST curves only.
    pub fn ecdh(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, ECDH_P521};
        let alg = match self.spec {
            AsymmetricSpec::EccNistP256 => &ECDH_P256,
            AsymmetricSpec::EccNistP384 => &ECDH_P384,
            AsymmetricSpec::EccNistP521 => &ECDH_P521,
            _ => return Err(CryptoError::InvalidKey),
        };
        let private = agreement::PrivateKey::from_private_key_der(alg, &self.pkcs8)
            .map_err(|_| CryptoError::InvalidKey)?;
        agreement::agree(
            &private,
            agreement::UnparsedPublicKey::new(alg, peer),
            CryptoError::InvalidKey,
            |z| Ok(Zeroizing::new(z.to_vec())),
        )
    }

    /// Unwraps RSA_AES_KEY_WRAP material (CKM_RSA_AES_KEY_WRAP): an
    /// RSA-OAEP-wrapped ephemeral AES key (one modulus long), then the
    /// material wrapped under it with AES Key Wrap with Padding (RFC 5649).
    pub fn unwrap_rsa_aes(
        &self,
        hash: OaepHash,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        use aws_lc_rs::key_wrap::{AES_128, AES_256, KeyEncryptionKey, KeyWrapPadded};
        let Pair::Rsa(pair) = &self.pair else {
            return Err(CryptoError::InvalidKey);
        };
        let n = pair.public_modulus_len();
        if blob.len() <= n {
            return Err(CryptoError::AuthenticationFailed);
        }
        let (wrapped_key, wrapped_material) = blob.split_at(n);
        let aes = self.decrypt(hash, wrapped_key)?;
        let cipher = match aes.len() {
            16 => &AES_128,
            32 => &AES_256,
            _ => return Err(CryptoError::AuthenticationFailed),
        };
        let kek =
            KeyEncryptionKey::new(cipher, &aes).map_err(|_| CryptoError::AuthenticationFailed)?;
        let mut out = Zeroizing::new(vec![0u8; wrapped_material.len()]);
        let len = kek
            .unwrap_with_padding(wrapped_material, &mut out)
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

/// Whether `sig` is a valid `alg` signature over `input` by the public key
/// `spki` of `spec`.
pub fn verify_signature(
    spec: AsymmetricSpec,
    spki: &[u8],
    alg: SigningAlgorithm,
    input: SignInput<'_>,
    sig: &[u8],
) -> bool {
    if check(spec, alg).is_err() {
        return false;
    }
    if spec == AsymmetricSpec::Ed25519 {
        // The SPKI of an Ed25519 key is a fixed 12-byte prefix and the key.
        let (SignInput::Raw(m), Some(raw)) =
            (input, spki.len().checked_sub(32).map(|i| &spki[i..]))
        else {
            return false;
        };
        return UnparsedPublicKey::new(&signature::ED25519, raw)
            .verify(m, sig)
            .is_ok();
    }
    if spec.is_ml_dsa() {
        let SignInput::Raw(m) = input else {
            return false;
        };
        return ml_dsa::verify(spec, spki, m, sig);
    }
    let Ok(digest) = alg.digest_of(input) else {
        return false;
    };
    let ok = if let Some(params) = alg.rsa_verification() {
        UnparsedPublicKey::new(params, spki).verify_digest(&digest, sig)
    } else if let Some(v) = spec.ecdsa_verification() {
        UnparsedPublicKey::new(v, spki).verify_digest(&digest, sig)
    } else {
        return false;
    };
    ok.is_ok()
}

/// RSA-OAEP encryption to the public key `spki`.
pub fn rsa_oaep_encrypt(
    spki: &[u8],
    hash: OaepHash,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = PublicEncryptingKey::from_der(spki).map_err(|_| CryptoError::InvalidKey)?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| CryptoError::InvalidKey)?;
    if plaintext.len() > key.max_plaintext_size(hash.algorithm()) {
        return Err(CryptoError::InvalidLength);
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(hash.algorithm(), plaintext, &mut out, None)
        .map_err(|_| CryptoError::InvalidKey)?
        .len();
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
#[path = "customer_keys_tests.rs"]
mod tests;
