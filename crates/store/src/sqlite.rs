//! The SQLite store: WAL journal, `synchronous=FULL` so a commit is on disk
//! before it returns, `secure_delete` so deleted EKTs are overwritten.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use crate::{
    AccessKeyRecord, AccountRecord, AliasRecord, AuditQuery, AuditRow, GrantRecord, KeyRecord,
    KeyState, KeyVersionRecord, RotationRecord, Store, StoreError, StoreResult,
};

mod audit;
mod grants;
mod identities;
mod migrations;
mod proofs;
mod rotation;
mod sealed;
mod service_state;

/// A store in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(db)?;
        Self::init(conn)
    }

    /// An in-memory database (tests).
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(mut conn: Connection) -> StoreResult<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        migrations::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The schema version now applied.
    pub fn schema_version(&self) -> StoreResult<i64> {
        let c = self
            .conn
            .lock()
            .map_err(|_| StoreError::Database("poisoned".into()))?;
        migrations::current_version(&c)
    }

    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .map_err(|_| StoreError::Database("connection lock poisoned".into()))?;
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
    }
}

const KEY_COLUMNS: &str = "id, account_id, description, state, key_spec, key_usage, origin, created_at, \
                           deletion_date, pending_window_days, current_version, tags, \
                           rotation_period_days, next_rotation_at, on_demand_rotations, \
                           import_valid_to, import_fingerprint, suspension_fingerprint, exposed, \
                           volatile, policy, module_group, revision";

