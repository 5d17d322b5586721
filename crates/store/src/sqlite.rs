//! The SQLite store: WAL journal, `synchronous=FULL` so a commit is on disk
//! before it returns, `secure_delete` so deleted EKTs are overwritten. One
//! connection, used from blocking threads.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::backend::{Backend, BoxFuture, Conn, Job};
use crate::sql::{Dialect, Row, Sql, Value};
use crate::{StoreError, StoreResult};

mod migrations;

/// A store in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn db(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::AlreadyExists(msg.unwrap_or_default())
        }
        e => StoreError::Database(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it;
    /// keys and aliases from before regions go to [`crate::LEGACY_REGION`].
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_in_region(path, crate::LEGACY_REGION)
    }

    /// Like [`Self::open`]; keys and aliases from before regions existed go
    /// to `legacy_region` (the region the frontend was configured with).
    pub fn open_in_region(path: &Path, legacy_region: &str) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(db)?;
        Self::init(conn, legacy_region)
    }

    /// An in-memory database (tests).
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::init(
            Connection::open_in_memory().map_err(db)?,
            crate::LEGACY_REGION,
        )
    }

    fn init(mut conn: Connection, legacy_region: &str) -> StoreResult<Self> {
        for (pragma, value) in [
            ("journal_mode", "WAL"),
            ("synchronous", "FULL"),
            ("foreign_keys", "ON"),
            // Freed cells and pages are zeroed: deleted EKTs do not stay
            // in the database file (see `KeyStore`, "What deletion must purge").
            ("secure_delete", "ON"),
        ] {
            conn.pragma_update(None, pragma, value).map_err(db)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        // Room for every statement the store prepares (the default is 16).
        conn.set_prepared_statement_cache_capacity(128);
        migrations::migrate(&mut conn, legacy_region)?;
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
}

impl Backend for SqliteStore {
    type Conn = Connection;

    fn run<T: Send + 'static>(&self, job: Job<Connection, T>) -> BoxFuture<'_, StoreResult<T>> {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut c = conn
                    .lock()
                    .map_err(|_| StoreError::Database("connection lock poisoned".into()))?;
                complete_now(job(&mut c))
            })
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
        })
    }
}

/// Runs a job's future to its end on this (blocking) thread. Every SQLite
/// call in it is synchronous, so it never waits: one poll finishes it.
fn complete_now<T>(mut job: BoxFuture<'_, StoreResult<T>>) -> StoreResult<T> {
    match job.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Database(
            "a SQLite job waited on something other than SQLite".into(),
        )),
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Bool(v) => ValueRef::Integer(i64::from(*v)),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

fn value_of(v: ValueRef<'_>) -> StoreResult<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        ValueRef::Real(_) => return Err(StoreError::Corrupt("unexpected REAL column".into())),
    })
}

fn run_query(c: &Connection, sql: &Sql, params: &[Value]) -> StoreResult<Vec<Row>> {
    let mut s = c.prepare_cached(sql.text(Dialect::Sqlite)).map_err(db)?;
    let width = s.column_count();
    let mut rows = s.query(rusqlite::params_from_iter(params)).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let row = (0..width)
            .map(|i| value_of(r.get_ref(i).map_err(db)?))
            .collect::<StoreResult<_>>()?;
        out.push(Row(row));
    }
    Ok(out)
}

#[async_trait]
impl Conn for Connection {
    async fn execute(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<u64> {
        let mut s = self.prepare_cached(sql.text(Dialect::Sqlite)).map_err(db)?;
        let n = s.execute(rusqlite::params_from_iter(params)).map_err(db)?;
        Ok(n as u64)
    }

    async fn query(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<Vec<Row>> {
        run_query(self, sql, params)
    }

    async fn begin(&mut self) -> StoreResult<()> {
        // IMMEDIATE: take the write lock now, so a transaction that reads
        // before it writes cannot fail half-way on a busy database.
        self.execute_batch("BEGIN IMMEDIATE").map_err(db)
    }

    async fn commit(&mut self) -> StoreResult<()> {
        self.execute_batch("COMMIT").map_err(db)
    }

    async fn rollback(&mut self) -> StoreResult<()> {
        self.execute_batch("ROLLBACK").map_err(db)
    }

    async fn purge_freed(&mut self) -> StoreResult<()> {
        // `secure_delete` zeroed the freed space in the pages the WAL holds;
        // checkpointing copies them over the database file's old pages and
        // TRUNCATE empties the WAL, so no deleted EKT stays in either file.
        static CHECKPOINT: Sql = Sql::new("PRAGMA wal_checkpoint(TRUNCATE)");
        run_query(self, &CHECKPOINT, &[]).map(drop)
    }

    #[cfg(test)]
    async fn table_names(&mut self) -> StoreResult<Vec<String>> {
        let sql = Sql::new("SELECT name FROM sqlite_master WHERE type = 'table'");
        run_query(self, &sql, &[])?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }
}

#[cfg(test)]
mod tests;
