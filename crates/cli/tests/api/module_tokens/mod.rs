//! Hostile domain tokens and hostile peers against real module processes:
//! a stranger sending every message type, an operator fetching a token from
//! a module whose token does not chain to their anchor, and a frontend
//! started on such a token (issue 10, findings 5 and 6). The anchor
//! claims share a [`Rivals`] fixture.

use std::path::Path;

use strongroom_crypto::SigningKeyPair;
use strongroom_hsm_proto::net::{ModulePins, host_tls_config};
use strongroom_hsm_proto::{Ekt, HsmClient, HsmError, KeyRef, KeySpecCode, Request, Response};
use zeroize::Zeroizing;

use crate::cluster::use_mode;
use crate::hsm_process::*;
use requests::{Stranger, every_request, stranger_gets};

mod requests;

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

/// An honest module (domain A, token `a-t1.json`) and a rogue one (domain
/// B, `b-t1.json`), the rogue's domain listing the same frontend (in
/// `front/`) as the honest one's.
struct Rivals {
    work: tempfile::TempDir,
    honest: Hsm,
    rogue: Hsm,
    t_a: String,
    t_b: String,
}

impl Rivals {
    fn start() -> Self {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let honest = Hsm::start(&free_addr(), &w.join("a"));
        let rogue = Hsm::start(&free_addr(), &w.join("b"));
        let front = w.join("front");
        let t_a = domain_on(w, &honest, "a", &front);
        let t_b = domain_on(w, &rogue, "b", &front);
        Self {
            work,
            honest,
            rogue,
            t_a,
            t_b,
        }
    }

    fn w(&self) -> &Path {
        self.work.path()
    }

    /// The id of the domain in token file `token`.
    fn domain(&self, token: &str) -> String {
        let (_, body) = strongroom_cli::operator::read_token(&self.w().join(token)).unwrap();
        body.domain_id.to_string()
    }

    /// `operator get-token` of `domain` from `hsm`, trusting `anchor`
    /// (flag, file), into `out`: (success, stdout, stderr).
    fn get(&self, hsm: &str, domain: &str, anchor: [&str; 2], out: &str) -> (bool, String, String) {
        cli(
            self.w(),
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
    }
}

#[test]
fn get_token_needs_an_anchor_and_takes_only_tokens_chaining_to_it() {
    let r = Rivals::start();
    let w = r.w();
    let (da, db) = (r.domain(&r.t_a), r.domain(&r.t_b));
    refused(
        w,
        &[
            "operator",
            "get-token",
            "--hsm",
            &r.honest.addr,
            "--domain",
            &da,
            "--out",
            "x.json",
        ],
        "--trust-token",
    );
    // The rogue's token does not chain to the honest anchor, nor does the
    // honest one to an anchor of attested rogue modules.
    let (honest, rogue) = (&r.honest.addr, &r.rogue.addr);
    let (success, _, err) = r.get(rogue, &db, ["--trust-token", &r.t_a], "rogue.json");
    assert!(
        !success && err.contains("does not chain to the trust anchor"),
        "{err}"
    );
    assert!(err.contains("domain"), "{err}");
    let (success, _, err) = r.get(honest, &da, ["--trust-module", "b.att"], "x.json");
    assert!(!success && err.contains("not a trusted module"), "{err}");
    assert!(!w.join("rogue.json").exists() && !w.join("x.json").exists());
    // The honest module's token chains to either anchor.
    r.get(honest, &da, ["--trust-token", &r.t_a], "a2.json");
    assert!(w.join("a2.json").exists());
    let (success, _, err) = r.get(honest, &da, ["--trust-module", "a.att"], "a3.json");
    assert!(success, "{err}");
}

#[test]
fn serve_refuses_a_token_not_chaining_to_the_anchor_it_is_given_or_keeps() {
    let r = Rivals::start();
    let (w, front) = (r.w(), r.w().join("front"));
    let (honest, rogue) = (&r.honest.addr, &r.rogue.addr);
    // With an explicit anchor, the rogue token is refused at start.
    let (started, err) = serve_starts(
        w,
        &w.join("fresh"),
        &[
            "--hsm",
            rogue,
            "--domain-token",
            &r.t_b,
            "--trust-anchor",
            &r.t_a,
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
            honest,
            "--domain-token",
            &r.t_a,
            "create-account",
        ],
    );
    let kept = std::fs::read(front.join("domain-anchor.json")).unwrap();
    let (started, err) = serve_starts(w, &front, &["--hsm", rogue, "--domain-token", &r.t_b]);
    assert!(
        !started && err.contains("does not chain to the trust anchor"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(front.join("domain-anchor.json")).unwrap(),
        kept
    );
    // The honest token still starts it.
    let (started, err) = serve_starts(w, &front, &["--hsm", honest, "--domain-token", &r.t_a]);
    assert!(started, "{err}");
}
