//! The constraints of AWS KMS's service model (botocore's
//! `kms/2014-11-01/service-2.json`), named after its shapes. Enumerations
//! list every value AWS has, in the model's order, including those
//! Strongroom does not serve: a request naming one of those passes
//! validation and is refused by its operation with
//! UnsupportedOperationException.

/// A pattern of the model, with a matcher for it (the model's patterns are
/// all one character class, so no regular-expression engine is needed).
#[derive(Debug)]
pub struct Pattern {
    /// The pattern as AWS prints it.
    pub text: &'static str,
    /// Whether each character may appear.
    allowed: fn(char) -> bool,
    /// Whether the empty string matches (`*` rather than `+`).
    empty: bool,
}

impl Pattern {
    /// Whether `s` matches the whole pattern.
    pub fn matches(&self, s: &str) -> bool {
        (self.empty || !s.is_empty()) && s.chars().all(self.allowed)
    }
}

/// A string shape.
#[derive(Debug)]
pub struct Str {
    /// Fewest characters.
    pub min: usize,
    /// Most characters.
    pub max: usize,
    /// The pattern, if the model has one.
    pub pattern: Option<Pattern>,
}

/// A blob shape (lengths in bytes).
#[derive(Debug)]
pub struct Blob {
    /// Fewest bytes.
    pub min: usize,
    /// Most bytes.
    pub max: usize,
}

/// An integer shape.
#[derive(Debug)]
pub struct Int {
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
}

const fn plain(min: usize, max: usize) -> Str {
    Str {
        min,
        max,
        pattern: None,
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-')
}

/// `\w` in Java's sense (ASCII letters, digits, underscore).
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn principal_char(c: char) -> bool {
    word_char(c) || matches!(c, '+' | '=' | ',' | '.' | '@' | ':' | '/' | '-')
}

fn latin1_printable(c: char) -> bool {
    ('\u{20}'..='\u{FF}').contains(&c)
}

fn policy_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || latin1_printable(c)
}

/// `KeyIdType`.
pub const KEY_ID: Str = plain(1, 2048);
/// `RegionType` (ReplicateKey's ReplicaRegion, UpdatePrimaryRegion's
/// PrimaryRegion). Its pattern has a structure a character class does not
/// express: `Validator::region` checks it whole ([`region_shaped`]).
pub const REGION: Str = Str {
    min: 1,
    max: 32,
    pattern: Some(Pattern {
        text: "^([a-z]+-){2,3}\\d+$",
        allowed: region_char,
        empty: false,
    }),
};

