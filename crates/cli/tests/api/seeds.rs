//! `strongroom dev --seed FILE`: fixed keys and material that decrypt
//! across data directories, restarts that change nothing, and bad or
//! conflicting seed files that are refused before anything is created.

use std::path::{Path, PathBuf};

use aws_sdk_kms::Client;
use strongroom_cli::dev::{self, DevEnvironment, DevOptions};

use crate::common::{blob, client_for, code, start_in};

const ACCOUNT: &str = "111122223333";
const ACCESS_KEY_ID: &str = "AKIASEEDEXAMPLE00001";
const SECRET: &str = "seed-secret-access-key-0001";
const KEY_ID: &str = "0b5d8f3a-7a9e-4a5b-9bd7-1c1f4d2b8c9e";
const HMAC_KEY_ID: &str = "5f0c2b1e-3d4a-4b6c-8d7e-9f0a1b2c3d4e";
/// Bytes 0..32, base64.
const MATERIAL: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn seed_yaml() -> String {
    format!(
        r#"# a developer's fixture
accounts:
  - id: "{ACCOUNT}"
    credentials:
      - access_key_id: {ACCESS_KEY_ID}
        secret_access_key: {SECRET}
keys:
  - id: {KEY_ID}
    account: "{ACCOUNT}"
    description: shared test key
    tags: {{team: payments}}
    material: {MATERIAL}
  - id: {HMAC_KEY_ID}
    account: "{ACCOUNT}"
    key_spec: HMAC_256
    key_usage: GENERATE_VERIFY_MAC
  - id: 7a1d3c5e-0f2b-4d6a-8c9e-1b3d5f7a9c0e
    account: "{ACCOUNT}"
    rotation_period_days: 180
    enabled: false
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: root
          Effect: Allow
          Principal: {{AWS: "arn:aws:iam::{ACCOUNT}:root"}}
          Action: "kms:*"
          Resource: "*"
aliases:
  - name: alias/shared
    key: {KEY_ID}
grants:
  - name: app-decrypt
    key: {KEY_ID}
    grantee_principal: "arn:aws:iam::{ACCOUNT}:role/app"
    operations: [Decrypt, Encrypt]
    constraints:
      encryption_context_subset: {{app: demo}}
"#
    )
}

fn write_seed(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn start_seeded(dir: &Path, seed: &Path) -> DevEnvironment {
    let seed = seed.to_path_buf();
    start_in(dir, |o| o.seed = Some(seed)).await
}

async fn try_start(dir: &Path, seed: &Path) -> anyhow::Result<DevEnvironment> {
    let mut opts = DevOptions::new(dir.to_path_buf());
    opts.seed = Some(seed.to_path_buf());
    dev::start(opts).await
}

fn seeded_client(dev: &DevEnvironment) -> Client {
    client_for(dev, ACCESS_KEY_ID, SECRET)
}

/// Everything a client of the seeded account can read, in order.
async fn snapshot(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let keys = client.list_keys().send().await.unwrap();
    let mut ids: Vec<String> = keys
        .keys()
        .iter()
        .filter_map(|k| k.key_id.clone())
        .collect();
    ids.sort();
    for id in ids {
        let mut m = client
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        m.creation_date = None;
        out.push(format!("{m:?}"));
        let tags = client
            .list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .unwrap();
        out.push(format!("{:?}", tags.tags()));
        let policy = client.get_key_policy().key_id(&id).send().await.unwrap();
        out.push(format!("{:?}", policy.policy()));
        if m.origin() == Some(&aws_sdk_kms::types::OriginType::AwsKms) {
            let r = client
                .get_key_rotation_status()
                .key_id(&id)
                .send()
                .await
                .unwrap();
            out.push(format!(
                "{:?} {:?}",
                r.key_rotation_enabled(),
                r.rotation_period_in_days()
            ));
        }
        let grants = client.list_grants().key_id(&id).send().await.unwrap();
        let mut g: Vec<String> = grants
            .grants()
            .iter()
            .map(|g| {
                format!(
                    "{:?} {:?} {:?} {:?}",
                    g.grant_id(),
                    g.name(),
                    g.operations(),
                    g.constraints()
                )
            })
            .collect();
        g.sort();
        out.extend(g);
    }
    let aliases = client.list_aliases().send().await.unwrap();
    out.extend(
        aliases
            .aliases()
            .iter()
            .map(|a| format!("{:?} {:?}", a.alias_name(), a.target_key_id())),
    );
    out
}

#[tokio::test]
async fn a_ciphertext_under_a_seeded_key_with_fixed_material_decrypts_in_another_data_directory() {
    let files = tempfile::tempdir().unwrap();
    let seed = write_seed(files.path(), "seed.yaml", &seed_yaml());
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let first = start_seeded(one.path(), &seed).await;
    let client = seeded_client(&first);
    let sealed = client
        .encrypt()
        .key_id("alias/shared")
        .plaintext(blob(b"made on machine one"))
        .encryption_context("app", "demo")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sealed.key_id(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}").as_str())
    );
    let ciphertext = sealed.ciphertext_blob.unwrap();
    let meta = client
        .describe_key()
        .key_id(KEY_ID)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.origin(),
        Some(&aws_sdk_kms::types::OriginType::External)
    );
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::Enabled)
    );
    first.shutdown().await;

    // Another machine: a new data directory, a new domain, the same seed.
    let second = start_seeded(two.path(), &seed).await;
    let opened = seeded_client(&second)
        .decrypt()
        .ciphertext_blob(ciphertext)
        .encryption_context("app", "demo")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"made on machine one");
    assert_eq!(
        opened.key_id(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}").as_str())
    );
    second.shutdown().await;
}

