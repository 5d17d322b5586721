//! `strongroom operator`: operator keys, building and signing commands,
//! submitting them to modules, recovery shares, and checking what modules
//! sign (attestations, tokens, erasure certificates). Everything works with
//! files, so each operator can sign on their own machine.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;
use strongroom_crypto::{AgreementKeyPair, SigningKeyPair, seal_to, verify_p384};
use strongroom_hsm_proto::admin::{
    ATTESTATION_SIGNING_PREFIX, AttestationBody, AttestationReport, Command, CommandBody,
    DomainToken, DomainTokenBody, ERASURE_SIGNING_PREFIX, ErasureBody, ErasureCertificate,
    MemberIdentity, Operator, OperatorSignature, RecoveryShare, SignedCommand, Target, decode,
    escrow_label, permission, prefixed, recovery_label,
};
use strongroom_hsm_proto::net::{ModuleAddr, ModulePins, host_tls_config};
use strongroom_hsm_proto::{HsmClient, Request, Response};
use zeroize::Zeroizing;

use crate::files::{self, fingerprint, kind};

/// An operator's private key file.
#[derive(Serialize, Deserialize)]
pub struct OperatorKeyFile {
    /// Name.
    pub name: String,
    /// PKCS#8 of the signing key.
    pub signing_pkcs8: Zeroizing<Vec<u8>>,
    /// Scalar of the agreement key.
    pub agreement_scalar: Zeroizing<Vec<u8>>,
}

/// A loaded operator key.
pub struct OperatorKey {
    /// Name.
    pub name: String,
    /// Signing key.
    pub signing: SigningKeyPair,
    /// Agreement key.
    pub agreement: AgreementKeyPair,
}

/// Parses permission names (`all`, `module-admin`, `membership`,
/// `operators`, `domain-keys`, `logs`, `recovery`).
pub fn parse_permissions(names: &[String]) -> anyhow::Result<u32> {
    let mut bits = 0;
    for n in names.iter().flat_map(|n| n.split(',')) {
        bits |= match n.trim() {
            "all" => permission::ALL,
            "module-admin" => permission::MODULE_ADMIN,
            "membership" => permission::DOMAIN_MEMBERSHIP,
            "operators" => permission::OPERATORS,
            "domain-keys" => permission::DOMAIN_KEYS,
            "logs" => permission::LOGS,
            "recovery" => permission::RECOVERY,
            other => bail!("unknown permission {other}"),
        };
    }
    Ok(if names.is_empty() {
        permission::ALL
    } else {
        bits
    })
}

/// Generates an operator key: `<out>` (private, 0600) and `<out>.pub`.
pub fn keygen(name: &str, permissions: u32, out: &Path) -> anyhow::Result<Operator> {
    let signing = SigningKeyPair::generate()?;
    let agreement = AgreementKeyPair::generate()?;
    let op = Operator {
        name: name.into(),
        signing_key: signing.public_key().to_vec(),
        agreement_key: agreement.public_key().to_vec(),
        permissions,
    };
    let private = OperatorKeyFile {
        name: name.into(),
        signing_pkcs8: Zeroizing::new(signing.expose_pkcs8().to_vec()),
        agreement_scalar: agreement.expose_scalar()?,
    };
    let summary = json!({"name": name, "signing_key": fingerprint(&op.signing_key)});
    files::write(out, kind::OPERATOR_KEY, summary.clone(), &private, true)?;
    files::write(
        &pub_path(out),
        kind::OPERATOR,
        json!({"name": name, "signing_key": fingerprint(&op.signing_key), "permissions": permissions}),
        &op,
        false,
    )?;
    Ok(op)
}

/// `<key>.pub`.
pub fn pub_path(key: &Path) -> std::path::PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".pub");
    s.into()
}

/// Loads an operator's private key file.
pub fn load_key(path: &Path) -> anyhow::Result<OperatorKey> {
    let f: OperatorKeyFile = files::read(path, kind::OPERATOR_KEY)?;
    Ok(OperatorKey {
        name: f.name,
        signing: SigningKeyPair::from_pkcs8(&f.signing_pkcs8)?,
        agreement: AgreementKeyPair::from_scalar(&f.agreement_scalar)?,
    })
}

