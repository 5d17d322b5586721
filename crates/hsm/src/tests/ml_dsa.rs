//! ML-DSA keys in the module: generated and sealed in an EKT bound to the
//! spec, reopened after the cache is dropped, signing the raw message only.

use strongroom_crypto::{AsymmetricSpec, SignInput, SigningAlgorithm, verify_signature};

use super::*;

fn sign(
    m: &mut Module,
    h: &Frontend,
    key: KeyRef,
    ekt: &Ekt,
    digest: bool,
    alg: &str,
) -> Result<Response, HsmError> {
    m.ask(
        h,
        Request::Sign {
            key,
            ekt: ekt.clone(),
            message: Zeroizing::new(vec![7; 64]),
            digest,
            algorithm: alg.into(),
        },
    )
}

fn verify(
    m: &mut Module,
    h: &Frontend,
    key: KeyRef,
    ekt: &Ekt,
    sig: &[u8],
) -> Result<Response, HsmError> {
    m.ask(
        h,
        Request::Verify {
            key,
            ekt: ekt.clone(),
            message: Zeroizing::new(vec![7; 64]),
            digest: false,
            algorithm: "ML_DSA_SHAKE_256".into(),
            signature: sig.to_vec(),
        },
    )
}

#[test]
fn ml_dsa_keys_sign_raw_messages_from_their_sealed_tokens() {
    let mut a = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut a, &ops, &host, 0));
    let h = frontend(&host, d);
    for (code, spec) in [
        (KeySpecCode::MlDsa44, AsymmetricSpec::MlDsa44),
        (KeySpecCode::MlDsa65, AsymmetricSpec::MlDsa65),
        (KeySpecCode::MlDsa87, AsymmetricSpec::MlDsa87),
    ] {
        let key = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let Ok(Response::Ekt(ekt)) = a.ask(&h, Request::GenerateBackingKey { key, spec: code })
        else {
            panic!("{code:?}")
        };
        assert_eq!(crate::ekt::spec_of(&ekt).unwrap(), code);
        let get = Request::GetPublicKey {
            key,
            ekt: ekt.clone(),
        };
        let Ok(Response::PublicKey(spki)) = a.ask(&h, get) else {
            panic!()
        };
        // Dropped from the cache: the pair comes back out of the EKT.
        a.asymmetric.clear();
        let Ok(Response::Signature(sig)) = sign(&mut a, &h, key, &ekt, false, "ML_DSA_SHAKE_256")
        else {
            panic!("{code:?}")
        };
        let alg = SigningAlgorithm::MlDsaShake256;
        assert!(verify_signature(
            spec,
            &spki,
            alg,
            SignInput::Raw(&[7; 64]),
            &sig
        ));
        assert!(matches!(
            verify(&mut a, &h, key, &ekt, &sig),
            Ok(Response::Valid(true))
        ));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(matches!(
            verify(&mut a, &h, key, &ekt, &bad),
            Ok(Response::Valid(false))
        ));

        // A digest is refused (ML-DSA signs the message), and so is
        // another spec's algorithm.
        let r = sign(&mut a, &h, key, &ekt, true, "ML_DSA_SHAKE_256");
        assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
        let r = sign(&mut a, &h, key, &ekt, false, "ECDSA_SHA_256");
        assert!(matches!(r, Err(HsmError::WrongKeyUsage(_))), "{r:?}");
        let r = sign(&mut a, &h, key, &ekt, false, "ML_DSA_SHAKE_128");
        assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    }
}

#[test]
fn the_spec_is_bound_into_an_ml_dsa_token() {
    let mut a = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut a, &ops, &host, 0));
    let h = frontend(&host, d);
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    let spec = KeySpecCode::MlDsa44;
    let Ok(Response::Ekt(ekt)) = a.ask(&h, Request::GenerateBackingKey { key, spec }) else {
        panic!()
    };
    a.asymmetric.clear();
    // The spec byte (offset 42 of a v3 token) relabelled as ML-DSA-65 or
    // as P-256: the AEAD refuses the token, nothing is signed.
    for other in [KeySpecCode::MlDsa65, KeySpecCode::EccNistP256] {
        let mut forged = ekt.0.clone();
        assert_eq!(forged[42], spec as u8);
        forged[42] = other as u8;
        let r = sign(&mut a, &h, key, &Ekt(forged), false, "ML_DSA_SHAKE_256");
        assert!(r.is_err(), "{other:?}: {r:?}");
    }
    assert!(matches!(
        sign(&mut a, &h, key, &ekt, false, "ML_DSA_SHAKE_256"),
        Ok(Response::Signature(_))
    ));
}
