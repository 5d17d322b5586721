//! A compromised frontend, with full access to an in-memory module, tries
//! to get plaintext key material out: by choosing the owner SuspendKey
//! wraps to, by re-binding the owner, by using an import wrapping key as a
//! key, and by turning a VOLATILE key's transient token into a durable EKT.

use serde::{Deserialize, Serialize};
use strongroom_crypto::{
    Aes256GcmKey, AsymmetricKey, AsymmetricSpec, OaepHash, SecretKey256, SignInput,
    SigningAlgorithm, rsa_oaep_encrypt,
};
use strongroom_hsm_proto::admin::decode;
use strongroom_hsm_proto::{
    Caller, Ekt, HsmError, KeyRef, KeySpecCode, ModuleHandler, Request, Response, TransientEkt,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{decrypt, encrypt};
use crate::module::now_secs;
use crate::{DomainKey, Module, ModuleConfig, owner_change_statement};

const CALLER: Caller = Caller::InProcess;

fn module() -> Module {
    Module::new(DomainKey::generate().unwrap(), ModuleConfig::default())
}

/// The in-process frontend, naming the module's only domain.
fn local(m: &Module) -> super::Frontend {
    super::Frontend {
        caller: CALLER,
        domain: *m.domains.keys().next().expect("a domain"),
    }
}

fn rsa() -> AsymmetricKey {
    AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap()
}

fn owned_key(m: &mut Module, owner: &AsymmetricKey) -> (KeyRef, Ekt) {
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    match m.handle(
        &CALLER,
        Request::GenerateOwnedBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
            suspension_owner: owner.public_key().to_vec(),
        },
    ) {
        Ok(Response::Ekt(e)) => (key, e),
        other => panic!("{other:?}"),
    }
}

fn suspend(m: &mut Module, versions: &[(KeyRef, Ekt)], owner: &[u8]) -> Result<Vec<u8>, HsmError> {
    match m.handle(
        &CALLER,
        Request::SuspendKey {
            key_id: versions[0].0.key_id,
            versions: versions.to_vec(),
            owner_public_key: owner.to_vec(),
        },
    )? {
        Response::Suspended { blob, .. } => Ok(blob),
        other => panic!("{other:?}"),
    }
}

#[derive(Deserialize)]
struct Version {
    version: u32,
    #[allow(dead_code)]
    spec: u8,
    material: Vec<u8>,
}

#[derive(Deserialize)]
struct Bundle {
    #[allow(dead_code)]
    format: u8,
    #[allow(dead_code)]
    key_id: Uuid,
    #[allow(dead_code)]
    owner: Option<[u8; 32]>,
    versions: Vec<Version>,
}

/// What the holder of `private` gets out of a suspended blob, if anything.
fn open_blob(private: &AsymmetricKey, key_id: Uuid, blob: &[u8]) -> Option<Vec<(u32, Vec<u8>)>> {
    let l = u16::from_be_bytes([blob[0], blob[1]]) as usize;
    let aes = private.decrypt(OaepHash::Sha256, &blob[2..2 + l]).ok()?;
    let aes = Aes256GcmKey::new(&SecretKey256::from_slice(&aes).ok()?);
    let iv: [u8; 12] = blob[2 + l..14 + l].try_into().unwrap();
    let mut aad = b"strongroom suspended key v1".to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    let mut body = blob[14 + l..].to_vec();
    let n = aes.open_in_place(iv, &aad, &mut body).ok()?.len();
    let bundle: Bundle = decode(&body[..n]).ok()?;
    Some(
        bundle
            .versions
            .into_iter()
            .map(|v| (v.version, v.material))
            .collect(),
    )
}

#[test]
fn suspend_key_to_a_frontend_chosen_owner_is_refused_and_only_the_creation_owner_opens_it() {
    let mut m = module();
    let (owner, attacker) = (rsa(), rsa());
    let (key, ekt) = owned_key(&mut m, &owner);
    let here = local(&m);
    let blob = encrypt(&mut m, &here, key, &ekt, b"secret data").unwrap();

    // The frontend names its own public key: refused, nothing handed out.
    let r = suspend(&mut m, &[(key, ekt.clone())], attacker.public_key());
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    // Nothing changed: the key still serves.
    let here = local(&m);
    assert_eq!(decrypt(&mut m, &here, &ekt, &blob).unwrap(), b"secret data");

    // It rewrites the owner bound in the EKT header: the EKT no longer opens.
    let mut swapped = ekt.clone();
    swapped.0[44..76].copy_from_slice(&strongroom_crypto::sha256(attacker.public_key()));
    let r = suspend(&mut m, &[(key, swapped)], attacker.public_key());
    assert_eq!(r.err(), Some(HsmError::InvalidKeyToken));

    // It makes a fresh version 1 of the same key bound to itself: that is
    // new material, never the key's.
    let fake = match m.handle(
        &CALLER,
        Request::GenerateOwnedBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
            suspension_owner: attacker.public_key().to_vec(),
        },
    ) {
        Ok(Response::Ekt(e)) => e,
        other => panic!("{other:?}"),
    };
    let fake_blob = suspend(&mut m, &[(key, fake)], attacker.public_key()).unwrap();
    let fake_material = open_blob(&attacker, key.key_id, &fake_blob).unwrap();

    // The real owner's suspension opens only with the real owner's key.
    let real_blob = suspend(&mut m, &[(key, ekt)], owner.public_key()).unwrap();
    assert!(open_blob(&attacker, key.key_id, &real_blob).is_none());
    let real = open_blob(&owner, key.key_id, &real_blob).unwrap();
    assert_eq!(real.len(), 1);
    assert_ne!(real[0].1, fake_material[0].1);
}

