//! Module state machine tests: domains built by quorum, cross-member use,
//! refusals, modes, rotation, recovery and erasure, on in-memory modules
//! (the process-level versions are in crates/cli/tests/api/module_*.rs).

mod audit_seal;
mod boundary;
mod domain;
mod extraction;
mod keys;
mod laundering;
mod ml_dsa;
mod workers;

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

pub(super) struct Op {
    pub(super) signing: SigningKeyPair,
    pub(super) agreement: AgreementKeyPair,
    pub(super) public: Operator,
}

pub(super) fn operators(n: usize) -> Vec<Op> {
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

thread_local! {
    /// The newest epoch of each domain these tests have seen a token of:
    /// what an operator preparing a command from the latest token fills in.
    static EPOCHS: std::cell::RefCell<std::collections::HashMap<Uuid, u64>> =
        Default::default();
}

fn remember_epoch(r: &Result<Response, HsmError>) {
    if let Ok(Response::DomainToken(t)) = r {
        let b = t.decode_body().unwrap();
        EPOCHS.with_borrow_mut(|e| {
            let seen = e.entry(b.domain_id).or_default();
            *seen = (*seen).max(b.epoch);
        });
    }
}

/// The epoch an operator tool would put in a command for `target`: the
/// ingested token's for IngestDomain, the newest token's for other domain
/// commands, zero for module commands.
pub(super) fn epoch_for(target: Target, command: &Command) -> u64 {
    match (target, command) {
        (Target::Module(_), _) => 0,
        (_, Command::IngestDomain { token }) => token.decode_body().map_or(0, |b| b.epoch),
        (Target::Domain(d), _) => EPOCHS.with_borrow(|e| e.get(&d).copied().unwrap_or(0)),
    }
}

pub(super) fn command_at(
    target: Target,
    command: Command,
    signers: &[&Op],
    expires_at: u64,
) -> SignedCommand {
    let epoch = epoch_for(target, &command);
    command_in_epoch(target, command, signers, expires_at, epoch)
}

pub(super) fn command_in_epoch(
    target: Target,
    command: Command,
    signers: &[&Op],
    expires_at: u64,
    epoch: u64,
) -> SignedCommand {
    let mut c = SignedCommand::new(&CommandBody {
        target,
        nonce: strongroom_crypto::random_array().unwrap(),
        expires_at,
        epoch,
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

pub(super) fn command(target: Target, command: Command, signers: &[&Op]) -> SignedCommand {
    command_at(target, command, signers, now_secs() + 600)
}

pub(super) fn send(m: &mut Module, c: SignedCommand) -> Result<Response, HsmError> {
    let r = m.handle(&Caller::InProcess, Request::Command(c));
    remember_epoch(&r);
    r
}

/// Sends a command addressed to `m` itself.
pub(super) fn send_module(
    m: &mut Module,
    c: Command,
    signers: &[&Op],
) -> Result<Response, HsmError> {
    let id = m.id();
    send(m, command(Target::Module(id), c, signers))
}

pub(super) fn token(r: Result<Response, HsmError>) -> DomainToken {
    match r {
        Ok(Response::DomainToken(t)) => t,
        other => panic!("expected a token, got {other:?}"),
    }
}

pub(super) fn refusal(r: Result<Response, HsmError>) -> Refusal {
    match r {
        Err(HsmError::CommandRefused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub(super) fn module(dir: &tempfile::TempDir) -> Module {
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

pub(super) fn attest_member(m: &Module) -> strongroom_hsm_proto::admin::MemberIdentity {
    m.identity.member(&m.friendly_name)
}

pub(super) fn create_domain(
    m: &mut Module,
    ops: &[Op],
    host: &SigningKeyPair,
    lifespan: u64,
) -> DomainToken {
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

pub(super) fn domain_of(t: &DomainToken) -> Uuid {
    t.decode_body().unwrap().domain_id
}

/// A frontend as a module sees it: a host key (from TLS) and the domain
/// its requests name.
pub(super) struct Frontend {
    pub(super) caller: Caller,
    pub(super) domain: Uuid,
}

pub(super) fn frontend(host: &SigningKeyPair, domain: Uuid) -> Frontend {
    Frontend {
        caller: Caller::Host(host.public_key().to_vec().into()),
        domain,
    }
}

/// Sends requests as a frontend does: each for the frontend's domain.
pub(super) trait Ask {
    fn ask(&mut self, from: &Frontend, request: Request) -> Result<Response, HsmError>;
}

impl Ask for Module {
    fn ask(&mut self, from: &Frontend, request: Request) -> Result<Response, HsmError> {
        self.handle(
            &from.caller,
            Request::InDomain {
                domain: from.domain,
                request: Box::new(request),
            },
        )
    }
}

pub(super) fn new_key(m: &mut Module, caller: &Frontend) -> (KeyRef, Ekt) {
    let key = KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    };
    match m.ask(
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

pub(super) fn encrypt(
    m: &mut Module,
    caller: &Frontend,
    key: KeyRef,
    ekt: &Ekt,
    msg: &[u8],
) -> Result<Vec<u8>, HsmError> {
    match m.ask(
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

pub(super) fn decrypt(
    m: &mut Module,
    caller: &Frontend,
    ekt: &Ekt,
    blob: &[u8],
) -> Result<Vec<u8>, HsmError> {
    match m.ask(
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
