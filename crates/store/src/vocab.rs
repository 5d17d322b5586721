//! AWS KMS's vocabulary as enums: `KeySpec`, `KeyUsage`, `Origin`,
//! `EncryptionAlgorithmSpec` and `MacAlgorithmSpec`, each with AWS's
//! spelling (`as_str`, `Display`, serde) and a parser that refuses every
//! other string with a typed error.
//!
//! They live in `strongroom-store` because the store persists three of
//! them in every key row and depends on no other crate of the workspace
//! (DESIGN.md): `server`, which parses requests into them, already
//! depends on the store, so the crate graph stays as it is. Signing
//! algorithms stay in `strongroom-crypto` (`SigningAlgorithm`): nothing
//! stores them, and only the crypto library gives them meaning.
//!
//! Each enum lists every value AWS's model has, in the model's order
//! (`server::validate::shapes` holds the same lists for AWS's messages; a
//! test there keeps them equal), including values Strongroom does not
//! serve: what is served is the server's business, not the vocabulary's.

use std::fmt;
use std::str::FromStr;

/// A string that is none of an enumeration's AWS values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} '{value}' is not one of AWS's values")]
pub struct UnknownValue {
    /// The enumeration (`KeySpec`, `KeyUsage`, ...).
    pub kind: &'static str,
    /// What was given (at most 64 characters of it).
    pub value: String,
}

impl UnknownValue {
    fn new(kind: &'static str, value: &str) -> Self {
        Self {
            kind,
            value: value.chars().take(64).collect(),
        }
    }
}

