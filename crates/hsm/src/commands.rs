//! Operator commands: which quorum governs each, in which mode it runs, and
//! what it changes. A refused command changes nothing.

use serde_json::json;
use strongroom_hsm_proto::admin::{
    Command, CommandBody, CommandKind, DomainToken, DomainTokenBody, ERASURE_SIGNING_PREFIX,
    ErasureBody, ErasureCertificate, Operator, QuorumRule, SignedCommand, Target, encode, prefixed,
};
use strongroom_hsm_proto::{Caller, HsmError, Refusal, Response};
use uuid::Uuid;

use crate::authority::Governance;
use crate::escrow;
use crate::identity::Identity;
use crate::module::{Domain, Mode, Module, now_secs};
use crate::quorum::{self, Authority, key_name, refuse};
use crate::token::{self, KeyRing};

mod domain_change;
mod setup;

fn needs_mode(kind: CommandKind) -> Option<Mode> {
    use CommandKind::*;
    match kind {
        InitializeModule | SetFriendlyName | InstallUpdate | DeleteLog | EnterUseMode => {
            Some(Mode::Service)
        }
        EnterServiceMode => None,
        _ => Some(Mode::Use),
    }
}

fn duplicate(ring: &KeyRing) -> KeyRing {
    ring.iter().map(|(g, k)| (*g, k.duplicate())).collect()
}

fn check_governance(
    operators: &[Operator],
    rules: &[QuorumRule],
    escrow_threshold: u8,
) -> Result<(), HsmError> {
    if operators.is_empty() {
        return Err(refuse(
            Refusal::NotAllowed,
            "a domain needs at least one operator",
        ));
    }
    for (i, o) in operators.iter().enumerate() {
        if operators[..i]
            .iter()
            .any(|p| p.signing_key == o.signing_key)
        {
            return Err(refuse(
                Refusal::NotAllowed,
                format!("operator {} is listed twice", o.name),
            ));
        }
    }
    for r in rules {
        let perm = r.command.required_permission();
        let holders = operators
            .iter()
            .filter(|o| o.permissions & perm == perm)
            .count();
        if r.threshold == 0 || usize::from(r.threshold) > holders {
            return Err(refuse(
                Refusal::NotAllowed,
                format!(
                    "rule for {:?} needs {} of {holders} operators: impossible",
                    r.command, r.threshold
                ),
            ));
        }
    }
    let custodians = escrow::custodians(operators).len();
    if escrow_threshold == 0 || usize::from(escrow_threshold) > custodians {
        return Err(refuse(
            Refusal::NotAllowed,
            format!(
                "escrow threshold {escrow_threshold} with {custodians} recovery operators: impossible"
            ),
        ));
    }
    Ok(())
}

/// Refused commands logged one by one per minute; the rest are counted.
pub(crate) const LOGGED_REFUSALS_PER_MINUTE: u32 = 20;
/// Signer names kept in one refusal record.
const MAX_LOGGED_SIGNERS: usize = 8;

/// The per-minute allowance of individually logged refusals.
#[derive(Debug, Default)]
pub(crate) struct RefusalBudget {
    minute: u64,
    logged: u32,
    suppressed: u64,
}

impl RefusalBudget {
    /// Starts a new minute if `now` is in one; returns how many refusals
    /// the minute that ended did not log, if any.
    fn roll(&mut self, now: u64) -> Option<u64> {
        let minute = now / 60;
        if minute == self.minute {
            return None;
        }
        self.minute = minute;
        self.logged = 0;
        Some(std::mem::take(&mut self.suppressed)).filter(|&n| n > 0)
    }

