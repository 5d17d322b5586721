//! Attacks on the module's domain boundary: hijacking an owned module with
//! a domain of the attacker's, naming a domain the host is not listed in,
//! using one domain's EKT for another, destroying keys from an unlisted
//! host, and replaying old quorum commands after the domain moved on.

use super::*;

/// A module's domains and their epochs, and how many keys it caches.
fn snapshot(m: &Module) -> (Vec<(Uuid, Option<u64>)>, usize) {
    let domains = m
        .domains
        .iter()
        .map(|(id, d)| (*id, d.body.as_ref().map(|b| b.epoch)))
        .collect();
    (domains, m.vault.len())
}

fn domain_command(target: Uuid, command: Command, signers: &[&Op]) -> SignedCommand {
    self::command(Target::Domain(target), command, signers)
}

/// Makes `joiner` a member of the domain of `token` held by `issuer`, with
/// `ops` (the domain's operators) signing AddMember; answers the new token.
fn add_member(issuer: &mut Module, joiner: &Module, ops: &[&Op]) -> DomainToken {
    let d = issuer.domains.keys().next_back().copied().unwrap();
    token(send(
        issuer,
        domain_command(
            d,
            Command::AddMember {
                member: attest_member(joiner),
            },
            ops,
        ),
    ))
}

/// A second domain `b`, created on another module by the same operators,
/// listing `host_b`, taken in by `victim` with its owners' quorum.
fn second_domain(victim: &mut Module, ops: &[Op], host_b: &SigningKeyPair) -> Uuid {
    let mut other = module(&tempfile::tempdir().unwrap());
    let t = create_domain(&mut other, ops, host_b, 0);
    let b = domain_of(&t);
    let joined = token(send(
        &mut other,
        domain_command(
            b,
            Command::AddMember {
                member: attest_member(victim),
            },
            &[&ops[0], &ops[1]],
        ),
    ));
    token(send(
        victim,
        domain_command(
            b,
            Command::IngestDomain { token: joined },
            &[&ops[0], &ops[1]],
        ),
    ));
    b
}

fn volatile_key(m: &mut Module, h: &Frontend) -> KeyRef {
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    let r = m.ask(
        h,
        Request::GenerateVolatileKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
    );
    assert!(matches!(r, Ok(Response::TransientEkt(_))), "{r:?}");
    key
}

#[test]
fn attacker_domain_with_lower_uuid_sent_to_an_owned_module_is_refused() {
    let owners = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    // The attacker runs modules of their own (unowned: anyone may create a
    // domain on one), with their own operators, and keeps the one whose
    // domain sorts first. It lists the victim's frontend as its host.
    let attacker = operators(2);
    let attacker_dirs: Vec<_> = (0..16).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut theirs, their_domain) = attacker_dirs
        .iter()
        .map(|dir| {
            let mut m = module(dir);
            let t = create_domain(&mut m, &attacker, &host, 0);
            (m, domain_of(&t))
        })
        .min_by_key(|(_, id)| *id)
        .expect("sixteen attacker modules");
    // The victim's domain id is random too: draw until the attacker's sorts
    // before it (each draw succeeds with probability 16/17, so this ends).
    let victim_dir = tempfile::tempdir().unwrap();
    let (mut victim, d) = loop {
        let _ = std::fs::remove_dir_all(victim_dir.path());
        std::fs::create_dir_all(victim_dir.path()).unwrap();
        let mut m = module(&victim_dir);
        let d = domain_of(&create_domain(&mut m, &owners, &host, 0));
        if their_domain < d {
            break (m, d);
        }
    };
    let h = frontend(&host, d);
    let (key, ekt) = new_key(&mut victim, &h);
    let blob = encrypt(&mut victim, &h, key, &ekt, b"tenant data").unwrap();

    let wrapped_to_victim = add_member(&mut theirs, &victim, &[&attacker[0], &attacker[1]]);
    let before = snapshot(&victim);

    // Ingesting it with the attacker's quorum is refused: the owners did
    // not sign.
    let ingest = domain_command(
        their_domain,
        Command::IngestDomain {
            token: wrapped_to_victim.clone(),
        },
        &[&attacker[0], &attacker[1]],
    );
    assert_eq!(refusal(send(&mut victim, ingest)), Refusal::UnknownOperator);
    // Creating a domain of the attacker's on the owned module directly,
    // with the attacker's operators, is refused the same way.
    let create = Command::CreateDomain {
        operators: attacker.iter().map(|o| o.public.clone()).collect(),
        rules: QuorumRule::uniform(2),
        hosts: vec![host.public_key().to_vec()],
        escrow_threshold: 2,
        min_generation_lifespan_secs: 0,
    };
    assert_eq!(
        refusal(send_module(
            &mut victim,
            create,
            &[&attacker[0], &attacker[1]]
        )),
        Refusal::UnknownOperator
    );
    // Even one owner signing with the attacker does not make a quorum.
    let mixed = domain_command(
        their_domain,
        Command::IngestDomain {
            token: wrapped_to_victim,
        },
        &[&owners[0], &attacker[0]],
    );
    assert_eq!(refusal(send(&mut victim, mixed)), Refusal::UnknownOperator);

    // Nothing changed: one domain, same epoch, same cache; new keys are
    // sealed under the victim's domain and old data still opens.
    assert_eq!(snapshot(&victim), before);
    let (_, fresh) = new_key(&mut victim, &h);
    assert_eq!(crate::ekt::domain_of(&fresh).unwrap().0, d);
    assert_eq!(
        decrypt(&mut victim, &h, &ekt, &blob).unwrap(),
        b"tenant data"
    );
    // A request naming the attacker's domain finds nothing to use.
    let r = victim.ask(
        &frontend(&host, their_domain),
        Request::GenerateRandom { length: 8 },
    );
    assert!(matches!(r, Err(HsmError::NoDomainKey(_))), "{r:?}");
}

