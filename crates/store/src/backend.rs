//! What a database must offer for the store's SQL to run on it: a
//! connection that runs statements ([`Conn`]) and a way to get one
//! ([`Backend`]). Every store method is written once, over these, in the
//! aggregate modules; SQLite and PostgreSQL implement only these two.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::sql::{Row, Sql, Value};
use crate::{StoreError, StoreResult};

/// A boxed future that may move between threads.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One database connection.
///
/// A unique violation comes back as `StoreError::AlreadyExists` (callers
/// name what exists with [`exists_as`]).
#[async_trait]
pub(crate) trait Conn: Send {
    /// Runs a statement; returns how many rows it changed.
    async fn execute(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<u64>;
    /// Runs a statement; returns its rows.
    async fn query(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<Vec<Row>>;
    /// Starts a transaction.
    async fn begin(&mut self) -> StoreResult<()>;
    /// Commits the transaction.
    async fn commit(&mut self) -> StoreResult<()>;
    /// Rolls the transaction back.
    async fn rollback(&mut self) -> StoreResult<()>;
    /// Makes the space freed by deleted or replaced rows unreadable, as far
    /// as the database allows (see `KeyStore::delete_key` for what each
    /// backend achieves). Never inside a transaction.
    async fn purge_freed(&mut self) -> StoreResult<()>;
    /// The names of every table (the conformance suite scans them all).
    #[cfg(test)]
    async fn table_names(&mut self) -> StoreResult<Vec<String>>;

    /// The first row, if any.
    async fn query_opt(&mut self, sql: &Sql, params: &[Value]) -> StoreResult<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}

/// A job run on one connection.
pub(crate) type Job<C, T> =
    Box<dyn for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, StoreResult<T>> + Send>;

/// A database the store runs on.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Its connection.
    type Conn: Conn;

    /// Runs `job` on a connection of this database.
    fn run<T: Send + 'static>(&self, job: Job<Self::Conn, T>) -> BoxFuture<'_, StoreResult<T>>;
}

/// Runs `job` on one connection of `b`.
pub(crate) async fn run<B, T, F>(b: &B, job: F) -> StoreResult<T>
where
    B: Backend,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
{
    b.run(Box::new(job)).await
}

/// Runs `job` in one transaction on one connection of `b`: committed if it
/// returns `Ok`, rolled back otherwise.
pub(crate) async fn transaction<B, T, F>(b: &B, job: F) -> StoreResult<T>
where
    B: Backend,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
{
    run(b, move |c| {
        Box::pin(async move {
            c.begin().await?;
            match job(c).await {
                Ok(v) => c.commit().await.map(|()| v),
                Err(e) => {
                    // The error that made us roll back is the one to report.
                    let _ = c.rollback().await;
                    Err(e)
                }
            }
        })
    })
    .await
}

/// Renames a unique violation after the record that exists.
pub(crate) fn exists_as(what: impl std::fmt::Display) -> impl FnOnce(StoreError) -> StoreError {
    move |e| match e {
        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(what.to_string()),
        e => e,
    }
}

/// Decodes every row with `decode`.
pub(crate) fn decode_all<T>(
    rows: Vec<Row>,
    decode: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(decode).collect()
}
