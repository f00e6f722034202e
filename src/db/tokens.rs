//! `access_tokens`: API tokens, looked up by the SHA-256 of their secret.

use super::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
}

impl Db {
    pub async fn find_token_by_hash(&self, secret_sha256: &str) -> Result<Option<TokenRow>, DbError> {
        let row = on_read!(self, |pool| sqlx::query_as("SELECT id, name FROM access_tokens WHERE secret_sha256 = $1")
            .bind(secret_sha256)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    pub async fn count_tokens(&self) -> Result<i64, DbError> {
        Ok(on_read!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM access_tokens").fetch_one(pool).await)?)
    }

    /// Creates the token `name`, or gives it the new secret if it exists (rotation through config).
    /// Creates the token `name`, or gives it this secret. In a write transaction: on PostgreSQL,
    /// nodes starting at once with the same configured token would otherwise race past the
    /// `name` conflict into the `secret_sha256` unique index.
    pub async fn upsert_token(&self, id: &str, name: &str, secret_sha256: &str, now: i64) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, |conn| sqlx::query(
            r#"INSERT INTO access_tokens (id, name, secret_sha256, created_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (name) DO UPDATE SET secret_sha256 = excluded.secret_sha256"#,
        )
        .bind(id)
        .bind(name)
        .bind(secret_sha256)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    pub async fn token_exists(&self, id: &str) -> Result<bool, DbError> {
        let found: Option<i64> =
            on_read!(self, |pool| sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM access_tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await)?;
        Ok(found.is_some())
    }
}