#[test]
fn owners_quorum_can_still_add_a_second_domain_and_requests_pick_by_name() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let a = domain_of(&create_domain(&mut m, &ops, &host, 0));
    let b = second_domain(&mut m, &ops, &host);
    assert_eq!(m.domains.len(), 2);
    // The same host, listed in both, gets keys sealed under the domain it
    // names, whichever sorts first.
    for d in [a, b] {
        let (_, ekt) = new_key(&mut m, &frontend(&host, d));
        assert_eq!(crate::ekt::domain_of(&ekt).unwrap().0, d);
    }
}

#[test]
fn request_naming_a_held_domain_that_does_not_list_the_host_is_refused() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let (host_a, host_b) = (
        SigningKeyPair::generate().unwrap(),
        SigningKeyPair::generate().unwrap(),
    );
    let a = domain_of(&create_domain(&mut m, &ops, &host_a, 0));
    let b = second_domain(&mut m, &ops, &host_b);
    let (key, ekt) = new_key(&mut m, &frontend(&host_b, b));
    let before = snapshot(&m);

    // Host A names domain B, which the module holds but which lists only
    // host B: every kind of request is refused, nothing is made or opened.
    let intruder = frontend(&host_a, b);
    let requests = [
        Request::GenerateBackingKey {
            key: KeyRef {
                key_id: Uuid::new_v4(),
                version: 1,
            },
            spec: KeySpecCode::SymmetricDefault,
        },
        Request::Encrypt {
            key,
            ekt: ekt.clone(),
            plaintext: Zeroizing::new(b"x".to_vec()),
            context: canonical(std::iter::empty()),
        },
        Request::GenerateRandom { length: 8 },
        Request::SealCredential {
            access_key_id: "AKIA".into(),
            secret: Zeroizing::new("s".into()),
        },
        Request::ForgetKey { key_id: key.key_id },
        Request::ShredKey { key_id: key.key_id },
        Request::RewrapKeys {
            ekts: vec![ekt.clone()],
        },
    ];
    for request in requests {
        let what = format!("{request:?}");
        let r = m.ask(&intruder, request);
        assert!(
            matches!(r, Err(HsmError::HostNotAuthorized(_))),
            "{what}: {r:?}"
        );
    }
    // A host's request that names no domain at all is refused too.
    let r = m.handle(
        &frontend(&host_a, a).caller,
        Request::GenerateRandom { length: 8 },
    );
    assert!(matches!(r, Err(HsmError::InvalidRequest(_))), "{r:?}");
    assert_eq!(snapshot(&m), before);
    // Host B's key still works for host B.
    let h = frontend(&host_b, b);
    let blob = encrypt(&mut m, &h, key, &ekt, b"b's").unwrap();
    assert_eq!(decrypt(&mut m, &h, &ekt, &blob).unwrap(), b"b's");
}

