//! The store on PostgreSQL (tokio-postgres with a deadpool pool), for
//! deployments with several frontends on one database. Same statements,
//! same semantics as SQLite; the conformance suite runs unchanged on both.

use std::error::Error;

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type};

use crate::backend::{Backend, BoxFuture, Conn, Job};
use crate::sql::{Dialect, Row, Sql, Value};
use crate::{StoreError, StoreResult};

pub mod schema;
#[cfg(test)]
pub(crate) mod tests;

/// A store in one PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

fn db(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return StoreError::AlreadyExists(e.to_string());
    }
    match e.as_db_error() {
        Some(d) => StoreError::Database(format!("{}: {}", d.code().code(), d.message())),
        None => StoreError::Database(e.to_string()),
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`) with a pool
    /// of `max_connections`, and migrates the schema; keys and aliases from
    /// before regions go to [`crate::LEGACY_REGION`].
    pub async fn connect(url: &str, max_connections: usize) -> StoreResult<Self> {
        Self::connect_in_region(url, max_connections, crate::LEGACY_REGION).await
    }

    /// Like [`Self::connect`]; keys and aliases from before regions existed
    /// go to `legacy_region` (the region the frontend was configured with).
    pub async fn connect_in_region(
        url: &str,
        max_connections: usize,
        legacy_region: &str,
    ) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Database(e.to_string()))?;
        Self::with_config_in_region(config, max_connections, legacy_region).await
    }

    /// Like [`Self::connect`], from a parsed configuration.
    pub async fn with_config(
        config: tokio_postgres::Config,
        max_connections: usize,
    ) -> StoreResult<Self> {
        Self::with_config_in_region(config, max_connections, crate::LEGACY_REGION).await
    }

    /// Like [`Self::connect_in_region`], from a parsed configuration.
    pub async fn with_config_in_region(
        config: tokio_postgres::Config,
        max_connections: usize,
        legacy_region: &str,
    ) -> StoreResult<Self> {
        let store = Self::unmigrated(config, max_connections)?;
        let mut c = store.client().await?;
        schema::migrate(&mut c, legacy_region).await?;
        Ok(store)
    }

    /// A pool on `config`, with no migration run (yet).
    fn unmigrated(config: tokio_postgres::Config, max_connections: usize) -> StoreResult<Self> {
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
        Ok(Self { pool })
    }

    /// The schema version applied.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        schema::current_version(&self.client().await?).await
    }

    pub(crate) async fn client(&self) -> StoreResult<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Database(format!("no database connection: {e}")))
    }
}

/// A pooled connection, and whether a transaction is open on it.
pub(crate) struct PgConn {
    client: Option<Object>,
    in_transaction: bool,
}

impl PgConn {
    fn client(&self) -> StoreResult<&Object> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Database("connection already released".into()))
    }

    async fn batch(&mut self, sql: &str) -> StoreResult<()> {
        self.client()?.batch_execute(sql).await.map_err(db)
    }

    async fn statement(&self, sql: &Sql) -> StoreResult<tokio_postgres::Statement> {
        let client = self.client()?;
        client
            .prepare_cached(sql.text(Dialect::Postgres))
            .await
            .map_err(db)
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // A job dropped half-way (its request cancelled) must not hand a
        // connection with an open transaction back to the pool: detached,
        // the connection closes and the server rolls the transaction back.
        if self.in_transaction
            && let Some(client) = self.client.take()
        {
            drop(Object::take(client));
        }
    }
}

impl Backend for PostgresStore {
    type Conn = PgConn;

    fn run<T: Send + 'static>(&self, job: Job<PgConn, T>) -> BoxFuture<'_, StoreResult<T>> {
        Box::pin(async move {
            let mut conn = PgConn {
                client: Some(self.client().await?),
                in_transaction: false,
            };
            job(&mut conn).await
        })
    }
}

/// The value as what tokio-postgres binds (`None`: NULL).
fn bound(v: &Value) -> Option<&(dyn ToSql + Sync)> {
    match v {
        Value::Null => None,
        Value::Int(v) => Some(v),
        Value::Bool(v) => Some(v),
        Value::Text(v) => Some(v),
        Value::Bytes(v) => Some(v),
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.to_sql_checked(ty, out)
    }

    /// Any type: each variant checks its own against the parameter's.
    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        bound(self).map_or(Ok(IsNull::Yes), |v| v.to_sql_checked(ty, out))
    }
}

fn row_of(r: &tokio_postgres::Row) -> StoreResult<Row> {
    let corrupt = |e: tokio_postgres::Error| StoreError::Corrupt(e.to_string());
    let mut values = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let ty = column.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)
                .map_err(corrupt)?
                .map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map_err(corrupt)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)
                .map_err(corrupt)?
                .map(Value::Bool)
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)
                .map_err(corrupt)?
                .map(Value::Bytes)
        } else if [Type::TEXT, Type::VARCHAR, Type::NAME].contains(ty) {
            r.try_get::<_, Option<String>>(i)
                .map_err(corrupt)?
                .map(Value::Text)
        } else {
            return Err(StoreError::Corrupt(format!("column of type {ty}")));
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

#[async_trait]
impl Conn for PgConn {
    async fn execute(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<u64> {
        let statement = self.statement(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.client()?
            .execute(&statement, &params)
            .await
            .map_err(db)
    }

    async fn query(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<Vec<Row>> {
        let statement = self.statement(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self
            .client()?
            .query(&statement, &params)
            .await
            .map_err(db)?;
        rows.iter().map(row_of).collect()
    }

    async fn begin(&mut self) -> StoreResult<()> {
        self.batch("BEGIN").await?;
        self.in_transaction = true;
        Ok(())
    }

    async fn commit(&mut self) -> StoreResult<()> {
        self.batch("COMMIT").await?;
        self.in_transaction = false;
        Ok(())
    }

    async fn rollback(&mut self) -> StoreResult<()> {
        self.batch("ROLLBACK").await?;
        self.in_transaction = false;
        Ok(())
    }

    async fn purge_freed(&mut self) -> StoreResult<()> {
        // PostgreSQL has no secure delete. VACUUM (not FULL, which would
        // lock out every reader) makes the dead rows' space reusable; it
        // does not overwrite it (see `KeyStore`, "What deletion must purge").
        self.batch("VACUUM key_versions, access_keys, service_secrets")
            .await
    }

    #[cfg(test)]
    async fn table_names(&mut self) -> StoreResult<Vec<String>> {
        let sql = Sql::new("SELECT tablename::TEXT FROM pg_tables WHERE schemaname = 'public'");
        self.query(&sql, &[])
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }
}