#[test]
fn a_rotated_version_keeps_the_owner_and_a_mixed_owner_set_is_refused() {
    let mut m = module();
    let (owner, attacker) = (rsa(), rsa());
    let (v1, e1) = owned_key(&mut m, &owner);
    let v2 = KeyRef { version: 2, ..v1 };
    let e2 = match m.handle(
        &CALLER,
        Request::RotateBackingKey {
            key: v2,
            previous: e1.clone(),
        },
    ) {
        Ok(Response::Ekt(e)) => e,
        other => panic!("{other:?}"),
    };
    // Rotation cannot go backwards or to another key.
    for (key, previous) in [
        (v1, e2.clone()),
        (
            KeyRef {
                key_id: Uuid::new_v4(),
                version: 3,
            },
            e1.clone(),
        ),
    ] {
        let r = m.handle(&CALLER, Request::RotateBackingKey { key, previous });
        assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
    }
    let both = [(v1, e1.clone()), (v2, e2.clone())];
    assert!(suspend(&mut m, &both, attacker.public_key()).is_err());
    // A version the frontend generated bound to itself cannot ride along.
    let planted = match m.handle(
        &CALLER,
        Request::GenerateOwnedBackingKey {
            key: v2,
            spec: KeySpecCode::SymmetricDefault,
            suspension_owner: attacker.public_key().to_vec(),
        },
    ) {
        Ok(Response::Ekt(e)) => e,
        other => panic!("{other:?}"),
    };
    let mixed = [(v1, e1.clone()), (v2, planted)];
    assert!(suspend(&mut m, &mixed, attacker.public_key()).is_err());
    assert!(suspend(&mut m, &mixed, owner.public_key()).is_err());
    let blob = suspend(&mut m, &both, owner.public_key()).unwrap();
    let versions = open_blob(&owner, v1.key_id, &blob).unwrap();
    assert_eq!(versions.iter().map(|v| v.0).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn a_key_without_a_bound_owner_cannot_be_suspended_to_anyone() {
    let mut m = module();
    let here = local(&m);
    let (key, ekt) = super::new_key(&mut m, &here);
    let r = suspend(&mut m, &[(key, ekt)], rsa().public_key());
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
}

fn change_owner(
    m: &mut Module,
    versions: &[(KeyRef, Ekt)],
    current: &[u8],
    new: &[u8],
    valid_to: u64,
    signer: &AsymmetricKey,
) -> Result<Vec<(KeyRef, Ekt)>, HsmError> {
    let key_id = versions[0].0.key_id;
    let statement = owner_change_statement(key_id, current, new, valid_to);
    let signature = signer
        .sign(SigningAlgorithm::RsaPssSha256, SignInput::Raw(&statement))
        .unwrap();
    match m.handle(
        &CALLER,
        Request::UpdateSuspensionOwner {
            key_id,
            versions: versions.to_vec(),
            current_owner: current.to_vec(),
            new_owner: new.to_vec(),
            valid_to,
            signature,
        },
    )? {
        Response::Reinstated(v) => Ok(v),
        other => panic!("{other:?}"),
    }
}

#[test]
fn swapping_the_suspension_owner_without_the_owners_signature_is_refused() {
    let mut m = module();
    let (owner, attacker, heir) = (rsa(), rsa(), rsa());
    let (key, ekt) = owned_key(&mut m, &owner);
    let versions = [(key, ekt.clone())];
    let soon = now_secs() + 300;
    let (o, a) = (owner.public_key(), attacker.public_key());
    // Claiming to be the owner with its own key; naming the real owner but
    // signing itself; an expired or far-future statement by the owner.
    for (current, new, valid_to, signer) in [
        (a, a, soon, &attacker),
        (o, a, soon, &attacker),
        (o, a, now_secs() - 1, &owner),
        (o, a, now_secs() + 86_400, &owner),
    ] {
        let r = change_owner(&mut m, &versions, current, new, valid_to, signer);
        assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    }
    // Nothing changed: still suspendable to the owner only.
    assert!(suspend(&mut m, &versions, a).is_err());
    assert!(suspend(&mut m, &versions, o).is_ok());

    // The owner hands the key to an heir: only the heir opens it after.
    let rebound = change_owner(&mut m, &versions, o, heir.public_key(), soon, &owner).unwrap();
    assert!(suspend(&mut m, &rebound, o).is_err());
    let blob = suspend(&mut m, &rebound, heir.public_key()).unwrap();
    let heirs = open_blob(&heir, key.key_id, &blob).unwrap();
    let owners = open_blob(&owner, key.key_id, &suspend(&mut m, &versions, o).unwrap()).unwrap();
    assert_eq!(heirs[0].1, owners[0].1, "the same material, re-bound");
}

/// Signs the statement handing `key_id` from `current` to `new`.
fn owner_signature(
    key_id: Uuid,
    current: &AsymmetricKey,
    new: &AsymmetricKey,
    valid_to: u64,
) -> Vec<u8> {
    let statement =
        owner_change_statement(key_id, current.public_key(), new.public_key(), valid_to);
    current
        .sign(SigningAlgorithm::RsaPssSha256, SignInput::Raw(&statement))
        .unwrap()
}

fn rebind(
    m: &mut Module,
    versions: &[(KeyRef, Ekt)],
    current: &AsymmetricKey,
    new: &AsymmetricKey,
    valid_to: u64,
    signature: &[u8],
) -> Result<Vec<(KeyRef, Ekt)>, HsmError> {
    match m.handle(
        &CALLER,
        Request::UpdateSuspensionOwner {
            key_id: versions[0].0.key_id,
            versions: versions.to_vec(),
            current_owner: current.public_key().to_vec(),
            new_owner: new.public_key().to_vec(),
            valid_to,
            signature: signature.to_vec(),
        },
    )? {
        Response::Reinstated(v) => Ok(v),
        other => panic!("{other:?}"),
    }
}

#[test]
fn replayed_owner_change_statement_within_its_hour_is_refused() {
    let mut m = module();
    let (a, b) = (rsa(), rsa());
    let (key, ekt) = owned_key(&mut m, &a);
    let soon = now_secs() + 600;
    // A hands the key to B; B hands it back to A.
    let a_to_b = owner_signature(key.key_id, &a, &b, soon);
    let at_b = rebind(&mut m, &[(key, ekt)], &a, &b, soon, &a_to_b).unwrap();
    // Replayed while B owns it: the statement names A as current owner.
    let r = rebind(&mut m, &at_b, &a, &b, soon, &a_to_b);
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    let b_to_a = owner_signature(key.key_id, &b, &a, soon);
    let back_at_a = rebind(&mut m, &at_b, &b, &a, soon, &b_to_a).unwrap();
    // Replayed once A owns it again, within the hour: used once, refused.
    let r = rebind(&mut m, &back_at_a, &a, &b, soon, &a_to_b);
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    // The same statement presented as a change to B from B: not signed so.
    let r = rebind(&mut m, &back_at_a, &b, &b, soon, &a_to_b);
    assert!(r.is_err(), "{r:?}");
    // Nothing changed: A still owns it, B cannot suspend it.
    assert!(suspend(&mut m, &back_at_a, b.public_key()).is_err());
    assert!(suspend(&mut m, &back_at_a, a.public_key()).is_ok());
}

#[test]
fn one_tenant_churning_owner_changes_never_blocks_another_keys_owner_change() {
    let mut m = module();
    let (p, q) = (rsa(), rsa());
    let (key, ekt) = owned_key(&mut m, &p);
    let late = now_secs() + 3500;
    // The tenant hands its own key back and forth as often as it may.
    let mut tokens = vec![(key, ekt)];
    let mut owner_is_p = true;
    loop {
        let (from, to) = if owner_is_p { (&p, &q) } else { (&q, &p) };
        let sig = owner_signature(key.key_id, from, to, late);
        match rebind(&mut m, &tokens, from, to, late, &sig) {
            Ok(next) => {
                tokens = next;
                owner_is_p = !owner_is_p;
            }
            Err(HsmError::InvalidRequest(_)) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(
        m.used_owner_statements.len(),
        64,
        "only its own key hit the bound"
    );
    // Another tenant moving its key away from a compromised owner still can.
    let (owner, heir) = (rsa(), rsa());
    let (vkey, vekt) = owned_key(&mut m, &owner);
    let soon = now_secs() + 600;
    let sig = owner_signature(vkey.key_id, &owner, &heir, soon);
    let moved = rebind(&mut m, &[(vkey, vekt)], &owner, &heir, soon, &sig).unwrap();
    assert!(suspend(&mut m, &moved, heir.public_key()).is_ok());
    assert!(suspend(&mut m, &moved, owner.public_key()).is_err());
}

/// The import token's body, as a frontend can decode it.
#[derive(Serialize, Deserialize)]
struct ImportTokenBody {
    key_id: Uuid,
    algorithm: String,
    valid_to: u64,
    wrapping_key: Vec<u8>,
}

#[test]
fn an_import_wrapping_key_is_refused_by_every_key_operation() {
    let mut m = module();
    let key_id = Uuid::new_v4();
    let Ok(Response::ImportParameters {
        public_key,
        import_token,
    }) = m.handle(
        &CALLER,
        Request::PrepareImport {
            key_id,
            wrapping_spec: KeySpecCode::Rsa2048,
            algorithm: "RSAES_OAEP_SHA_256".into(),
            valid_to: now_secs() + 600,
        },
    )
    else {
        panic!("no import parameters")
    };
    let material = [0x42u8; 32];
    let wrapped = rsa_oaep_encrypt(&public_key, OaepHash::Sha256, &material).unwrap();
    let body: ImportTokenBody = decode(&import_token[..import_token.len() - 32]).unwrap();
    let stolen = Ekt(body.wrapping_key.clone());
    let mut relabelled = stolen.clone();
    relabelled.0[1] = 1; // the key kind: the AEAD now fails
    let message = Zeroizing::new(vec![1u8; 32]);
    for ekt in [stolen.clone(), relabelled] {
        for version in [0, 1] {
            let key = KeyRef { key_id, version };
            let attempts = [
                Request::AsymmetricDecrypt {
                    key,
                    ekt: ekt.clone(),
                    ciphertext: wrapped.clone(),
                    algorithm: "RSAES_OAEP_SHA_256".into(),
                },
                Request::Sign {
                    key,
                    ekt: ekt.clone(),
                    message: message.clone(),
                    digest: false,
                    algorithm: "RSASSA_PSS_SHA_256".into(),
                },
                Request::GetPublicKey {
                    key,
                    ekt: ekt.clone(),
                },
                Request::Encrypt {
                    key,
                    ekt: ekt.clone(),
                    plaintext: message.clone(),
                    context: vec![],
                },
                Request::RewrapKeys {
                    ekts: vec![ekt.clone()],
                },
                Request::SuspendKey {
                    key_id,
                    versions: vec![(key, ekt.clone())],
                    owner_public_key: public_key.clone(),
                },
                Request::RotateBackingKey {
                    key: KeyRef { key_id, version: 9 },
                    previous: ekt.clone(),
                },
            ];
            for request in attempts {
                let name = format!("{request:?}");
                let r = m.handle(&CALLER, request);
                assert!(
                    matches!(r, Err(HsmError::InvalidKeyToken)),
                    "{name} with the wrapping key: {r:?}"
                );
            }
        }
    }
    // Nothing was spent: the legitimate import still works.
    let r = m.handle(
        &CALLER,
        Request::ImportKeyMaterial {
            key: KeyRef { key_id, version: 1 },
            import_token,
            encrypted_material: wrapped,
        },
    );
    assert!(matches!(r, Ok(Response::Imported { .. })), "{r:?}");
}

#[test]
fn a_volatile_transient_token_used_as_an_ekt_is_refused() {
    let mut m = module();
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    let Ok(Response::TransientEkt(transient)) = m.handle(
        &CALLER,
        Request::GenerateVolatileKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
    ) else {
        panic!("no transient token")
    };
    let as_ekt = Ekt(transient.0.clone());
    let mut relabelled = as_ekt.clone();
    relabelled.0[1] = 1;
    for ekt in [as_ekt, relabelled] {
        // Encrypting with it (a durable copy of the key), re-wrapping it
        // into a stored EKT, or suspending it: all refused.
        let here = local(&m);
        let r = encrypt(&mut m, &here, key, &ekt, b"x");
        assert_eq!(r.err(), Some(HsmError::InvalidKeyToken));
        let r = m.handle(
            &CALLER,
            Request::RewrapKeys {
                ekts: vec![ekt.clone()],
            },
        );
        assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
        let r = suspend(&mut m, &[(key, ekt.clone())], rsa().public_key());
        assert_eq!(r.err(), Some(HsmError::InvalidKeyToken));
    }
    // And an ordinary EKT is not installed as a volatile key.
    let here = local(&m);
    let (k2, e2) = super::new_key(&mut m, &here);
    let r = m.handle(
        &CALLER,
        Request::InstallVolatileKey {
            key: k2,
            ekt: TransientEkt(e2.0),
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
    // The genuine transient token still installs.
    let r = m.handle(
        &CALLER,
        Request::InstallVolatileKey {
            key,
            ekt: transient,
        },
    );
    assert!(matches!(r, Ok(Response::Done)), "{r:?}");
}