#[tokio::test]
async fn restarting_with_the_same_seed_creates_nothing_and_changes_nothing() {
    let files = tempfile::tempdir().unwrap();
    let seed = write_seed(files.path(), "seed.yaml", &seed_yaml());
    let dir = tempfile::tempdir().unwrap();

    let first = start_seeded(dir.path(), &seed).await;
    let made = first.seeded.unwrap();
    // account, access key, 3 keys, 1 import, 1 alias, 1 grant
    assert_eq!((made.created, made.present), (8, 0));
    let client = seeded_client(&first);
    let before = snapshot(&client).await;
    assert_eq!(
        before.iter().filter(|l| l.contains("KeyMetadata")).count(),
        3,
        "{before:#?}"
    );
    assert!(
        before.iter().any(|l| l.as_str() == "true Some(180)"),
        "{before:#?}"
    );
    assert!(
        before.iter().any(|l| l.contains("app-decrypt")),
        "{before:#?}"
    );
    first.shutdown().await;

    let again = start_seeded(dir.path(), &seed).await;
    let seen = again.seeded.unwrap();
    assert_eq!((seen.created, seen.present), (0, 7));
    assert_eq!(snapshot(&seeded_client(&again)).await, before);
    again.shutdown().await;
}

#[tokio::test]
async fn a_seed_in_json_is_read_like_yaml() {
    let files = tempfile::tempdir().unwrap();
    let json = format!(
        r#"{{"accounts": [{{"id": "{ACCOUNT}", "credentials": [{{"access_key_id": "{ACCESS_KEY_ID}", "secret_access_key": "{SECRET}"}}]}}],
            "keys": [{{"id": "{KEY_ID}", "account": "{ACCOUNT}", "description": "from json"}}]}}"#
    );
    let seed = write_seed(files.path(), "seed.json", &json);
    let dir = tempfile::tempdir().unwrap();
    let dev = start_seeded(dir.path(), &seed).await;
    let meta = seeded_client(&dev)
        .describe_key()
        .key_id(KEY_ID)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.description(), Some("from json"));
    dev.shutdown().await;
}

