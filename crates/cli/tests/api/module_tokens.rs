//! Hostile domain tokens and hostile peers against real module processes:
//! a stranger sending every message type, an operator fetching a token from
//! a module whose token does not chain to their anchor, and a frontend
//! started on such a token (issue 10, findings 5 and 6).

use std::path::Path;

use strongroom_crypto::SigningKeyPair;
use strongroom_hsm_proto::admin::SignedCommand;
use strongroom_hsm_proto::net::{ModulePins, host_tls_config};
use strongroom_hsm_proto::{
    Ekt, HsmClient, HsmError, KeyRef, KeySpecCode, Request, Response, SigV4Scope, TransientEkt,
};
use zeroize::Zeroizing;

use crate::cluster::use_mode;
use crate::hsm_process::*;

/// Module `h` (named `name`) in use mode with a domain of its own, whose
/// only host is the frontend in `front`; returns the domain's token file.
fn domain_on(w: &Path, h: &Hsm, name: &str, front: &Path) -> String {
    if !w.join("op1.key").exists() {
        ok(
            w,
            &["operator", "keygen", "--name", "op1", "--out", "op1.key"],
        );
    }
    ok(
        w,
        &["admin", "--data-dir", front.to_str().unwrap(), "host-key"],
    );
    let att = use_mode(w, h, name);
    let host = front.join("host.pub");
    let f = prepared(
        w,
        &format!("create-{name}"),
        &[
            "create-domain",
            "--module",
            &att,
            "--operator",
            "op1.key.pub",
            "--quorum",
            "1",
            "--host",
            host.to_str().unwrap(),
        ],
        &["op1"],
    );
    let token = format!("{name}-t1.json");
    ok(
        w,
        &["operator", "submit", &f, "--hsm", &h.addr, "--out", &token],
    );
    token
}

fn client_with(addr: &str, key: &SigningKeyPair) -> HsmClient {
    HsmClient::remote(
        &[addr.parse().unwrap()],
        host_tls_config(key, ModulePins::any()).unwrap(),
    )
}

/// What a peer that no domain lists gets for each request. No wildcard: a
/// new request type must be placed here.
#[derive(Debug, PartialEq)]
enum Stranger {
    /// Public and read-only.
    Answered,
    /// Refused as an unlisted host, by the network side.
    NotAuthorized,
    /// An operator command without a quorum: refused by the module.
    CommandRefused,
    /// A bulk frame: the connection is cut before the body is read.
    CutOff,
}

fn stranger_gets(r: &Request) -> Stranger {
    use Stranger::*;
    match r {
        Request::Status
        | Request::Attest { .. }
        | Request::ListDomains
        | Request::GetDomainToken { .. }
        | Request::ListLogs
        | Request::DescribeLog { .. }
        | Request::GetLog { .. } => Answered,
        Request::Command(_) => CommandRefused,
        // Wrapped or not, the network side judges the request inside.
        Request::InDomain { request, .. } => stranger_gets(request),
        Request::RewrapKeys { .. }
        | Request::RewrapCredentials { .. }
        | Request::SuspendKey { .. }
        | Request::ReinstateKey { .. } => CutOff,
        Request::GenerateBackingKey { .. }
        | Request::GenerateVolatileKey { .. }
        | Request::InstallVolatileKey { .. }
        | Request::GenerateExposedKey { .. }
        | Request::Encrypt { .. }
        | Request::Decrypt { .. }
        | Request::ReEncrypt { .. }
        | Request::GenerateDataKey { .. }
        | Request::DeriveKey { .. }
        | Request::RevealDerivedKey { .. }
        | Request::GenerateRandom { .. }
        | Request::SealCredential { .. }
        | Request::DeriveSigV4Key { .. }
        | Request::GenerateMac { .. }
        | Request::VerifyMac { .. }
        | Request::Sign { .. }
        | Request::Verify { .. }
        | Request::GetPublicKey { .. }
        | Request::AsymmetricDecrypt { .. }
        | Request::AsymmetricEncrypt { .. }
        | Request::DeriveSharedSecret { .. }
        | Request::GenerateDataKeyPair { .. }
        | Request::PrepareImport { .. }
        | Request::ImportKeyMaterial { .. }
        | Request::GenerateOwnedBackingKey { .. }
        | Request::RotateBackingKey { .. }
        | Request::UpdateSuspensionOwner { .. }
        | Request::ForgetKey { .. }
        | Request::ShredKey { .. }
        | Request::SignAuditSeal { .. }
        | Request::AuditSealKeys => NotAuthorized,
        Request::XksEncrypt { .. } | Request::XksDecrypt { .. } => NotAuthorized,
    }
}