/// A human summary of a command, shown to signers and kept in the file.
pub fn describe(body: &CommandBody) -> serde_json::Value {
    let command = match &body.command {
        Command::CreateDomain {
            operators,
            rules,
            hosts,
            escrow_threshold,
            min_generation_lifespan_secs,
        } => json!({
            "CreateDomain": {
                "operators": operators.iter().map(|o| json!({"name": o.name, "key": fingerprint(&o.signing_key), "permissions": o.permissions})).collect::<Vec<_>>(),
                "quorum": rules.iter().map(|r| format!("{:?}: {}", r.command, r.threshold)).collect::<Vec<_>>(),
                "hosts": hosts.iter().map(|h| fingerprint(h)).collect::<Vec<_>>(),
                "escrow_threshold": escrow_threshold,
                "min_generation_lifespan_secs": min_generation_lifespan_secs,
            }
        }),
        Command::IngestDomain { token } | Command::RecoverDomain { token, .. } => {
            let b = token.decode_body().ok();
            json!({ format!("{:?}", body.command.kind()): {
                "domain": b.as_ref().map(|b| b.domain_id.to_string()),
                "epoch": b.as_ref().map(|b| b.epoch),
                "members": b.as_ref().map(|b| b.members.iter().map(|m| m.module_id.to_string()).collect::<Vec<_>>()),
            }})
        }
        Command::AddMember { member } => {
            json!({"AddMember": {"module_id": member.module_id, "name": member.friendly_name, "key": fingerprint(&member.signing_key)}})
        }
        Command::AddOperator { operator } => {
            json!({"AddOperator": {"name": operator.name, "key": fingerprint(&operator.signing_key)}})
        }
        Command::RemoveOperator { signing_key } => {
            json!({"RemoveOperator": fingerprint(signing_key)})
        }
        Command::AddHost { host_key } => json!({"AddHost": fingerprint(host_key)}),
        Command::RemoveHost { host_key } => json!({"RemoveHost": fingerprint(host_key)}),
        other => json!(format!("{other:?}")),
    };
    json!({
        "target": format!("{:?}", body.target),
        "epoch": body.epoch,
        "expires_at": body.expires_at,
        "nonce": hex::encode(body.nonce),
        "command": command,
    })
}

fn command_summary(cmd: &SignedCommand) -> serde_json::Value {
    let body = cmd.decode_body().ok();
    json!({
        "command": body.as_ref().map(describe),
        "signatures": cmd.signatures.iter().map(|s| fingerprint(&s.signing_key)).collect::<Vec<_>>(),
    })
}

/// What a command is addressed to: a module, or a domain at the epoch of
/// the token the command was prepared from (zero for a module).
#[derive(Debug, Clone, Copy)]
pub struct Address {
    /// The module or domain.
    pub target: Target,
    /// The domain's epoch the command is bound to.
    pub epoch: u64,
}

/// Builds an unsigned command for `to`, valid for `ttl`.
pub fn new_command(to: Address, command: Command, ttl: Duration) -> anyhow::Result<SignedCommand> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(SignedCommand::new(&CommandBody {
        target: to.target,
        nonce: strongroom_crypto::random_array()?,
        expires_at: now + ttl.as_secs(),
        epoch: to.epoch,
        command,
    }))
}

/// Writes a command file.
pub fn write_command(path: &Path, cmd: &SignedCommand) -> anyhow::Result<()> {
    files::write(path, kind::COMMAND, command_summary(cmd), cmd, false)
}

/// Reads a command file.
pub fn read_command(path: &Path) -> anyhow::Result<SignedCommand> {
    files::read(path, kind::COMMAND)
}

/// Adds `key`'s signature to `cmd`.
pub fn sign(cmd: &mut SignedCommand, key: &OperatorKey) -> anyhow::Result<()> {
    if cmd
        .signatures
        .iter()
        .any(|s| s.signing_key == key.signing.public_key())
    {
        bail!("{} has already signed this command", key.name);
    }
    cmd.decode_body().map_err(|e| anyhow!("{e}"))?;
    let signature = key.signing.sign(&cmd.signing_bytes())?;
    cmd.signatures.push(OperatorSignature {
        signing_key: key.signing.public_key().to_vec(),
        signature,
    });
    Ok(())
}

/// A client for one module, as an operator tool: an ephemeral TLS key, and
/// no pinning (what the module says is checked by signatures).
pub fn operator_client(addr: &ModuleAddr) -> anyhow::Result<HsmClient> {
    let key = SigningKeyPair::generate()?;
    Ok(HsmClient::remote(
        std::slice::from_ref(addr),
        host_tls_config(&key, ModulePins::any())?,
    ))
}

/// Sends a signed command to a module.
pub async fn submit(addr: &ModuleAddr, cmd: SignedCommand) -> anyhow::Result<Response> {
    let c = operator_client(addr)?;
    Ok(c.call(Request::Command(cmd)).await?)
}

/// Asks a module for an attestation over `nonce` and checks its signature.
pub async fn attest(
    addr: &ModuleAddr,
    nonce: &[u8],
) -> anyhow::Result<(AttestationReport, AttestationBody)> {
    let c = operator_client(addr)?;
    let r = c
        .call(Request::Attest {
            nonce: nonce.to_vec(),
        })
        .await?
        .into_attestation()?;
    let body = verify_attestation(&r, None, Some(nonce))?;
    Ok((r, body))
}