/// An enum whose variants are AWS names: the type, `ALL`, `as_str`,
/// `parse`, `FromStr`, `Display` and serde as AWS's spelling.
macro_rules! aws_enum {
    (
        $(#[$meta:meta])*
        $name:ident = $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $aws:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order of AWS's model.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// AWS's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $aws, )+
                }
            }

            /// The value AWS spells `s`; anything else is an [`UnknownValue`].
            pub fn parse(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $( $aws => Ok(Self::$variant), )+
                    _ => Err(UnknownValue::new($kind, s)),
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

aws_enum! {
    /// AWS `KeySpec`: what kind of key material a KMS key has.
    KeySpec = "KeySpec" {
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// ECC on NIST P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// ECC on NIST P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// ECC on NIST P-521.
        EccNistP521 = "ECC_NIST_P521",
        /// ECC on secp256k1.
        EccSecgP256k1 = "ECC_SECG_P256K1",
        /// A 256-bit AES key.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// HMAC with SHA-224.
        Hmac224 = "HMAC_224",
        /// HMAC with SHA-256.
        Hmac256 = "HMAC_256",
        /// HMAC with SHA-384.
        Hmac384 = "HMAC_384",
        /// HMAC with SHA-512.
        Hmac512 = "HMAC_512",
        /// SM2 (China Regions).
        Sm2 = "SM2",
        /// ML-DSA-44 (FIPS 204).
        MlDsa44 = "ML_DSA_44",
        /// ML-DSA-65.
        MlDsa65 = "ML_DSA_65",
        /// ML-DSA-87.
        MlDsa87 = "ML_DSA_87",
        /// Ed25519.
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        /// ML-KEM-512 (FIPS 203).
        MlKem512 = "ML_KEM_512",
        /// ML-KEM-768.
        MlKem768 = "ML_KEM_768",
        /// ML-KEM-1024.
        MlKem1024 = "ML_KEM_1024",
    }
}

aws_enum! {
    /// AWS `KeyUsageType`: the one kind of operation a KMS key is for.
    KeyUsage = "KeyUsage" {
        /// Sign and Verify.
        SignVerify = "SIGN_VERIFY",
        /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*.
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        /// GenerateMac and VerifyMac.
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        /// DeriveSharedSecret.
        KeyAgreement = "KEY_AGREEMENT",
        /// ML-KEM encapsulation.
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
}

aws_enum! {
    /// AWS `OriginType`: where a KMS key's material comes from.
    Origin = "Origin" {
        /// Generated by the service (here: by a security module).
        AwsKms = "AWS_KMS",
        /// Imported by the customer (ImportKeyMaterial).
        External = "EXTERNAL",
        /// An AWS CloudHSM custom key store.
        AwsCloudhsm = "AWS_CLOUDHSM",
        /// An external key store (XKS) custom key store.
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
}

aws_enum! {
    /// AWS `EncryptionAlgorithmSpec`.
    EncryptionAlgorithm = "EncryptionAlgorithm" {
        /// AES-256-GCM under a symmetric key.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// RSA-OAEP with SHA-1.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSA-OAEP with SHA-256.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// SM2 public-key encryption.
        Sm2Pke = "SM2PKE",
    }
}

aws_enum! {
    /// AWS `MacAlgorithmSpec`.
    MacAlgorithm = "MacAlgorithm" {
        /// HMAC-SHA-224.
        HmacSha224 = "HMAC_SHA_224",
        /// HMAC-SHA-256.
        HmacSha256 = "HMAC_SHA_256",
        /// HMAC-SHA-384.
        HmacSha384 = "HMAC_SHA_384",
        /// HMAC-SHA-512.
        HmacSha512 = "HMAC_SHA_512",
    }
}

impl KeySpec {
    /// RSA, ECC, SM2, ML-DSA or ML-KEM: a key pair.
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, Self::SymmetricDefault) && !self.is_hmac()
    }

    /// An HMAC key.
    pub fn is_hmac(self) -> bool {
        self.mac_algorithm().is_some()
    }

    /// An RSA key pair.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// The one MAC algorithm of an HMAC key.
    pub fn mac_algorithm(self) -> Option<MacAlgorithm> {
        Some(match self {
            Self::Hmac224 => MacAlgorithm::HmacSha224,
            Self::Hmac256 => MacAlgorithm::HmacSha256,
            Self::Hmac384 => MacAlgorithm::HmacSha384,
            Self::Hmac512 => MacAlgorithm::HmacSha512,
            _ => return None,
        })
    }

    /// The key usages AWS allows with the spec.
    pub fn usages_allowed(self) -> &'static [KeyUsage] {
        use KeyUsage::*;
        match self {
            Self::SymmetricDefault => &[EncryptDecrypt],
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512 => &[GenerateVerifyMac],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[EncryptDecrypt, SignVerify],
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => {
                &[SignVerify, KeyAgreement]
            }
            Self::EccSecgP256k1 | Self::EccNistEdwards25519 => &[SignVerify],
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => &[SignVerify],
            Self::Sm2 => &[EncryptDecrypt, SignVerify, KeyAgreement],
            Self::MlKem512 | Self::MlKem768 | Self::MlKem1024 => &[EncapsulateDecapsulate],
        }
    }

    /// The usage a CreateKey without `KeyUsage` gets: ENCRYPT_DECRYPT for
    /// SYMMETRIC_DEFAULT; every other spec must name its usage.
    pub fn default_usage(self) -> Option<KeyUsage> {
        (self == Self::SymmetricDefault).then_some(KeyUsage::EncryptDecrypt)
    }

    /// The `EncryptionAlgorithms` a key of this spec and `usage` offers.
    pub fn encryption_algorithms(self, usage: KeyUsage) -> &'static [EncryptionAlgorithm] {
        use EncryptionAlgorithm::*;
        match (self, usage) {
            (Self::SymmetricDefault, KeyUsage::EncryptDecrypt) => &[SymmetricDefault],
            (s, KeyUsage::EncryptDecrypt) if s.is_rsa() => &[RsaesOaepSha1, RsaesOaepSha256],
            (Self::Sm2, KeyUsage::EncryptDecrypt) => &[Sm2Pke],
            _ => &[],
        }
    }
}

impl Origin {
    /// A custom key store (AWS_CLOUDHSM, EXTERNAL_KEY_STORE).
    pub fn is_custom_key_store(self) -> bool {
        matches!(self, Self::AwsCloudhsm | Self::ExternalKeyStore)
    }
}

impl EncryptionAlgorithm {
    /// RSA-OAEP (either hash).
    pub fn is_rsa_oaep(self) -> bool {
        matches!(self, Self::RsaesOaepSha1 | Self::RsaesOaepSha256)
    }
}

#[cfg(test)]
mod tests;