fn uuid_col(row: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let s: String = row.get(i)?;
    Uuid::parse_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Writes a key's mutable metadata (shared by `update_key` and rotation).
pub(crate) fn update_key_row(c: &Connection, k: &KeyRecord) -> StoreResult<()> {
    let tags = tags_json(k)?;
    let n = c
        .execute(
            "UPDATE keys SET description = ?2, state = ?3, deletion_date = ?4, pending_window_days = ?5, \
             current_version = ?6, tags = ?7, rotation_period_days = ?8, next_rotation_at = ?9, \
             on_demand_rotations = ?10, import_valid_to = ?11, import_fingerprint = ?12, \
             suspension_fingerprint = ?13, policy = ?14, exposed = ?15, revision = revision + 1 \
             WHERE id = ?1 AND revision = ?16",
            params![
                k.id.to_string(),
                k.description,
                k.state.as_str(),
                k.deletion_date,
                k.pending_window_days,
                k.current_version,
                tags,
                k.rotation_period_days,
                k.next_rotation_at,
                k.on_demand_rotations,
                k.import_valid_to,
                k.import_fingerprint,
                k.suspension_fingerprint,
                k.policy,
                k.exposed,
                k.revision as i64
            ],
        )
        .map_err(db)?;
    if n == 1 {
        return Ok(());
    }
    let exists = c
        .query_row(
            "SELECT 1 FROM keys WHERE id = ?1",
            [k.id.to_string()],
            |_| Ok(()),
        )
        .optional()
        .map_err(db)?
        .is_some();
    Err(if exists {
        StoreError::Conflict(format!("key {} changed since it was read", k.id))
    } else {
        StoreError::NotFound(k.id.to_string())
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let state: String = row.get(3)?;
    let tags: String = row.get(11)?;
    let bad = |i, e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e)
    };
    Ok(KeyRecord {
        id: uuid_col(row, 0)?,
        account_id: row.get(1)?,
        description: row.get(2)?,
        state: KeyState::parse(&state)
            .ok_or_else(|| bad(3, format!("key state {state}").into()))?,
        key_spec: row.get(4)?,
        key_usage: row.get(5)?,
        origin: row.get(6)?,
        created_at: row.get(7)?,
        deletion_date: row.get(8)?,
        pending_window_days: row.get(9)?,
        current_version: row.get(10)?,
        tags: serde_json::from_str(&tags).map_err(|e| bad(11, Box::new(e)))?,
        rotation_period_days: row.get(12)?,
        next_rotation_at: row.get(13)?,
        on_demand_rotations: row.get(14)?,
        import_valid_to: row.get(15)?,
        import_fingerprint: row.get(16)?,
        suspension_fingerprint: row.get(17)?,
        exposed: row.get(18)?,
        volatile: row.get(19)?,
        policy: row.get(20)?,
        module_group: row.get(21)?,
        revision: row.get::<_, i64>(22)? as u64,
    })
}

fn alias_from_row(row: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        account_id: row.get(0)?,
        name: row.get(1)?,
        key_id: uuid_col(row, 2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

use identities::access_key_from_row;

fn tags_json(k: &KeyRecord) -> StoreResult<String> {
    serde_json::to_string(&k.tags).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, a: &AccountRecord) -> StoreResult<()> {
        let a = a.clone();
        self.run(move |c| identities::create_account(c, &a)).await
    }

    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>> {
        let id = id.to_owned();
        self.run(move |c| identities::get_account(c, &id)).await
    }

    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        self.run(identities::list_accounts).await
    }

    async fn put_access_key(&self, k: &AccessKeyRecord) -> StoreResult<()> {
        let k = k.clone();
        self.run(move |c| identities::put_access_key(c, &k)).await
    }

    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        let id = access_key_id.to_owned();
        self.run(move |c| identities::get_access_key(c, &id)).await
    }

    async fn list_access_keys(&self, account_id: &str) -> StoreResult<Vec<AccessKeyRecord>> {
        let id = account_id.to_owned();
        self.run(move |c| identities::list_access_keys(c, &id))
            .await
    }

    async fn create_key(&self, k: &KeyRecord, v: Option<&KeyVersionRecord>) -> StoreResult<()> {
        let (k, v) = (k.clone(), v.cloned());
        self.run(move |c| {
            let tags = tags_json(&k)?;
            let tx = c.transaction().map_err(db)?;
            tx.execute(
                &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"),
                params![
                    k.id.to_string(),
                    k.account_id,
                    k.description,
                    k.state.as_str(),
                    k.key_spec,
                    k.key_usage,
                    k.origin,
                    k.created_at,
                    k.deletion_date,
                    k.pending_window_days,
                    k.current_version,
                    tags,
                    k.rotation_period_days,
                    k.next_rotation_at,
                    k.on_demand_rotations,
                    k.import_valid_to,
                    k.import_fingerprint,
                    k.suspension_fingerprint,
                    k.exposed,
                    k.volatile,
                    k.policy,
                    k.module_group,
                    k.revision as i64
                ],
            )
            .map_err(|e| if is_unique_violation(&e) { StoreError::AlreadyExists(k.id.to_string()) } else { db(e) })?;
            if let Some(v) = v {
                tx.execute(
                    "INSERT INTO key_versions (key_id, version, ekt, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![v.key_id.to_string(), v.version, v.ekt, v.created_at],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn get_key(&self, id: Uuid) -> StoreResult<Option<KeyRecord>> {
        self.run(move |c| {
            c.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"),
                [id.to_string()],
                key_from_row,
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn update_key(&self, k: &KeyRecord) -> StoreResult<()> {
        let k = k.clone();
        self.run(move |c| update_key_row(c, &k)).await
    }

    async fn list_keys(
        &self,
        account_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<KeyRecord>> {
        let account = account_id.to_owned();
        self.run(move |c| {
            let mut s = c
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM keys WHERE account_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                ))
                .map_err(db)?;
            let after = after.map(|u| u.to_string()).unwrap_or_default();
            let rows = s.query_map(params![account, after, limit as i64], key_from_row).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn get_key_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> StoreResult<Option<KeyVersionRecord>> {
        self.run(move |c| {
            c.query_row(
                "SELECT key_id, version, ekt, created_at FROM key_versions WHERE key_id = ?1 AND version = ?2",
                params![id.to_string(), version],
                |r| Ok(KeyVersionRecord { key_id: uuid_col(r, 0)?, version: r.get(1)?, ekt: r.get(2)?, created_at: r.get(3)? }),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn delete_key(&self, id: Uuid) -> StoreResult<bool> {
        self.run(move |c| {
            let tx = c.transaction().map_err(db)?;
            let id = id.to_string();
            tx.execute("DELETE FROM aliases WHERE key_id = ?1", [&id])
                .map_err(db)?;
            tx.execute("DELETE FROM key_versions WHERE key_id = ?1", [&id])
                .map_err(db)?;
            tx.execute("DELETE FROM grants WHERE key_id = ?1", [&id])
                .map_err(db)?;
            let n = tx
                .execute("DELETE FROM keys WHERE id = ?1", [&id])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            // Push the deleted pages out of the WAL so the EKTs do not linger.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn keys_due_for_deletion(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.run(move |c| {
            let mut s = c
                .prepare("SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?1 ORDER BY id")
                .map_err(db)?;
            let rows = s.query_map([now], |r| uuid_col(r, 0)).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn create_alias(&self, a: &AliasRecord) -> StoreResult<()> {
        let a = a.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO aliases (account_id, name, key_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.account_id, a.name, a.key_id.to_string(), a.created_at, a.updated_at],
            )
            .map_err(|e| if is_unique_violation(&e) { StoreError::AlreadyExists(a.name.clone()) } else { db(e) })?;
            Ok(())
        })
        .await
    }

    async fn update_alias(
        &self,
        account_id: &str,
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        let (account, name) = (account_id.to_owned(), name.to_owned());
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE aliases SET key_id = ?3, updated_at = ?4 WHERE account_id = ?1 AND name = ?2",
                    params![account, name, key_id.to_string(), now],
                )
                .map_err(db)?;
            if n == 0 { Err(StoreError::NotFound(name)) } else { Ok(()) }
        })
        .await
    }

    async fn delete_alias(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let (account, name) = (account_id.to_owned(), name.to_owned());
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM aliases WHERE account_id = ?1 AND name = ?2",
                    params![account, name],
                )
                .map_err(db)?;
            if n == 0 {
                Err(StoreError::NotFound(name))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn get_alias(&self, account_id: &str, name: &str) -> StoreResult<Option<AliasRecord>> {
        let (account, name) = (account_id.to_owned(), name.to_owned());
        self.run(move |c| {
            c.query_row(
                "SELECT account_id, name, key_id, created_at, updated_at FROM aliases WHERE account_id = ?1 AND name = ?2",
                params![account, name],
                alias_from_row,
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn list_aliases(
        &self,
        account_id: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let account = account_id.to_owned();
        let after = after.unwrap_or("").to_owned();
        self.run(move |c| {
            let mut s = c
                .prepare(
                    "SELECT account_id, name, key_id, created_at, updated_at FROM aliases \
                     WHERE account_id = ?1 AND name > ?2 AND (?3 IS NULL OR key_id = ?3) ORDER BY name LIMIT ?4",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![account, after, key_id.map(|k| k.to_string()), limit as i64], alias_from_row)
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn rotate_key(
        &self,
        key: &KeyRecord,
        version: &KeyVersionRecord,
        rotation_type: &str,
    ) -> StoreResult<()> {
        let (k, v, t) = (key.clone(), version.clone(), rotation_type.to_owned());
        self.run(move |c| rotation::rotate_key(c, &k, &v, &t)).await
    }

    async fn list_rotations(
        &self,
        id: Uuid,
        after: u32,
        limit: usize,
    ) -> StoreResult<Vec<RotationRecord>> {
        self.run(move |c| rotation::list_rotations(c, id, after, limit))
            .await
    }

    async fn keys_due_for_rotation(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.run(move |c| rotation::keys_due(c, now)).await
    }

    async fn delete_key_versions(&self, id: Uuid) -> StoreResult<()> {
        self.run(move |c| sealed::delete_versions(c, id)).await
    }

    async fn purge_freed(&self) -> StoreResult<()> {
        self.run(sealed::purge_freed).await
    }

    async fn keys_with_expired_material(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.run(move |c| sealed::expired_material(c, now)).await
    }

    async fn create_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        let g = g.clone();
        self.run(move |c| grants::create(c, &g)).await
    }

    async fn list_grants(&self, key_id: Uuid) -> StoreResult<Vec<GrantRecord>> {
        self.run(move |c| grants::by_key(c, key_id)).await
    }

    async fn list_retirable_grants(&self, retiring: &str) -> StoreResult<Vec<GrantRecord>> {
        let r = retiring.to_owned();
        self.run(move |c| grants::by_retiring(c, &r)).await
    }

    async fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        let t = token.to_owned();
        self.run(move |c| grants::by_token(c, &t)).await
    }

    async fn delete_grant(&self, grant_id: &str) -> StoreResult<bool> {
        let g = grant_id.to_owned();
        self.run(move |c| grants::delete(c, &g)).await
    }

    async fn create_principal(&self, p: &crate::PrincipalRecord) -> StoreResult<()> {
        let p = p.clone();
        self.run(move |c| identities::create_principal(c, &p)).await
    }

    async fn update_principal(&self, p: &crate::PrincipalRecord) -> StoreResult<()> {
        let p = p.clone();
        self.run(move |c| identities::update_principal(c, &p)).await
    }

    async fn get_principal(&self, arn: &str) -> StoreResult<Option<crate::PrincipalRecord>> {
        let a = arn.to_owned();
        self.run(move |c| identities::get_principal(c, &a)).await
    }

    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<crate::PrincipalRecord>> {
        let a = account_id.to_owned();
        self.run(move |c| identities::list_principals(c, &a)).await
    }

    async fn get_service_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let n = name.to_owned();
        self.run(move |c| service_state::get_secret(c, &n)).await
    }

    async fn put_service_secret(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        let (n, s) = (name.to_owned(), sealed.to_vec());
        self.run(move |c| service_state::put_secret(c, &n, &s))
            .await
    }

    async fn replace_service_secret(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let (n, o, s) = (name.to_owned(), old.to_vec(), new.to_vec());
        self.run(move |c| service_state::replace_secret(c, &n, &o, &s))
            .await
    }

    async fn module_log_cursor(&self, module_id: &str, log_id: u64) -> StoreResult<u64> {
        let m = module_id.to_owned();
        self.run(move |c| service_state::cursor(c, &m, log_id))
            .await
    }

    async fn set_module_log_cursor(
        &self,
        module_id: &str,
        log_id: u64,
        offset: u64,
    ) -> StoreResult<()> {
        let m = module_id.to_owned();
        self.run(move |c| service_state::set_cursor(c, &m, log_id, offset))
            .await
    }

    async fn record_proof_mint(&self, mint: &crate::ProofMint) -> StoreResult<bool> {
        let m = mint.clone();
        self.run(move |c| proofs::record_mint(c, &m)).await
    }

    async fn use_proof(
        &self,
        proof_id: &str,
        request_digest: &str,
        now: i64,
    ) -> StoreResult<crate::ProofUse> {
        let (p, d) = (proof_id.to_owned(), request_digest.to_owned());
        self.run(move |c| proofs::use_proof(c, &p, &d, now)).await
    }

    async fn purge_expired_proofs(&self, now: i64) -> StoreResult<u64> {
        self.run(move |c| proofs::purge(c, now)).await
    }

    async fn try_lease(&self, job: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool> {
        let (j, h) = (job.to_owned(), holder.to_owned());
        self.run(move |c| service_state::try_lease(c, &j, &h, now, until))
            .await
    }

    async fn append_audit(
        &self,
        rows: &[AuditRow],
        usage: &[crate::UsageIncrement],
    ) -> StoreResult<()> {
        let (rows, usage) = (rows.to_vec(), usage.to_vec());
        self.run(move |c| audit::append(c, &rows, &usage)).await
    }

    async fn delete_audit_through(&self, seq: i64) -> StoreResult<u64> {
        self.run(move |c| {
            c.execute("DELETE FROM audit_log WHERE seq <= ?1", [seq])
                .map(|n| n as u64)
                .map_err(db)
        })
        .await
    }

    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        let q = query.clone();
        self.run(move |c| audit::query(c, &q)).await
    }

    async fn usage_flushed(&self, chain: &str) -> StoreResult<u64> {
        let chain = chain.to_owned();
        self.run(move |c| audit::usage_flushed(c, &chain)).await
    }

    async fn flush_usage(
        &self,
        chain: &str,
        from: u64,
        through: u64,
        usage: &[crate::UsageIncrement],
    ) -> StoreResult<()> {
        let (chain, usage) = (chain.to_owned(), usage.to_vec());
        self.run(move |c| audit::flush_usage(c, &chain, from, through, &usage))
            .await
    }

    async fn usage(
        &self,
        account_id: Option<&str>,
        since_hour: i64,
    ) -> StoreResult<Vec<crate::UsageRecord>> {
        let a = account_id.map(str::to_owned);
        self.run(move |c| audit::usage(c, a.as_deref(), since_hour))
            .await
    }

    async fn list_key_versions(
        &self,
        after: Option<(Uuid, u32)>,
        limit: usize,
    ) -> StoreResult<Vec<KeyVersionRecord>> {
        self.run(move |c| sealed::list_key_versions(c, after, limit))
            .await
    }

    async fn replace_ekt(
        &self,
        id: Uuid,
        version: u32,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let (old, new) = (old.to_vec(), new.to_vec());
        self.run(move |c| sealed::replace_ekt(c, id, version, &old, &new))
            .await
    }

    async fn list_all_access_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        let after = after.map(str::to_owned);
        self.run(move |c| sealed::list_all_access_keys(c, after.as_deref(), limit))
            .await
    }

    async fn replace_sealed_secret(
        &self,
        access_key_id: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let (id, old, new) = (access_key_id.to_owned(), old.to_vec(), new.to_vec());
        self.run(move |c| sealed::replace_sealed_secret(c, &id, &old, &new))
            .await
    }
}

#[cfg(test)]
mod tests;
