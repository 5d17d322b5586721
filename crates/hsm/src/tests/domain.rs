//! Domains: the quorum ceremony, membership, operators, refusals.

use super::*;

#[test]
fn three_member_domain_by_two_of_three_quorum() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut a, mut b, mut c) = (module(&dirs[0]), module(&dirs[1]), module(&dirs[2]));
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();

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
    let h = frontend(&host, domain_of(&t1));
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
    let other = frontend(&SigningKeyPair::generate().unwrap(), d);
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