#[test]
fn ekt_of_domain_a_in_a_request_naming_domain_b_is_refused() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let a = domain_of(&create_domain(&mut m, &ops, &host, 0));
    let b = second_domain(&mut m, &ops, &host);
    let (in_a, on_a) = (frontend(&host, a), frontend(&host, b));
    let (key, ekt_a) = new_key(&mut m, &in_a);
    let blob = encrypt(&mut m, &in_a, key, &ekt_a, b"a's").unwrap();
    m.vault.clear();
    let before = snapshot(&m);

    // The same host, listed in both, names B but brings A's EKT: refused
    // by every path that opens an EKT, and nothing is cached.
    assert!(matches!(
        encrypt(&mut m, &on_a, key, &ekt_a, b"x"),
        Err(HsmError::InvalidKeyToken)
    ));
    assert!(matches!(
        decrypt(&mut m, &on_a, &ekt_a, &blob),
        Err(HsmError::InvalidKeyToken)
    ));
    let r = m.ask(
        &on_a,
        Request::RewrapKeys {
            ekts: vec![ekt_a.clone()],
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
    let r = m.ask(
        &on_a,
        Request::InstallVolatileKey {
            key,
            ekt: strongroom_hsm_proto::TransientEkt(ekt_a.0.clone()),
        },
    );
    assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
    assert_eq!(snapshot(&m), before);
    // Named correctly, it works.
    assert_eq!(decrypt(&mut m, &in_a, &ekt_a, &blob).unwrap(), b"a's");
}

#[test]
fn forget_and_shred_from_an_unlisted_host_are_refused_and_the_key_still_works() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let (host, stranger) = (
        SigningKeyPair::generate().unwrap(),
        SigningKeyPair::generate().unwrap(),
    );
    let d = domain_of(&create_domain(&mut m, &ops, &host, 0));
    let h = frontend(&host, d);
    // A VOLATILE key lives only in this module's memory: forgetting it
    // would destroy it for ever.
    let key = volatile_key(&mut m, &h);
    let none = Ekt(vec![]);
    let blob = encrypt(&mut m, &h, key, &none, b"volatile").unwrap();

    // A stranger names the domain, or none: refused, nothing dropped, no
    // shred statement signed.
    let s = frontend(&stranger, d);
    for request in [
        Request::ForgetKey { key_id: key.key_id },
        Request::ShredKey { key_id: key.key_id },
    ] {
        let what = format!("{request:?}");
        let r = m.ask(&s, request.clone());
        assert!(
            matches!(r, Err(HsmError::HostNotAuthorized(_))),
            "{what}: {r:?}"
        );
        let r = m.handle(&s.caller, request);
        assert!(
            matches!(r, Err(HsmError::InvalidRequest(_))),
            "{what}: {r:?}"
        );
    }
    // A host of another domain on the same module drops only its own
    // domain's copies.
    let b = second_domain(&mut m, &ops, &stranger);
    let r = m.ask(
        &frontend(&stranger, b),
        Request::ShredKey { key_id: key.key_id },
    );
    let Ok(Response::Shredded(statement)) = r else {
        panic!("{r:?}")
    };
    let body: strongroom_hsm_proto::admin::ShredStatementBody = decode(&statement.body).unwrap();
    assert_eq!(body.cached_copies_dropped, 0);
    assert_eq!(decrypt(&mut m, &h, &none, &blob).unwrap(), b"volatile");
    // The listed host can.
    assert!(matches!(
        m.ask(&h, Request::ForgetKey { key_id: key.key_id }),
        Ok(Response::Done)
    ));
    assert!(matches!(
        decrypt(&mut m, &h, &none, &blob),
        Err(HsmError::VolatileKeyGone)
    ));
}

#[test]
fn add_member_replayed_after_remove_member_is_refused_on_a_member_that_never_ran_it() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut a, mut b, x) = (module(&dirs[0]), module(&dirs[1]), module(&dirs[2]));
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let t1 = create_domain(&mut a, &ops, &host, 0);
    let d = domain_of(&t1);
    let t2 = add_member(&mut a, &b, &[&ops[0], &ops[1]]);
    token(send(
        &mut b,
        domain_command(d, Command::IngestDomain { token: t2 }, &[&ops[0], &ops[1]]),
    ));

    // At epoch 2: X is added (run on A only) together with a host and an
    // operator, then all three are removed again.
    let extra_host = SigningKeyPair::generate().unwrap().public_key().to_vec();
    let extra_op = operators(1).remove(0);
    let adds = [
        Command::AddMember {
            member: attest_member(&x),
        },
        Command::AddHost {
            host_key: extra_host.clone(),
        },
        Command::AddOperator {
            operator: extra_op.public.clone(),
        },
    ];
    let mut signed_adds = Vec::new();
    for add in adds {
        let c = domain_command(d, add, &[&ops[0], &ops[1]]);
        token(send(&mut a, c.clone()));
        signed_adds.push(c);
    }
    for remove in [
        Command::RemoveMember { module_id: x.id() },
        Command::RemoveHost {
            host_key: extra_host.clone(),
        },
        Command::RemoveOperator {
            signing_key: extra_op.public.signing_key.clone(),
        },
    ] {
        token(send(&mut a, domain_command(d, remove, &[&ops[0], &ops[1]])));
    }
    let latest = a.domains[&d].token.clone().unwrap();
    token(send(
        &mut b,
        domain_command(
            d,
            Command::IngestDomain { token: latest },
            &[&ops[0], &ops[1]],
        ),
    ));
    let before = snapshot(&b);
    let body_before = b.domains[&d].body.clone();

    // B never ran the adds (a fresh nonce to B), but its domain has moved
    // past the epoch they were signed for: each replay is refused.
    for c in signed_adds {
        assert_eq!(refusal(send(&mut b, c)), Refusal::StaleEpoch);
    }
    // A command for an epoch B has not reached is refused as well.
    let ahead = command_in_epoch(
        Target::Domain(d),
        Command::RotateDomainKey,
        &[&ops[0], &ops[1]],
        now_secs() + 600,
        before.0[0].1.unwrap() + 1,
    );
    assert_eq!(refusal(send(&mut b, ahead)), Refusal::StaleEpoch);
    assert_eq!(snapshot(&b), before);
    let body = b.domains[&d].body.clone().unwrap();
    assert_eq!(Some(&body), body_before.as_ref());
    assert!(!body.members.iter().any(|m| m.module_id == x.id()));
    assert!(!body.hosts.contains(&extra_host));
    assert!(
        !body
            .operators
            .iter()
            .any(|o| o.signing_key == extra_op.public.signing_key)
    );
    // A command for the current epoch still works.
    token(send(
        &mut b,
        domain_command(d, Command::RotateDomainKey, &[&ops[0], &ops[1]]),
    ));
}

