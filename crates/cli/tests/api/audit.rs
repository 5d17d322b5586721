//! The audit trail's guarantees under failure and edits: no state change
//! without its intent record, records naming their keys, rows left in the
//! store sealed into a file, and chains cut or rewritten in sync mode.
//! (What every request records, the chain and metering: `audit_records`;
//! write failures and crashes: `audit_process`.)

use std::process::Command;

use serde_json::Value;

use crate::common::*;

pub(crate) fn admin(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

pub(crate) async fn records(env: &TestEnv) -> Vec<Value> {
    env.dev.audit_events().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_operation_does_not_run_when_its_intent_cannot_be_written() {
    let mut env = TestEnv::start().await;
    let c = env.client.clone();
    let keys_before = env
        .dev
        .store
        .list_keys(&env.dev.account_id, &env.dev.region, None, 1000)
        .await
        .unwrap()
        .len();
    // The audit trail stops taking records (its writer is closed, as on a
    // failed disk): a CreateKey is refused before it runs.
    env.dev.server.close_audit_log().await;
    let e = c.create_key().send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInternalException");
    let e = c.list_keys().send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInternalException");
    assert_eq!(
        env.dev
            .store
            .list_keys(&env.dev.account_id, &env.dev.region, None, 1000)
            .await
            .unwrap()
            .len(),
        keys_before,
        "a key was created without an audit record"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retire_and_revoke_grant_records_name_the_grants_key() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let root = format!("arn:aws:iam::{}:root", env.dev.account_id);
    let arn = new_key(c).await;
    let grant = || {
        c.create_grant()
            .key_id(&arn)
            .grantee_principal(&root)
            .retiring_principal(&root)
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
    };
    let retired = grant().send().await.unwrap();
    c.retire_grant()
        .grant_token(retired.grant_token.unwrap())
        .send()
        .await
        .unwrap();
    let revoked = grant().send().await.unwrap();
    c.revoke_grant()
        .key_id(&arn)
        .grant_id(revoked.grant_id.clone().unwrap())
        .send()
        .await
        .unwrap();
    let all = records(&env).await;
    for (operation, grant_id) in [
        ("RetireGrant", retired.grant_id.unwrap()),
        ("RevokeGrant", revoked.grant_id.unwrap()),
    ] {
        let intents: Vec<&Value> = all
            .iter()
            .filter(|r| {
                r["eventName"] == operation && r["additionalEventData"]["phase"] == "intent"
            })
            .collect();
        assert_eq!(intents.len(), 1, "{operation}: {all:#?}");
        let intent = intents[0];
        assert_eq!(intent["resources"][0]["ARN"], arn.as_str(), "{intent:#}");
        assert_eq!(intent["requestParameters"]["keyId"], arn.as_str());
        assert_eq!(
            intent["requestParameters"]["grantId"],
            grant_id.as_str(),
            "{intent:#}"
        );
    }
    env.stop().await;
}

/// Every state-changing row that names a key, run by the key's owner: each
/// intent record it writes names the key (CloudTrail's `resources`), so no
/// change to a key goes unattributed in the trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_touching_intent_record_names_its_key() {
    use strongroom_server::authz::operations::{Effect, Resources};
    let env = TestEnv::start().await;
    let (victim, _) = crate::authz_every_operation::set_up_victim(&env).await;
    let root = strongroom_cli::client::KmsHttpClient::new(
        &env.dev.endpoint(),
        &env.dev.region,
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let touches_key = |r: Resources| !matches!(r, Resources::Keyless);
    // The rows that end the key's use go last, so the others reach it.
    let last = [
        "SuspendKey",
        "DeleteImportedKeyMaterial",
        "ScheduleKeyDeletion",
        "RevokeKey",
        "ShredKey",
    ];
    let mut rows: Vec<_> = strongroom_server::ops::OPERATIONS
        .iter()
        .filter(|op| op.effect == Effect::Writes && touches_key(op.resources))
        .collect();
    rows.sort_by_key(|op| last.iter().position(|l| *l == op.name));
    for op in &rows {
        let body = crate::authz_every_operation::body_for(op.name, &victim)
            .unwrap_or_else(|| panic!("{}: no request body", op.name));
        // Refusals (bogus inputs) are fine: only written intents count.
        let _ = root.call(op.name, serde_json::to_vec(&body).unwrap()).await;
    }
    let all = records(&env).await;
    let mut named = Vec::new();
    for r in &all {
        let name = r["eventName"].as_str().unwrap_or("");
        if r["additionalEventData"]["phase"] != "intent" || !rows.iter().any(|op| op.name == name) {
            continue;
        }
        let resources = r["resources"].as_array().cloned().unwrap_or_default();
        assert!(
            resources
                .iter()
                .any(|x| x["ARN"].as_str().is_some_and(|a| a.contains(":key/"))),
            "{name}'s intent names no key: {r:#}"
        );
        named.push(name.to_owned());
    }
    for expected in ["RetireGrant", "CreateGrant", "ShredKey"] {
        assert!(named.iter().any(|n| n == expected), "{expected}: {named:?}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_left_in_the_store_move_to_a_sealed_file_and_edits_to_it_are_found() {
    let env = TestEnv::start().await;
    let dir = env.stop().await;
    // A directory as an earlier version left it: a store, no segments.
    for p in chain_files(&dir.path().join("audit")) {
        std::fs::remove_file(p).unwrap();
    }
    // Rows an earlier version wrote into the store, chained as it chained
    // them.
    let db = rusqlite::Connection::open(dir.path().join("strongroom.db")).unwrap();
    let mut prev = "0".repeat(64);
    for seq in 1..=3i64 {
        let record = format!("{{\"sequence\":{seq},\"eventName\":\"Encrypt\"}}");
        let hash = hex::encode(strongroom_crypto::sha256(
            format!("{prev}\n{record}").as_bytes(),
        ));
        db.execute(
            "INSERT INTO audit_log (seq, time_ms, principal, account_id, operation, record, prev_hash, hash)
             VALUES (?1, 0, '-', '-', 'Encrypt', ?2, ?3, ?4)",
            rusqlite::params![seq, record, prev, hash],
        )
        .unwrap();
        prev = hash;
    }
    let head = prev;
    // The next start moves them out of the store.
    let dev = start_in(dir.path(), |_| {}).await;
    let left: i64 = db
        .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    dev.shutdown().await;
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!(
            "legacy store audit legacy-store-audit-1-3.jsonl intact: 3 records, head {head}"
        )),
        "{out}"
    );
    // An edit to the moved records is found.
    let file = dir
        .path()
        .join("audit")
        .join("legacy-store-audit-1-3.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("Encrypt", "Decrypt", 1)).unwrap();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("legacy-store-audit-1-3.jsonl BROKEN"), "{out}");
}

/// The segment, footer and receipt files of every chain in `audit`.
fn chain_files(audit: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(audit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "seg" || e == "footer" || e == "receipt")
        })
        .collect()
}

/// `strongroom dev` in `sync` mode.
fn sync(o: &mut strongroom_cli::dev::DevOptions) {
    o.audit.audit_durability = Some("sync".into());
}

/// A `sync` dev in `dir` answers ten Encrypts (usage counted through their
/// records), then stops.
async fn ten_encrypts_in_sync_mode(dir: &std::path::Path) {
    let dev = start_in(dir, sync).await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let arn = new_key(&client).await;
    for _ in 0..10 {
        client
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"m"))
            .send()
            .await
            .unwrap();
    }
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_cut_back_below_its_metered_position_is_refused_in_sync_mode_not_metered_short() {
    let dir = tempfile::tempdir().unwrap();
    ten_encrypts_in_sync_mode(dir.path()).await;
    // Someone who writes the audit directory removes the chain's records
    // (answered after fdatasync, so no crash could have lost them). A
    // frontend that took the chain up from record 1 would skip metering
    // the next requests (their numbers were counted already) and hide the
    // loss.
    let audit = dir.path().join("audit");
    let removed = chain_files(&audit);
    assert!(!removed.is_empty());
    for p in &removed {
        std::fs::remove_file(p).unwrap();
    }
    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    sync(&mut opts);
    let started = strongroom_cli::dev::start(opts).await;
    let err = match started {
        Ok(dev) => {
            dev.shutdown().await;
            panic!("the frontend took up a chain cut back below its metered position");
        }
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("usage was counted through record"), "{err}");
    // It stays refused: no start takes the cut chain up.
    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    sync(&mut opts);
    assert!(strongroom_cli::dev::start(opts).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_rewritten_in_full_past_its_metered_position_is_refused_in_sync_mode() {
    let dir = tempfile::tempdir().unwrap();
    ten_encrypts_in_sync_mode(dir.path()).await;
    // Someone who writes the audit directory replaces the chain with one
    // of their own making: as long, consistent on its own, with the same
    // chain id, but none of the answered records. Length alone cannot
    // tell; the hash the store keeps at the metered position does.
    let audit = dir.path().join("audit");
    for p in chain_files(&audit) {
        std::fs::remove_file(p).unwrap();
    }
    let chain = strongroom_cli::audit_setup::chain_id(dir.path()).unwrap();
    let forger: std::sync::Arc<dyn strongroom_audit::FooterSealer> =
        std::sync::Arc::new(strongroom_audit::InProcessSealer::from_seed([7; 32]).unwrap());
    let (writer, _) = strongroom_audit::AuditWriter::open(
        strongroom_audit::LogConfig::new(&audit, chain),
        forger,
    )
    .unwrap();
    let appender = writer.appender();
    for i in 0..40 {
        let record = strongroom_audit::AuditRecord {
            time_ms: 1_700_000_000_000 + i,
            request_id: format!("forged-{i}"),
            operation: "ListKeys".into(),
            ..Default::default()
        };
        appender.append(record).await.unwrap();
    }
    writer.shutdown().await.unwrap();

    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    sync(&mut opts);
    let err = match strongroom_cli::dev::start(opts).await {
        Ok(dev) => {
            dev.shutdown().await;
            panic!("the frontend took up a chain rewritten past its metered position");
        }
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("committed records were rewritten"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_planted_in_the_store_after_the_chain_began_are_not_sealed_as_the_old_trail() {
    let env = TestEnv::start().await;
    let dir = env.stop().await;
    // Whoever writes the store (not the module) plants rows chained as
    // an earlier version chained them, after this version's chain began.
    let db = rusqlite::Connection::open(dir.path().join("strongroom.db")).unwrap();
    let record = "{\"sequence\":1,\"eventName\":\"Decrypt\"}";
    let prev = "0".repeat(64);
    let hash = hex::encode(strongroom_crypto::sha256(
        format!("{prev}\n{record}").as_bytes(),
    ));
    db.execute(
        "INSERT INTO audit_log (seq, time_ms, principal, account_id, operation, record, prev_hash, hash)
         VALUES (1, 0, '-', '-', 'Decrypt', ?1, ?2, ?3)",
        rusqlite::params![record, prev, hash],
    )
    .unwrap();
    let dev = start_in(dir.path(), |_| {}).await;
    dev.shutdown().await;
    let left: i64 = db
        .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 1, "the planted row stays where it was found");
    let sealed: Vec<_> = std::fs::read_dir(dir.path().join("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("legacy-store-audit-"))
        .collect();
    assert!(sealed.is_empty(), "{sealed:?}");
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("legacy store audit"), "{out}");
}
