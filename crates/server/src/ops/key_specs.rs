//! The typed vocabulary (`strongroom_store::vocab`) meets the module's:
//! which KeySpecs a module serves and under which `KeySpecCode`, and
//! CreateKey's pairing of a spec with a usage.

use strongroom_crypto::AsymmetricSpec;
use strongroom_hsm_proto::KeySpecCode;
use strongroom_store::{KeySpec, KeyUsage};

use crate::error::KmsError;

/// The module's code for a KeySpec it serves; `None` for specs AWS has
/// and Strongroom does not serve (SM2, ML-KEM).
pub(crate) fn module_spec(spec: KeySpec) -> Option<KeySpecCode> {
    use KeySpecCode as C;
    Some(match spec {
        KeySpec::SymmetricDefault => C::SymmetricDefault,
        KeySpec::Hmac224 => C::Hmac224,
        KeySpec::Hmac256 => C::Hmac256,
        KeySpec::Hmac384 => C::Hmac384,
        KeySpec::Hmac512 => C::Hmac512,
        KeySpec::Rsa2048 => C::Rsa2048,
        KeySpec::Rsa3072 => C::Rsa3072,
        KeySpec::Rsa4096 => C::Rsa4096,
        KeySpec::EccNistP256 => C::EccNistP256,
        KeySpec::EccNistP384 => C::EccNistP384,
        KeySpec::EccNistP521 => C::EccNistP521,
        KeySpec::EccSecgP256k1 => C::EccSecgP256k1,
        KeySpec::EccNistEdwards25519 => C::EccEd25519,
        KeySpec::MlDsa44 => C::MlDsa44,
        KeySpec::MlDsa65 => C::MlDsa65,
        KeySpec::MlDsa87 => C::MlDsa87,
        KeySpec::Sm2 | KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => return None,
    })
}

/// The crypto library's spec of a served asymmetric KeySpec.
pub(crate) fn asymmetric_spec(spec: KeySpec) -> Option<AsymmetricSpec> {
    module_spec(spec)?.asymmetric()
}

/// The module's spec code and the key usage for a CreateKey request: AWS's
/// pairing rules, and UnsupportedOperation for what is not served.
pub(crate) fn spec_and_usage(
    spec: KeySpec,
    usage: Option<KeyUsage>,
) -> Result<(KeySpecCode, KeyUsage), KmsError> {
    if usage == Some(KeyUsage::EncapsulateDecapsulate) {
        return Err(KmsError::UnsupportedOperation(
            "KeyUsage ENCAPSULATE_DECAPSULATE is not supported; supported: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT.".into(),
        ));
    }
    let Some(code) = module_spec(spec) else {
        let served: Vec<&str> = KeySpec::ALL
            .iter()
            .filter(|s| module_spec(**s).is_some())
            .map(|s| s.as_str())
            .collect();
        return Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {spec} is not supported; supported: {}.",
            served.join(", ")
        )));
    };
    match usage.or(spec.default_usage()) {
        Some(u) if spec.usages_allowed().contains(&u) => Ok((code, u)),
        Some(u) => Err(KmsError::Validation(format!(
            "KeyUsage {u} is not compatible with KeySpec {spec}."
        ))),
        None if spec.is_hmac() => Err(KmsError::Validation(format!(
            "KeyUsage GENERATE_VERIFY_MAC is required for KeySpec {spec}."
        ))),
        None => Err(KmsError::Validation(format!(
            "KeyUsage is required for KeySpec {spec}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::shapes;

    fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
        all.iter().map(|v| name(*v)).collect()
    }

    #[test]
    fn the_vocabulary_is_the_models_enumerations() {
        use strongroom_store::{EncryptionAlgorithm, MacAlgorithm, Origin};
        assert_eq!(names(KeySpec::ALL, KeySpec::as_str), shapes::KEY_SPEC);
        assert_eq!(names(KeyUsage::ALL, KeyUsage::as_str), shapes::KEY_USAGE);
        assert_eq!(names(Origin::ALL, Origin::as_str), shapes::ORIGIN);
        assert_eq!(
            names(EncryptionAlgorithm::ALL, EncryptionAlgorithm::as_str),
            shapes::ENCRYPTION_ALGORITHM
        );
        assert_eq!(
            names(MacAlgorithm::ALL, MacAlgorithm::as_str),
            shapes::MAC_ALGORITHM
        );
        for name in shapes::CUSTOMER_MASTER_KEY_SPEC {
            assert!(KeySpec::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn module_codes_agree_with_the_modules_own_names() {
        for &spec in KeySpec::ALL {
            assert_eq!(
                module_spec(spec),
                KeySpecCode::from_aws(spec.as_str()),
                "{spec}"
            );
            // The crypto library and the vocabulary agree on which are key pairs.
            if let Some(code) = module_spec(spec) {
                assert_eq!(code.asymmetric().is_some(), spec.is_asymmetric(), "{spec}");
                if let Some(a) = code.asymmetric() {
                    assert_eq!(a.is_rsa(), spec.is_rsa(), "{spec}");
                    assert_eq!(
                        a.agrees_keys(),
                        spec.usages_allowed().contains(&KeyUsage::KeyAgreement),
                        "{spec}"
                    );
                }
            }
        }
    }

    #[test]
    fn specs_pair_with_the_usages_aws_allows() {
        use KeyUsage::*;
        let ok = |s, u| spec_and_usage(s, u).map(|(_, u)| u).ok();
        assert_eq!(ok(KeySpec::SymmetricDefault, None), Some(EncryptDecrypt));
        assert_eq!(
            ok(KeySpec::Hmac256, Some(GenerateVerifyMac)),
            Some(GenerateVerifyMac)
        );
        assert_eq!(
            ok(KeySpec::Rsa2048, Some(EncryptDecrypt)),
            Some(EncryptDecrypt)
        );
        assert_eq!(
            ok(KeySpec::EccNistP256, Some(KeyAgreement)),
            Some(KeyAgreement)
        );
        assert_eq!(ok(KeySpec::EccSecgP256k1, Some(KeyAgreement)), None);
        assert_eq!(ok(KeySpec::SymmetricDefault, Some(SignVerify)), None);
        let msg = |s, u| spec_and_usage(s, u).unwrap_err().to_string();
        assert!(msg(KeySpec::Hmac384, None).contains("KeyUsage GENERATE_VERIFY_MAC is required"));
        assert!(msg(KeySpec::MlDsa44, None).contains("KeyUsage is required for KeySpec ML_DSA_44"));
        assert!(msg(KeySpec::Sm2, Some(SignVerify)).contains("KeySpec SM2 is not supported"));
        assert!(
            msg(KeySpec::SymmetricDefault, Some(EncapsulateDecapsulate))
                .contains("ENCAPSULATE_DECAPSULATE is not supported")
        );
    }
}
