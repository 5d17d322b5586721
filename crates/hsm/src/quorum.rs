//! Checking operator commands: target, expiry, replay, signatures, quorum.

use std::collections::{BTreeSet, HashMap};

use strongroom_crypto::verify_p384;
use strongroom_hsm_proto::admin::{CommandBody, CommandKind, Operator, QuorumRule, SignedCommand};
use strongroom_hsm_proto::{HsmError, Refusal};

/// Longest validity an operator may give a command.
pub const MAX_COMMAND_LIFETIME_SECS: u64 = 7 * 24 * 3600;
const MAX_REMEMBERED_NONCES: usize = 100_000;
/// Most signatures a command may carry (more than any quorum needs).
pub const MAX_SIGNATURES: usize = 64;

/// A refusal with a message.
pub fn refuse(reason: Refusal, detail: impl Into<String>) -> HsmError {
    HsmError::CommandRefused {
        reason,
        detail: detail.into(),
    }
}

/// A short printable name for a public key.
pub fn key_name(key: &[u8]) -> String {
    hex::encode(&strongroom_crypto::sha256(key)[..8])
}

/// Nonces of accepted commands, kept until the commands expire.
#[derive(Default, Debug)]
pub struct NonceCache {
    seen: HashMap<[u8; 16], u64>,
}

impl NonceCache {
    /// Whether `nonce` was used already.
    pub fn seen(&self, nonce: &[u8; 16]) -> bool {
        self.seen.contains_key(nonce)
    }

    /// Records an accepted command's nonce.
    pub fn remember(&mut self, nonce: [u8; 16], expires_at: u64, now: u64) {
        if self.seen.len() >= MAX_REMEMBERED_NONCES {
            self.seen.retain(|_, exp| *exp >= now);
        }
        self.seen.insert(nonce, expires_at);
    }

    /// Forgets everything (a new identity starts a new cache).
    pub fn clear(&mut self) {
        self.seen.clear();
    }
}

/// Who must sign: a domain's operators and rules, or — for a module that
/// belongs to no domain — anyone holding a P-384 key.
pub enum Authority<'a> {
    /// A domain's governance.
    Domain {
        operators: &'a [Operator],
        rules: &'a [QuorumRule],
    },
    /// An unowned module: one valid signature by any key.
    Unowned,
}

