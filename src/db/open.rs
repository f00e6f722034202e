//! Opening the database (SQLite file or PostgreSQL schema), migrations, and write transactions.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    ConnectOptions, Connection,
};

use super::{Backend, Db, DbError, Tx};
use crate::{config::DatabaseArgs, domain::Locale};

/// Connections per node to PostgreSQL: requests, the worker and transforms share them.
const POSTGRES_POOL_SIZE: u32 = 12;

impl Db {
    /// The configured database: PostgreSQL when a URL is set, else SQLite in the data directory.
    pub async fn open_configured(args: &DatabaseArgs) -> anyhow::Result<Db> {
        use anyhow::Context;
        match &args.database_url {
            Some(url) => Db::open_postgres(url, &args.database_schema, &args.locales)
                .await
                .context("opening the PostgreSQL database"),
            None => {
                std::fs::create_dir_all(&args.data_dir)
                    .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
                Db::open_sqlite(&args.data_dir.join("assetd.db"), &args.locales).await.context("opening the database")
            }
        }
    }

    /// Opens (creating if needed) the SQLite database at `file` and applies pending migrations.
    /// `locales` are the environment's (the search index is built for them).
    pub async fn open_sqlite(file: &Path, locales: &[Locale]) -> Result<Db, DbError> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 32 MiB of page cache per connection and memory-mapped reads: listings over a large
            // library touch many pages, which then stay hot.
            .pragma("cache_size", "-32768")
            .pragma("mmap_size", "268435456")
            .with_regexp();
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let db = Db { backend: Backend::Sqlite { pool, writer: writer.clone() }, search_locales: names(locales) };
        db.rebuild_search_index_if_stale().await?;
        // Refresh the planner's statistics where they are missing or stale (bounded work).
        sqlx::query("PRAGMA analysis_limit = 1000").execute(&writer).await?;
        sqlx::query("PRAGMA optimize").execute(&writer).await?;
        Ok(db)
    }

    /// Connects to PostgreSQL at `url`, keeps every table in `schema` (created if missing) and
    /// applies pending migrations. Several nodes may do this at once.
    pub async fn open_postgres(url: &str, schema: &str, locales: &[Locale]) -> Result<Db, DbError> {
        check_schema_name(schema)?;
        let options = PgConnectOptions::from_str(url)?;
        let mut connection = options.connect().await?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&mut connection).await;
        match created.map_err(DbError::from) {
            // Another node created it at the same moment.
            Err(error) if !error.is_unique_violation() => return Err(error),
            _ => {}
        }
        connection.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(60))
            .connect_with(options.options([("search_path", schema)]))
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let db = Db { backend: Backend::Postgres { pool }, search_locales: names(locales) };
        db.rebuild_search_index_if_stale().await?;
        Ok(db)
    }

    /// A write transaction. Writers take turns, on both backends: SQLite's `BEGIN IMMEDIATE`
    /// takes its write lock up front, and on PostgreSQL a transaction-scoped advisory lock does
    /// the same across every node sharing the schema. Read-then-write transactions therefore
    /// never interleave and never fail half-way with a serialisation error.
    pub async fn begin_write(&self) -> Result<Tx, DbError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => Ok(Tx::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)),
            Backend::Postgres { pool } => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema()))").execute(&mut *tx).await?;
                Ok(Tx::Postgres(tx))
            }
        }
    }
}

fn names(locales: &[Locale]) -> Vec<String> {
    locales.iter().map(|l| l.as_str().to_owned()).collect()
}

/// Schema names are spliced into SQL: only plain lower-case identifiers are accepted.
fn check_schema_name(schema: &str) -> Result<(), DbError> {
    let mut chars = schema.chars();
    let valid = schema.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(DbError::Config(format!(
            "ASSETD_DATABASE_SCHEMA must be a lower-case identifier (a-z, 0-9, _), got {schema:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("public").is_ok());
        assert!(check_schema_name("assetd_test_01").is_ok());
        for bad in ["", "Public", "1abc", "a-b", "a\"; DROP", &"a".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
