//! The SQL both backends run, written once: statements in PostgreSQL's
//! `$N` placeholder form ([`statements`]), rewritten to SQLite's `?N` on
//! first use ([`sqlite_placeholders`]); values and rows that do not depend
//! on the backend ([`Value`], [`Row`]); one codec per record ([`codec`]).

pub(crate) mod codec;
pub(crate) mod statements;
mod value;

use std::borrow::Cow;
use std::sync::OnceLock;

pub(crate) use value::{Row, ToValue, Value, json, params};

/// Which database a statement is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Placeholders `?N`.
    Sqlite,
    /// Placeholders `$N` (the form statements are written in).
    Postgres,
}

/// One SQL statement, written with `$N` placeholders; SQLite's text is
/// derived from it once, on first use.
pub(crate) struct Sql {
    text: Cow<'static, str>,
    sqlite: OnceLock<String>,
}

impl Sql {
    /// A statement known at compile time.
    pub(crate) const fn new(text: &'static str) -> Self {
        Self {
            text: Cow::Borrowed(text),
            sqlite: OnceLock::new(),
        }
    }

    /// A statement built at run time (from column lists or filters).
    pub(crate) fn built(text: String) -> Self {
        Self {
            text: Cow::Owned(text),
            sqlite: OnceLock::new(),
        }
    }

    /// The statement's text for `dialect`.
    pub(crate) fn text(&self, dialect: Dialect) -> &str {
        match dialect {
            Dialect::Postgres => &self.text,
            Dialect::Sqlite => self.sqlite.get_or_init(|| sqlite_placeholders(&self.text)),
        }
    }
}

/// Rewrites PostgreSQL placeholders (`$1`) to SQLite's numbered ones
/// (`?1`), leaving string literals and quoted identifiers alone. (SQLite
/// reads `$1` as a *named* parameter numbered by first appearance, so
/// `VALUES ($1, $2, $4)` would bind the wrong values: rewriting is not
/// optional.)
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        match quote {
            // A doubled quote inside a quoted run closes and reopens it,
            // which this handles as two toggles.
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '\'' || ch == '"' => quote = Some(ch),
            None if ch == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            None => {}
        }
        out.push(ch);
    }
    out
}

/// `INSERT INTO table (columns) VALUES ($1, ..., $n)` for every column.
pub(crate) fn insert_statement(table: &str, columns: &[&str]) -> String {
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        placeholders(1, columns.len())
    )
}

/// `$first, $first+1, ...`: `count` placeholders.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_question_marks() {
        assert_eq!(
            sqlite_placeholders("UPDATE t SET a = $3 WHERE id = $1 AND b = $12"),
            "UPDATE t SET a = ?3 WHERE id = ?1 AND b = ?12"
        );
    }

    #[test]
    fn out_of_order_placeholders_keep_their_numbers() {
        assert_eq!(
            sqlite_placeholders("INSERT INTO l (a, b, c) VALUES ($1, $2, $4) WHERE x <= $3"),
            "INSERT INTO l (a, b, c) VALUES (?1, ?2, ?4) WHERE x <= ?3"
        );
    }

    #[test]
    fn quoted_dollars_and_lone_dollars_are_left_alone() {
        assert_eq!(
            sqlite_placeholders(r#"SELECT '$1', "col$2", 'it''s $3', $ FROM t WHERE a = $4"#),
            r#"SELECT '$1', "col$2", 'it''s $3', $ FROM t WHERE a = ?4"#
        );
    }

    #[test]
    fn a_statement_is_rewritten_once_and_kept() {
        let s = Sql::new("SELECT a FROM t WHERE id = $1");
        assert_eq!(s.text(Dialect::Postgres), "SELECT a FROM t WHERE id = $1");
        let first = s.text(Dialect::Sqlite) as *const str;
        assert_eq!(s.text(Dialect::Sqlite), "SELECT a FROM t WHERE id = ?1");
        assert!(std::ptr::eq(first, s.text(Dialect::Sqlite)));
    }

    #[test]
    fn inserts_name_every_column_once() {
        assert_eq!(
            insert_statement("t", &["a", "b", "c"]),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"
        );
    }
}
