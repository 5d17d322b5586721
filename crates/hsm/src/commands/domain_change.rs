//! What each domain command changes in the domain's token body and key
//! ring, before the module issues the next epoch's token.

use strongroom_hsm_proto::admin::{Command, DomainTokenBody, Generation};
use strongroom_hsm_proto::{HsmError, Refusal};
use uuid::Uuid;

use super::check_governance;
use crate::quorum::refuse;
use crate::token::KeyRing;

fn not_allowed(m: String) -> Result<(), HsmError> {
    Err(refuse(Refusal::NotAllowed, m))
}

/// Applies a domain command to `body` and `keys` (copies: nothing changes
/// unless the caller installs them). `me` is the module running it.
pub(super) fn apply(
    me: Uuid,
    body: &mut DomainTokenBody,
    keys: &mut KeyRing,
    command: Command,
    now: u64,
) -> Result<(), HsmError> {
    match command {
        Command::RotateDomainKey => rotate(body, keys, now),
        Command::RetireDomainKey {
            generation,
            ekts_remaining,
        } => retire(body, keys, generation, ekts_remaining, now),
        other => change_governance(me, body, other),
    }
}

/// AddMember, RemoveMember, AddOperator, RemoveOperator, AddHost,
/// RemoveHost.
fn change_governance(
    me: Uuid,
    body: &mut DomainTokenBody,
    command: Command,
) -> Result<(), HsmError> {
    match command {
        Command::AddMember { member } => {
            if body.members.iter().any(|m| m.module_id == member.module_id) {
                return not_allowed(format!("module {} is already a member", member.module_id));
            }
            body.members.push(member);
        }
        Command::RemoveMember { module_id } => {
            if module_id == me {
                return not_allowed(
                    "a module cannot remove itself: send RemoveMember to another member".into(),
                );
            }
            let before = body.members.len();
            body.members.retain(|m| m.module_id != module_id);
            if body.members.len() == before {
                return not_allowed(format!("module {module_id} is not a member"));
            }
        }
        Command::AddOperator { operator } => {
            body.operators.push(operator);
            check_governance(&body.operators, &body.rules, body.escrow_threshold)?;
        }
        Command::RemoveOperator { signing_key } => {
            let before = body.operators.len();
            body.operators.retain(|o| o.signing_key != signing_key);
            if body.operators.len() == before {
                return not_allowed("no such operator".into());
            }
            check_governance(&body.operators, &body.rules, body.escrow_threshold)?;
        }
        Command::AddHost { host_key } => {
            if !body.hosts.contains(&host_key) {
                body.hosts.push(host_key);
            }
        }
        Command::RemoveHost { host_key } => body.hosts.retain(|h| *h != host_key),
        other => return not_allowed(format!("{:?} is not a domain command", other.kind())),
    }
    Ok(())
}

/// RotateDomainKey: a new newest generation.
fn rotate(body: &mut DomainTokenBody, keys: &mut KeyRing, now: u64) -> Result<(), HsmError> {
    let next = keys
        .values()
        .next_back()
        .expect("non-empty")
        .next_generation()
        .map_err(|e| HsmError::Internal(e.to_string()))?;
    body.generations.push(Generation {
        number: next.generation(),
        created_at: now,
    });
    keys.insert(next.generation(), next);
    Ok(())
}

/// RetireDomainKey: drops the oldest of several generations once no
/// stored EKT uses it and its successor has lived its minimum lifespan.
fn retire(
    body: &mut DomainTokenBody,
    keys: &mut KeyRing,
    generation: u32,
    ekts_remaining: u64,
    now: u64,
) -> Result<(), HsmError> {
    let oldest = *keys.keys().next().expect("non-empty");
    if keys.len() < 2 || generation != oldest {
        return not_allowed(format!(
            "only the oldest of several generations can be retired (oldest is {oldest})"
        ));
    }
    if ekts_remaining > 0 {
        return not_allowed(format!(
            "{ekts_remaining} stored EKTs still use generation {generation}: rewrap them first"
        ));
    }
    let successor = body
        .generations
        .iter()
        .find(|g| g.number > generation)
        .map_or(now, |g| g.created_at);
    let allowed_at = successor + body.min_generation_lifespan_secs;
    if now < allowed_at {
        return not_allowed(format!(
            "generation {generation} must live until {allowed_at} (minimum lifespan after its successor)"
        ));
    }
    keys.remove(&generation);
    body.generations.retain(|g| g.number != generation);
    Ok(())
}
