//! All SQL lives here: one function per query, grouped by table. Queries use `$N` placeholders and
//! portable SQL so that the PostgreSQL backend can share them.

mod collections;
mod jobs;
mod search;
mod tags;
mod tokens;
mod upload_conditions;
mod upload_filters;
mod upload_requests;
mod uploads;
mod uploads_list;

use std::{path::Path, str::FromStr, time::Duration};

use crate::domain::Locale;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use collections::{collection_tree, CollectionRow};
pub use jobs::{ClaimedJob, JobResultRow};
pub use search::{locale_prefix, search_words};
pub use tags::TagPage;
pub use tokens::TokenRow;
pub use upload_filters::UploadFilterRow;
pub use upload_requests::UploadRequestRow;
pub use uploads::{FileFacts, MetadataRow, NewUpload, UploadRow};
pub use uploads_list::{
    Comparison, NumberField, OrderField, Pattern, StringField, StringOp, TagOp, UploadCondition, UploadQuery,
    RESOLUTION_LIMITS,
};

/// A transaction on the metadata database.
pub type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// Errors from the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl DbError {
    /// A UNIQUE or PRIMARY KEY constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// A FOREIGN KEY constraint refused the write (e.g. a collection deleted meanwhile).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    }

    /// The pool could not hand out a connection in time: worth a retry, not a bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)))
    }
}

impl From<serde_json::Error> for DbError {
    fn from(error: serde_json::Error) -> Self {
        DbError::Corrupt(error.to_string())
    }
}

/// The metadata database. Cheap to clone.
///
/// SQLite takes one writer at a time. Every write goes through `writer`, a pool of exactly one
/// connection, so writers queue fairly in the pool instead of sleeping in SQLite's busy handler;
/// reads use `pool` and, in WAL mode, never wait for the writer.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
    writer: SqlitePool,
    /// The environment's locales: the search index holds a document per locale.
    search_locales: Vec<String>,
}

impl Db {
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
        let db = Db { pool, writer, search_locales: locales.iter().map(|l| l.as_str().to_owned()).collect() };
        db.rebuild_search_index_if_stale().await?;
        // Refresh the planner's statistics where they are missing or stale (bounded work).
        sqlx::query("PRAGMA analysis_limit = 1000").execute(&db.writer).await?;
        sqlx::query("PRAGMA optimize").execute(&db.writer).await?;
        Ok(db)
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes SQLite's write lock up front, so two
    /// read-then-write transactions queue up instead of failing with SQLITE_BUSY half-way.
    pub async fn begin_write(&self) -> Result<Tx, DbError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Answers when the database takes queries (health check).
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// A value from the `settings` table.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        let value = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value)
    }

    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    /// Several nodes starting at once all end up with the first writer's value.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, DbError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        self.setting(key).await?.ok_or_else(|| DbError::Corrupt(format!("setting {key} vanished")))
    }
}
