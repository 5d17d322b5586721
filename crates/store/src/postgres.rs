//! The store on PostgreSQL (tokio-postgres with a deadpool pool), for
//! deployments with several frontends on one database. Same trait, same
//! semantics as SQLite; the conformance suite runs unchanged on both.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::{
    AccessKeyRecord, AccountRecord, AliasRecord, AuditQuery, AuditRow, GrantRecord, KeyRecord,
    KeyVersionRecord, PrincipalRecord, RotationRecord, Store, StoreError, StoreResult,
    UsageIncrement, UsageRecord,
};

mod more;
mod proofs;
mod rows;
pub mod schema;
#[cfg(test)]
mod tests;

use rows::{ACCESS_KEY_COLUMNS, KEY_COLUMNS, all, to_json};

/// A store in one PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

fn db(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError::Database(format!("{}: {}", d.code().code(), d.message())),
        None => StoreError::Database(e.to_string()),
    }
}

fn unique(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// `AlreadyExists(what)` for a unique violation, else a database error.
fn exists_or_db(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    let what = what.into();
    move |e| {
        if unique(&e) {
            StoreError::AlreadyExists(what)
        } else {
            db(e)
        }
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl PostgresStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`) with a pool
    /// of `max_connections`, and migrates the schema.
    pub async fn connect(url: &str, max_connections: usize) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Database(e.to_string()))?;
        Self::with_config(config, max_connections).await
    }

    /// Like [`Self::connect`], from a parsed configuration.
    pub async fn with_config(
        config: tokio_postgres::Config,
        max_connections: usize,
    ) -> StoreResult<Self> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let store = Self { pool };
        let mut c = store.client().await?;
        schema::migrate(&mut c).await?;
        Ok(store)
    }

    /// The schema version applied.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        schema::current_version(&self.client().await?).await
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Database(format!("no database connection: {e}")))
    }

    async fn exec(&self, sql: &str, p: Params<'_>) -> StoreResult<u64> {
        self.client().await?.execute(sql, p).await.map_err(db)
    }

    async fn rows(&self, sql: &str, p: Params<'_>) -> StoreResult<Vec<tokio_postgres::Row>> {
        self.client().await?.query(sql, p).await.map_err(db)
    }

    async fn row(&self, sql: &str, p: Params<'_>) -> StoreResult<Option<tokio_postgres::Row>> {
        self.client().await?.query_opt(sql, p).await.map_err(db)
    }

    async fn ids(&self, sql: &str, p: Params<'_>) -> StoreResult<Vec<Uuid>> {
        self.rows(sql, p)
            .await?
            .iter()
            .map(|r| rows::uuid(r.get(0)))
            .collect()
    }
}

/// Writes a key's mutable metadata.
async fn update_key_row(
    c: &impl deadpool_postgres::GenericClient,
    k: &KeyRecord,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE keys SET description = $2, state = $3, deletion_date = $4, pending_window_days = $5, \
             current_version = $6, tags = $7, rotation_period_days = $8, next_rotation_at = $9, \
             on_demand_rotations = $10, import_valid_to = $11, import_fingerprint = $12, \
             suspension_fingerprint = $13, policy = $14, exposed = $15, revision = revision + 1 \
             WHERE id = $1 AND revision = $16",
            &[
                &k.id.to_string(),
                &k.description,
                &k.state.as_str(),
                &k.deletion_date,
                &k.pending_window_days.map(i64::from),
                &i64::from(k.current_version),
                &to_json(&k.tags)?,
                &k.rotation_period_days.map(i64::from),
                &k.next_rotation_at,
                &i64::from(k.on_demand_rotations),
                &k.import_valid_to,
                &k.import_fingerprint,
                &k.suspension_fingerprint,
                &k.policy,
                &k.exposed,
                &(k.revision as i64),
            ],
        )
        .await
        .map_err(db)?;
    if n == 1 {
        return Ok(());
    }
    let exists = c
        .query_opt("SELECT 1 FROM keys WHERE id = $1", &[&k.id.to_string()])
        .await
        .map_err(db)?
        .is_some();
    Err(if exists {
        StoreError::Conflict(format!("key {} changed since it was read", k.id))
    } else {
        StoreError::NotFound(k.id.to_string())
    })
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_account(&self, a: &AccountRecord) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO accounts (id, created_at) VALUES ($1, $2)",
                &[&a.id, &a.created_at],
            )
            .await
            .map_err(exists_or_db(a.id.clone()))?;
        Ok(())
    }

    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>> {
        self.row("SELECT id, created_at FROM accounts WHERE id = $1", &[&id])
            .await?
            .as_ref()
            .map(rows::account)
            .transpose()
    }

    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        all(
            self.rows("SELECT id, created_at FROM accounts ORDER BY id", &[])
                .await?,
            rows::account,
        )
    }

    async fn put_access_key(&self, k: &AccessKeyRecord) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
                &[
                    &k.access_key_id,
                    &k.account_id,
                    &k.sealed_secret,
                    &k.created_at,
                    &k.active,
                    &k.principal_arn,
                    &k.expires_at,
                    &k.session_token_hash,
                ],
            )
            .await
            .map_err(exists_or_db(k.access_key_id.clone()))?;
        Ok(())
    }

    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        self.row(
            &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = $1"),
            &[&access_key_id],
        )
        .await?
        .as_ref()
        .map(rows::access_key)
        .transpose()
    }

    async fn list_access_keys(&self, account_id: &str) -> StoreResult<Vec<AccessKeyRecord>> {
        all(
            self.rows(
                &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = $1 ORDER BY access_key_id"),
                &[&account_id],
            )
            .await?,
            rows::access_key,
        )
    }

    async fn create_key(&self, k: &KeyRecord, v: Option<&KeyVersionRecord>) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute(
            &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"),
            &[
                &k.id.to_string(),
                &k.account_id,
                &k.description,
                &k.state.as_str(),
                &k.key_spec,
                &k.key_usage,
                &k.origin,
                &k.created_at,
                &k.deletion_date,
                &k.pending_window_days.map(i64::from),
                &i64::from(k.current_version),
                &to_json(&k.tags)?,
                &k.rotation_period_days.map(i64::from),
                &k.next_rotation_at,
                &i64::from(k.on_demand_rotations),
                &k.import_valid_to,
                &k.import_fingerprint,
                &k.suspension_fingerprint,
                &k.exposed,
                &k.volatile,
                &k.policy,
                &k.module_group,
                &(k.revision as i64),
            ],
        )
        .await
        .map_err(exists_or_db(k.id.to_string()))?;
        if let Some(v) = v {
            tx.execute(
                "INSERT INTO key_versions (key_id, version, ekt, created_at) VALUES ($1, $2, $3, $4)",
                &[&v.key_id.to_string(), &i64::from(v.version), &v.ekt, &v.created_at],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn delete_key_versions(&self, id: Uuid) -> StoreResult<()> {
        self.exec(
            "DELETE FROM key_versions WHERE key_id = $1",
            &[&id.to_string()],
        )
        .await?;
        self.purge_freed().await
    }

    async fn purge_freed(&self) -> StoreResult<()> {
        // PostgreSQL has no secure delete: VACUUM makes dead rows reusable
        // (docs/deploy.md says what that means for deleted EKTs).
        self.client()
            .await?
            .batch_execute("VACUUM key_versions")
            .await
            .map_err(db)
    }

    async fn keys_with_expired_material(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.ids(
            "SELECT id FROM keys WHERE import_valid_to IS NOT NULL AND import_valid_to <= $1 \
             AND state != 'PendingImport' AND state != 'PendingDeletion' ORDER BY id",
            &[&now],
        )
        .await
    }

    async fn get_key(&self, id: Uuid) -> StoreResult<Option<KeyRecord>> {
        self.row(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1"),
            &[&id.to_string()],
        )
        .await?
        .as_ref()
        .map(rows::key)
        .transpose()
    }

    async fn update_key(&self, k: &KeyRecord) -> StoreResult<()> {
        update_key_row(&self.client().await?, k).await
    }

    async fn list_keys(
        &self,
        account_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<KeyRecord>> {
        let after = after.map(|u| u.to_string()).unwrap_or_default();
        all(
            self.rows(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
                &[&account_id, &after, &(limit as i64)],
            )
            .await?,
            rows::key,
        )
    }

    async fn get_key_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> StoreResult<Option<KeyVersionRecord>> {
        self.row(
            "SELECT key_id, version, ekt, created_at FROM key_versions WHERE key_id = $1 AND version = $2",
            &[&id.to_string(), &i64::from(version)],
        )
        .await?
        .as_ref()
        .map(rows::version)
        .transpose()
    }

    async fn delete_key(&self, id: Uuid) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let id = id.to_string();
        for sql in [
            "DELETE FROM aliases WHERE key_id = $1",
            "DELETE FROM key_versions WHERE key_id = $1",
            "DELETE FROM grants WHERE key_id = $1",
        ] {
            tx.execute(sql, &[&id]).await.map_err(db)?;
        }
        let n = tx
            .execute("DELETE FROM keys WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n > 0)
    }

    async fn keys_due_for_deletion(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.ids(
            "SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= $1 ORDER BY id",
            &[&now],
        )
        .await
    }

    async fn create_alias(&self, a: &AliasRecord) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO aliases (account_id, name, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
                &[&a.account_id, &a.name, &a.key_id.to_string(), &a.created_at, &a.updated_at],
            )
            .await
            .map_err(exists_or_db(a.name.clone()))?;
        Ok(())
    }

    async fn update_alias(
        &self,
        account_id: &str,
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        let n = self
            .exec(
                "UPDATE aliases SET key_id = $3, updated_at = $4 WHERE account_id = $1 AND name = $2",
                &[&account_id, &name, &key_id.to_string(), &now],
            )
            .await?;
        if n == 0 {
            Err(StoreError::NotFound(name.to_owned()))
        } else {
            Ok(())
        }
    }

    async fn delete_alias(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let n = self
            .exec(
                "DELETE FROM aliases WHERE account_id = $1 AND name = $2",
                &[&account_id, &name],
            )
            .await?;
        if n == 0 {
            Err(StoreError::NotFound(name.to_owned()))
        } else {
            Ok(())
        }
    }

    async fn get_alias(&self, account_id: &str, name: &str) -> StoreResult<Option<AliasRecord>> {
        self.row(
            "SELECT account_id, name, key_id, created_at, updated_at FROM aliases WHERE account_id = $1 AND name = $2",
            &[&account_id, &name],
        )
        .await?
        .as_ref()
        .map(rows::alias)
        .transpose()
    }

    async fn list_aliases(
        &self,
        account_id: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let key = key_id.map(|k| k.to_string());
        all(
            self.rows(
                "SELECT account_id, name, key_id, created_at, updated_at FROM aliases \
                 WHERE account_id = $1 AND name > $2 AND ($3::TEXT IS NULL OR key_id = $3) ORDER BY name LIMIT $4",
                &[&account_id, &after.unwrap_or(""), &key, &(limit as i64)],
            )
            .await?,
            rows::alias,
        )
    }

    async fn rotate_key(
        &self,
        key: &KeyRecord,
        v: &KeyVersionRecord,
        rotation_type: &str,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute(
            "INSERT INTO key_versions (key_id, version, ekt, created_at, rotation_type) VALUES ($1, $2, $3, $4, $5)",
            &[&v.key_id.to_string(), &i64::from(v.version), &v.ekt, &v.created_at, &rotation_type],
        )
        .await
        .map_err(exists_or_db(format!("version {} of {}", v.version, v.key_id)))?;
        update_key_row(&tx, key).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_rotations(
        &self,
        id: Uuid,
        after: u32,
        limit: usize,
    ) -> StoreResult<Vec<RotationRecord>> {
        self.rows(
            "SELECT version, created_at, COALESCE(rotation_type, 'AUTOMATIC') FROM key_versions \
             WHERE key_id = $1 AND version > GREATEST($2::BIGINT, 1) ORDER BY version LIMIT $3",
            &[&id.to_string(), &i64::from(after), &(limit as i64)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(RotationRecord {
                version: rows::u32_of(r.get(0))?,
                rotated_at: r.get(1),
                rotation_type: r.get(2),
            })
        })
        .collect()
    }

    async fn keys_due_for_rotation(&self, now: i64) -> StoreResult<Vec<Uuid>> {
        self.ids(
            "SELECT id FROM keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= $1 \
             AND state = 'Enabled' ORDER BY next_rotation_at, id",
            &[&now],
        )
        .await
    }

    async fn list_key_versions(
        &self,
        after: Option<(Uuid, u32)>,
        limit: usize,
    ) -> StoreResult<Vec<KeyVersionRecord>> {
        let (id, version) = after.map_or((String::new(), 0), |(id, v)| (id.to_string(), v));
        all(
            self.rows(
                "SELECT key_id, version, ekt, created_at FROM key_versions \
                 WHERE key_id > $1 OR (key_id = $1 AND version > $2) ORDER BY key_id, version LIMIT $3",
                &[&id, &i64::from(version), &(limit as i64)],
            )
            .await?,
            rows::version,
        )
    }

    async fn replace_ekt(
        &self,
        id: Uuid,
        version: u32,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        Ok(self
            .exec(
                "UPDATE key_versions SET ekt = $4 WHERE key_id = $1 AND version = $2 AND ekt = $3",
                &[&id.to_string(), &i64::from(version), &old, &new],
            )
            .await?
            == 1)
    }

    async fn list_all_access_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        all(
            self.rows(
                &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id > $1 ORDER BY access_key_id LIMIT $2"),
                &[&after.unwrap_or(""), &(limit as i64)],
            )
            .await?,
            rows::access_key,
        )
    }

    async fn replace_sealed_secret(
        &self,
        access_key_id: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        Ok(self
            .exec(
                "UPDATE access_keys SET sealed_secret = $3 WHERE access_key_id = $1 AND sealed_secret = $2",
                &[&access_key_id, &old, &new],
            )
            .await?
            == 1)
    }

    async fn create_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        more::create_grant(self, g).await
    }

    async fn list_grants(&self, key_id: Uuid) -> StoreResult<Vec<GrantRecord>> {
        more::grants_where(self, "key_id", &key_id.to_string()).await
    }

    async fn list_retirable_grants(&self, retiring: &str) -> StoreResult<Vec<GrantRecord>> {
        more::grants_where(self, "retiring", retiring).await
    }

    async fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        Ok(more::grants_where(self, "token", token).await?.pop())
    }

    async fn delete_grant(&self, grant_id: &str) -> StoreResult<bool> {
        Ok(self
            .exec("DELETE FROM grants WHERE grant_id = $1", &[&grant_id])
            .await?
            == 1)
    }

    async fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        more::create_principal(self, p).await
    }

    async fn update_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        more::update_principal(self, p).await
    }

    async fn get_principal(&self, arn: &str) -> StoreResult<Option<PrincipalRecord>> {
        Ok(more::principals_where(self, "arn", arn).await?.pop())
    }

    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>> {
        more::principals_where(self, "account_id", account_id).await
    }

    async fn get_service_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .row(
                "SELECT sealed FROM service_secrets WHERE name = $1",
                &[&name],
            )
            .await?
            .map(|r| r.get(0)))
    }

    async fn put_service_secret(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        more::put_service_secret(self, name, sealed).await
    }

    async fn replace_service_secret(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<Vec<u8>> {
        more::replace_service_secret(self, name, old, new).await
    }

    async fn module_log_cursor(&self, module_id: &str, log_id: u64) -> StoreResult<u64> {
        Ok(self
            .row(
                "SELECT \"offset\" FROM module_log_cursors WHERE module_id = $1 AND log_id = $2",
                &[&module_id, &(log_id as i64)],
            )
            .await?
            .map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    async fn set_module_log_cursor(
        &self,
        module_id: &str,
        log_id: u64,
        offset: u64,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO module_log_cursors (module_id, log_id, \"offset\") VALUES ($1, $2, $3) \
             ON CONFLICT (module_id, log_id) DO UPDATE SET \"offset\" = excluded.\"offset\"",
            &[&module_id, &(log_id as i64), &(offset as i64)],
        )
        .await?;
        Ok(())
    }

    async fn record_proof_mint(&self, m: &crate::ProofMint) -> StoreResult<bool> {
        proofs::record_mint(self, m).await
    }

    async fn use_proof(
        &self,
        proof_id: &str,
        request_digest: &str,
        now: i64,
    ) -> StoreResult<crate::ProofUse> {
        proofs::use_proof(self, proof_id, request_digest, now).await
    }

    async fn purge_expired_proofs(&self, now: i64) -> StoreResult<u64> {
        proofs::purge(self, now).await
    }

    async fn try_lease(&self, job: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool> {
        Ok(self
            .exec(
                "INSERT INTO job_leases (job, holder, until) VALUES ($1, $2, $4) \
                 ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                 WHERE job_leases.holder = $2 OR job_leases.until <= $3",
                &[&job, &holder, &now, &until],
            )
            .await?
            == 1)
    }

    async fn append_audit(&self, rows: &[AuditRow], usage: &[UsageIncrement]) -> StoreResult<()> {
        more::append_audit(self, rows, usage).await
    }

    async fn delete_audit_through(&self, seq: i64) -> StoreResult<u64> {
        self.client()
            .await?
            .execute("DELETE FROM audit_log WHERE seq <= $1", &[&seq])
            .await
            .map_err(db)
    }

    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        more::query_audit(self, query).await
    }

    async fn usage_flushed(&self, chain: &str) -> StoreResult<u64> {
        more::usage_flushed(self, chain).await
    }

    async fn flush_usage(
        &self,
        chain: &str,
        from: u64,
        through: u64,
        usage: &[UsageIncrement],
    ) -> StoreResult<()> {
        more::flush_usage(self, chain, from, through, usage).await
    }

    async fn usage(
        &self,
        account_id: Option<&str>,
        since_hour: i64,
    ) -> StoreResult<Vec<UsageRecord>> {
        more::usage(self, account_id, since_hour).await
    }
}