    /// Whether this refusal gets its own record.
    fn admit(&mut self) -> bool {
        if self.logged < LOGGED_REFUSALS_PER_MINUTE {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

impl Module {
    /// Verifies and runs a signed command.
    pub(crate) fn execute(&mut self, cmd: SignedCommand) -> Result<Response, HsmError> {
        let now = now_secs();
        let outcome = self.verify_and_run(&cmd, now);
        let signers: Vec<String> = cmd
            .signatures
            .iter()
            .map(|s| key_name(&s.signing_key))
            .collect();
        let kind = cmd
            .decode_body()
            .map(|b| format!("{:?}", b.command.kind()))
            .unwrap_or_else(|_| "malformed".into());
        match &outcome {
            Ok(_) => self.record(
                "command",
                json!({"command": kind, "signers": signers, "mode": self.mode.name()}),
            ),
            Err(e) => {
                // Anyone who reaches the port can send refused commands: the
                // log takes a bounded number a minute, then one count.
                if let Some(suppressed) = self.refusals.roll(now) {
                    self.record("command refusals suppressed", json!({"count": suppressed}));
                }
                if self.refusals.admit() {
                    let signers: Vec<&String> = signers.iter().take(MAX_LOGGED_SIGNERS).collect();
                    self.record(
                        "command refused",
                        json!({"command": kind, "signers": signers, "error": e.to_string()}),
                    );
                }
            }
        }
        outcome
    }

    fn verify_and_run(&mut self, cmd: &SignedCommand, now: u64) -> Result<Response, HsmError> {
        let body = cmd
            .decode_body()
            .map_err(|e| refuse(Refusal::Malformed, e.to_string()))?;
        self.check_target(&body)?;
        self.check_epoch(&body)?;
        let gov = self.governance(&body)?;
        let authorities: Vec<Authority<'_>> = gov
            .iter()
            .map(|g| match g {
                Governance::Domain(operators, rules) => Authority::Domain { operators, rules },
                Governance::Unowned => Authority::Unowned,
            })
            .collect();
        // Who may command is settled before what state the module is in
        // is revealed; cheap checks come before any signature is verified.
        let body = quorum::verify(cmd, now, &self.nonces, &authorities)?;
        // A token is verified before the module acts on it (its rules may
        // have been the quorum above, on a module without owners).
        if let Command::IngestDomain { token } | Command::RecoverDomain { token, .. } =
            &body.command
        {
            let b = token
                .decode_body()
                .map_err(|e| refuse(Refusal::InvalidToken, e.to_string()))?;
            let held = self
                .domains
                .get(&b.domain_id)
                .and_then(|d| d.body.as_ref())
                .map(|h| &h.members[..]);
            token::verify_signature(token, held)?;
        }
        let kind = body.command.kind();
        if let Some(mode) = needs_mode(kind)
            && mode != self.mode
        {
            return Err(refuse(
                Refusal::WrongMode,
                format!(
                    "{kind:?} needs {} mode; the module is in {} mode",
                    mode.name(),
                    self.mode.name()
                ),
            ));
        }
        let (nonce, expires_at) = (body.nonce, body.expires_at);
        let response = self.run(body, now)?;
        self.nonces.remember(nonce, expires_at, now);
        Ok(response)
    }

    fn run(&mut self, body: CommandBody, now: u64) -> Result<Response, HsmError> {
        let target = body.target;
        match body.command {
            Command::InitializeModule { friendly_name } => self.initialize_module(friendly_name),
            Command::SetFriendlyName { friendly_name } => {
                self.friendly_name = friendly_name;
                Ok(Response::Done)
            }
            Command::InstallUpdate {
                package_sha384,
                version,
            } => {
                if package_sha384.len() != 48 {
                    return Err(refuse(
                        Refusal::Malformed,
                        "a package hash is 48 bytes (SHA-384)",
                    ));
                }
                self.installed_update = Some((package_sha384, version));
                Ok(Response::Done)
            }
            Command::EnterServiceMode => {
                self.enter_service_mode();
                Ok(Response::Done)
            }
            Command::EnterUseMode => self.enter_use_mode(),
            Command::CreateDomain {
                operators,
                rules,
                hosts,
                escrow_threshold,
                min_generation_lifespan_secs,
            } => {
                let governance = setup::NewDomain {
                    operators,
                    rules,
                    hosts,
                    escrow_threshold,
                    min_generation_lifespan_secs,
                };
                self.create_domain(governance, now)
            }
            Command::IngestDomain { token } => self.ingest_domain(token),
            Command::RecoverDomain { token, shares } => self.recover_domain(token, &shares, now),
            Command::DeleteLog { log_id, sha384 } => self.delete_log(log_id, &sha384),
            other => {
                let Target::Domain(domain_id) = target else {
                    return Err(refuse(
                        Refusal::WrongTarget,
                        "domain commands are addressed to a domain",
                    ));
                };
                self.change_domain(domain_id, other, now)
                    .map(Response::DomainToken)
            }
        }
    }

    fn handle_attest(&mut self) -> Result<Response, HsmError> {
        use strongroom_hsm_proto::{ModuleHandler, Request};
        self.handle(&Caller::InProcess, Request::Attest { nonce: vec![] })
    }

    fn install(&mut self, body: DomainTokenBody, token: DomainToken, keys: KeyRing) {
        let id = body.domain_id;
        if let (Some(store), Some(newest)) = (&self.store, keys.values().next_back())
            && let Err(e) = store.put(&id.to_string(), newest, &encode(&token))
        {
            tracing::error!(error = %e, "cannot write the sealed store");
        }
        self.record("domain", json!({"domain_id": id, "epoch": body.epoch, "generations": body.generations.iter().map(|g| g.number).collect::<Vec<_>>(), "members": body.members.iter().map(|m| m.module_id).collect::<Vec<_>>()}));
        self.domains.insert(
            id,
            Domain {
                body: Some(body),
                token: Some(token),
                keys,
            },
        );
    }

    fn change_domain(
        &mut self,
        domain_id: Uuid,
        command: Command,
        now: u64,
    ) -> Result<DomainToken, HsmError> {
        let d = self
            .domains
            .get(&domain_id)
            .ok_or_else(|| refuse(Refusal::WrongTarget, "domain not held"))?;
        let mut body = d.body.clone().ok_or_else(|| {
            refuse(
                Refusal::NotAllowed,
                "the embedded dev domain takes no commands",
            )
        })?;
        let mut keys = duplicate(&d.keys);
        if keys.is_empty() {
            return Err(refuse(Refusal::WrongMode, "the domain keys are not loaded"));
        }
        domain_change::apply(self.identity.id, &mut body, &mut keys, command, now)?;
        body.epoch += 1;
        let token = token::issue(&self.identity, &mut body, &keys, now)?;
        self.install(body, token.clone(), keys);
        Ok(token)
    }

    /// Destroys every domain key and customer key in memory; only tokens
    /// (sealed) remain. Then administrative commands are allowed.
    pub fn enter_service_mode(&mut self) {
        let wiped = self.vault.clear() + self.asymmetric.clear() + self.volatile.clear();
        for d in self.domains.values_mut() {
            d.keys.clear();
        }
        self.mode = Mode::Service;
        self.record(
            "mode",
            json!({"mode": "service", "vault_keys_zeroized": wiped}),
        );
    }

    /// Tamper response: zeroize everything, erase the local sealed store,
    /// sign an erasure certificate, then take a new identity (service mode,
    /// no domain). The certificate is also written next to the log.
    pub fn erase(&mut self, reason: &str) -> ErasureCertificate {
        let domains: Vec<Uuid> = self.domains.keys().copied().collect();
        let vault_keys =
            (self.vault.clear() + self.asymmetric.clear() + self.volatile.clear()) as u64;
        self.domains.clear();
        self.nonces.clear();
        let sealed_files = match &self.store {
            Some(s) => s.erase_all().unwrap_or_else(|e| {
                tracing::error!(error = %e, "sealed store erasure incomplete; it is repeated at next start");
                vec![]
            }),
            None => vec![],
        };
        let body = encode(&ErasureBody {
            module_id: self.identity.id,
            signing_key: self.identity.signing.public_key().to_vec(),
            erased_at: now_secs(),
            reason: reason.to_string(),
            domains,
            vault_keys,
            sealed_files,
        });
        let signature = self
            .identity
            .signing
            .sign(&prefixed(ERASURE_SIGNING_PREFIX, &body))
            .unwrap_or_default();
        let cert = ErasureCertificate { body, signature };
        if let Some(dir) = &self.config.state_dir {
            let path = dir.join(format!("erasure-{}.json", self.identity.id));
            let text =
                json!({"body": hex::encode(&cert.body), "signature": hex::encode(&cert.signature)})
                    .to_string();
            if let Err(e) = std::fs::write(&path, text) {
                tracing::error!(error = %e, "cannot write the erasure certificate");
            }
        }
        self.record("erased", json!({"reason": reason, "certificate_sha384": hex::encode(strongroom_crypto::sha384(&cert.body))}));
        if let Ok(fresh) = Identity::generate() {
            self.identity = fresh;
        }
        self.mode = Mode::Service;
        self.last_erasure = Some(cert.clone());
        cert
    }
}
