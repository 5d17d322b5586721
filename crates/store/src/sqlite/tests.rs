use super::*;
use crate::conformance::key;

async fn store_with_account() -> Arc<dyn Store> {
    let s = SqliteStore::open_in_memory().unwrap();
    s.create_account(&AccountRecord {
        id: crate::conformance::ACCOUNT.into(),
        created_at: 0,
    })
    .await
    .unwrap();
    Arc::new(s)
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
async fn deleted_ekts_leave_no_bytes_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    s.create_account(&AccountRecord {
        id: "111122223333".into(),
        created_at: 0,
    })
    .await
    .unwrap();
    let (mut k, v1) = key("111122223333");
    let marker = |n: u8| -> Vec<u8> {
        (0..90)
            .map(|i| n.wrapping_mul(31).wrapping_add(i))
            .collect()
    };
    let v1 = KeyVersionRecord {
        ekt: marker(1),
        ..v1
    };
    s.create_key(&k, Some(&v1)).await.unwrap();
    for v in 2..=3u32 {
        k.current_version = v;
        let rec = KeyVersionRecord {
            version: v,
            ekt: marker(v as u8),
            ..v1.clone()
        };
        s.rotate_key(&k, &rec, "ON_DEMAND").await.unwrap();
        k.revision += 1;
    }
    s.delete_key_versions(k.id).await.unwrap();
    k.description = "after".into();
    s.update_key(&k).await.unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for n in 1..=3u8 {
            let m = marker(n);
            assert!(
                !bytes.windows(m.len()).any(|w| w == &m[..]),
                "{} holds EKT {n}",
                path.display()
            );
        }
    }
}