/// Checks an attestation's signature, and optionally its measurement and nonce.
pub fn verify_attestation(
    r: &AttestationReport,
    expected_measurement: Option<&[u8]>,
    nonce: Option<&[u8]>,
) -> anyhow::Result<AttestationBody> {
    let body: AttestationBody = decode(&r.body).map_err(|e| anyhow!("{e}"))?;
    if !verify_p384(
        &body.signing_key,
        &prefixed(ATTESTATION_SIGNING_PREFIX, &r.body),
        &r.signature,
    ) {
        bail!("the attestation's signature does not verify");
    }
    if let Some(m) = expected_measurement
        && body.measurement != m
    {
        bail!(
            "measurement mismatch: module reports {}, expected {}",
            hex::encode(&body.measurement),
            hex::encode(m)
        );
    }
    if let Some(n) = nonce
        && body.nonce != n
    {
        bail!("the attestation does not echo our nonce (replayed report?)");
    }
    Ok(body)
}

/// The member identity an attestation describes.
pub fn member_from_attestation(a: &AttestationBody) -> MemberIdentity {
    MemberIdentity {
        module_id: a.module_id,
        friendly_name: a.friendly_name.clone(),
        signing_key: a.signing_key.clone(),
        agreement_key: a.agreement_key.clone(),
    }
}

/// Reads a domain token file and checks its issuer's signature.
pub fn read_token(path: &Path) -> anyhow::Result<(DomainToken, DomainTokenBody)> {
    let t: DomainToken = files::read(path, kind::DOMAIN_TOKEN)?;
    let body = t
        .verify_issuer(None)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok((t, body))
}

/// Writes a domain token file.
pub fn write_token(path: &Path, t: &DomainToken) -> anyhow::Result<()> {
    let b = t.decode_body().map_err(|e| anyhow!("{e}"))?;
    files::write(
        path,
        kind::DOMAIN_TOKEN,
        json!({
            "domain": b.domain_id,
            "epoch": b.epoch,
            "generations": b.generations.iter().map(|g| g.number).collect::<Vec<_>>(),
            "members": b.members.iter().map(|m| json!({"module_id": m.module_id, "name": m.friendly_name, "key": fingerprint(&m.signing_key)})).collect::<Vec<_>>(),
            "operators": b.operators.iter().map(|o| o.name.clone()).collect::<Vec<_>>(),
            "hosts": b.hosts.iter().map(|h| fingerprint(h)).collect::<Vec<_>>(),
        }),
        t,
        false,
    )
}

/// An operator's share of every live generation of `token`'s domain,
/// opened with their key and re-sealed to `module` (from its attestation).
pub fn recovery_shares(
    key: &OperatorKey,
    body: &DomainTokenBody,
    module: &AttestationBody,
) -> anyhow::Result<Vec<RecoveryShare>> {
    let mut out = Vec::new();
    for g in &body.generations {
        let share = body
            .escrow
            .iter()
            .find(|s| s.generation == g.number && s.operator == key.signing.public_key())
            .ok_or_else(|| {
                anyhow!(
                    "{} holds no escrow share of generation {}",
                    key.name,
                    g.number
                )
            })?;
        let label = escrow_label(body.domain_id, g.number);
        let plain = key.agreement.open(&label, &share.sealed).map_err(|_| {
            anyhow!(
                "the share of generation {} does not open with {}'s key",
                g.number,
                key.name
            )
        })?;
        let to = recovery_label(body.domain_id, g.number);
        out.push(RecoveryShare {
            operator: key.signing.public_key().to_vec(),
            generation: g.number,
            sealed: seal_to(&module.agreement_key, &to, &plain)?,
        });
    }
    Ok(out)
}

/// Checks an erasure certificate's signature, and that its signer was a
/// member of the domain in `token` (if given).
pub fn verify_erasure(
    cert: &ErasureCertificate,
    token: Option<&DomainTokenBody>,
) -> anyhow::Result<ErasureBody> {
    let body: ErasureBody = decode(&cert.body).map_err(|e| anyhow!("{e}"))?;
    if !verify_p384(
        &body.signing_key,
        &prefixed(ERASURE_SIGNING_PREFIX, &cert.body),
        &cert.signature,
    ) {
        bail!("the erasure certificate's signature does not verify");
    }
    if let Some(t) = token
        && !t
            .members
            .iter()
            .any(|m| m.module_id == body.module_id && m.signing_key == body.signing_key)
    {
        bail!(
            "the certificate's signer is not a member of domain {}",
            t.domain_id
        );
    }
    Ok(body)
}

/// Reads an erasure certificate: a Strongroom file, or the JSON the module
/// writes next to its log (`{"body": hex, "signature": hex}`).
pub fn read_erasure(path: &Path) -> anyhow::Result<ErasureCertificate> {
    if let Ok(c) = files::read(path, kind::ERASURE) {
        return Ok(c);
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)
        .with_context(|| format!("{}: not an erasure certificate", path.display()))?;
    let field = |k: &str| -> anyhow::Result<Vec<u8>> {
        Ok(hex::decode(
            v[k].as_str().ok_or_else(|| anyhow!("missing {k}"))?,
        )?)
    };
    Ok(ErasureCertificate {
        body: field("body")?,
        signature: field("signature")?,
    })
}
