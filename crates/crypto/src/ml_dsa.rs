//! ML-DSA (FIPS 204) customer signing keys, AWS `ML_DSA_44/65/87` with
//! `ML_DSA_SHAKE_256`: pure ML-DSA with an empty context string over the
//! message itself. aws-lc-rs offers neither HashML-DSA nor signing an
//! externally computed mu (AWS `MessageType` `EXTERNAL_MU`), so neither is
//! here.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self, KeyPair, PqdsaKeyPair, PqdsaSigningAlgorithm, PqdsaVerificationAlgorithm,
    UnparsedPublicKey,
};
use zeroize::Zeroizing;

use crate::{AsymmetricSpec, CryptoError};

/// The aws-lc-rs signing algorithm of an ML-DSA spec.
pub(crate) fn signing(spec: AsymmetricSpec) -> Option<&'static PqdsaSigningAlgorithm> {
    Some(match spec {
        AsymmetricSpec::MlDsa44 => &signature::ML_DSA_44_SIGNING,
        AsymmetricSpec::MlDsa65 => &signature::ML_DSA_65_SIGNING,
        AsymmetricSpec::MlDsa87 => &signature::ML_DSA_87_SIGNING,
        _ => return None,
    })
}

/// The aws-lc-rs verification algorithm of an ML-DSA spec.
pub(crate) fn verification(spec: AsymmetricSpec) -> Option<&'static PqdsaVerificationAlgorithm> {
    Some(match spec {
        AsymmetricSpec::MlDsa44 => &signature::ML_DSA_44,
        AsymmetricSpec::MlDsa65 => &signature::ML_DSA_65,
        AsymmetricSpec::MlDsa87 => &signature::ML_DSA_87,
        _ => return None,
    })
}

/// A fresh key pair of `spec` as PKCS#8 v1 DER (the 32-byte seed form).
pub(crate) fn generate_pkcs8(spec: AsymmetricSpec) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let alg = signing(spec).ok_or(CryptoError::InvalidKey)?;
    let pair = PqdsaKeyPair::generate(alg).map_err(|_| CryptoError::Random)?;
    let doc = pair.to_pkcs8v1().map_err(|_| CryptoError::Random)?;
    Ok(Zeroizing::new(doc.as_ref().to_vec()))
}

/// Parses a PKCS#8 private key of `spec` (seed or expanded form, as
/// aws-lc-rs accepts); returns the pair and its DER SubjectPublicKeyInfo.
pub(crate) fn from_pkcs8(
    spec: AsymmetricSpec,
    der: &[u8],
) -> Result<(PqdsaKeyPair, Vec<u8>), CryptoError> {
    let alg = signing(spec).ok_or(CryptoError::InvalidKey)?;
    let pair = PqdsaKeyPair::from_pkcs8(alg, der).map_err(|_| CryptoError::InvalidKey)?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| CryptoError::InvalidKey)?
        .as_ref()
        .to_vec();
    Ok((pair, public))
}

/// Signs `message` (pure ML-DSA, empty context).
pub(crate) fn sign(pair: &PqdsaKeyPair, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut sig = vec![0u8; pair.algorithm().signature_len()];
    let n = pair
        .sign(message, &mut sig)
        .map_err(|_| CryptoError::InvalidKey)?;
    sig.truncate(n);
    Ok(sig)
}

