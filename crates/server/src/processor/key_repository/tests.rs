//! The repository over a real SQLite store: per-key locking lets writes to
//! different keys run together and makes writes to one key take turns,
//! and a write outside its change is refused without touching anything.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use strongroom_store::{KeyRecord, KeyState, SqliteStore};
use tokio::sync::Barrier;
use tokio::time::timeout;
use uuid::Uuid;

use super::{KeyRepository, WriteError};
use crate::processor::Change;

const ACCOUNT: &str = "111122223333";

fn record(id: Uuid) -> KeyRecord {
    KeyRecord {
        id,
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        description: String::new(),
        state: KeyState::Enabled,
        key_spec: strongroom_store::KeySpec::SymmetricDefault,
        key_usage: strongroom_store::KeyUsage::EncryptDecrypt,
        origin: strongroom_store::Origin::AwsKms,
        created_at: 1,
        deletion_date: None,
        pending_window_days: None,
        current_version: 0,
        tags: Vec::new(),
        rotation_period_days: None,
        next_rotation_at: None,
        on_demand_rotations: 0,
        import_valid_to: None,
        import_fingerprint: None,
        suspension_fingerprint: None,
        exposed: false,
        volatile: false,
        policy: None,
        module_group: None,
        multi_region_id: None,
        multi_region_primary: false,
        revision: 0,
    }
}

/// A repository on a fresh SQLite file with keys `a` and `b`.
async fn repository(dir: &tempfile::TempDir) -> (Arc<KeyRepository>, Uuid, Uuid) {
    let store = Arc::new(SqliteStore::open(&dir.path().join("store.db")).expect("store"));
    crate::admin::create_account(&*store, Some(ACCOUNT.into()))
        .await
        .expect("account");
    let repo = KeyRepository::new(store);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [a, b] {
        let change = Change::for_test(&[id]);
        repo.create(&change, record(id), None)
            .await
            .expect("create");
    }
    (Arc::new(repo), a, b)
}

/// A slow read-modify-write of key `id` under its lock: read from the
/// store, `meanwhile`, then append `label` to the description and save.
async fn slow_append(
    repo: &KeyRepository,
    id: Uuid,
    label: &str,
    meanwhile: impl Future<Output = ()>,
) -> Result<Arc<KeyRecord>, WriteError> {
    let _guard = repo.lock_keys(&[id]).await;
    let mut key = repo.reads().get_key(id).await?.expect("key");
    meanwhile.await;
    key.description.push_str(label);
    repo.save(&Change::for_test(&[id]), key).await
}

#[tokio::test]
async fn slow_writes_to_two_keys_proceed_together() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, a, b) = repository(&dir).await;
    // Each write waits, inside its key's lock, for the other to be inside
    // its own: they finish only if both hold their locks at once.
    let both_inside = Arc::new(Barrier::new(2));
    let write = |id, label: &'static str| {
        let (repo, both_inside) = (repo.clone(), both_inside.clone());
        tokio::spawn(async move {
            let meanwhile = async {
                timeout(Duration::from_secs(10), both_inside.wait())
                    .await
                    .expect("the other key's write was blocked");
            };
            slow_append(&repo, id, label, meanwhile).await
        })
    };
    let (wa, wb) = (write(a, "a"), write(b, "b"));
    let (ka, kb) = (wa.await.unwrap().unwrap(), wb.await.unwrap().unwrap());
    assert_eq!((ka.description.as_str(), ka.revision), ("a", 1));
    assert_eq!((kb.description.as_str(), kb.revision), ("b", 1));
}

#[tokio::test]
async fn slow_writes_to_one_key_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, a, b) = repository(&dir).await;
    {
        let _held = repo.lock_keys(&[a]).await;
        assert!(
            timeout(Duration::from_millis(200), repo.lock_keys(&[a]))
                .await
                .is_err(),
            "a second lock of one key was granted while the first is held"
        );
        assert!(
            timeout(Duration::from_secs(5), repo.lock_keys(&[b]))
                .await
                .is_ok(),
            "another key's lock waited for this one"
        );
    }
    // Both read revision 0 without the lock and the second save would be
    // refused as a conflict; with it, the second reads the first's write.
    let write = |label: &'static str| {
        let repo = repo.clone();
        tokio::spawn(async move {
            let meanwhile = tokio::time::sleep(Duration::from_millis(100));
            slow_append(&repo, a, label, meanwhile).await
        })
    };
    let (w1, w2) = (write("x"), write("y"));
    let (k1, k2) = (w1.await.unwrap().unwrap(), w2.await.unwrap().unwrap());
    let last = if k1.revision > k2.revision { k1 } else { k2 };
    assert_eq!(last.revision, 2);
    assert!(last.description == "xy" || last.description == "yx");
    let stored = repo.reads().get_key(a).await.unwrap().unwrap();
    assert_eq!(stored.description, last.description);
    assert_eq!(repo.load(a).await.unwrap().unwrap().revision, 2);
}

#[tokio::test]
async fn a_write_outside_its_change_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, a, b) = repository(&dir).await;
    let mut key = repo.reads().get_key(a).await.unwrap().unwrap();
    key.description = "not yours".into();
    let refused = repo.save(&Change::for_test(&[b]), key).await;
    assert!(matches!(refused, Err(WriteError::NotCovered(id)) if id == a));
    let stored = repo.reads().get_key(a).await.unwrap().unwrap();
    assert_eq!((stored.description.as_str(), stored.revision), ("", 0));
    assert_eq!(repo.load(a).await.unwrap().unwrap().revision, 0);
}
