//! The PostgreSQL schema: versioned, append-only migrations, applied under
//! an advisory lock so frontends starting together migrate once.

use deadpool_postgres::Client;

use super::db;
use crate::StoreError;

/// Advisory-lock key for migrations ("strongroom" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x7374_726f_6e67_726f;

/// (version, SQL) in order. Identifiers and names compare byte-wise
/// (`COLLATE "C"`), so paging orders match SQLite's.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE accounts (
    id TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE access_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    sealed_secret BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    principal_arn TEXT,
    expires_at BIGINT,
    session_token_hash BYTEA
);
CREATE INDEX access_keys_by_account ON access_keys(account_id);
CREATE TABLE keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    key_spec TEXT NOT NULL,
    key_usage TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deletion_date BIGINT,
    pending_window_days BIGINT,
    current_version BIGINT NOT NULL,
    tags TEXT NOT NULL,
    rotation_period_days BIGINT,
    next_rotation_at BIGINT,
    on_demand_rotations BIGINT NOT NULL DEFAULT 0,
    import_valid_to BIGINT,
    import_fingerprint BYTEA,
    suspension_fingerprint BYTEA,
    exposed BOOLEAN NOT NULL DEFAULT FALSE,
    volatile BOOLEAN NOT NULL DEFAULT FALSE,
    policy TEXT
);
CREATE INDEX keys_by_account ON keys(account_id, id);
CREATE INDEX keys_by_deletion ON keys(deletion_date) WHERE deletion_date IS NOT NULL;
CREATE INDEX keys_by_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
CREATE INDEX keys_by_import_expiry ON keys(import_valid_to) WHERE import_valid_to IS NOT NULL;
CREATE TABLE key_versions (
    key_id TEXT COLLATE "C" NOT NULL REFERENCES keys(id),
    version BIGINT NOT NULL,
    ekt BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    rotation_type TEXT,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE aliases (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT COLLATE "C" NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX aliases_by_key ON aliases(key_id);
CREATE TABLE grants (
    grant_id TEXT COLLATE "C" PRIMARY KEY,
    key_id TEXT NOT NULL,
    key_account_id TEXT NOT NULL,
    name TEXT,
    grantee TEXT NOT NULL,
    retiring TEXT,
    operations TEXT NOT NULL,
    context_equals TEXT,
    context_subset TEXT,
    issuing_account TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    token TEXT NOT NULL UNIQUE
);
CREATE INDEX grants_by_key ON grants(key_id);
CREATE INDEX grants_by_retiring ON grants(retiring) WHERE retiring IS NOT NULL;
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
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
    account_id TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    key_id TEXT COLLATE "C" NOT NULL,
    hour BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (account_id, operation, key_id, hour)
);
CREATE TABLE principals (
    arn TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    policy TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    service_name TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX principals_by_service ON principals(service_name) WHERE service_name IS NOT NULL;
CREATE TABLE service_secrets (
    name TEXT PRIMARY KEY,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE module_log_cursors (
    module_id TEXT NOT NULL,
    log_id BIGINT NOT NULL,
    "offset" BIGINT NOT NULL,
    PRIMARY KEY (module_id, log_id)
);
"#,
    ),
    (
        2,
        "CREATE TABLE job_leases (
            job TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until BIGINT NOT NULL
        );",
    ),
    (3, "ALTER TABLE keys ADD COLUMN module_group TEXT;"),
    (
        4,
        "ALTER TABLE keys ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;",
    ),
    (
        5,
        "CREATE TABLE auth_proofs (
            request_digest TEXT PRIMARY KEY,
            proof_id TEXT NOT NULL UNIQUE,
            uses_left BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX auth_proofs_by_expiry ON auth_proofs(expires_at);",
    ),
    (
        6,
        "CREATE TABLE usage_flushed (
            chain TEXT PRIMARY KEY,
            seq BIGINT NOT NULL
        );",
    ),
    // Keys and aliases belong to a region. Existing rows get the legacy
    // region (see `REGION_BACKFILL`); alias names become unique per
    // (account, region).
    (
        7,
        r#"ALTER TABLE keys ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
        DROP INDEX keys_by_account;
        CREATE INDEX keys_by_account ON keys(account_id, region, id);
        ALTER TABLE aliases ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
        ALTER TABLE aliases DROP CONSTRAINT aliases_pkey;
        ALTER TABLE aliases ADD PRIMARY KEY (account_id, region, name);"#,
    ),
    // As SQLite's 19: the chain hash at the counted position.
    (8, "ALTER TABLE usage_flushed ADD COLUMN head BYTEA;"),
    // Multi-Region keys (as SQLite's 20).
    (
        9,
        r#"ALTER TABLE keys ADD COLUMN multi_region_id TEXT COLLATE "C";
        ALTER TABLE keys ADD COLUMN multi_region_primary BOOLEAN NOT NULL DEFAULT FALSE;
        CREATE INDEX keys_by_multi_region ON keys(account_id, multi_region_id)
            WHERE multi_region_id IS NOT NULL;"#,
    ),
];

/// The step that introduced regions, and the statements it runs after
/// its SQL with `$1` = the legacy region: rows from before regions existed
/// move to the region the frontend was configured with.
const REGION_BACKFILL: (i64, &[&str]) = (
    7,
    &[
        "UPDATE keys SET region = $1 WHERE region = ''",
        "UPDATE aliases SET region = $1 WHERE region = ''",
    ],
);

/// The newest schema version this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Applies every step newer than the database, each in its own
/// transaction, under an advisory lock; rows that predate regions go to
/// `legacy_region`.
pub async fn migrate(c: &mut Client, legacy_region: &str) -> Result<(), StoreError> {
    migrate_through(c, latest(), legacy_region).await
}

/// [`migrate`], stopping after step `last` (tests build old databases).
pub(crate) async fn migrate_through(
    c: &mut Client,
    last: i64,
    legacy_region: &str,
) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    let result = match c
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
    {
        Ok(()) => apply(c, last, legacy_region).await,
        Err(e) => Err(db(e)),
    };
    c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    result
}

async fn apply(c: &mut Client, last: i64, legacy_region: &str) -> Result<(), StoreError> {
    let found: i64 = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    if found > latest() {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: latest(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > found && m.0 <= last) {
        let tx = c.transaction().await.map_err(db)?;
        tx.batch_execute(sql).await.map_err(db)?;
        if *version == REGION_BACKFILL.0 {
            for statement in REGION_BACKFILL.1 {
                tx.execute(*statement, &[&legacy_region])
                    .await
                    .map_err(db)?;
            }
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
            &[version],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
    }
    Ok(())
}

/// The version applied.
pub async fn current_version(c: &Client) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )
    .await
    .map_err(db)?
    .get(0))
}
