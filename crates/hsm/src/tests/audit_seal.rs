//! The audit seal: signed only for hosts the domain lists, only over the
//! audit context, within a size bound; the same key on every member, a new
//! one per domain-key generation.

use strongroom_crypto::verify_ed25519;
use strongroom_hsm_proto::{AUDIT_SEAL_CONTEXT, AuditSealKey, MAX_AUDIT_SEAL_MESSAGE};

use super::*;

fn seal(m: &mut Module, h: &Frontend, message: &[u8]) -> Result<(AuditSealKey, Vec<u8>), HsmError> {
    match m.ask(
        h,
        Request::SignAuditSeal {
            message: message.to_vec(),
        },
    )? {
        Response::AuditSeal { key, signature } => Ok((key, signature)),
        other => panic!("unexpected {other:?}"),
    }
}

fn keys(m: &mut Module, h: &Frontend) -> Result<Vec<AuditSealKey>, HsmError> {
    match m.ask(h, Request::AuditSealKeys)? {
        Response::AuditSealKeys(k) => Ok(k),
        other => panic!("unexpected {other:?}"),
    }
}

fn public(k: &AuditSealKey) -> [u8; 32] {
    k.public_key.as_slice().try_into().expect("32 bytes")
}

fn with_context(message: &[u8]) -> Vec<u8> {
    [AUDIT_SEAL_CONTEXT, message].concat()
}

#[test]
fn a_seal_verifies_only_over_the_audit_context_and_names_the_domains_key() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let host = SigningKeyPair::generate().unwrap();
    let h = frontend(
        &host,
        domain_of(&create_domain(&mut m, &operators(3), &host, 0)),
    );
    let (key, sig) = seal(&mut m, &h, b"footer bytes").unwrap();
    assert_eq!(key.generation, 1);
    assert!(verify_ed25519(
        &public(&key),
        &with_context(b"footer bytes"),
        &sig
    ));
    // The bare message, or another one, is not what was signed: the key
    // signs nothing that is not prefixed as an audit seal.
    assert!(!verify_ed25519(&public(&key), b"footer bytes", &sig));
    assert!(!verify_ed25519(
        &public(&key),
        &with_context(b"footer bytez"),
        &sig
    ));
    assert_eq!(keys(&mut m, &h).unwrap(), vec![key]);
}

#[test]
fn a_host_the_domain_does_not_list_gets_no_seal_and_no_key() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let listed = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut m, &ops, &listed, 0));
    let served = m.served;
    let stranger = frontend(&SigningKeyPair::generate().unwrap(), d);
    let r = seal(&mut m, &stranger, b"forged footer");
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    let r = keys(&mut m, &stranger);
    assert!(matches!(r, Err(HsmError::HostNotAuthorized(_))), "{r:?}");
    // Naming no domain is refused too, and neither request is open to a
    // peer no domain lists (refused before it reaches the module).
    let r = m.handle(
        &stranger.caller,
        Request::SignAuditSeal {
            message: b"x".to_vec(),
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    assert!(!crate::server::open_to_unlisted(&Request::SignAuditSeal {
        message: vec![]
    }));
    assert!(!crate::server::open_to_unlisted(&Request::AuditSealKeys));
    assert_eq!(m.served, served + 3);
    // The listed host is still served.
    assert!(seal(&mut m, &frontend(&listed, d), b"ok").is_ok());
}

#[test]
fn an_oversized_seal_message_is_refused() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let host = SigningKeyPair::generate().unwrap();
    let h = frontend(
        &host,
        domain_of(&create_domain(&mut m, &operators(3), &host, 0)),
    );
    let r = seal(&mut m, &h, &vec![0; MAX_AUDIT_SEAL_MESSAGE + 1]);
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    let r = seal(&mut m, &h, &vec![0; 16 << 20]);
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    assert!(seal(&mut m, &h, &vec![0; MAX_AUDIT_SEAL_MESSAGE]).is_ok());
}

#[test]
fn every_member_seals_with_the_same_key_and_a_rotation_adds_a_new_one() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut a, mut b) = (module(&dirs[0]), module(&dirs[1]));
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut a, &ops, &host, 0));
    let h = frontend(&host, d);
    let joined = token(send(
        &mut a,
        command(
            Target::Domain(d),
            Command::AddMember {
                member: attest_member(&b),
            },
            &[&ops[0], &ops[1]],
        ),
    ));
    token(send(
        &mut b,
        command(
            Target::Domain(d),
            Command::IngestDomain { token: joined },
            &[&ops[0], &ops[1]],
        ),
    ));
    let (from_a, _) = seal(&mut a, &h, b"m").unwrap();
    let (from_b, sig_b) = seal(&mut b, &h, b"m").unwrap();
    assert_eq!(from_a, from_b);
    assert!(verify_ed25519(
        &public(&from_a),
        &with_context(b"m"),
        &sig_b
    ));

    // Another domain's key is another key.
    let mut other = module(&tempfile::tempdir().unwrap());
    let oh = frontend(&host, domain_of(&create_domain(&mut other, &ops, &host, 0)));
    assert_ne!(
        seal(&mut other, &oh, b"m").unwrap().0.public_key,
        from_a.public_key
    );

    // A new domain-key generation seals with a new key; both are listed.
    token(send(
        &mut a,
        command(
            Target::Domain(d),
            Command::RotateDomainKey,
            &[&ops[0], &ops[1]],
        ),
    ));
    let (rotated, sig) = seal(&mut a, &h, b"m").unwrap();
    assert_eq!(rotated.generation, 2);
    assert_ne!(rotated.public_key, from_a.public_key);
    assert!(verify_ed25519(&public(&rotated), &with_context(b"m"), &sig));
    assert_eq!(keys(&mut a, &h).unwrap(), vec![from_a, rotated]);
}
