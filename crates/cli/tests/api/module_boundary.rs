//! The module's domain boundary over the network, with real
//! `strongroom-hsm` processes and a real frontend: an attacker's domain
//! pushed into an owned module, and peers the domain does not list trying
//! to use, shred or forget its keys. Each over a fresh [`Owned`] module.

use std::path::Path;

use strongroom_crypto::SigningKeyPair;
use strongroom_hsm_proto::net::{ModulePins, host_tls_config};
use strongroom_hsm_proto::{HsmClient, HsmError, KeyRef, KeySpecCode, Request, Response};
use tempfile::TempDir;

use crate::common::blob;
use crate::hsm_process::*;

/// Operators `owner` and `evil` (key files in the work directory), a
/// frontend host key in `front/`, and the owner's domain (token
/// `victim-t1.json`) on the victim module, listing that host.
struct Owned {
    work: TempDir,
    victim: Hsm,
}

impl Owned {
    fn start() -> Self {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let victim = Hsm::start(&free_addr(), &w.join("victim"));
        for name in ["owner", "evil"] {
            let out = format!("{name}.key");
            ok(w, &["operator", "keygen", "--name", name, "--out", &out]);
        }
        let front = w.join("front");
        ok(
            w,
            &["admin", "--data-dir", front.to_str().unwrap(), "host-key"],
        );
        let o = Self { work, victim };
        o.domain_on(&o.victim, "victim", "owner");
        o
    }

    fn w(&self) -> &Path {
        self.work.path()
    }

    /// Module `h` (attested as `name.att`) in use mode with a domain of
    /// `op`'s (quorum 1, token `name-t1.json`) listing the frontend's host
    /// key (it is public).
    fn domain_on(&self, h: &Hsm, name: &str, op: &str) {
        let w = self.w();
        let host = w.join("front/host.pub");
        let att = format!("{name}.att");
        ok(w, &["operator", "attest", "--hsm", &h.addr, "--out", &att]);
        let f = prepared(
            w,
            &format!("use-{name}"),
            &["enter-use-mode", "--module", &att],
            &[op],
        );
        ok(w, &["operator", "submit", &f, "--hsm", &h.addr]);
        let f = prepared(
            w,
            &format!("create-{name}"),
            &[
                "create-domain",
                "--module",
                &att,
                "--operator",
                &format!("{op}.key.pub"),
                "--quorum",
                "1",
                "--host",
                host.to_str().unwrap(),
            ],
            &[op],
        );
        let out = format!("{name}-t1.json");
        ok(
            w,
            &["operator", "submit", &f, "--hsm", &h.addr, "--out", &out],
        );
    }
}