async fn nothing_seeded(dir: &Path) {
    // The same data directory without the seed: none of it exists.
    let dev = start_in(dir, |_| {}).await;
    assert!(dev.store.get_account(ACCOUNT).await.unwrap().is_none());
    assert!(
        dev.store
            .get_access_key(ACCESS_KEY_ID)
            .await
            .unwrap()
            .is_none()
    );
    for id in [KEY_ID, HMAC_KEY_ID] {
        let id = uuid::Uuid::parse_str(id).unwrap();
        assert!(
            dev.store.get_key(id).await.unwrap().is_none(),
            "{id} was created"
        );
    }
    dev.shutdown().await;
}

#[tokio::test]
async fn a_seed_whose_third_key_is_bad_creates_none_of_them_and_names_the_path() {
    let files = tempfile::tempdir().unwrap();
    let bad = seed_yaml().replace("rotation_period_days: 180", "rotation_period_days: 7");
    let seed = write_seed(files.path(), "seed.yaml", &bad);
    let dir = tempfile::tempdir().unwrap();
    let err = try_start(dir.path(), &seed)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("keys[2].rotation_period_days") && err.contains("seed.yaml"),
        "{err}"
    );
    nothing_seeded(dir.path()).await;
}

#[tokio::test]
async fn a_seed_that_is_not_yaml_names_the_line_and_creates_nothing() {
    let files = tempfile::tempdir().unwrap();
    let broken = seed_yaml().replace(
        "    description: shared test key\n",
        "    descripton: shared test key\n",
    );
    let seed = write_seed(files.path(), "seed.yaml", &broken);
    let dir = tempfile::tempdir().unwrap();
    let err = try_start(dir.path(), &seed)
        .await
        .err()
        .expect("refused")
        .to_string();
    let line = seed_yaml()
        .lines()
        .position(|l| l.contains("description: shared"))
        .unwrap()
        + 1;
    assert!(
        err.contains("descripton") && err.contains(&line.to_string()),
        "{err}"
    );
    nothing_seeded(dir.path()).await;
}

#[tokio::test]
async fn a_seed_claiming_another_accounts_key_id_or_a_known_access_key_changes_nothing() {
    let files = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The data directory's own account has a key; the seed claims its id.
    let plain = start_in(dir.path(), |_| {}).await;
    let root = client_for(&plain, &plain.access_key_id, &plain.secret_access_key);
    let theirs = root
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let root_key = plain.access_key_id.clone();
    plain.shutdown().await;

    let claim = seed_yaml().replace(HMAC_KEY_ID, &theirs);
    let seed = write_seed(files.path(), "claim.yaml", &claim);
    let err = try_start(dir.path(), &seed)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("keys[1]") && err.contains("exists in account"),
        "{err}"
    );

    // An access key id that exists with another secret.
    let stolen = seed_yaml().replace(ACCESS_KEY_ID, &root_key);
    let seed = write_seed(files.path(), "stolen.yaml", &stolen);
    let err = try_start(dir.path(), &seed)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("accounts[0].credentials[0]") && err.contains(&root_key),
        "{err}"
    );

    let dev = start_in(dir.path(), |_| {}).await;
    assert!(dev.store.get_account(ACCOUNT).await.unwrap().is_none());
    let key = dev
        .store
        .get_key(uuid::Uuid::parse_str(&theirs).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.account_id, dev.account_id);
    let root = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    assert_eq!(root.list_keys().send().await.unwrap().keys().len(), 1);
    let e = root.describe_key().key_id(KEY_ID).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    dev.shutdown().await;
}

#[tokio::test]
async fn a_seed_key_policy_that_locks_its_owner_out_is_refused_before_anything_is_created() {
    let files = tempfile::tempdir().unwrap();
    let locked = seed_yaml().replace(
        &format!("Principal: {{AWS: \"arn:aws:iam::{ACCOUNT}:root\"}}"),
        &format!("Principal: {{AWS: \"arn:aws:iam::{ACCOUNT}:role/nobody\"}}"),
    );
    assert_ne!(locked, seed_yaml());
    let seed = write_seed(files.path(), "locked.yaml", &locked);
    let dir = tempfile::tempdir().unwrap();
    let err = try_start(dir.path(), &seed)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("keys[2].policy") && err.contains("MalformedPolicyDocument"),
        "{err}"
    );
    nothing_seeded(dir.path()).await;
}
