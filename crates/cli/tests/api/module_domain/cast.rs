//! The fixture of the domain tests: the ceremony's cast, the 3-member
//! domain it builds, a frontend over it, and `strongroom serve`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sdk_kms::Client;
use strongroom_cli::dev::DevEnvironment;

use crate::common::blob;
use crate::hsm_process::*;

/// Three modules in use mode, three operators (op1–op3, key files in the
/// work directory) and a frontend's host key: the ceremony's cast.
pub(super) struct Cast {
    pub(super) work: tempfile::TempDir,
    pub(super) front: PathBuf,
    pub(super) a: Hsm,
    pub(super) b: Hsm,
    pub(super) c: Hsm,
}

/// Ciphertexts with their plaintexts.
pub(super) type Blobs = Vec<(Vec<u8>, Vec<u8>)>;

/// A frontend over the domain, with one key and what was made under it.
pub(super) struct Served {
    pub(super) cast: Cast,
    pub(super) dev: DevEnvironment,
    pub(super) client: Client,
    pub(super) blobs: Blobs,
    pub(super) data_keys: Vec<Vec<u8>>,
    pub(super) root_secret: String,
}

/// The `--hsm ADDR` arguments for `modules`.
pub(super) fn submit_to<'a>(f: &'a str, modules: &[&'a Hsm]) -> Vec<&'a str> {
    let mut args = vec!["operator", "submit", f];
    for h in modules {
        args.extend_from_slice(&["--hsm", &h.addr]);
    }
    args
}

/// Submits the command in `f` to `h`, keeping the domain token it answers
/// in `out`.
pub(super) fn submit_for_token(w: &Path, f: &str, h: &Hsm, out: &str) {
    ok(
        w,
        &["operator", "submit", f, "--hsm", &h.addr, "--out", out],
    );
}

/// Has `members` ingest the domain token `token` with an Ingest command
/// signed by `signers`; returns the command's file.
pub(super) fn ingest(
    w: &Path,
    name: &str,
    token: &str,
    signers: &[&str],
    members: &[&Hsm],
) -> String {
    let f = prepared(w, name, &["ingest", "--domain-token", token], signers);
    ok(w, &submit_to(&f, members));
    f
}

impl Cast {
    /// The cast, with the independent steps (modules starting, operators
    /// making keys, each module attested and put in use) side by side.
    pub(super) fn start() -> Self {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let front = w.join("frontend");
        let mut modules = Hsm::start_all(&[w.join("a"), w.join("b"), w.join("c")]).into_iter();
        let mut next = || modules.next().unwrap();
        let (a, b, c) = (next(), next(), next());
        std::thread::scope(|s| {
            // Operators and their keys, each on "their own machine" (files).
            for i in 1..=3 {
                s.spawn(move || {
                    let (name, out) = (format!("op{i}"), format!("op{i}.key"));
                    ok(w, &["operator", "keygen", "--name", &name, "--out", &out]);
                });
            }
            for (h, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
                s.spawn(move || {
                    let att = format!("{name}.att");
                    ok(w, &["operator", "attest", "--hsm", &h.addr, "--out", &att]);
                });
            }
            let data = front.to_str().unwrap();
            s.spawn(move || ok(w, &["admin", "--data-dir", data, "host-key"]));
        });
        // A fresh module has no custodians: one operator signature suffices.
        std::thread::scope(|s| {
            for (h, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
                s.spawn(move || {
                    let request = ["enter-use-mode", "--module", &format!("{name}.att")];
                    let f = prepared(w, &format!("use-{name}"), &request, &["op1"]);
                    ok(w, &["operator", "submit", &f, "--hsm", &h.addr]);
                });
            }
        });
        Self {
            work,
            front,
            a,
            b,
            c,
        }
    }

    pub(super) fn w(&self) -> &Path {
        self.work.path()
    }

    /// The CreateDomain command for module A, signed by `signers`.
    pub(super) fn create_domain(&self, signers: &[&str]) -> String {
        let host_pub = self.front.join("host.pub");
        let create = [
            "create-domain",
            "--module",
            "a.att",
            "--operator",
            "op1.key.pub",
            "--operator",
            "op2.key.pub",
            "--operator",
            "op3.key.pub",
            "--quorum",
            "2",
            "--host",
            host_pub.to_str().unwrap(),
            "--min-generation-lifespan-secs",
            "0",
        ];
        prepared(self.w(), "create", &create, signers)
    }

    /// An AddMember of `module` (an attestation file) under `token`.
    pub(super) fn add_member(
        &self,
        name: &str,
        token: &str,
        module: &str,
        signers: &[&str],
    ) -> String {
        let request = ["add-member", "--domain-token", token, "--module", module];
        prepared(self.w(), name, &request, signers)
    }

    /// The cast with a 3-member domain: created on A, B and C added and
    /// ingested; `t3.json` is its token. Returns the ingest command too.
    pub(super) fn domain() -> (Self, String) {
        let cast = Self::start();
        let w = cast.w();
        let f = cast.create_domain(&["op1", "op2"]);
        submit_for_token(w, &f, &cast.a, "t1.json");
        let f = cast.add_member("add-b", "t1.json", "b.att", &["op3", "op1"]);
        submit_for_token(w, &f, &cast.a, "t2.json");
        let f = cast.add_member("add-c", "t2.json", "c.att", &["op2", "op3"]);
        submit_for_token(w, &f, &cast.a, "t3.json");
        let ingest = ingest(
            w,
            "ingest3",
            "t3.json",
            &["op1", "op2"],
            &[&cast.b, &cast.c],
        );
        (cast, ingest)
    }

    /// The domain with a frontend over all three members, one key, six
    /// ciphertexts and six data keys made through it.
    pub(super) async fn frontend() -> Served {
        let (cast, _) = Self::domain();
        let (dev, client) = frontend(
            &cast.front,
            &[&cast.a, &cast.b, &cast.c],
            &cast.w().join("t3.json"),
        )
        .await;
        let root_secret = dev.secret_access_key.to_string();
        let key = client
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        let (mut blobs, mut data_keys) = (Vec::new(), Vec::new());
        for i in 0..6u8 {
            let pt = vec![i; 32];
            let ct = client
                .encrypt()
                .key_id(&key)
                .plaintext(blob(&pt))
                .send()
                .await
                .unwrap();
            blobs.push((ct.ciphertext_blob.unwrap().into_inner(), pt));
            let dk = client
                .generate_data_key()
                .key_id(&key)
                .number_of_bytes(32)
                .send()
                .await
                .unwrap();
            data_keys.push(dk.plaintext.unwrap().into_inner());
        }
        Served {
            cast,
            dev,
            client,
            blobs,
            data_keys,
            root_secret,
        }
    }
}

impl Served {
    /// A VOLATILE key's ciphertext of "in memory only".
    pub(super) async fn volatile_ciphertext(&self) -> Vec<u8> {
        let dev = &self.dev;
        let raw = strongroom_cli::client::KmsHttpClient::new(
            &dev.endpoint(),
            &dev.region,
            &dev.access_key_id,
            dev.secret_access_key.clone(),
            None,
        )
        .unwrap();
        let volatile = raw
            .call_json("CreateKey", serde_json::json!({"StorageClass": "VOLATILE"}))
            .await
            .unwrap()["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .to_string();
        self.client
            .encrypt()
            .key_id(&volatile)
            .plaintext(blob(b"in memory only"))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap()
            .into_inner()
    }
}

/// `strongroom serve` on `data` with `modules`, and a client for it.
pub(super) fn serve(
    w: &Path,
    data: &str,
    modules: &[&str],
    akid: &str,
    secret: &str,
) -> (std::process::Child, Client) {
    let listen = free_addr();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .current_dir(w)
        .args(["serve", "--data-dir", data, "--listen", &listen])
        .args(modules)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("serving"), "{line}");
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{listen}"))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            akid, secret, None, None, "test",
        ))
        .build();
    (serve, Client::from_conf(conf))
}
