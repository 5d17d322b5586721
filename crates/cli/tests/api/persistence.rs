//! Restarting on the same data directory keeps keys, aliases, states and
//! credentials, and no secret reaches the disk in clear; given credentials
//! are created, then checked. The restart claims are each a test over a
//! fresh [`Restarted`].

use zeroize::Zeroizing;

use crate::common::*;

/// What a first run made (a key with `alias/kept`, a disabled key, a
/// ciphertext and a data key, and its root credentials) in a data
/// directory, restarted with no credentials given.
struct Restarted {
    dir: tempfile::TempDir,
    dev: strongroom_cli::dev::DevEnvironment,
    c: aws_sdk_kms::Client,
    arn: String,
    disabled: String,
    ct: aws_sdk_kms::primitives::Blob,
    dk: aws_sdk_kms::operation::generate_data_key::GenerateDataKeyOutput,
    first: (String, String, Zeroizing<String>),
}

impl Restarted {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let c = &env.client;
        let arn = new_key(c).await;
        c.create_alias()
            .alias_name("alias/kept")
            .target_key_id(&arn)
            .send()
            .await
            .unwrap();
        let disabled = new_key(c).await;
        c.disable_key().key_id(&disabled).send().await.unwrap();
        let ct = c
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"survives"))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        let dk = c
            .generate_data_key()
            .key_id("alias/kept")
            .number_of_bytes(32)
            .send()
            .await
            .unwrap();
        let first = (
            env.dev.account_id.clone(),
            env.dev.access_key_id.clone(),
            Zeroizing::new(env.dev.secret_access_key.to_string()),
        );
        let dir = env.stop().await;
        let dev = start_in(dir.path(), |_| {}).await;
        let c = client_for(&dev, &first.1, &first.2);
        Self {
            dir,
            dev,
            c,
            arn,
            disabled,
            ct,
            dk,
            first,
        }
    }
}

/// Same data directory, no credentials given: the recorded ones return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_no_credentials_given_brings_back_the_recorded_ones() {
    let r = Restarted::start().await;
    let (account, akid, secret) = &r.first;
    let dev = &r.dev;
    assert_eq!(
        (dev.account_id.as_str(), dev.access_key_id.as_str()),
        (account.as_str(), akid.as_str())
    );
    assert_eq!(*dev.secret_access_key, **secret);
    r.dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciphertexts_and_data_keys_from_before_a_restart_decrypt_after_it() {
    let r = Restarted::start().await;
    let d =
        r.c.decrypt()
            .ciphertext_blob(r.ct.clone())
            .send()
            .await
            .unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner(), b"survives");
    let d =
        r.c.decrypt()
            .ciphertext_blob(r.dk.ciphertext_blob.clone().unwrap())
            .send()
            .await
            .unwrap();
    assert_eq!(
        d.plaintext.unwrap().into_inner(),
        r.dk.plaintext.clone().unwrap().into_inner()
    );
    r.dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_key_states_survive_a_restart() {
    let r = Restarted::start().await;
    let out =
        r.c.encrypt()
            .key_id("alias/kept")
            .plaintext(blob(b"x"))
            .send()
            .await
            .unwrap();
    assert_eq!(out.key_id.as_deref(), Some(r.arn.as_str()));
    let state =
        r.c.describe_key()
            .key_id(&r.disabled)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state;
    assert_eq!(state, Some(aws_sdk_kms::types::KeyState::Disabled));
    r.dev.shutdown().await;
}

/// The secret access key is nowhere on disk in clear after two runs:
/// database, WAL and every other file hold it sealed (the dev root secret
/// is derived).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_access_key_is_nowhere_on_disk_in_clear() {
    let r = Restarted::start().await;
    r.dev.shutdown().await;
    let secret = &r.first.2;
    let mut checked = 0;
    for entry in walk(r.dir.path()) {
        // SQLite may remove its -wal/-shm files as the last connection closes.
        let Ok(bytes) = std::fs::read(&entry) else {
            continue;
        };
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the secret",
            entry.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the database, unseal and domain files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_credentials_are_created_then_checked() {
    let dir = tempfile::tempdir().unwrap();
    let set = |id: &str, secret: &str, account: &str| {
        let (id, secret, account) = (id.to_owned(), secret.to_owned(), account.to_owned());
        move |o: &mut strongroom_cli::dev::DevOptions| {
            o.access_key_id = Some(id);
            o.secret_access_key = Some(Zeroizing::new(secret));
            o.account_id = Some(account);
        }
    };
    let dev = start_in(
        dir.path(),
        set(
            "AKIAGIVENEXAMPLE0001",
            "given-secret-value-1234",
            "123456789012",
        ),
    )
    .await;
    assert_eq!(dev.account_id, "123456789012");
    let c = client_for(&dev, "AKIAGIVENEXAMPLE0001", "given-secret-value-1234");
    let arn = new_key(&c).await;
    assert!(arn.starts_with("arn:aws:kms:us-east-1:123456789012:key/"));
    let bad = client_for(&dev, "AKIAGIVENEXAMPLE0001", "wrong-secret-value-1234");
    let e = bad.list_keys().send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");
    dev.shutdown().await;

    // Restarting with the same pair works; with a different secret it refuses to start.
    let dev = start_in(
        dir.path(),
        set(
            "AKIAGIVENEXAMPLE0001",
            "given-secret-value-1234",
            "123456789012",
        ),
    )
    .await;
    dev.shutdown().await;
    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    set(
        "AKIAGIVENEXAMPLE0001",
        "wrong-secret-value-1234",
        "123456789012",
    )(&mut opts);
    let err = strongroom_cli::dev::start(opts)
        .await
        .err()
        .expect("mismatched secret must be refused");
    assert!(err.to_string().contains("does not match"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}