#[test]
fn command_with_many_bogus_signatures_from_non_operators_is_refused_unverified() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut m, &ops, &host, 0));
    let before = snapshot(&m);
    let mut c = domain_command(d, Command::RotateDomainKey, &[]);
    // Signatures that would not verify, by keys that are no operator's:
    // had any been verified first, the refusal would be InvalidSignature.
    for i in 0..crate::quorum::MAX_SIGNATURES {
        let mut key = ops[0].public.signing_key.clone();
        key.push(i as u8);
        c.signatures.push(OperatorSignature {
            signing_key: key,
            signature: vec![0x30; 104],
        });
    }
    assert_eq!(refusal(send(&mut m, c)), Refusal::UnknownOperator);
    assert_eq!(snapshot(&m), before);
}

/// Anyone who reaches the port can send commands that are refused; the
/// module log takes a bounded number of them a minute, not one per try.
#[test]
fn a_flood_of_refused_commands_leaves_a_bounded_module_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = module(&dir);
    let ops = operators(1);
    let elsewhere = Target::Module(Uuid::new_v4());
    for _ in 0..500 {
        let r = send(
            &mut m,
            command(elsewhere, Command::EnterServiceMode, &[&ops[0]]),
        );
        assert!(r.is_err(), "a command for another module ran");
    }
    let mut refused = 0;
    for entry in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            refused += text.matches("\"command refused\"").count();
        }
    }
    assert!(refused >= 1, "refusals are still logged");
    // The 500 tries may straddle one minute boundary: two allowances.
    assert!(
        refused <= 2 * crate::commands::LOGGED_REFUSALS_PER_MINUTE as usize,
        "{refused} refusal records for 500 tries"
    );
    // Still in use mode: nothing changed.
    assert_eq!(m.mode.name(), "use");
}

/// Two frontends race to make the same key version (or a refused import
/// leaves material cached): the module caches the loser's material, but
/// the store keeps the winner's token. A request with the stored token
/// must use the stored token's material, not the cached one.
#[test]
fn material_cached_from_a_token_the_store_never_kept_is_not_used() {
    let mut m = module(&tempfile::tempdir().unwrap());
    let ops = operators(3);
    let host = SigningKeyPair::generate().unwrap();
    let d = domain_of(&create_domain(&mut m, &ops, &host, 0));
    let h = frontend(&host, d);
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 2,
    };
    let generate = |m: &mut Module| match m.ask(
        &h,
        Request::GenerateBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
    ) {
        Ok(Response::Ekt(e)) => e,
        other => panic!("{other:?}"),
    };
    let stored = generate(&mut m);
    let _lost = generate(&mut m); // now cached under the same version
    let blob = encrypt(&mut m, &h, key, &stored, b"kept").unwrap();
    // Another module (or this one after a restart) opens only the stored
    // token: the ciphertext must be under its material.
    let (_, _, secret) = crate::ekt::open(&m.domains[&d].keys[&1], &stored).unwrap();
    let header = strongroom_hsm_proto::ciphertext::CiphertextHeader::parse(&blob).unwrap();
    let plain = crate::symmetric::decrypt(
        secret.expose(),
        &header,
        &blob,
        &strongroom_hsm_proto::context::canonical(std::iter::empty()),
    )
    .unwrap();
    assert_eq!(&plain[..], b"kept");
}