/// One request of every type, aimed at `key` (whose EKT is `ekt`).
fn every_request(key: KeyRef, ekt: &Ekt, domain: uuid::Uuid) -> Vec<Request> {
    let e = || ekt.clone();
    let bytes = |n: usize| Zeroizing::new(vec![7u8; n]);
    vec![
        Request::GenerateBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
        Request::GenerateVolatileKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
        Request::InstallVolatileKey {
            key,
            ekt: TransientEkt(ekt.0.clone()),
        },
        Request::GenerateOwnedBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
            suspension_owner: vec![0; 294],
        },
        Request::RotateBackingKey { key, previous: e() },
        Request::UpdateSuspensionOwner {
            key_id: key.key_id,
            versions: vec![(key, e())],
            current_owner: vec![0; 294],
            new_owner: vec![1; 294],
            valid_to: u64::MAX,
            signature: vec![0; 256],
        },
        Request::GenerateExposedKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
        Request::XksEncrypt {
            key,
            ekt: e(),
            plaintext: bytes(16),
            aad: vec![],
            with_cdiv: true,
        },
        Request::XksDecrypt {
            key,
            ekt: e(),
            sealed: strongroom_hsm_proto::xks::XksSealed {
                metadata: vec![0x58; 20],
                iv: vec![0; 12],
                ciphertext: vec![0; 16],
                tag: vec![0; 16],
            },
            aad: vec![],
        },
        Request::Encrypt {
            key,
            ekt: e(),
            plaintext: bytes(16),
            context: vec![],
        },
        Request::Decrypt {
            ekt: e(),
            ciphertext: vec![1; 80],
            context: vec![],
        },
        Request::ReEncrypt {
            source_ekt: e(),
            ciphertext: vec![1; 80],
            source_context: vec![],
            destination: key,
            destination_ekt: e(),
            destination_context: vec![],
        },
        Request::GenerateDataKey {
            key,
            ekt: e(),
            context: vec![],
            length: 32,
            with_plaintext: true,
        },
        Request::DeriveKey {
            key,
            ekt: e(),
            context: vec![],
            length: 32,
        },
        Request::RevealDerivedKey {
            key,
            ekt: e(),
            token: vec![0xD1; 81],
            context: vec![],
        },
        Request::GenerateRandom { length: 32 },
        Request::SealCredential {
            access_key_id: "AKIA".into(),
            secret: Zeroizing::new("s".into()),
        },
        Request::DeriveSigV4Key {
            access_key_id: "AKIA".into(),
            sealed: vec![1; 60],
            scope: SigV4Scope {
                date: "20260101".into(),
                region: "us-east-1".into(),
                service: "kms".into(),
            },
        },
        Request::GenerateMac {
            key,
            ekt: e(),
            message: bytes(8),
        },
        Request::VerifyMac {
            key,
            ekt: e(),
            message: bytes(8),
            mac: vec![0; 32],
        },
        Request::Sign {
            key,
            ekt: e(),
            message: bytes(8),
            digest: false,
            algorithm: "ECDSA_SHA_256".into(),
        },
        Request::Verify {
            key,
            ekt: e(),
            message: bytes(8),
            digest: false,
            algorithm: "ECDSA_SHA_256".into(),
            signature: vec![0; 64],
        },
        Request::GetPublicKey { key, ekt: e() },
        Request::AsymmetricDecrypt {
            key,
            ekt: e(),
            ciphertext: vec![0; 256],
            algorithm: "RSAES_OAEP_SHA_256".into(),
        },
        Request::AsymmetricEncrypt {
            key,
            ekt: e(),
            plaintext: bytes(8),
            algorithm: "RSAES_OAEP_SHA_256".into(),
        },
        Request::DeriveSharedSecret {
            key,
            ekt: e(),
            peer_public_key: vec![0; 91],
        },
        Request::GenerateDataKeyPair {
            key,
            ekt: e(),
            context: vec![],
            pair_spec: KeySpecCode::EccNistP256,
            with_plaintext: true,
        },
        Request::PrepareImport {
            key_id: key.key_id,
            wrapping_spec: KeySpecCode::Rsa2048,
            algorithm: "RSAES_OAEP_SHA_256".into(),
            valid_to: u64::MAX,
        },
        Request::ImportKeyMaterial {
            key,
            import_token: vec![0; 64],
            encrypted_material: vec![0; 256],
        },
        Request::ForgetKey { key_id: key.key_id },
        Request::ShredKey { key_id: key.key_id },
        Request::SuspendKey {
            key_id: key.key_id,
            versions: vec![(key, e())],
            owner_public_key: vec![0; 294],
        },
        Request::ReinstateKey {
            key_id: key.key_id,
            import_token: vec![0; 64],
            encrypted_bundle: vec![0; 300],
            expected_fingerprint: vec![0; 32],
        },
        Request::Status,
        Request::Command(SignedCommand {
            body: vec![2, 0],
            signatures: vec![],
        }),
        Request::GetDomainToken { domain_id: domain },
        Request::ListDomains,
        Request::Attest { nonce: vec![1; 16] },
        Request::ListLogs,
        Request::DescribeLog { log_id: 1 },
        Request::GetLog {
            log_id: 1,
            offset: 0,
            length: 64,
        },
        Request::RewrapKeys { ekts: vec![e()] },
        Request::RewrapCredentials {
            credentials: vec![("AKIA".into(), vec![1; 60])],
        },
        // A stranger's forged audit footer, to be signed by the module.
        Request::SignAuditSeal {
            message: b"strongroom audit footer v1\0forged".to_vec(),
        },
        Request::AuditSealKeys,
    ]
}