/// Whether `sig` is `spec`'s signature over `message` by the public key
/// `spki` (DER SubjectPublicKeyInfo).
pub(crate) fn verify(spec: AsymmetricSpec, spki: &[u8], message: &[u8], sig: &[u8]) -> bool {
    verification(spec).is_some_and(|alg| {
        UnparsedPublicKey::new(alg, spki)
            .verify(message, sig)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use crate::{AsymmetricKey, AsymmetricSpec, SignInput, SigningAlgorithm, verify_signature};

    const ALG: SigningAlgorithm = SigningAlgorithm::MlDsaShake256;

    /// (spec, OID last byte of id-ml-dsa-*, public key, signature length).
    const SPECS: [(AsymmetricSpec, u8, usize, usize); 3] = [
        (AsymmetricSpec::MlDsa44, 0x11, 1312, 2420),
        (AsymmetricSpec::MlDsa65, 0x12, 1952, 3309),
        (AsymmetricSpec::MlDsa87, 0x13, 2592, 4627),
    ];

    #[test]
    fn each_spec_signs_raw_and_round_trips_pkcs8() {
        for (spec, oid, public_len, sig_len) in SPECS {
            let k = AsymmetricKey::generate(spec).unwrap();
            assert_eq!(spec.signing_algorithms(), &[ALG]);
            // SPKI: SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.3.x }, BIT STRING }.
            let spki = k.public_key();
            assert_eq!(spki.len(), public_len + 22, "{spec:?}");
            let oid = [
                0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, oid,
            ];
            assert_eq!(&spki[4..6], &[0x30, 0x0b]);
            assert_eq!(&spki[6..17], &oid, "{spec:?}");
            let again = AsymmetricKey::from_pkcs8(spec, k.expose_pkcs8()).unwrap();
            assert_eq!(again.public_key(), spki);
            let sig = k.sign(ALG, SignInput::Raw(b"message")).unwrap();
            assert_eq!(sig.len(), sig_len);
            assert!(verify_signature(
                spec,
                spki,
                ALG,
                SignInput::Raw(b"message"),
                &sig
            ));
            assert!(again.verify(ALG, SignInput::Raw(b"message"), &sig));
            assert!(!k.verify(ALG, SignInput::Raw(b"messagE"), &sig));
            let mut tampered = sig.clone();
            tampered[100] ^= 1;
            assert!(!k.verify(ALG, SignInput::Raw(b"message"), &tampered));
            assert!(!k.verify(ALG, SignInput::Raw(b"message"), &sig[1..]));
            assert!(format!("{k:?}").contains("redacted"));
        }
    }

    #[test]
    fn digests_and_foreign_algorithms_are_refused() {
        let k = AsymmetricKey::generate(AsymmetricSpec::MlDsa65).unwrap();
        assert!(!ALG.takes_digest());
        assert_eq!(ALG.digest_len(), None);
        assert!(k.sign(ALG, SignInput::Digest(&[7; 64])).is_err());
        let sig = k.sign(ALG, SignInput::Raw(&[7; 64])).unwrap();
        assert!(!k.verify(ALG, SignInput::Digest(&[7; 64]), &sig));
        for foreign in [
            SigningAlgorithm::EcdsaSha256,
            SigningAlgorithm::Ed25519Sha512,
        ] {
            assert!(k.sign(foreign, SignInput::Raw(b"m")).is_err());
            assert!(!k.verify(foreign, SignInput::Raw(&[7; 64]), &sig));
        }
        let ec = AsymmetricKey::generate(AsymmetricSpec::EccNistP256).unwrap();
        assert!(ec.sign(ALG, SignInput::Raw(b"m")).is_err());
    }

    #[test]
    fn keys_of_another_parameter_set_or_kind_are_refused() {
        let k44 = AsymmetricKey::generate(AsymmetricSpec::MlDsa44).unwrap();
        let k65 = AsymmetricKey::generate(AsymmetricSpec::MlDsa65).unwrap();
        assert!(AsymmetricKey::from_pkcs8(AsymmetricSpec::MlDsa65, k44.expose_pkcs8()).is_err());
        let ec = AsymmetricKey::generate(AsymmetricSpec::EccNistP256).unwrap();
        assert!(AsymmetricKey::from_pkcs8(AsymmetricSpec::MlDsa44, ec.expose_pkcs8()).is_err());
        assert!(
            AsymmetricKey::from_pkcs8(AsymmetricSpec::MlDsa44, &[0x30, 0x03, 1, 2, 3]).is_err()
        );
        let mut truncated = k44.expose_pkcs8().to_vec();
        truncated.pop();
        assert!(AsymmetricKey::from_pkcs8(AsymmetricSpec::MlDsa44, &truncated).is_err());
        // A 44 signature never verifies under a 65 key, nor the 44 key
        // under the 65 parameters.
        let sig = k44.sign(ALG, SignInput::Raw(b"m")).unwrap();
        let raw = SignInput::Raw(b"m");
        assert!(!verify_signature(
            AsymmetricSpec::MlDsa65,
            k65.public_key(),
            ALG,
            raw,
            &sig
        ));
        assert!(!verify_signature(
            AsymmetricSpec::MlDsa65,
            k44.public_key(),
            ALG,
            raw,
            &sig
        ));
        assert!(verify_signature(
            AsymmetricSpec::MlDsa44,
            k44.public_key(),
            ALG,
            raw,
            &sig
        ));
    }
}
