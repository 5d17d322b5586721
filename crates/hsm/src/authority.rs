//! Which quorum governs an operator command, what it must be addressed
//! to, and which epoch of its domain it must carry. Settled before any
//! signature is checked or anything changes.

use strongroom_hsm_proto::admin::{
    Command, CommandBody, DomainToken, DomainTokenBody, Operator, QuorumRule, Target,
};
use strongroom_hsm_proto::{HsmError, Refusal};
use uuid::Uuid;

use crate::module::Module;
use crate::quorum::refuse;

/// Owned copy of a quorum authority (so the module can be changed after).
pub(crate) enum Governance {
    /// A domain's operators and quorum rules.
    Domain(Vec<Operator>, Vec<QuorumRule>),
    /// A module without owners: any one signature.
    Unowned,
}

impl Module {
    /// The governance of every domain this module already belongs to (the
    /// embedded dev domain has none).
    fn owners(&self) -> Vec<Governance> {
        self.domains
            .values()
            .filter_map(|d| d.body.as_ref())
            .map(|b| Governance::Domain(b.operators.clone(), b.rules.clone()))
            .collect()
    }

    /// Who must sign `body`. A command that brings a new domain into a
    /// module that already has owners (CreateDomain, IngestDomain of a
    /// domain it does not hold, RecoverDomain) needs those owners' quorum:
    /// the operators named by the command or its token could be anyone's.
    pub(crate) fn governance(&self, body: &CommandBody) -> Result<Vec<Governance>, HsmError> {
        let from_body =
            |b: &DomainTokenBody| Governance::Domain(b.operators.clone(), b.rules.clone());
        let held = |d: Uuid| self.domains.get(&d).and_then(|x| x.body.as_ref());
        let owners = self.owners();
        let token_body = |token: &DomainToken| {
            token
                .decode_body()
                .map_err(|e| refuse(Refusal::InvalidToken, e.to_string()))
        };
        Ok(match (&body.target, &body.command) {
            (
                _,
                Command::CreateDomain {
                    operators, rules, ..
                },
            ) if owners.is_empty() => {
                vec![Governance::Domain(operators.clone(), rules.clone())]
            }
            (_, Command::IngestDomain { token }) => {
                let b = token_body(token)?;
                match held(b.domain_id) {
                    Some(h) => vec![from_body(h)],
                    None if owners.is_empty() => vec![from_body(&b)],
                    None => owners,
                }
            }
            (_, Command::RecoverDomain { token, .. }) if owners.is_empty() => {
                vec![from_body(&token_body(token)?)]
            }
            (_, Command::CreateDomain { .. } | Command::RecoverDomain { .. }) => owners,
            (Target::Domain(d), _) => vec![from_body(held(*d).ok_or_else(|| {
                refuse(
                    Refusal::WrongTarget,
                    format!("this module does not hold domain {d}"),
                )
            })?)],
            (Target::Module(_), _) if owners.is_empty() => vec![Governance::Unowned],
            (Target::Module(_), _) => owners,
        })
    }

    /// A domain command must carry the epoch of the domain as this module
    /// holds it (IngestDomain: its token's epoch), so a command signed for
    /// an earlier epoch cannot be replayed once the domain has moved on.
    pub(crate) fn check_epoch(&self, body: &CommandBody) -> Result<(), HsmError> {
        let expected = match (&body.target, &body.command) {
            (Target::Module(_), _) => 0,
            (Target::Domain(_), Command::IngestDomain { token }) => {
                token
                    .decode_body()
                    .map_err(|e| refuse(Refusal::InvalidToken, e.to_string()))?
                    .epoch
            }
            (Target::Domain(d), _) => self
                .domains
                .get(d)
                .and_then(|x| x.body.as_ref())
                .map(|b| b.epoch)
                .ok_or_else(|| refuse(Refusal::WrongTarget, "domain not held"))?,
        };
        if body.epoch == expected {
            return Ok(());
        }
        let detail = match body.target {
            Target::Module(_) => {
                return Err(refuse(
                    Refusal::Malformed,
                    "a module command carries epoch 0",
                ));
            }
            _ if body.epoch < expected => format!(
                "the command was prepared for epoch {}, but the domain has moved to epoch {expected}: prepare it again from the current token",
                body.epoch
            ),
            _ => format!(
                "the command was prepared for epoch {}, but this module holds epoch {expected}: ingest the current token first",
                body.epoch
            ),
        };
        Err(refuse(Refusal::StaleEpoch, detail))
    }

    pub(crate) fn check_target(&self, body: &CommandBody) -> Result<(), HsmError> {
        let ok = match (&body.target, &body.command) {
            (Target::Module(id), _) => *id == self.identity.id,
            (Target::Domain(d), Command::IngestDomain { token }) => token
                .decode_body()
                .map(|b| b.domain_id == *d)
                .unwrap_or(false),
            (Target::Domain(d), Command::CreateDomain { .. } | Command::RecoverDomain { .. }) => {
                let _ = d;
                false
            }
            (Target::Domain(d), _) => self.domains.contains_key(d),
        };
        if ok {
            Ok(())
        } else {
            Err(refuse(
                Refusal::WrongTarget,
                format!("the command is for {:?}, not this module", body.target),
            ))
        }
    }
}