/// The module state a stranger must not change: the domain token and the
/// listed host's volatile key (ForgetKey / ShredKey would drop it).
async fn state(host: &HsmClient, key: KeyRef, ekt: &Ekt, domain: uuid::Uuid) -> (Vec<u8>, bool) {
    let Ok(Response::DomainToken(t)) = host
        .call(Request::GetDomainToken { domain_id: domain })
        .await
    else {
        panic!("no domain token")
    };
    let usable = matches!(
        host.call(Request::Encrypt {
            key,
            ekt: ekt.clone(),
            plaintext: Zeroizing::new(b"still here".to_vec()),
            context: vec![],
        })
        .await,
        Ok(Response::Ciphertext(_))
    );
    (t.body, usable)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_sending_every_message_type_is_refused_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let hsm = Hsm::start(&free_addr(), &w.join("m"));
    let front = w.join("front");
    let token = domain_on(w, &hsm, "m", &front);
    let (_, body) = strongroom_cli::operator::read_token(&w.join(&token)).unwrap();
    // The listed frontend's own key, and a volatile key it made.
    let der = Zeroizing::new(std::fs::read(front.join("host.key")).unwrap());
    let host = client_with(&hsm.addr, &SigningKeyPair::from_pkcs8(&der).unwrap())
        .with_domain(body.domain_id);
    let key = KeyRef {
        key_id: uuid::Uuid::new_v4(),
        version: 1,
    };
    let Ok(Response::TransientEkt(transient)) = host
        .call(Request::GenerateVolatileKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        })
        .await
    else {
        panic!("the listed host cannot make a volatile key")
    };
    // A volatile key is used with no EKT (the module holds it); the
    // stranger's requests carry the transient token's bytes instead.
    let ekt = Ekt(transient.0.clone());
    let before = state(&host, key, &Ekt(Vec::new()), body.domain_id).await;
    assert!(before.1, "the volatile key works before");

    let requests = every_request(key, &ekt, body.domain_id)
        .into_iter()
        .flat_map(|r| {
            // Each request both bare and named for the domain, as a
            // frontend sends it.
            let named = r.acts_in_domain().then(|| Request::InDomain {
                domain: body.domain_id,
                request: Box::new(r.clone()),
            });
            std::iter::once(r).chain(named)
        })
        .collect::<Vec<_>>();
    for request in requests {
        let name = format!("{request:?}");
        let expected = stranger_gets(&request);
        // A fresh connection each time: a cut-off one is gone.
        let stranger = client_with(&hsm.addr, &SigningKeyPair::generate().unwrap());
        let r = stranger.call(request).await;
        let got = match &r {
            Err(HsmError::HostNotAuthorized(_)) => Stranger::NotAuthorized,
            Err(HsmError::CommandRefused { .. }) => Stranger::CommandRefused,
            Err(HsmError::Unavailable(_)) => Stranger::CutOff,
            _ => Stranger::Answered,
        };
        assert_eq!(got, expected, "{name}: {r:?}");
    }
    assert_eq!(
        state(&host, key, &Ekt(Vec::new()), body.domain_id).await,
        before,
        "a stranger changed the module"
    );
}

