//! Versioned schema migrations. Append only: never edit a shipped step.

use rusqlite::Connection;

use crate::StoreError;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// (version, SQL) in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE accounts (
         id TEXT PRIMARY KEY,
         created_at INTEGER NOT NULL
     );
     CREATE TABLE access_keys (
         access_key_id TEXT PRIMARY KEY,
         account_id TEXT NOT NULL REFERENCES accounts(id),
         sealed_secret BLOB NOT NULL,
         created_at INTEGER NOT NULL,
         active INTEGER NOT NULL DEFAULT 1
     );
     CREATE TABLE keys (
         id TEXT PRIMARY KEY,
         account_id TEXT NOT NULL REFERENCES accounts(id),
         description TEXT NOT NULL,
         state TEXT NOT NULL,
         key_spec TEXT NOT NULL,
         key_usage TEXT NOT NULL,
         origin TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         deletion_date INTEGER,
         pending_window_days INTEGER,
         current_version INTEGER NOT NULL,
         tags TEXT NOT NULL
     );
     CREATE INDEX keys_by_account ON keys(account_id, id);
     CREATE INDEX keys_by_deletion ON keys(deletion_date) WHERE deletion_date IS NOT NULL;
     CREATE TABLE key_versions (
         key_id TEXT NOT NULL REFERENCES keys(id),
         version INTEGER NOT NULL,
         ekt BLOB NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (key_id, version)
     );
     CREATE TABLE aliases (
         account_id TEXT NOT NULL REFERENCES accounts(id),
         name TEXT NOT NULL,
         key_id TEXT NOT NULL REFERENCES keys(id),
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (account_id, name)
     );
     CREATE INDEX aliases_by_key ON aliases(key_id);",
    ),
    (
        2,
        "ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER;
     ALTER TABLE keys ADD COLUMN next_rotation_at INTEGER;
     ALTER TABLE keys ADD COLUMN on_demand_rotations INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE key_versions ADD COLUMN rotation_type TEXT;
     CREATE INDEX keys_by_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;",
    ),
    (
        3,
        "ALTER TABLE keys ADD COLUMN import_valid_to INTEGER;
     ALTER TABLE keys ADD COLUMN import_fingerprint BLOB;
     CREATE INDEX keys_by_import_expiry ON keys(import_valid_to) WHERE import_valid_to IS NOT NULL;",
    ),
    (4, "ALTER TABLE keys ADD COLUMN suspension_fingerprint BLOB;"),
    (
        5,
        "ALTER TABLE keys ADD COLUMN exposed INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        6,
        "ALTER TABLE keys ADD COLUMN volatile INTEGER NOT NULL DEFAULT 0;",
    ),
    (7, "ALTER TABLE keys ADD COLUMN policy TEXT;"),
    (
        8,
        "CREATE TABLE grants (
            grant_id TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            key_account_id TEXT NOT NULL,
            name TEXT,
            grantee TEXT NOT NULL,
            retiring TEXT,
            operations TEXT NOT NULL,
            context_equals TEXT,
            context_subset TEXT,
            issuing_account TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            token TEXT NOT NULL UNIQUE
        );
        CREATE INDEX grants_by_key ON grants(key_id);
        CREATE INDEX grants_by_retiring ON grants(retiring) WHERE retiring IS NOT NULL;",
    ),
    (
        9,
        "CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            principal TEXT NOT NULL,
            account_id TEXT NOT NULL,
            operation TEXT NOT NULL,
            key_arn TEXT,
            error_code TEXT,
            record TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE usage (
            account_id TEXT NOT NULL,
            operation TEXT NOT NULL,
            key_id TEXT NOT NULL,
            hour INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (account_id, operation, key_id, hour)
        );",
    ),
    (
        10,
        "CREATE TABLE principals (
            arn TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            policy TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            service_name TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX principals_by_service ON principals(service_name) WHERE service_name IS NOT NULL;
        ALTER TABLE access_keys ADD COLUMN principal_arn TEXT;
        ALTER TABLE access_keys ADD COLUMN expires_at INTEGER;
        ALTER TABLE access_keys ADD COLUMN session_token_hash BLOB;",
    ),
    (
        11,
        "CREATE TABLE service_secrets (
            name TEXT PRIMARY KEY,
            sealed BLOB NOT NULL,
            created_at INTEGER NOT NULL
        );",
    ),
    (
        12,
        "CREATE TABLE module_log_cursors (
            module_id TEXT NOT NULL,
            log_id INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            PRIMARY KEY (module_id, log_id)
        );",
    ),
    (
        13,
        "CREATE TABLE job_leases (
            job TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until INTEGER NOT NULL
        );",
    ),
    (14, "ALTER TABLE keys ADD COLUMN module_group TEXT;"),
    (
        15,
        "ALTER TABLE keys ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        16,
        "CREATE TABLE auth_proofs (
            request_digest TEXT PRIMARY KEY,
            proof_id TEXT NOT NULL UNIQUE,
            uses_left INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        CREATE INDEX auth_proofs_by_expiry ON auth_proofs(expires_at);",
    ),
    (
        17,
        "CREATE TABLE usage_flushed (
            chain TEXT PRIMARY KEY,
            seq INTEGER NOT NULL
        );",
    ),
    // Keys and aliases belong to a region. Existing rows get the legacy
    // region (see `REGION_BACKFILL`); alias names become unique per
    // (account, region), which SQLite can only do by rebuilding the table.
    (
        18,
        "ALTER TABLE keys ADD COLUMN region TEXT NOT NULL DEFAULT '';
        DROP INDEX keys_by_account;
        CREATE INDEX keys_by_account ON keys(account_id, region, id);
        CREATE TABLE aliases_in_regions (
            account_id TEXT NOT NULL REFERENCES accounts(id),
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            key_id TEXT NOT NULL REFERENCES keys(id),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (account_id, region, name)
        );
        INSERT INTO aliases_in_regions (account_id, region, name, key_id, created_at, updated_at)
            SELECT account_id, '', name, key_id, created_at, updated_at FROM aliases;
        DROP TABLE aliases;
        ALTER TABLE aliases_in_regions RENAME TO aliases;
        CREATE INDEX aliases_by_key ON aliases(key_id);",
    ),
    // The chain hash at the counted position: a restart checks the log
    // still has that record (docs/audit.md, "Usage metering").
    (19, "ALTER TABLE usage_flushed ADD COLUMN head BLOB;"),
    // Multi-Region keys: the shared id every region's copy carries, and
    // which copy is the primary.
    (
        20,
        "ALTER TABLE keys ADD COLUMN multi_region_id TEXT;
        ALTER TABLE keys ADD COLUMN multi_region_primary INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX keys_by_multi_region ON keys(account_id, multi_region_id)
            WHERE multi_region_id IS NOT NULL;",
    ),
];