fn region_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// Whether `s` matches `^([a-z]+-){2,3}\d+$`: two or three words of
/// lowercase letters, each followed by `-`, then digits.
pub fn region_shaped(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// `AliasNameType`.
pub const ALIAS_NAME: Str = Str {
    min: 1,
    max: 256,
    pattern: Some(Pattern {
        text: "^[a-zA-Z0-9:/_-]+$",
        allowed: name_char,
        empty: false,
    }),
};
/// `GrantNameType`.
pub const GRANT_NAME: Str = Str {
    min: 1,
    max: 256,
    pattern: Some(Pattern {
        text: "^[a-zA-Z0-9:/_-]+$",
        allowed: name_char,
        empty: false,
    }),
};
/// `PrincipalIdType`.
pub const PRINCIPAL_ID: Str = Str {
    min: 1,
    max: 256,
    pattern: Some(Pattern {
        text: "^[\\w+=,.@:/-]+$",
        allowed: principal_char,
        empty: false,
    }),
};
/// `MarkerType`.
pub const MARKER: Str = Str {
    min: 1,
    max: 1024,
    pattern: Some(Pattern {
        text: "[\\u0020-\\u00FF]*",
        allowed: latin1_printable,
        empty: true,
    }),
};
/// `PolicyType`.
pub const POLICY: Str = Str {
    min: 1,
    max: 131072,
    pattern: Some(Pattern {
        text: "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        allowed: policy_char,
        empty: false,
    }),
};
/// `PolicyNameType`.
pub const POLICY_NAME: Str = Str {
    min: 1,
    max: 128,
    pattern: Some(Pattern {
        text: "[\\w]+",
        allowed: word_char,
        empty: false,
    }),
};
/// `DescriptionType`.
pub const DESCRIPTION: Str = plain(0, 8192);
/// `GrantTokenType`.
pub const GRANT_TOKEN: Str = plain(1, 8192);
/// `GrantIdType`.
pub const GRANT_ID: Str = plain(1, 128);
/// `TagKeyType`.
pub const TAG_KEY: Str = plain(1, 128);
/// `TagValueType`.
pub const TAG_VALUE: Str = plain(0, 256);
/// `CustomKeyStoreIdType`.
pub const CUSTOM_KEY_STORE_ID: Str = plain(1, 64);
/// `XksKeyIdType` (its pattern is for custom key stores, which are refused anyway).
pub const XKS_KEY_ID: Str = plain(1, 128);

/// `GrantTokenList`: 0 to 10 tokens.
pub const GRANT_TOKEN_LIST: (usize, usize) = (0, 10);

/// `PlaintextType` (also Sign's and GenerateMac's `Message`).
pub const PLAINTEXT: Blob = Blob { min: 1, max: 4096 };
/// `CiphertextType` (also `Signature`, `Mac`, `ImportToken`, `EncryptedKeyMaterial`).
pub const CIPHERTEXT: Blob = Blob { min: 1, max: 6144 };
/// `PublicKeyType`.
pub const PUBLIC_KEY: Blob = Blob { min: 1, max: 8192 };

/// `NumberOfBytesType`.
pub const NUMBER_OF_BYTES: Int = Int { min: 1, max: 1024 };
/// `LimitType`.
pub const LIMIT: Int = Int { min: 1, max: 1000 };
/// `RotationPeriodInDaysType`.
pub const ROTATION_PERIOD_IN_DAYS: Int = Int { min: 90, max: 2560 };
/// `PendingWindowInDaysType` as AWS enforces it: the model says 1 to 365,
/// but the API reference and the service allow 7 to 30 days only.
pub const PENDING_WINDOW_IN_DAYS: Int = Int { min: 7, max: 30 };

/// `KeySpec`.
pub const KEY_SPEC: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];
/// `CustomerMasterKeySpec` (deprecated name of KeySpec).
pub const CUSTOMER_MASTER_KEY_SPEC: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
];
/// `KeyUsageType`.
pub const KEY_USAGE: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
/// `OriginType`.
pub const ORIGIN: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];
/// `EncryptionAlgorithmSpec`.
pub const ENCRYPTION_ALGORITHM: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];
/// `SigningAlgorithmSpec`.
pub const SIGNING_ALGORITHM: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];
/// `MessageType`.
pub const MESSAGE_TYPE: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];
/// `MacAlgorithmSpec`.
pub const MAC_ALGORITHM: &[&str] = &[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
];
/// `KeyAgreementAlgorithmSpec`.
pub const KEY_AGREEMENT_ALGORITHM: &[&str] = &["ECDH"];
/// `DataKeySpec`.
pub const DATA_KEY_SPEC: &[&str] = &["AES_256", "AES_128"];
/// `DataKeyPairSpec`.
pub const DATA_KEY_PAIR_SPEC: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];
/// `AlgorithmSpec` (import wrapping algorithms).
pub const WRAPPING_ALGORITHM: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
/// `WrappingKeySpec`.
pub const WRAPPING_KEY_SPEC: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
/// `ExpirationModelType`.
pub const EXPIRATION_MODEL: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];
/// `GrantOperation`.
pub const GRANT_OPERATION: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_the_model_means() {
        let alias = ALIAS_NAME.pattern.as_ref().unwrap();
        assert!(alias.matches("alias/app-1/x_y:z"));
        assert!(!alias.matches("alias/a b"));
        assert!(!alias.matches(""));
        let marker = MARKER.pattern.as_ref().unwrap();
        assert!(marker.matches("abc ÿ"));
        assert!(!marker.matches("\u{100}"));
        let policy_name = POLICY_NAME.pattern.as_ref().unwrap();
        assert!(policy_name.matches("default"));
        assert!(!policy_name.matches("de-fault"));
        let principal = PRINCIPAL_ID.pattern.as_ref().unwrap();
        assert!(principal.matches("arn:aws:iam::111122223333:role/a+b=c,d.e@f-g"));
        assert!(!principal.matches("a b"));
    }
}
