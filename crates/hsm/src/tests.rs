//! Module state machine tests: domains built by quorum, cross-member use,
//! refusals, modes, rotation, recovery and erasure, on in-memory modules
//! (the process-level versions are in crates/cli/tests/api/modules.rs).

use strongroom_crypto::{AgreementKeyPair, SigningKeyPair, seal_to};
use strongroom_hsm_proto::admin::{
    Command, CommandBody, DomainToken, ErasureBody, Operator, OperatorSignature, QuorumRule,
    RecoveryShare, SignedCommand, Target, decode, permission,
};
use strongroom_hsm_proto::context::canonical;
use strongroom_hsm_proto::{
    Caller, Ekt, HsmError, KeyRef, KeySpecCode, ModuleHandler, Refusal, Request, Response,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::module::now_secs;
use crate::{Mode, Module, ModuleConfig};

struct Op {
    signing: SigningKeyPair,
    agreement: AgreementKeyPair,
    public: Operator,
}

fn operators(n: usize) -> Vec<Op> {
    (0..n)
        .map(|i| {
            let signing = SigningKeyPair::generate().unwrap();
            let agreement = AgreementKeyPair::generate().unwrap();
            let public = Operator {
                name: format!("op{i}"),
                signing_key: signing.public_key().to_vec(),
                agreement_key: agreement.public_key().to_vec(),
                permissions: permission::ALL,
            };
            Op {
                signing,
                agreement,
                public,
            }
        })
        .collect()
}

fn command_at(target: Target, command: Command, signers: &[&Op], expires_at: u64) -> SignedCommand {
    let mut c = SignedCommand::new(&CommandBody {
        target,
        nonce: strongroom_crypto::random_array().unwrap(),
        expires_at,
        command,
    });
    for s in signers {
        c.signatures.push(OperatorSignature {
            signing_key: s.signing.public_key().to_vec(),
            signature: s.signing.sign(&c.signing_bytes()).unwrap(),
        });
    }
    c
}

fn command(target: Target, command: Command, signers: &[&Op]) -> SignedCommand {
    command_at(target, command, signers, now_secs() + 600)
}

fn send(m: &mut Module, c: SignedCommand) -> Result<Response, HsmError> {
    m.handle(&Caller::InProcess, Request::Command(c))
}

/// Sends a command addressed to `m` itself.
fn send_module(m: &mut Module, c: Command, signers: &[&Op]) -> Result<Response, HsmError> {
    let id = m.id();
    send(m, command(Target::Module(id), c, signers))
}

fn token(r: Result<Response, HsmError>) -> DomainToken {
    match r {
        Ok(Response::DomainToken(t)) => t,
        other => panic!("expected a token, got {other:?}"),
    }
}

fn refusal(r: Result<Response, HsmError>) -> Refusal {
    match r {
        Err(HsmError::CommandRefused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn module(dir: &tempfile::TempDir) -> Module {
    let mut m = Module::start(ModuleConfig {
        vault_capacity: 16,
        state_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let anyone = &operators(1)[0];
    send_module(&mut m, Command::EnterUseMode, &[anyone]).unwrap();
    m
}

fn attest_member(m: &Module) -> strongroom_hsm_proto::admin::MemberIdentity {
    m.identity.member(&m.friendly_name)
}

fn create_domain(m: &mut Module, ops: &[Op], host: &SigningKeyPair, lifespan: u64) -> DomainToken {
    let cmd = Command::CreateDomain {
        operators: ops.iter().map(|o| o.public.clone()).collect(),
        rules: QuorumRule::uniform(2),
        hosts: vec![host.public_key().to_vec()],
        escrow_threshold: 2,
        min_generation_lifespan_secs: lifespan,
    };
    token(send(
        m,
        command(Target::Module(m.id()), cmd, &[&ops[0], &ops[1]]),
    ))
}

fn domain_of(t: &DomainToken) -> Uuid {
    t.decode_body().unwrap().domain_id
}

fn host_caller(host: &SigningKeyPair) -> Caller {
    Caller::Host(host.public_key().to_vec().into())
}

fn new_key(m: &mut Module, caller: &Caller) -> (KeyRef, Ekt) {
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    match m.handle(
        caller,
        Request::GenerateBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
    ) {
        Ok(Response::Ekt(e)) => (key, e),
        other => panic!("{other:?}"),
    }
}

fn encrypt(
    m: &mut Module,
    caller: &Caller,
    key: KeyRef,
    ekt: &Ekt,
    msg: &[u8],
) -> Result<Vec<u8>, HsmError> {
    match m.handle(
        caller,
        Request::Encrypt {
            key,
            ekt: ekt.clone(),
            plaintext: Zeroizing::new(msg.to_vec()),
            context: canonical(std::iter::empty()),
        },
    )? {
        Response::Ciphertext(c) => Ok(c),
        other => panic!("{other:?}"),
    }
}

fn decrypt(m: &mut Module, caller: &Caller, ekt: &Ekt, blob: &[u8]) -> Result<Vec<u8>, HsmError> {
    match m.handle(
        caller,
        Request::Decrypt {
            ekt: ekt.clone(),
            ciphertext: blob.to_vec(),
            context: canonical(std::iter::empty()),
        },
    )? {
        Response::Plaintext { plaintext, .. } => Ok(plaintext.to_vec()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn three_member_domain_by_two_of_three_quorum() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut a, mut b, mut c) = (module(&dirs[0]), module(&dirs[1]), module(&dirs[2]));
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let h = host_caller(&host);

    // One operator alone cannot create a domain …
    let lone = Command::CreateDomain {
        operators: ops.iter().map(|o| o.public.clone()).collect(),
        rules: QuorumRule::uniform(2),
        hosts: vec![],
        escrow_threshold: 2,
        min_generation_lifespan_secs: 0,
    };
    assert_eq!(
        refusal(send_module(&mut a, lone, &[&ops[0]])),
        Refusal::QuorumNotMet
    );
    let t1 = create_domain(&mut a, &ops, &host, 0);
    let d = domain_of(&t1);

    // … nor add a member.
    let add_b = Command::AddMember {
        member: attest_member(&b),
    };
    assert_eq!(
        refusal(send(
            &mut a,
            command(Target::Domain(d), add_b.clone(), &[&ops[2]])
        )),
        Refusal::QuorumNotMet
    );
    // A stranger's signature is refused by name.
    let stranger = &operators(1)[0];
    assert_eq!(
        refusal(send(
            &mut a,
            command(Target::Domain(d), add_b.clone(), &[&ops[0], stranger])
        )),
        Refusal::UnknownOperator
    );
    token(send(
        &mut a,
        command(Target::Domain(d), add_b, &[&ops[0], &ops[2]]),
    ));
    let add_c = Command::AddMember {
        member: attest_member(&c),
    };
    let t3 = token(send(
        &mut a,
        command(Target::Domain(d), add_c, &[&ops[1], &ops[2]]),
    ));
    assert_eq!(t3.decode_body().unwrap().epoch, 3);

    // One signed ingest command, executed by each new member once.
    let ingest = command(
        Target::Domain(d),
        Command::IngestDomain { token: t3.clone() },
        &[&ops[0], &ops[1]],
    );
    token(send(&mut b, ingest.clone()));
    token(send(&mut c, ingest.clone()));
    assert_eq!(refusal(send(&mut b, ingest)), Refusal::Replayed);

    // Keys made through one member work through every other.
    let (key, ekt) = new_key(&mut a, &h);
    let blob = encrypt(&mut a, &h, key, &ekt, b"shared").unwrap();
    assert_eq!(decrypt(&mut b, &h, &ekt, &blob).unwrap(), b"shared");
    assert_eq!(decrypt(&mut c, &h, &ekt, &blob).unwrap(), b"shared");
    let blob_c = encrypt(&mut c, &h, key, &ekt, b"back").unwrap();
    assert_eq!(decrypt(&mut a, &h, &ekt, &blob_c).unwrap(), b"back");

    // A host the domain does not list gets nothing.
    let other = host_caller(&SigningKeyPair::generate().unwrap());
    assert!(matches!(
        decrypt(&mut b, &other, &ekt, &blob),
        Err(HsmError::HostNotAuthorized(_))
    ));

    // Expired commands are refused, and so are commands for another module.
    let past = command_at(
        Target::Domain(d),
        Command::RotateDomainKey,
        &[&ops[0], &ops[1]],
        now_secs() - 1,
    );
    assert_eq!(refusal(send(&mut a, past)), Refusal::Expired);
    let for_b = command(
        Target::Module(b.id()),
        Command::SetFriendlyName {
            friendly_name: "x".into(),
        },
        &[&ops[0], &ops[1]],
    );
    assert_eq!(refusal(send(&mut a, for_b)), Refusal::WrongTarget);

    // A removed member cannot take in later epochs.
    let t4 = token(send(
        &mut a,
        command(
            Target::Domain(d),
            Command::RemoveMember { module_id: c.id() },
            &[&ops[0], &ops[1]],
        ),
    ));
    let ingest4 = command(
        Target::Domain(d),
        Command::IngestDomain { token: t4.clone() },
        &[&ops[0], &ops[1]],
    );
    token(send(&mut b, ingest4.clone()));
    assert_eq!(refusal(send(&mut c, ingest4)), Refusal::InvalidToken);
    // An old epoch does not go back in.
    let stale = command(
        Target::Domain(d),
        Command::IngestDomain { token: t3 },
        &[&ops[0], &ops[1]],
    );
    assert_eq!(refusal(send(&mut b, stale)), Refusal::InvalidToken);
}

#[test]
fn malformed_commands_and_tampered_tokens_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (module(&dir), module(&tempfile::tempdir().unwrap()));
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let t = create_domain(&mut a, &ops, &host, 0);
    let d = domain_of(&t);
    let garbage = SignedCommand {
        body: vec![1, 2, 3],
        signatures: vec![],
    };
    assert_eq!(refusal(send(&mut a, garbage)), Refusal::Malformed);

    let t2 = token(send(
        &mut a,
        command(
            Target::Domain(d),
            Command::AddMember {
                member: attest_member(&b),
            },
            &[&ops[0], &ops[1]],
        ),
    ));
    for (what, mutate) in [
        (
            "signature",
            Box::new(|t: &mut DomainToken| t.signature[20] ^= 1) as Box<dyn Fn(&mut DomainToken)>,
        ),
        (
            "fingerprint",
            Box::new(|t: &mut DomainToken| t.fingerprint[0] ^= 1),
        ),
        (
            "body",
            Box::new(|t: &mut DomainToken| {
                let n = t.body.len();
                t.body[n - 40] ^= 1
            }),
        ),
    ] {
        let mut bad = t2.clone();
        mutate(&mut bad);
        let r = send(
            &mut b,
            command(
                Target::Domain(d),
                Command::IngestDomain { token: bad },
                &[&ops[0], &ops[1]],
            ),
        );
        assert!(
            matches!(refusal(r), Refusal::InvalidToken | Refusal::WrongTarget),
            "tampered {what} accepted"
        );
    }
    assert!(b.domains.is_empty(), "nothing ingested");
    // A token the module is not listed in is refused.
    let r = send(
        &mut b,
        command(
            Target::Domain(d),
            Command::IngestDomain { token: t },
            &[&ops[0], &ops[1]],
        ),
    );
    assert_eq!(refusal(r), Refusal::InvalidToken);
}

#[test]
fn service_mode_destroys_keys_and_use_mode_restores_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = module(&dir);
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let h = host_caller(&host);
    let t = create_domain(&mut a, &ops, &host, 0);
    let (key, ekt) = new_key(&mut a, &h);
    let blob = encrypt(&mut a, &h, key, &ekt, b"m").unwrap();
    // Administrative commands are refused in use mode.
    let rename = command(
        Target::Module(a.id()),
        Command::SetFriendlyName {
            friendly_name: "n".into(),
        },
        &[&ops[0], &ops[1]],
    );
    assert_eq!(refusal(send(&mut a, rename.clone())), Refusal::WrongMode);
    // Owned now: one signature no longer moves it between modes.
    assert_eq!(
        refusal(send_module(&mut a, Command::EnterServiceMode, &[&ops[0]])),
        Refusal::QuorumNotMet
    );
    send_module(&mut a, Command::EnterServiceMode, &[&ops[0], &ops[1]]).unwrap();
    assert_eq!(a.mode(), Mode::Service);
    assert_eq!(a.vault.len(), 0);
    assert!(a.domains.values().all(|d| d.keys.is_empty()));
    assert!(matches!(
        decrypt(&mut a, &h, &ekt, &blob),
        Err(HsmError::WrongMode(_))
    ));
    send(&mut a, rename).unwrap();
    send_module(&mut a, Command::EnterUseMode, &[&ops[1], &ops[2]]).unwrap();
    assert_eq!(decrypt(&mut a, &h, &ekt, &blob).unwrap(), b"m");
    assert_eq!(a.status().friendly_name, "n");
    let _ = t;
}

#[test]
fn rotate_rewrap_retire() {
    let mut a = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let h = host_caller(&host);
    let d = domain_of(&create_domain(&mut a, &ops, &host, 0));
    let sign = |c: Command| command(Target::Domain(d), c, &[&ops[0], &ops[1]]);
    let (key, old_ekt) = new_key(&mut a, &h);
    let blob = encrypt(&mut a, &h, key, &old_ekt, b"r").unwrap();
    token(send(&mut a, sign(Command::RotateDomainKey)));
    // New EKTs use generation 2.
    let (_, new_ekt) = new_key(&mut a, &h);
    assert_eq!(crate::ekt::domain_of(&new_ekt).unwrap().1, 2);
    // Retiring needs the count of remaining EKTs to be zero.
    let r = send(
        &mut a,
        sign(Command::RetireDomainKey {
            generation: 1,
            ekts_remaining: 1,
        }),
    );
    assert_eq!(refusal(r), Refusal::NotAllowed);
    let rewrapped = match a
        .handle(
            &h,
            Request::RewrapKeys {
                ekts: vec![old_ekt.clone()],
            },
        )
        .unwrap()
    {
        Response::Ekts(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(crate::ekt::domain_of(&rewrapped[0]).unwrap().1, 2);
    token(send(
        &mut a,
        sign(Command::RetireDomainKey {
            generation: 1,
            ekts_remaining: 0,
        }),
    ));
    a.vault.clear();
    assert!(matches!(
        decrypt(&mut a, &h, &old_ekt, &blob),
        Err(HsmError::NoDomainKey(_))
    ));
    assert_eq!(decrypt(&mut a, &h, &rewrapped[0], &blob).unwrap(), b"r");

    // The minimum lifespan holds a generation back.
    let mut b = module(&tempfile::tempdir().unwrap());
    let d2 = domain_of(&create_domain(&mut b, &ops, &host, 3600));
    let sign2 = |c: Command| command(Target::Domain(d2), c, &[&ops[0], &ops[2]]);
    token(send(&mut b, sign2(Command::RotateDomainKey)));
    let r = send(
        &mut b,
        sign2(Command::RetireDomainKey {
            generation: 1,
            ekts_remaining: 0,
        }),
    );
    assert_eq!(refusal(r), Refusal::NotAllowed);
}

/// What `strongroom operator unseal` does on the operator's machine.
fn reseal(op: &Op, t: &DomainToken, to: &Module) -> Vec<RecoveryShare> {
    let b = t.decode_body().unwrap();
    b.escrow
        .iter()
        .filter(|s| s.operator == op.public.signing_key)
        .map(|s| {
            let plain = op
                .agreement
                .open(
                    &strongroom_hsm_proto::admin::escrow_label(b.domain_id, s.generation),
                    &s.sealed,
                )
                .unwrap();
            RecoveryShare {
                operator: s.operator.clone(),
                generation: s.generation,
                sealed: seal_to(
                    to.identity.agreement.public_key(),
                    &strongroom_hsm_proto::admin::recovery_label(b.domain_id, s.generation),
                    &plain,
                )
                .unwrap(),
            }
        })
        .collect()
}

#[test]
fn whole_domain_lost_and_recovered_from_operator_shares() {
    let mut a = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let h = host_caller(&host);
    let t = create_domain(&mut a, &ops, &host, 0);
    let (key, ekt) = new_key(&mut a, &h);
    let blob = encrypt(&mut a, &h, key, &ekt, b"survives").unwrap();
    drop(a); // every member gone

    let mut fresh = module(&tempfile::tempdir().unwrap());
    let one = reseal(&ops[0], &t, &fresh);
    let r = send_module(
        &mut fresh,
        Command::RecoverDomain {
            token: t.clone(),
            shares: one.clone(),
        },
        &[&ops[0], &ops[1]],
    );
    assert_eq!(refusal(r), Refusal::QuorumNotMet);
    let mut shares = one;
    shares.extend(reseal(&ops[2], &t, &fresh));
    // Shares are not enough without the operators' signatures.
    let r = send_module(
        &mut fresh,
        Command::RecoverDomain {
            token: t.clone(),
            shares: shares.clone(),
        },
        &[&ops[0]],
    );
    assert_eq!(refusal(r), Refusal::QuorumNotMet);
    let t2 = token(send_module(
        &mut fresh,
        Command::RecoverDomain { token: t, shares },
        &[&ops[0], &ops[2]],
    ));
    assert_eq!(t2.decode_body().unwrap().members.len(), 1);
    assert_eq!(decrypt(&mut fresh, &h, &ekt, &blob).unwrap(), b"survives");
}

#[test]
fn tamper_erases_everything_and_signs_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = module(&dir);
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let h = host_caller(&host);
    let d = domain_of(&create_domain(&mut a, &ops, &host, 0));
    let (key, ekt) = new_key(&mut a, &h);
    let backing = *a.vault.get(&key, d).unwrap();
    let domain_root = *a.domains[&d].keys[&1].root().expose();
    let signer = a.identity.signing.public_key().to_vec();
    let cert = a.erase("test sensor");

    let body: ErasureBody = decode(&cert.body).unwrap();
    assert!(strongroom_crypto::verify_p384(
        &signer,
        &strongroom_hsm_proto::admin::prefixed(
            strongroom_hsm_proto::admin::ERASURE_SIGNING_PREFIX,
            &cert.body
        ),
        &cert.signature
    ));
    assert_eq!(
        (body.domains, body.vault_keys, body.reason.as_str()),
        (vec![d], 1, "test sensor")
    );
    assert_eq!(body.sealed_files, vec![format!("{d}.sealed")]);
    assert_eq!(a.mode(), Mode::Service);
    assert!(a.domains.is_empty() && a.vault.len() == 0);
    assert_ne!(
        a.identity.signing.public_key(),
        &signer[..],
        "a new identity"
    );
    assert!(matches!(
        decrypt(&mut a, &h, &ekt, &[0; 80]),
        Err(HsmError::WrongMode(_))
    ));
    // Nothing on disk holds the backing key or the domain key.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in [&backing[..], &domain_root[..]] {
            assert!(
                !bytes.windows(32).any(|w| w == secret),
                "{} holds a key",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn operators_change_by_quorum_and_impossible_rules_are_refused() {
    let mut a = module(&tempfile::tempdir().unwrap());
    let ops = operators(4);
    let host = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut a, &ops[..3], &host, 0));
    let sign = |c: Command, by: &[&Op]| command(Target::Domain(d), c, by);
    // The fourth operator cannot sign until added.
    let rotate = sign(Command::RotateDomainKey, &[&ops[0], &ops[3]]);
    assert_eq!(refusal(send(&mut a, rotate)), Refusal::UnknownOperator);
    let t = token(send(
        &mut a,
        sign(
            Command::AddOperator {
                operator: ops[3].public.clone(),
            },
            &[&ops[0], &ops[1]],
        ),
    ));
    let body = t.decode_body().unwrap();
    assert_eq!(body.operators.len(), 4);
    assert_eq!(body.escrow.len(), 4, "the new operator holds a share");
    token(send(
        &mut a,
        sign(Command::RotateDomainKey, &[&ops[0], &ops[3]]),
    ));
    // Removing operators until a rule cannot be met is refused.
    token(send(
        &mut a,
        sign(
            Command::RemoveOperator {
                signing_key: ops[0].public.signing_key.clone(),
            },
            &[&ops[1], &ops[2]],
        ),
    ));
    token(send(
        &mut a,
        sign(
            Command::RemoveOperator {
                signing_key: ops[1].public.signing_key.clone(),
            },
            &[&ops[2], &ops[3]],
        ),
    ));
    let r = send(
        &mut a,
        sign(
            Command::RemoveOperator {
                signing_key: ops[2].public.signing_key.clone(),
            },
            &[&ops[2], &ops[3]],
        ),
    );
    assert_eq!(refusal(r), Refusal::NotAllowed);
    // A removed operator's signature no longer counts.
    let r = send(&mut a, sign(Command::RotateDomainKey, &[&ops[0], &ops[2]]));
    assert_eq!(refusal(r), Refusal::UnknownOperator);
}

#[test]
fn initialize_wipes_and_takes_a_new_identity() {
    let mut a = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    create_domain(&mut a, &ops, &host, 0);
    send_module(&mut a, Command::EnterServiceMode, &[&ops[0], &ops[1]]).unwrap();
    let old = a.id();
    let r = send_module(
        &mut a,
        Command::InitializeModule {
            friendly_name: "vault-7".into(),
        },
        &[&ops[1], &ops[2]],
    );
    let Ok(Response::Attestation(report)) = r else {
        panic!("{r:?}")
    };
    let body: strongroom_hsm_proto::admin::AttestationBody = decode(&report.body).unwrap();
    assert_ne!(body.module_id, old);
    assert_eq!(
        (
            body.friendly_name.as_str(),
            body.domains.len(),
            body.mode.as_str()
        ),
        ("vault-7", 0, "service")
    );
    assert!(a.domains.is_empty());
    // The module is unowned again; commands for its old id are refused.
    let r = send(
        &mut a,
        command(Target::Module(old), Command::EnterUseMode, &[&ops[0]]),
    );
    assert_eq!(refusal(r), Refusal::WrongTarget);
    send_module(&mut a, Command::EnterUseMode, &[&ops[0]]).unwrap();
    match a.handle(&Caller::InProcess, Request::ListDomains).unwrap() {
        Response::Domains(d) => assert!(d.is_empty()),
        other => panic!("{other:?}"),
    }
}
