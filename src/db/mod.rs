//! All SQL lives here: one function per query, grouped by table. Two backends share the code:
//! SQLite (the embedded default) and PostgreSQL (several nodes). Queries use `$N` placeholders and
//! portable SQL; the few that differ (full-text search, queue claiming, a handful of functions)
//! ask [`Dialect`]. The `on_read!`, `on_write!` and `on_tx!` macros run one query body against
//! whichever backend is open. Uses only `config` and `domain`: it knows rows, not HTTP, blobs or
//! jobs' meaning.

/// Runs `$body` with `$conn` bound to the read pool of `$db` (a `&Db`).
macro_rules! on_read {
    ($db:expr, |$conn:ident| $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { pool, .. } => {
                let $conn = pool;
                $body
            }
            $crate::db::Backend::Postgres { pool } => {
                let $conn = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to what writes outside a transaction use.
macro_rules! on_write {
    ($db:expr, |$conn:ident| $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { writer, .. } => {
                let $conn = writer;
                $body
            }
            $crate::db::Backend::Postgres { pool } => {
                let $conn = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx` (a `&mut Tx`).
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut *$tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

mod cleanup;
mod collections;
mod derived_images;
mod jobs;
mod open;
mod search;
mod sql;
mod tags;
mod tokens;
mod upload_conditions;
mod upload_filters;
mod upload_query;
mod upload_requests;
mod upload_tracks;
mod uploads;
mod uploads_list;
mod video_streams;
mod webhooks;

use sqlx::{postgres::PgPool, sqlite::SqlitePool};

pub use cleanup::BlobReferences;
pub use collections::{collection_tree, CollectionRow};
pub use derived_images::{CheckedDerivedImage, EvictionTurn, StoredDerivedImage};
pub use jobs::{ClaimedJob, JobEnd, JobResultRow};
pub use search::{locale_prefix, search_words};
pub use tags::TagPage;
pub use tokens::{CreateTokenError, TokenRow};
pub use upload_filters::UploadFilterRow;
pub use upload_query::{
    Comparison, NumberField, OrderField, Pattern, StringField, StringOp, TagOp, UploadCondition, UploadQuery,
    RESOLUTION_LIMITS,
};
pub use upload_requests::UploadRequestRow;
pub use upload_tracks::TrackRow;
pub use uploads::{FileFacts, MetadataRow, NewUpload, UploadRow};
pub(crate) use uploads_list::listing_statements;
pub use video_streams::ReadyStream;
pub use webhooks::{AttemptRecord, WebhookAttemptRow, WebhookCallQuery, WebhookCallRow, WebhookRow};

/// Which SQL a backend speaks where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The open connection pools.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// SQLite takes one writer at a time. Every write goes through `writer`, a pool of exactly
    /// one connection, so writers queue fairly in the pool instead of sleeping in SQLite's busy
    /// handler; reads use `pool` and, in WAL mode, never wait for the writer.
    Sqlite {
        pool: SqlitePool,
        writer: SqlitePool,
    },
    Postgres {
        pool: PgPool,
    },
}

/// A write transaction on either backend. Dropping it without [`Tx::commit`] rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// Errors from the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database configuration: {0}")]
    Config(String),
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
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) backend: Backend,
    /// The environment's locales: the search index holds a document per locale.
    search_locales: Vec<String>,
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Answers when the database takes queries (health check).
    pub async fn ping(&self) -> Result<(), DbError> {
        on_read!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { pool, writer } => {
                pool.close().await;
                writer.close().await;
            }
            Backend::Postgres { pool } => pool.close().await,
        }
    }

    /// A value from the `settings` table.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        let value = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(pool).await?
        });
        Ok(value)
    }

    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    /// Several nodes starting at once all end up with the first writer's value.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, DbError> {
        on_write!(self, |pool| {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                .bind(key)
                .bind(value)
                .execute(pool)
                .await?;
        });
        self.setting(key).await?.ok_or_else(|| DbError::Corrupt(format!("setting {key} vanished")))
    }
}