/// Runs `strongroom serve` until it prints its first line or exits;
/// returns (started, stderr).
fn serve_starts(w: &Path, data: &Path, args: &[&str]) -> (bool, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .current_dir(w)
        .args(["serve", "--data-dir", data.to_str().unwrap()])
        .args(["--listen", &free_addr()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let started = line.contains("serving");
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (started, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_not_chaining_to_the_anchor_are_refused_by_get_token_and_serve() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let honest = Hsm::start(&free_addr(), &w.join("a"));
    let rogue = Hsm::start(&free_addr(), &w.join("b"));
    let front = w.join("front");
    let t_a = domain_on(w, &honest, "a", &front);
    // The rogue module's domain even lists the same frontend.
    let t_b = domain_on(w, &rogue, "b", &front);
    let (_, a) = strongroom_cli::operator::read_token(&w.join(&t_a)).unwrap();
    let (_, b) = strongroom_cli::operator::read_token(&w.join(&t_b)).unwrap();
    let (da, db) = (a.domain_id.to_string(), b.domain_id.to_string());

    // get-token needs an anchor at all.
    refused(
        w,
        &[
            "operator",
            "get-token",
            "--hsm",
            &honest.addr,
            "--domain",
            &da,
            "--out",
            "x.json",
        ],
        "--trust-token",
    );
    // The rogue's token does not chain to the honest anchor, nor does the
    // honest one to an anchor of attested rogue modules.
    let get = |hsm: &str, domain: &str, anchor: [&str; 2], out: &str| {
        cli(
            w,
            &[
                "operator",
                "get-token",
                "--hsm",
                hsm,
                "--domain",
                domain,
                anchor[0],
                anchor[1],
                "--out",
                out,
            ],
        )
    };
    let (success, _, err) = get(&rogue.addr, &db, ["--trust-token", &t_a], "rogue.json");
    assert!(
        !success && err.contains("does not chain to the trust anchor"),
        "{err}"
    );
    assert!(err.contains("domain"), "{err}");
    let (success, _, err) = get(&honest.addr, &da, ["--trust-module", "b.att"], "x.json");
    assert!(!success && err.contains("not a trusted module"), "{err}");
    assert!(!w.join("rogue.json").exists() && !w.join("x.json").exists());
    // The honest module's token chains to either anchor.
    get(&honest.addr, &da, ["--trust-token", &t_a], "a2.json");
    assert!(w.join("a2.json").exists());
    let (success, _, err) = get(&honest.addr, &da, ["--trust-module", "a.att"], "a3.json");
    assert!(success, "{err}");

    // serve: with an explicit anchor, the rogue token is refused at start.
    let (started, err) = serve_starts(
        w,
        &w.join("fresh"),
        &[
            "--hsm",
            &rogue.addr,
            "--domain-token",
            &t_b,
            "--trust-anchor",
            &t_a,
        ],
    );
    assert!(
        !started && err.contains("does not chain to the trust anchor"),
        "{err}"
    );
    assert!(!w.join("fresh/domain-anchor.json").exists());
    // A frontend that trusted domain A keeps it as its anchor; swapping the
    // token file for the rogue's is refused at the next start.
    ok(
        w,
        &[
            "admin",
            "--data-dir",
            front.to_str().unwrap(),
            "--hsm",
            &honest.addr,
            "--domain-token",
            &t_a,
            "create-account",
        ],
    );
    let kept = std::fs::read(front.join("domain-anchor.json")).unwrap();
    let (started, err) = serve_starts(w, &front, &["--hsm", &rogue.addr, "--domain-token", &t_b]);
    assert!(
        !started && err.contains("does not chain to the trust anchor"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(front.join("domain-anchor.json")).unwrap(),
        kept
    );
    // The honest token still starts it.
    let (started, err) = serve_starts(w, &front, &["--hsm", &honest.addr, "--domain-token", &t_a]);
    assert!(started, "{err}");
}
