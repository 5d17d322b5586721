use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::AccountRecord;
use crate::conformance::{ACCOUNT, key_with_three_versions, marker, replace_sealed_material};
use crate::prelude::*;

async fn store_with_account() -> Option<Arc<SqliteStore>> {
    let s = SqliteStore::open_in_memory().unwrap();
    s.create_account(&AccountRecord {
        id: ACCOUNT.into(),
        created_at: 0,
    })
    .await
    .unwrap();
    Some(Arc::new(s))
}

crate::conformance_tests!(store_with_account);

#[tokio::test]
async fn migrations_are_versioned_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::latest());
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::latest());
    // A database from the future is refused rather than misread.
    drop(s);
    let c = Connection::open(&path).unwrap();
    c.execute("INSERT INTO schema_migrations VALUES (999, 0)", [])
        .unwrap();
    drop(c);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::SchemaTooNew { found: 999, .. })
    ));
}

#[tokio::test]
async fn a_store_from_before_regions_puts_its_keys_and_aliases_in_the_configured_region() {
    for legacy in ["eu-west-1", "us-east-1"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut c = Connection::open(&path).unwrap();
        migrations::migrate_through(&mut c, 17, "unused").unwrap();
        for row in crate::conformance::PRE_REGION_ROWS {
            c.execute(row, []).unwrap();
        }
        drop(c);
        let s = if legacy == crate::LEGACY_REGION {
            SqliteStore::open(&path).unwrap()
        } else {
            SqliteStore::open_in_region(&path, legacy).unwrap()
        };
        assert_eq!(s.schema_version().unwrap(), migrations::latest());
        crate::conformance::pre_region_rows_are_in(&s, legacy).await;
        // Reopening with another region moves nothing: the step ran once.
        drop(s);
        let s = SqliteStore::open_in_region(&path, "ap-southeast-2").unwrap();
        let id = crate::conformance::PRE_REGION_KEY.parse().unwrap();
        assert_eq!(s.get_key(id).await.unwrap().unwrap().region, legacy);
    }
}

/// A store in a file of its own, holding the test account.
async fn file_store(dir: &Path) -> SqliteStore {
    let s = SqliteStore::open(&dir.join("s.db")).unwrap();
    s.create_account(&AccountRecord {
        id: ACCOUNT.into(),
        created_at: 0,
    })
    .await
    .unwrap();
    s
}

/// Which of the markers `ns` some file in `dir` (database, WAL, shared
/// memory) still holds, with the file.
fn markers_on_disk(dir: &Path, ns: impl IntoIterator<Item = u8> + Clone) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for n in ns.clone() {
            let m = marker(n);
            if bytes.windows(m.len()).any(|w| w == &m[..]) {
                found.push(format!("EKT {n} in {}", path.display()));
            }
        }
    }
    found
}

#[tokio::test]
async fn deleted_ekts_leave_no_bytes_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(dir.path()).await;
    let mut k = key_with_three_versions(&s, 0).await;
    assert!(
        !markers_on_disk(dir.path(), 1..=3).is_empty(),
        "the scan finds EKTs"
    );
    s.delete_key_versions(k.id).await.unwrap();
    k.description = "after".into();
    s.update_key(&k).await.unwrap();
    assert_eq!(markers_on_disk(dir.path(), 1..=3), Vec::<String>::new());
}

#[tokio::test]
async fn a_deleted_key_leaves_no_ekt_bytes_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(dir.path()).await;
    let doomed = key_with_three_versions(&s, 10).await;
    let kept = key_with_three_versions(&s, 20).await;
    assert!(s.delete_key(doomed.id).await.unwrap());
    assert_eq!(markers_on_disk(dir.path(), 11..=13), Vec::<String>::new());
    assert!(s.get_key_version(kept.id, 3).await.unwrap().is_some());
}

#[tokio::test]
async fn replaced_sealed_material_leaves_no_bytes_in_the_database_files_after_a_purge() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(dir.path()).await;
    let (replaced, _) = replace_sealed_material(&s).await;
    assert_eq!(markers_on_disk(dir.path(), replaced), Vec::<String>::new());
}

#[tokio::test]
async fn a_key_row_with_an_unknown_key_spec_reads_as_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = file_store(dir.path()).await;
    let (k, v) = crate::conformance::key(ACCOUNT);
    s.create_key(&k, Some(&v)).await.unwrap();
    drop(s);
    let c = Connection::open(dir.path().join("s.db")).unwrap();
    let changed = c
        .execute(
            "UPDATE keys SET key_spec = 'RSA_1024' WHERE id = ?1",
            [k.id.to_string()],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(c);
    let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    assert!(matches!(s.get_key(k.id).await, Err(StoreError::Corrupt(m)) if m.contains("RSA_1024")));
    let listed = s.list_keys(ACCOUNT, &k.region, None, 10).await;
    assert!(matches!(listed, Err(StoreError::Corrupt(_))), "{listed:?}");
}
