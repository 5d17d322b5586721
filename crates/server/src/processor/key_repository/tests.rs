//! The repository over a real SQLite store: per-key locking lets writes to
//! different keys run together and makes writes to one key take turns,
//! and a write outside its change is refused without touching anything.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use strongroom_store::{KeyRecord, SqliteStore};
use tokio::sync::Barrier;
use tokio::time::timeout;
use uuid::Uuid;

use super::{KeyRepository, WriteError};
use crate::processor::Change;

const ACCOUNT: &str = "111122223333";

fn record(id: Uuid) -> KeyRecord {
    KeyRecord::symmetric(id, ACCOUNT, "us-east-1", 1)
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

fn grant(key: Uuid, grant_id: &str) -> strongroom_store::GrantRecord {
    strongroom_store::GrantRecord {
        grant_id: grant_id.into(),
        key_id: key,
        key_account_id: ACCOUNT.into(),
        name: None,
        grantee: format!("arn:aws:iam::{ACCOUNT}:user/grantee"),
        retiring: None,
        operations: vec!["Encrypt".into()],
        context_equals: None,
        context_subset: None,
        issuing_account: ACCOUNT.into(),
        created_at: 1,
        token: format!("token-{grant_id}"),
    }
}

// A request reading a key's grants from the store just before a
// RevokeGrant commits, and caching them just after the revocation forgot
// the cached list, must not leave the revoked grant usable here: with no
// cache TTL (one frontend) it would stay for ever.
#[tokio::test]
async fn grants_read_before_a_revocation_are_not_cached_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, a, _) = repository(&dir).await;
    let change = Change::for_test(&[a]);
    let revoked = "a".repeat(64);
    repo.create_grant(&change, &grant(a, &revoked))
        .await
        .unwrap();
    // The reader's store read, then the revocation, then the reader's insert.
    let stamp = repo.stamp();
    let read = Arc::new(repo.reads().list_grants(a).await.unwrap());
    assert_eq!(read.len(), 1);
    assert!(repo.delete_grant(&change, a, &revoked).await.unwrap());
    repo.remember_grants(stamp, a, read);
    let now = repo.grants(a).await.unwrap();
    assert!(
        now.iter().all(|g| g.grant_id != revoked),
        "a revoked grant is cached again"
    );
}

// The same for an alias: a target read before UpdateAlias (or DeleteAlias)
// must not be cached after it, or the alias keeps naming the old key here.
#[tokio::test]
async fn an_alias_target_read_before_a_move_is_not_cached_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, a, b) = repository(&dir).await;
    let name = "alias/moving";
    let alias = strongroom_store::AliasRecord {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        name: name.into(),
        key_id: a,
        created_at: 1,
        updated_at: 1,
    };
    repo.create_alias(&Change::for_test(&[a]), &alias)
        .await
        .unwrap();
    let stamp = repo.stamp();
    let read = repo.reads().get_alias(ACCOUNT, "us-east-1", name).await;
    let read = read.unwrap().expect("alias");
    let place = (ACCOUNT, "us-east-1", name);
    repo.update_alias(&Change::for_test(&[b]), place, b, 2)
        .await
        .unwrap();
    let key = (ACCOUNT.to_owned(), "us-east-1".to_owned(), name.to_owned());
    repo.remember_alias(stamp, key, read.key_id);
    let target = repo.alias_target(ACCOUNT, "us-east-1", name).await;
    assert_eq!(
        target.unwrap(),
        Some(b),
        "the alias names its old key again"
    );
}

// And for a key: a record read just before the deletion sweep deletes the
// key must not be cached after the sweep forgot it (the commit that made
// `delete` forget before and after the store delete left this window).
#[tokio::test]
async fn a_key_read_before_its_deletion_is_not_cached_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, a, _) = repository(&dir).await;
    let stamp = repo.stamp();
    let read = repo.reads().get_key(a).await.unwrap().expect("key");
    assert!(repo.delete(&Change::for_test(&[a]), a).await.unwrap());
    repo.cache_read(stamp, read);
    assert!(
        repo.load(a).await.unwrap().is_none(),
        "a deleted key is cached again"
    );
}