/// The step that introduced regions, and the statements it runs after
/// its SQL with `?1` = the legacy region: rows from before regions existed
/// move to the region the frontend was configured with.
const REGION_BACKFILL: (i64, &[&str]) = (
    18,
    &[
        "UPDATE keys SET region = ?1 WHERE region = ''",
        "UPDATE aliases SET region = ?1 WHERE region = ''",
    ],
);

/// The newest schema version this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// The version applied to `c` (0 for a new database).
pub fn current_version(c: &Connection) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
    .map_err(db)
}

/// Applies every step newer than the database, each in its own
/// transaction; rows that predate regions go to `legacy_region`.
pub fn migrate(c: &mut Connection, legacy_region: &str) -> Result<(), StoreError> {
    migrate_through(c, latest(), legacy_region)
}

/// [`migrate`], stopping after step `last` (tests build old databases).
pub(crate) fn migrate_through(
    c: &mut Connection,
    last: i64,
    legacy_region: &str,
) -> Result<(), StoreError> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(db)?;
    let found = current_version(c)?;
    if found > latest() {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: latest(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > found && m.0 <= last) {
        let tx = c.transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        if *version == REGION_BACKFILL.0 {
            for statement in REGION_BACKFILL.1 {
                tx.execute(statement, [legacy_region]).map_err(db)?;
            }
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            [version],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}
