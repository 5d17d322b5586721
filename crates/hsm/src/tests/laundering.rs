//! A frontend (or a caller it serves) tries to turn one kind of blob into
//! another: a derived-key token into a ciphertext Decrypt opens, and a
//! legacy token (possibly a pre-v3 VOLATILE transient token it kept) into a
//! current key token by sending it to RewrapKeys.

use strongroom_hsm_proto::context::canonical;
use strongroom_hsm_proto::{
    Caller, HsmError, KeyRef, KeySpecCode, ModuleHandler, Request, Response,
};
use uuid::Uuid;

use super::Ask;
use crate::ekt::tests::legacy;
use crate::{DomainKey, Module, ModuleConfig, ekt};

const CALLER: Caller = Caller::InProcess;

#[test]
fn derived_key_token_sent_to_decrypt_or_re_encrypt_is_refused() {
    let mut m = Module::new(DomainKey::generate().unwrap(), ModuleConfig::default());
    let here = super::Frontend {
        caller: CALLER,
        domain: *m.domains.keys().next().expect("a domain"),
    };
    let (key, token_key) = super::new_key(&mut m, &here);
    let context = canonical([("tenant", "acme")]);
    let Ok(Response::DataKey(derived)) = m.ask(
        &here,
        Request::DeriveKey {
            key,
            ekt: token_key.clone(),
            context: context.clone(),
            length: 32,
        },
    ) else {
        panic!("DeriveKey failed");
    };
    let token = derived.ciphertext.clone();
    let r = m.ask(
        &here,
        Request::Decrypt {
            ekt: token_key.clone(),
            ciphertext: token.clone(),
            context: context.clone(),
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidCiphertext)), "{r:?}");
    let r = m.ask(
        &here,
        Request::ReEncrypt {
            source_ekt: token_key.clone(),
            ciphertext: token.clone(),
            source_context: context.clone(),
            destination: key,
            destination_ekt: token_key.clone(),
            destination_context: canonical(std::iter::empty()),
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidCiphertext)), "{r:?}");
    // Relabelled as a ciphertext (first byte), it still does not open.
    let mut relabelled = token.clone();
    relabelled[0] = strongroom_hsm_proto::ciphertext::FORMAT_V1;
    let r = m.ask(
        &here,
        Request::Decrypt {
            ekt: token_key.clone(),
            ciphertext: relabelled,
            context: context.clone(),
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidCiphertext)), "{r:?}");
    // Deriving again gives the same key: nothing was spent or changed.
    let Ok(Response::DataKey(again)) = m.ask(
        &here,
        Request::DeriveKey {
            key,
            ekt: token_key,
            context,
            length: 32,
        },
    ) else {
        panic!("DeriveKey failed");
    };
    assert_eq!(again.plaintext, derived.plaintext);
}

#[test]
fn reveal_derived_key_opens_only_a_derived_key_token_of_that_key_and_context() {
    let mut m = Module::new(DomainKey::generate().unwrap(), ModuleConfig::default());
    let here = super::Frontend {
        caller: CALLER,
        domain: *m.domains.keys().next().expect("a domain"),
    };
    let (key, token_key) = super::new_key(&mut m, &here);
    let (other, other_ekt) = super::new_key(&mut m, &here);
    let context = canonical([("tenant", "acme")]);
    let Ok(Response::DataKey(derived)) = m.ask(
        &here,
        Request::DeriveKey {
            key,
            ekt: token_key.clone(),
            context: context.clone(),
            length: 16,
        },
    ) else {
        panic!("DeriveKey failed");
    };
    let reveal =
        |m: &mut Module, key, ekt: &strongroom_hsm_proto::Ekt, token: &[u8], context: &[u8]| {
            m.ask(
                &here,
                Request::RevealDerivedKey {
                    key,
                    ekt: ekt.clone(),
                    token: token.to_vec(),
                    context: context.to_vec(),
                },
            )
        };
    let Ok(Response::DataKey(opened)) =
        reveal(&mut m, key, &token_key, &derived.ciphertext, &context)
    else {
        panic!("RevealDerivedKey failed");
    };
    assert_eq!(opened.plaintext, derived.plaintext);
    // An ordinary ciphertext is no token; nor is a token with another
    // context, or presented as another key's.
    let ciphertext = super::encrypt(&mut m, &here, key, &token_key, b"data").unwrap();
    let refusals = [
        reveal(
            &mut m,
            key,
            &token_key,
            &ciphertext,
            &canonical(std::iter::empty()),
        ),
        reveal(
            &mut m,
            key,
            &token_key,
            &derived.ciphertext,
            &canonical([("tenant", "x")]),
        ),
        reveal(&mut m, other, &other_ekt, &derived.ciphertext, &context),
    ];
    for r in refusals {
        assert!(matches!(r, Err(HsmError::InvalidCiphertext)), "{r:?}");
    }
}

#[test]
fn legacy_transient_token_sent_to_rewrap_keys_does_not_come_back_as_a_v3_key_token() {
    let first = DomainKey::generate().unwrap();
    let old = first.duplicate();
    let newest = first.next_generation().unwrap();
    let newest_copy = newest.duplicate();
    let mut m = Module::new(first, ModuleConfig::default());
    m.domains
        .get_mut(&old.id())
        .unwrap()
        .keys
        .insert(newest.generation(), newest);
    // What a pre-v3 module handed out as a VOLATILE key's transient token:
    // a plain v1 EKT under the old generation.
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    let kept = legacy(&old, key, KeySpecCode::SymmetricDefault, &[9; 32], false);
    let Ok(Response::Ekts(out)) = m.handle(&CALLER, Request::RewrapKeys { ekts: vec![kept] })
    else {
        panic!("RewrapKeys failed");
    };
    let rewrapped = &out[0];
    // Moved to the newest generation, but still a legacy (v2) token: not
    // a v3 token of any kind, with no owner.
    assert_ne!(rewrapped.0[0], 0x03, "promoted to a current token");
    assert_eq!(rewrapped.0[0], 0x02);
    assert_eq!(
        ekt::domain_of(rewrapped).unwrap(),
        (old.id(), newest_copy.generation())
    );
    let o = ekt::open_key(&newest_copy, rewrapped).unwrap();
    assert!(o.legacy);
    assert_eq!(
        (o.key, o.owner, &o.material[..]),
        (key, None, &[9u8; 32][..])
    );
    // Rewrapping it again keeps it legacy; a current key token stays v3.
    let Ok(Response::Ekts(again)) = m.handle(
        &CALLER,
        Request::RewrapKeys {
            ekts: vec![rewrapped.clone()],
        },
    ) else {
        panic!("RewrapKeys failed");
    };
    assert_eq!(again[0].0[0], 0x02);
    let v3 = ekt::seal_key(&old, key, KeySpecCode::SymmetricDefault, &[9; 32], None).unwrap();
    let Ok(Response::Ekts(current)) = m.handle(&CALLER, Request::RewrapKeys { ekts: vec![v3] })
    else {
        panic!("RewrapKeys failed");
    };
    assert_eq!(current[0].0[0], 0x03);
}
