//! A small SQL builder for queries assembled at run time (listings, partial updates): text with
//! `$N` placeholders and the values bound to them, run on either backend.

use sqlx::{postgres::PgArguments, sqlite::SqliteArguments, Arguments};

use super::{DbError, Dialect};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SqlValue {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(bool),
}

/// `impl From<$type> for SqlValue` as `$variant($convert(value))`.
macro_rules! sql_value_from {
    ($($type:ty => $variant:ident($convert:expr)),* $(,)?) => {
        $(impl From<$type> for SqlValue {
            fn from(value: $type) -> Self {
                SqlValue::$variant($convert(value))
            }
        })*
    };
}

sql_value_from! {
    String => Text(Some),
    &str => Text(|v: &str| Some(v.to_owned())),
    &String => Text(|v: &String| Some(v.clone())),
    Option<String> => Text(std::convert::identity),
    Option<&str> => Text(|v: Option<&str>| v.map(str::to_owned)),
    &Option<String> => Text(Clone::clone),
    i64 => Int(Some),
    Option<i64> => Int(std::convert::identity),
    f64 => Real(Some),
    Option<f64> => Real(std::convert::identity),
    bool => Bool(std::convert::identity),
}

/// Escapes `\`, `%` and `_` for a `LIKE … ESCAPE '\'` pattern.
pub(super) fn escape_like(value: &str) -> String {
    value.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// SQL text and its bound values, for one dialect.
#[derive(Debug, Clone)]
pub(super) struct SqlBuilder {
    pub(super) dialect: Dialect,
    sql: String,
    values: Vec<SqlValue>,
}

impl SqlBuilder {
    pub(super) fn new(dialect: Dialect, sql: impl Into<String>) -> Self {
        SqlBuilder { dialect, sql: sql.into(), values: Vec::new() }
    }

    /// Appends SQL text (never client input).
    pub(super) fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn push_bind(&mut self, value: impl Into<SqlValue>) -> &mut Self {
        self.values.push(value.into());
        let n = self.values.len();
        self.push(format_args!("${n}"))
    }

    /// `(v1, v2, …)` of bound values; `(NULL)` when empty, so that `IN (NULL)` matches nothing.
    pub(super) fn push_list<T: Into<SqlValue> + Clone>(&mut self, values: &[T]) -> &mut Self {
        self.push("(");
        if values.is_empty() {
            self.push("NULL");
        }
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(value.clone());
        }
        self.push(")")
    }

    pub(super) fn sql(&self) -> &str {
        &self.sql
    }

    pub(super) fn sqlite_arguments(&self) -> Result<SqliteArguments<'static>, DbError> {
        self.arguments(SqliteArguments::default())
    }

    pub(super) fn postgres_arguments(&self) -> Result<PgArguments, DbError> {
        self.arguments(PgArguments::default())
    }

    /// Adds every bound value to `arguments` (each backend encodes all four kinds).
    fn arguments<'q, A>(&self, mut arguments: A) -> Result<A, DbError>
    where
        A: Arguments<'q>,
        Option<String>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
        Option<i64>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
        Option<f64>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
        bool: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    {
        for value in &self.values {
            let added = match value.clone() {
                SqlValue::Text(v) => arguments.add(v),
                SqlValue::Int(v) => arguments.add(v),
                SqlValue::Real(v) => arguments.add(v),
                SqlValue::Bool(v) => arguments.add(v),
            };
            added.map_err(sqlx::Error::Encode)?;
        }
        Ok(arguments)
    }
}

/// Runs a builder's query on a pool or connection with the argument method of its backend.
/// `rows` fetches rows (`fetch_all`, `fetch_one`, `fetch_optional`), `scalar` one column, and
/// `exec` executes and gives the number of rows affected.
macro_rules! run_built {
    (rows $builder:expr, $conn:expr, $arguments:ident, $method:ident) => {
        sqlx::query_as_with(($builder).sql(), ($builder).$arguments()?).$method($conn).await?
    };
    (scalar $builder:expr, $conn:expr, $arguments:ident, $method:ident) => {
        sqlx::query_scalar_with(($builder).sql(), ($builder).$arguments()?).$method($conn).await?
    };
    (exec $builder:expr, $conn:expr, $arguments:ident, $method:ident) => {
        sqlx::query_with(($builder).sql(), ($builder).$arguments()?).execute($conn).await?.rows_affected()
    };
}

/// Runs a builder's query on the read pool of `$db`: `read_built!(db, rows builder, fetch_all)`.
macro_rules! read_built {
    ($db:expr, $kind:ident $builder:expr, $method:ident) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { pool, .. } => {
                $crate::db::sql::run_built!($kind $builder, pool, sqlite_arguments, $method)
            }
            $crate::db::Backend::Postgres { pool } => {
                $crate::db::sql::run_built!($kind $builder, pool, postgres_arguments, $method)
            }
        }
    };
}

/// Runs a builder's query on what writes outside a transaction use (see `on_write!`):
/// `write_built!(db, exec builder, execute)`.
macro_rules! write_built {
    ($db:expr, $kind:ident $builder:expr, $method:ident) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { writer, .. } => {
                $crate::db::sql::run_built!($kind $builder, writer, sqlite_arguments, $method)
            }
            $crate::db::Backend::Postgres { pool } => {
                $crate::db::sql::run_built!($kind $builder, pool, postgres_arguments, $method)
            }
        }
    };
}

/// Runs a builder's query in the transaction `$tx`: `tx_built!(tx, exec builder, execute)`.
macro_rules! tx_built {
    ($tx:expr, $kind:ident $builder:expr, $method:ident) => {
        match &mut *$tx {
            $crate::db::Tx::Sqlite(tx) => {
                $crate::db::sql::run_built!($kind $builder, &mut **tx, sqlite_arguments, $method)
            }
            $crate::db::Tx::Postgres(tx) => {
                $crate::db::sql::run_built!($kind $builder, &mut **tx, postgres_arguments, $method)
            }
        }
    };
}
pub(super) use {read_built, run_built, tx_built, write_built};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = SqlBuilder::new(Dialect::Sqlite, "SELECT * FROM t WHERE a = ");
        sql.push_bind("x").push(" AND b IN ").push_list(&[1_i64, 2]).push(" AND c IN ").push_list::<i64>(&[]);
        assert_eq!(sql.sql(), "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) AND c IN (NULL)");
        assert_eq!(sql.values, vec![SqlValue::from("x"), SqlValue::from(1_i64), SqlValue::from(2_i64)]);
    }
}
