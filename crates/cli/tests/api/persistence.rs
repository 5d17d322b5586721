use zeroize::Zeroizing;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_keys_aliases_and_credentials() {
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
    let (account, akid, secret) = (
        env.dev.account_id.clone(),
        env.dev.access_key_id.clone(),
        env.dev.secret_access_key.clone(),
    );
    let dir = env.stop().await;

    // Same data directory, no credentials given: the recorded ones return.
    let dev = start_in(dir.path(), |_| {}).await;
    assert_eq!(
        (dev.account_id.as_str(), dev.access_key_id.as_str()),
        (account.as_str(), akid.as_str())
    );
    assert_eq!(*dev.secret_access_key, *secret);
    let c = client_for(&dev, &akid, &secret);
    let d = c.decrypt().ciphertext_blob(ct).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner(), b"survives");
    let d = c
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.plaintext.unwrap().into_inner(),
        dk.plaintext.unwrap().into_inner()
    );
    let r = c
        .encrypt()
        .key_id("alias/kept")
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_id.as_deref(), Some(arn.as_str()));
    let state = c
        .describe_key()
        .key_id(&disabled)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_state;
    assert_eq!(state, Some(aws_sdk_kms::types::KeyState::Disabled));
    dev.shutdown().await;

    // The secret access key is nowhere on disk in clear: database, WAL and
    // every other file hold it sealed (the dev root secret is derived).
    let mut checked = 0;
    for entry in walk(dir.path()) {
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
    drop(dir);
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
