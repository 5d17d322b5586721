//! The store's aggregates, one trait each, implemented once over any
//! [`Backend`](crate::backend::Backend); [`crate::Store`] is their sum.

pub(crate) mod aliases;
pub(crate) mod grants;
pub(crate) mod identities;
pub(crate) mod keys;
pub(crate) mod sealed;
pub(crate) mod service_state;
pub(crate) mod usage;

use crate::StoreResult;
use crate::backend::{Backend, Conn, decode_all, exists_as, run};
use crate::sql::codec::Codec;
use crate::sql::{Row, Sql, Value};

/// Inserts `record` with its codec's INSERT `sql`; `AlreadyExists(name)`
/// if its identity is taken.
async fn insert<B: Backend, T: Codec>(
    b: &B,
    sql: &'static Sql,
    record: &T,
    name: &str,
) -> StoreResult<()> {
    let (values, name) = (record.values()?, name.to_owned());
    run(b, move |c| {
        Box::pin(async move {
            c.execute(sql, &values).await.map_err(exists_as(name))?;
            Ok(())
        })
    })
    .await
}

/// The records of `T` that `sql` selects with `params`.
async fn select<B: Backend, T: Codec + Send + 'static>(
    b: &B,
    sql: &'static Sql,
    params: impl Into<Vec<Value>>,
) -> StoreResult<Vec<T>> {
    select_with(b, sql, params, T::decode).await
}

/// The rows `sql` selects with `params`, each read with `decode`.
async fn select_with<B: Backend, T: Send + 'static>(
    b: &B,
    sql: &'static Sql,
    params: impl Into<Vec<Value>>,
    decode: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let params = params.into();
    run(b, move |c| {
        Box::pin(async move { decode_all(c.query(sql, &params).await?, decode) })
    })
    .await
}

/// Runs `sql`; returns how many rows it changed.
async fn execute<B: Backend>(
    b: &B,
    sql: &'static Sql,
    params: impl Into<Vec<Value>>,
) -> StoreResult<u64> {
    let params = params.into();
    run(b, move |c| {
        Box::pin(async move { c.execute(sql, &params).await })
    })
    .await
}

/// The integer in the first column of the row `sql` selects; 0 for none
/// (cursors and counted positions start at 0).
async fn count_or_zero<B: Backend>(
    b: &B,
    sql: &'static Sql,
    params: impl Into<Vec<Value>>,
) -> StoreResult<u64> {
    let found = select_with(b, sql, params, |r| r.u64(0)).await?;
    Ok(found.first().copied().unwrap_or(0))
}
