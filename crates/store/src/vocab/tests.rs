//! Every AWS spelling round-trips; anything else is refused.

use super::*;

/// Every name, parsed back, is the same value; as_str, Display and serde agree.
fn round_trips<T>(
    all: &[T],
    parse: fn(&str) -> Result<T, UnknownValue>,
    name: fn(T) -> &'static str,
) where
    T: Copy
        + PartialEq
        + fmt::Debug
        + fmt::Display
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    for &v in all {
        let s = name(v);
        assert_eq!(parse(s), Ok(v), "{s}");
        assert_eq!(v.to_string(), s);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
    }
    let names: std::collections::HashSet<_> = all.iter().map(|&v| name(v)).collect();
    assert_eq!(names.len(), all.len(), "two values share a name");
}

#[test]
fn every_aws_spelling_round_trips() {
    round_trips(KeySpec::ALL, KeySpec::parse, KeySpec::as_str);
    round_trips(KeyUsage::ALL, KeyUsage::parse, KeyUsage::as_str);
    round_trips(Origin::ALL, Origin::parse, Origin::as_str);
    round_trips(
        EncryptionAlgorithm::ALL,
        EncryptionAlgorithm::parse,
        EncryptionAlgorithm::as_str,
    );
    round_trips(MacAlgorithm::ALL, MacAlgorithm::parse, MacAlgorithm::as_str);
    assert_eq!(KeySpec::ALL.len(), 20);
    assert_eq!(KeyUsage::ALL.len(), 5);
    assert_eq!(Origin::ALL.len(), 4);
}

#[test]
fn unknown_spellings_are_refused() {
    for bad in [
        "",
        "symmetric_default",
        "SYMMETRIC_DEFAULT ",
        "AES_256",
        "RSA_1024",
        "\u{0}",
    ] {
        let e = KeySpec::parse(bad).unwrap_err();
        assert_eq!(e.kind, "KeySpec");
        assert_eq!(e.value, bad);
    }
    assert!("sign_verify".parse::<KeyUsage>().is_err());
    assert!(Origin::parse("AWS-KMS").is_err());
    assert!(EncryptionAlgorithm::parse("RSAES_OAEP_SHA_512").is_err());
    assert!(MacAlgorithm::parse("HMAC_256").is_err());
    assert!(serde_json::from_str::<KeySpec>("\"HMAC_128\"").is_err());
    assert!(serde_json::from_str::<KeySpec>("7").is_err());
    // A long value is cut in the error, never copied whole.
    let long = "X".repeat(10_000);
    assert_eq!(KeySpec::parse(&long).unwrap_err().value.len(), 64);
}

#[test]
fn specs_answer_the_questions_the_server_asks() {
    assert!(!KeySpec::SymmetricDefault.is_asymmetric());
    assert!(!KeySpec::Hmac384.is_asymmetric());
    assert!(KeySpec::Hmac384.is_hmac());
    assert!(KeySpec::EccNistEdwards25519.is_asymmetric());
    assert!(KeySpec::Rsa4096.is_rsa() && !KeySpec::EccNistP256.is_rsa());
    assert_eq!(
        KeySpec::Hmac224.mac_algorithm(),
        Some(MacAlgorithm::HmacSha224)
    );
    assert_eq!(KeySpec::Rsa2048.mac_algorithm(), None);
    assert_eq!(
        KeySpec::SymmetricDefault.default_usage(),
        Some(KeyUsage::EncryptDecrypt)
    );
    assert_eq!(KeySpec::Hmac256.default_usage(), None);
    assert!(
        KeySpec::EccNistP384
            .usages_allowed()
            .contains(&KeyUsage::KeyAgreement)
    );
    assert!(
        !KeySpec::EccSecgP256k1
            .usages_allowed()
            .contains(&KeyUsage::KeyAgreement)
    );
    assert!(
        !KeySpec::EccNistP256
            .usages_allowed()
            .contains(&KeyUsage::EncryptDecrypt)
    );
    for spec in KeySpec::ALL {
        assert!(!spec.usages_allowed().is_empty(), "{spec}");
        if let Some(u) = spec.default_usage() {
            assert!(spec.usages_allowed().contains(&u));
        }
        for &u in spec.usages_allowed() {
            // Only encryption usages have encryption algorithms.
            let algs = spec.encryption_algorithms(u);
            assert_eq!(
                u == KeyUsage::EncryptDecrypt,
                !algs.is_empty(),
                "{spec} {u}"
            );
        }
    }
    assert_eq!(
        KeySpec::Rsa3072.encryption_algorithms(KeyUsage::SignVerify),
        &[] as &[EncryptionAlgorithm]
    );
    assert!(
        Origin::ExternalKeyStore.is_custom_key_store() && !Origin::External.is_custom_key_store()
    );
    assert!(EncryptionAlgorithm::RsaesOaepSha1.is_rsa_oaep());
    assert!(!EncryptionAlgorithm::SymmetricDefault.is_rsa_oaep());
}
