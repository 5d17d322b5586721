//! Values bound to statements and read from rows, the same on both
//! backends: integers are 64-bit (`INTEGER` / `BIGINT`), booleans are
//! stored as integers on SQLite and `BOOLEAN` on PostgreSQL.

use uuid::Uuid;

use crate::{StoreError, StoreResult};

/// One parameter or column value. (Debug shows only the length of bytes:
/// they may be sealed material.)
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// UTF-8 text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`).
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "<{} bytes>", v.len()),
        }
    }
}

/// Anything a record field is bound as.
pub(crate) trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
}
impl ToValue for Uuid {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// Values to bind, in placeholder order: `params![a, b]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        [$($crate::sql::ToValue::to_value(&$v)),*]
    };
}
pub(crate) use params;

/// One result row, read by column position.
pub(crate) struct Row(pub(crate) Vec<Value>);

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl Row {
    fn at(&self, i: usize) -> StoreResult<&Value> {
        self.0
            .get(i)
            .ok_or_else(|| corrupt(format!("no column {i}")))
    }

    fn opt<T>(&self, i: usize, f: fn(&Self, usize) -> StoreResult<T>) -> StoreResult<Option<T>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => f(self, i).map(Some),
        }
    }

    /// An integer column.
    pub(crate) fn int(&self, i: usize) -> StoreResult<i64> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(corrupt(format!("column {i} is not an integer"))),
        }
    }

    /// A nullable integer column.
    pub(crate) fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.opt(i, Self::int)
    }

    /// A non-negative integer column that fits 32 bits.
    pub(crate) fn u32(&self, i: usize) -> StoreResult<u32> {
        u32::try_from(self.int(i)?).map_err(corrupt)
    }

    /// A nullable `u32` column.
    pub(crate) fn opt_u32(&self, i: usize) -> StoreResult<Option<u32>> {
        self.opt(i, Self::u32)
    }

    /// A non-negative integer column, as `u64`.
    pub(crate) fn u64(&self, i: usize) -> StoreResult<u64> {
        u64::try_from(self.int(i)?).map_err(corrupt)
    }

    /// A boolean column (an integer 0/1 on SQLite).
    pub(crate) fn bool(&self, i: usize) -> StoreResult<bool> {
        match self.at(i)? {
            Value::Bool(v) => Ok(*v),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            _ => Err(corrupt(format!("column {i} is not a boolean"))),
        }
    }

    /// A text column.
    pub(crate) fn text(&self, i: usize) -> StoreResult<String> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(corrupt(format!("column {i} is not text"))),
        }
    }

    /// A nullable text column.
    pub(crate) fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        self.opt(i, Self::text)
    }

    /// A bytes column.
    pub(crate) fn bytes(&self, i: usize) -> StoreResult<Vec<u8>> {
        match self.at(i)? {
            Value::Bytes(v) => Ok(v.clone()),
            _ => Err(corrupt(format!("column {i} is not bytes"))),
        }
    }

    /// A nullable bytes column.
    pub(crate) fn opt_bytes(&self, i: usize) -> StoreResult<Option<Vec<u8>>> {
        self.opt(i, Self::bytes)
    }

    /// A UUID stored as text.
    pub(crate) fn uuid(&self, i: usize) -> StoreResult<Uuid> {
        Uuid::parse_str(&self.text(i)?).map_err(corrupt)
    }

    /// A nullable UUID stored as text.
    pub(crate) fn opt_uuid(&self, i: usize) -> StoreResult<Option<Uuid>> {
        self.opt(i, Self::uuid)
    }

    /// A JSON document stored as text.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, i: usize) -> StoreResult<T> {
        serde_json::from_str(&self.text(i)?).map_err(corrupt)
    }

    /// A nullable JSON document.
    pub(crate) fn opt_json<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
    ) -> StoreResult<Option<T>> {
        self.opt(i, Self::json)
    }
}

/// A record field as JSON text.
pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> StoreResult<Value> {
    serde_json::to_string(v).map(Value::Text).map_err(corrupt)
}