/// An attacker who runs a module and a domain of their own (listing the
/// same frontend) cannot push their domain into an owned module.
#[test]
fn an_attackers_domain_cannot_be_pushed_into_an_owned_module() {
    let o = Owned::start();
    let w = o.w();
    let theirs = Hsm::start(&free_addr(), &w.join("theirs"));
    o.domain_on(&theirs, "theirs", "evil");
    // The attacker adds the victim to their domain (its identity is public)
    // and asks it to ingest the result, signed by their own operator.
    let f = prepared(
        w,
        "evil-add",
        &[
            "add-member",
            "--domain-token",
            "theirs-t1.json",
            "--module",
            "victim.att",
        ],
        &["evil"],
    );
    ok(
        w,
        &[
            "operator",
            "submit",
            &f,
            "--hsm",
            &theirs.addr,
            "--out",
            "theirs-t2.json",
        ],
    );
    let f = prepared(
        w,
        "evil-ingest",
        &["ingest", "--domain-token", "theirs-t2.json"],
        &["evil"],
    );
    refused(
        w,
        &["operator", "submit", &f, "--hsm", &o.victim.addr],
        "UnknownOperator",
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(w, &["operator", "status", "--hsm", &o.victim.addr])).unwrap();
    assert_eq!(
        status["domains"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
}

/// The real frontend's keys are sealed under its domain; a TLS peer the
/// domain does not list, naming the domain or none, is refused every
/// request that touches it (by the module when named, by its network side
/// already when not), and the key still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_the_domain_does_not_list_can_neither_use_nor_shred_nor_forget_its_keys() {
    let o = Owned::start();
    let w = o.w();
    let (dev, client) = frontend(&w.join("front"), &[&o.victim], &w.join("victim-t1.json")).await;
    let key_id = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let ct = client
        .encrypt()
        .key_id(&key_id)
        .plaintext(blob(b"tenant"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let (_, body) = strongroom_cli::operator::read_token(&w.join("victim-t1.json")).unwrap();
    let stranger = || {
        HsmClient::remote(
            &[o.victim.addr.parse().unwrap()],
            host_tls_config(&SigningKeyPair::generate().unwrap(), ModulePins::any()).unwrap(),
        )
    };
    let key_id_uuid: uuid::Uuid = key_id.parse().unwrap();
    let requests = [
        Request::ShredKey {
            key_id: key_id_uuid,
        },
        Request::ForgetKey {
            key_id: key_id_uuid,
        },
        Request::GenerateBackingKey {
            key: KeyRef {
                key_id: uuid::Uuid::new_v4(),
                version: 1,
            },
            spec: KeySpecCode::SymmetricDefault,
        },
    ];
    for request in requests {
        let what = format!("{request:?}");
        let named = stranger()
            .with_domain(body.domain_id)
            .call(request.clone())
            .await;
        assert!(
            matches!(named, Err(HsmError::HostNotAuthorized(_))),
            "{what}: {named:?}"
        );
        let unnamed = stranger().call(request).await;
        assert!(
            matches!(unnamed, Err(HsmError::HostNotAuthorized(_))),
            "{what}: {unnamed:?}"
        );
        assert!(!matches!(unnamed, Ok(Response::Shredded(_))));
    }
    // The key still works.
    let pt = client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(pt.as_ref(), b"tenant");
    dev.shutdown().await;
}

/// A stranger (a TLS peer no domain lists) may list and describe a real
/// module process's logs, but each answer comes from what the module keeps
/// in memory: a closed log replaced on disk by a large file changes no
/// answer, however often it is asked, so no request makes the module read
/// (and hash) a whole log file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stranger_listing_or_describing_logs_never_makes_the_module_read_a_log_file() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("m");
    // Two runs: the first run's log is closed by the second.
    Hsm::start(&free_addr(), &state).kill();
    let hsm = Hsm::start(&free_addr(), &state);
    let stranger = HsmClient::remote(
        &[hsm.addr.parse().unwrap()],
        host_tls_config(&SigningKeyPair::generate().unwrap(), ModulePins::any()).unwrap(),
    );
    let Ok(Response::Logs(before)) = stranger.call(Request::ListLogs).await else {
        panic!("a stranger may list the logs");
    };
    let first = before
        .iter()
        .find(|l| l.closed)
        .expect("a closed log")
        .clone();
    let written = std::fs::read(
        state
            .join("logs")
            .join(format!("log-{:08}.jsonl", first.log_id)),
    )
    .unwrap();
    assert_eq!(
        first.sha384,
        strongroom_crypto::sha384(&written).to_vec(),
        "the remembered hash is the file's"
    );
    // Replaced behind the module's back by a 16 MiB file.
    std::fs::write(
        state
            .join("logs")
            .join(format!("log-{:08}.jsonl", first.log_id)),
        vec![b'x'; 16 << 20],
    )
    .unwrap();
    for _ in 0..20 {
        let Ok(Response::Logs(one)) = stranger
            .call(Request::DescribeLog {
                log_id: first.log_id,
            })
            .await
        else {
            panic!("a stranger may describe a log");
        };
        assert_eq!(one, vec![first.clone()]);
        let Ok(Response::Logs(all)) = stranger.call(Request::ListLogs).await else {
            panic!("a stranger may list the logs");
        };
        assert_eq!(all.iter().find(|l| l.log_id == first.log_id), Some(&first));
    }
}
