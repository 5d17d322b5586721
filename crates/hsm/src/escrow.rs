//! Escrow of domain keys to operators, M-of-N (Shamir over GF(256), via
//! `blahaj`), each share sealed to one operator's agreement key.

use std::collections::BTreeSet;

use strongroom_crypto::{AgreementKeyPair, SecretKey256, seal_to};
use strongroom_hsm_proto::admin::{
    EscrowShare, Operator, RecoveryShare, escrow_label, permission, recovery_label,
};
use strongroom_hsm_proto::{HsmError, Refusal};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::DomainKey;
use crate::quorum::refuse;

/// The operators who receive shares: those with the recovery permission.
pub fn custodians(operators: &[Operator]) -> Vec<&Operator> {
    operators
        .iter()
        .filter(|o| o.permissions & permission::RECOVERY != 0)
        .collect()
}

/// Splits `key` into one share per custodian, `threshold` needed.
pub fn split(
    key: &DomainKey,
    operators: &[Operator],
    threshold: u8,
) -> Result<Vec<EscrowShare>, HsmError> {
    let holders = custodians(operators);
    if threshold == 0 || usize::from(threshold) > holders.len() || holders.len() > 255 {
        return Err(refuse(
            Refusal::NotAllowed,
            format!(
                "escrow threshold {threshold} impossible with {} operators holding the recovery permission",
                holders.len()
            ),
        ));
    }
    let dealer = blahaj::Sharks(threshold);
    let shares = dealer.dealer(key.root().expose());
    let label = escrow_label(key.id(), key.generation());
    holders
        .iter()
        .zip(shares)
        .map(|(op, share)| {
            let bytes = Zeroizing::new(Vec::from(&share));
            Ok(EscrowShare {
                operator: op.signing_key.clone(),
                generation: key.generation(),
                sealed: seal_to(&op.agreement_key, &label, &bytes).map_err(|e| {
                    refuse(Refusal::NotAllowed, format!("operator {}: {e}", op.name))
                })?,
            })
        })
        .collect()
}

/// Rebuilds generation `generation` of `domain` from recovery shares sealed
/// to `me`, needing `threshold` distinct operators' shares.
pub fn recover(
    me: &AgreementKeyPair,
    domain: Uuid,
    generation: u32,
    threshold: u8,
    operators: &[Operator],
    shares: &[RecoveryShare],
) -> Result<DomainKey, HsmError> {
    let label = recovery_label(domain, generation);
    let mut seen = BTreeSet::new();
    let mut opened = Vec::new();
    for s in shares.iter().filter(|s| s.generation == generation) {
        if !custodians(operators)
            .iter()
            .any(|o| o.signing_key == s.operator)
        {
            return Err(refuse(
                Refusal::UnknownOperator,
                "a share comes from a key that holds no escrow",
            ));
        }
        if !seen.insert(s.operator.clone()) {
            continue;
        }
        let bytes = me.open(&label, &s.sealed).map_err(|_| {
            refuse(
                Refusal::InvalidToken,
                "a recovery share does not open for this module",
            )
        })?;
        opened.push(
            blahaj::Share::try_from(&bytes[..])
                .map_err(|_| refuse(Refusal::Malformed, "a recovery share is malformed"))?,
        );
    }
    if opened.len() < usize::from(threshold) {
        return Err(refuse(
            Refusal::QuorumNotMet,
            format!(
                "generation {generation} needs {threshold} shares, got {}",
                opened.len()
            ),
        ));
    }
    let secret = Zeroizing::new(
        blahaj::Sharks(threshold)
            .recover(&opened)
            .map_err(|e| refuse(Refusal::InvalidToken, format!("shares do not combine: {e}")))?,
    );
    let root = SecretKey256::from_slice(&secret).map_err(|_| {
        refuse(
            Refusal::InvalidToken,
            "shares do not combine to a domain key",
        )
    })?;
    DomainKey::from_parts(domain, generation, root).map_err(|e| HsmError::Internal(e.to_string()))
}