/// Checks a command's freshness, signers and signatures; returns the body.
/// The caller checks the target and remembers the nonce once it has acted.
///
/// Everything that costs nothing comes first (expiry, nonce, how many
/// signatures, duplicates, whether every signer is an operator holding the
/// permission and whether they can reach the threshold): a stranger's
/// command with a pile of signatures is refused before a single ECDSA
/// verification is spent on it.
pub fn verify(
    cmd: &SignedCommand,
    now: u64,
    nonces: &NonceCache,
    authorities: &[Authority<'_>],
) -> Result<CommandBody, HsmError> {
    let body = cmd
        .decode_body()
        .map_err(|e| refuse(Refusal::Malformed, e.to_string()))?;
    if body.expires_at < now {
        return Err(refuse(
            Refusal::Expired,
            format!("the command expired at {} (now {now})", body.expires_at),
        ));
    }
    if body.expires_at > now + MAX_COMMAND_LIFETIME_SECS {
        return Err(refuse(
            Refusal::Expired,
            "the command's expiry is more than 7 days ahead",
        ));
    }
    if nonces.seen(&body.nonce) {
        return Err(refuse(
            Refusal::Replayed,
            "this command (nonce) was already executed by this module",
        ));
    }
    check_signers(cmd, body.command.kind(), authorities)?;
    let message = cmd.signing_bytes();
    for sig in &cmd.signatures {
        if !verify_p384(&sig.signing_key, &message, &sig.signature) {
            return Err(refuse(
                Refusal::InvalidSignature,
                format!(
                    "the signature of key {} does not verify",
                    key_name(&sig.signing_key)
                ),
            ));
        }
    }
    Ok(body)
}

/// The checks that need no cryptography: a bounded number of signatures,
/// no signer twice, every signer an operator of every authority, and
/// enough of them holding the permission to meet each threshold.
fn check_signers(
    cmd: &SignedCommand,
    kind: CommandKind,
    authorities: &[Authority<'_>],
) -> Result<(), HsmError> {
    if cmd.signatures.len() > MAX_SIGNATURES {
        return Err(refuse(
            Refusal::Malformed,
            format!("more than {MAX_SIGNATURES} signatures"),
        ));
    }
    let mut signers = BTreeSet::new();
    for sig in &cmd.signatures {
        if !signers.insert(&sig.signing_key[..]) {
            return Err(refuse(
                Refusal::Malformed,
                format!("key {} signed twice", key_name(&sig.signing_key)),
            ));
        }
    }
    for authority in authorities {
        match authority {
            Authority::Unowned => {
                if cmd.signatures.is_empty() {
                    return Err(refuse(
                        Refusal::QuorumNotMet,
                        "the command carries no signature",
                    ));
                }
            }
            Authority::Domain { operators, rules } => {
                let need = rules
                    .iter()
                    .find(|r| r.command == kind)
                    .map(|r| r.threshold)
                    .ok_or_else(|| {
                        refuse(
                            Refusal::NotAllowed,
                            format!("the domain has no quorum rule for {kind:?}"),
                        )
                    })?;
                let perm = kind.required_permission();
                let mut counted = 0usize;
                for sig in &cmd.signatures {
                    let Some(op) = operators.iter().find(|o| o.signing_key == sig.signing_key)
                    else {
                        return Err(refuse(
                            Refusal::UnknownOperator,
                            format!(
                                "key {} is not an operator of the domain",
                                key_name(&sig.signing_key)
                            ),
                        ));
                    };
                    if op.permissions & perm == perm {
                        counted += 1;
                    }
                }
                if counted < usize::from(need) {
                    return Err(refuse(
                        Refusal::QuorumNotMet,
                        format!(
                            "{kind:?} needs {need} signatures from operators with permission {perm}, got {counted}"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_crypto::{AgreementKeyPair, SigningKeyPair};
    use strongroom_hsm_proto::admin::{Command, OperatorSignature, Target, permission};

    fn operator(name: &str, perms: u32) -> (SigningKeyPair, Operator) {
        let k = SigningKeyPair::generate().unwrap();
        let op = Operator {
            name: name.into(),
            signing_key: k.public_key().to_vec(),
            agreement_key: AgreementKeyPair::generate().unwrap().public_key().to_vec(),
            permissions: perms,
        };
        (k, op)
    }

    fn command(expires_at: u64) -> SignedCommand {
        SignedCommand::new(&CommandBody {
            target: Target::Domain(uuid::Uuid::nil()),
            nonce: [7; 16],
            expires_at,
            epoch: 1,
            command: Command::RotateDomainKey,
        })
    }

    fn sign(cmd: &mut SignedCommand, k: &SigningKeyPair) {
        let signature = k.sign(&cmd.signing_bytes()).unwrap();
        cmd.signatures.push(OperatorSignature {
            signing_key: k.public_key().to_vec(),
            signature,
        });
    }

    fn reason(r: Result<CommandBody, HsmError>) -> Refusal {
        match r {
            Err(HsmError::CommandRefused { reason, .. }) => reason,
            other => panic!("expected refusal, got {other:?}"),
        }
    }

    #[test]
    fn quorum_rules() {
        let (k1, o1) = operator("a", permission::ALL);
        let (k2, o2) = operator("b", permission::ALL);
        let (k3, o3) = operator("c", permission::LOGS);
        let (stranger, _) = operator("x", permission::ALL);
        let ops = [o1, o2, o3];
        let rules = QuorumRule::uniform(2);
        let auth = [Authority::Domain {
            operators: &ops,
            rules: &rules,
        }];
        let nonces = NonceCache::default();

        let mut c = command(1000);
        sign(&mut c, &k1);
        assert_eq!(
            reason(verify(&c, 10, &nonces, &auth)),
            Refusal::QuorumNotMet
        );
        // The same operator twice is refused outright.
        let mut twice = c.clone();
        sign(&mut twice, &k1);
        assert_eq!(
            reason(verify(&twice, 10, &nonces, &auth)),
            Refusal::Malformed
        );
        // An operator without the permission does not count.
        sign(&mut c, &k3);
        assert_eq!(
            reason(verify(&c, 10, &nonces, &auth)),
            Refusal::QuorumNotMet
        );
        sign(&mut c, &k2);
        assert!(verify(&c, 10, &nonces, &auth).is_ok());
        assert_eq!(reason(verify(&c, 1001, &nonces, &auth)), Refusal::Expired);

        let mut s = c.clone();
        sign(&mut s, &stranger);
        assert_eq!(
            reason(verify(&s, 10, &nonces, &auth)),
            Refusal::UnknownOperator
        );

        let mut bad = c.clone();
        bad.signatures[0].signature[10] ^= 1;
        assert_eq!(
            reason(verify(&bad, 10, &nonces, &auth)),
            Refusal::InvalidSignature
        );

        let mut tampered = c.clone();
        let last = tampered.body.len() - 1;
        tampered.body[last] ^= 1;
        assert!(matches!(
            reason(verify(&tampered, 10, &nonces, &auth)),
            Refusal::InvalidSignature | Refusal::Malformed
        ));

        let mut used = NonceCache::default();
        used.remember([7; 16], 1000, 10);
        assert_eq!(reason(verify(&c, 10, &used, &auth)), Refusal::Replayed);
    }

    /// Signatures that are garbage bytes: verifying any of them would fail.
    fn bogus(cmd: &mut SignedCommand, keys: &[Vec<u8>]) {
        for k in keys {
            cmd.signatures.push(OperatorSignature {
                signing_key: k.clone(),
                signature: vec![0x30; 104],
            });
        }
    }

    #[test]
    fn many_bogus_signatures_from_non_operators_are_refused_before_any_verification() {
        let (_, o1) = operator("a", permission::ALL);
        let (_, o2) = operator("b", permission::ALL);
        let ops = [o1, o2];
        let rules = QuorumRule::uniform(2);
        let auth = [Authority::Domain {
            operators: &ops,
            rules: &rules,
        }];
        let nonces = NonceCache::default();
        let strangers: Vec<Vec<u8>> = (0..MAX_SIGNATURES)
            .map(|i| {
                let mut k = ops[0].signing_key.clone();
                k.push(i as u8);
                k
            })
            .collect();
        // Every signature is invalid, so had any been verified the refusal
        // would be InvalidSignature: UnknownOperator proves none was.
        let mut c = command(1000);
        bogus(&mut c, &strangers);
        assert_eq!(
            reason(verify(&c, 10, &nonces, &auth)),
            Refusal::UnknownOperator
        );
        // Real operators' keys with bogus signatures, too few for the
        // threshold: refused for the count, again before verification.
        let mut few = command(1000);
        bogus(&mut few, &[ops[0].signing_key.clone()]);
        assert_eq!(
            reason(verify(&few, 10, &nonces, &auth)),
            Refusal::QuorumNotMet
        );
        // A signer listed twice is refused before verification.
        let mut twice = command(1000);
        bogus(
            &mut twice,
            &[ops[0].signing_key.clone(), ops[0].signing_key.clone()],
        );
        assert_eq!(
            reason(verify(&twice, 10, &nonces, &auth)),
            Refusal::Malformed
        );
        // More signatures than any quorum needs: refused by count alone,
        // even on a module without owners (where any key may sign).
        let mut flood = command(1000);
        bogus(&mut flood, &strangers);
        bogus(&mut flood, &[ops[1].signing_key.clone()]);
        assert_eq!(
            reason(verify(&flood, 10, &nonces, &[Authority::Unowned])),
            Refusal::Malformed
        );
        // Enough operators with the permission: only now are signatures
        // verified, and the bogus ones fail.
        let mut enough = command(1000);
        bogus(
            &mut enough,
            &[ops[0].signing_key.clone(), ops[1].signing_key.clone()],
        );
        assert_eq!(
            reason(verify(&enough, 10, &nonces, &auth)),
            Refusal::InvalidSignature
        );
    }
}
