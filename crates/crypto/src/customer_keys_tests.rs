//! Tests of customer asymmetric keys.
use super::*;

#[test]
fn every_spec_signs_and_verifies_raw_and_digest() {
    let ed = AsymmetricKey::generate(AsymmetricSpec::Ed25519).unwrap();
    let sig = ed
        .sign(SigningAlgorithm::Ed25519Sha512, SignInput::Raw(b"m"))
        .unwrap();
    assert!(ed.verify(SigningAlgorithm::Ed25519Sha512, SignInput::Raw(b"m"), &sig));
    assert!(!ed.verify(SigningAlgorithm::Ed25519Sha512, SignInput::Raw(b"n"), &sig));
    assert!(
        ed.sign(SigningAlgorithm::Ed25519Sha512, SignInput::Digest(&[0; 64]))
            .is_err()
    );
    let again = AsymmetricKey::from_pkcs8(AsymmetricSpec::Ed25519, ed.expose_pkcs8()).unwrap();
    assert_eq!(again.public_key(), ed.public_key());
    assert_eq!(ed.public_key().len(), 44);
    for spec in [
        AsymmetricSpec::Rsa2048,
        AsymmetricSpec::EccNistP256,
        AsymmetricSpec::EccNistP384,
        AsymmetricSpec::EccNistP521,
        AsymmetricSpec::EccSecgP256k1,
    ] {
        let k = AsymmetricKey::generate(spec).unwrap();
        let again = AsymmetricKey::from_pkcs8(spec, k.expose_pkcs8()).unwrap();
        assert_eq!(again.public_key(), k.public_key());
        for &alg in spec.signing_algorithms() {
            let sig = k.sign(alg, SignInput::Raw(b"message")).unwrap();
            assert!(
                k.verify(alg, SignInput::Raw(b"message"), &sig),
                "{spec:?} {alg:?}"
            );
            assert!(!k.verify(alg, SignInput::Raw(b"messagE"), &sig));
            let d = digest::digest(alg.digest().unwrap(), b"message");
            assert!(verify_signature(
                spec,
                k.public_key(),
                alg,
                SignInput::Digest(d.as_ref()),
                &sig
            ));
            let sig2 = k.sign(alg, SignInput::Digest(d.as_ref())).unwrap();
            assert!(k.verify(alg, SignInput::Raw(b"message"), &sig2));
            assert!(k.sign(alg, SignInput::Digest(&d.as_ref()[1..])).is_err());
        }
        let foreign = if spec.is_rsa() {
            SigningAlgorithm::EcdsaSha256
        } else {
            SigningAlgorithm::RsaPssSha256
        };
        assert!(k.sign(foreign, SignInput::Raw(b"m")).is_err());
        assert!(format!("{k:?}").contains("redacted"));
    }
}

#[test]
fn ecdh_agrees_both_ways_and_refuses_other_curves() {
    for spec in [
        AsymmetricSpec::EccNistP256,
        AsymmetricSpec::EccNistP384,
        AsymmetricSpec::EccNistP521,
    ] {
        let a = AsymmetricKey::generate(spec).unwrap();
        let b = AsymmetricKey::generate(spec).unwrap();
        let ab = a.ecdh(b.public_key()).unwrap();
        assert_eq!(&ab[..], &b.ecdh(a.public_key()).unwrap()[..]);
        assert!(!ab.iter().all(|&x| x == 0));
    }
    let p256 = AsymmetricKey::generate(AsymmetricSpec::EccNistP256).unwrap();
    let p384 = AsymmetricKey::generate(AsymmetricSpec::EccNistP384).unwrap();
    assert!(p256.ecdh(p384.public_key()).is_err());
    let k1 = AsymmetricKey::generate(AsymmetricSpec::EccSecgP256k1).unwrap();
    assert!(k1.ecdh(p256.public_key()).is_err());
}

#[test]
fn rsa_aes_key_wrap_unwraps_what_kwp_wrapped() {
    use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrapPadded};
    let k = AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap();
    let aes = [3u8; 32];
    let material = [9u8; 32];
    let mut blob = rsa_oaep_encrypt(k.public_key(), OaepHash::Sha256, &aes).unwrap();
    let mut wrapped = vec![0u8; 48];
    let kek = KeyEncryptionKey::new(&AES_256, &aes).unwrap();
    let w = kek
        .wrap_with_padding(&material, &mut wrapped)
        .unwrap()
        .len();
    blob.extend_from_slice(&wrapped[..w]);
    assert_eq!(
        &k.unwrap_rsa_aes(OaepHash::Sha256, &blob).unwrap()[..],
        &material
    );
    let mut bad = blob.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(k.unwrap_rsa_aes(OaepHash::Sha256, &bad).is_err());
    assert!(k.unwrap_rsa_aes(OaepHash::Sha1, &blob).is_err());
}

#[test]
fn rsa_oaep_round_trip_and_wrong_sizes() {
    let k = AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap();
    for hash in [OaepHash::Sha1, OaepHash::Sha256] {
        let ct = rsa_oaep_encrypt(k.public_key(), hash, b"secret").unwrap();
        assert_eq!(&k.decrypt(hash, &ct).unwrap()[..], b"secret");
    }
    let ct = rsa_oaep_encrypt(k.public_key(), OaepHash::Sha256, b"x").unwrap();
    assert!(k.decrypt(OaepHash::Sha1, &ct).is_err());
    assert!(rsa_oaep_encrypt(k.public_key(), OaepHash::Sha256, &[0; 191]).is_err());
    assert!(AsymmetricKey::from_pkcs8(AsymmetricSpec::Rsa3072, k.expose_pkcs8()).is_err());
}
