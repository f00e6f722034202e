//! `access_tokens`: API tokens, looked up by the SHA-256 of their secret (the secret itself is
//! never stored).

use super::{Db, DbError};
use crate::domain::TokenRole;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    role: String,
    pub created_at: i64,
}

impl TokenRow {
    /// The token's role; an unknown stored value (written by a newer version) grants only reads.
    pub fn role(&self) -> TokenRole {
        TokenRole::parse(&self.role).unwrap_or(TokenRole::ReadOnly)
    }
}

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateTokenError {
    #[error("a token named {0:?} already exists")]
    NameTaken(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Db {
    pub async fn find_token_by_hash(&self, secret_sha256: &str) -> Result<Option<TokenRow>, DbError> {
        let row = on_read!(self, |pool| sqlx::query_as(
            "SELECT id, name, role, created_at FROM access_tokens WHERE secret_sha256 = $1"
        )
        .bind(secret_sha256)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// Every token, oldest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRow>, DbError> {
        let rows = on_read!(self, |pool| sqlx::query_as(
            "SELECT id, name, role, created_at FROM access_tokens ORDER BY created_at, id"
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn count_tokens(&self) -> Result<i64, DbError> {
        Ok(on_read!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM access_tokens").fetch_one(pool).await)?)
    }

    /// Creates a new token; its name must be free.
    pub async fn create_token(
        &self,
        id: &str,
        name: &str,
        role: TokenRole,
        secret_sha256: &str,
        now: i64,
    ) -> Result<(), CreateTokenError> {
        let mut tx = self.begin_write().await?;
        let inserted = on_tx!(&mut tx, |conn| sqlx::query(
            r#"INSERT INTO access_tokens (id, name, role, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (name) DO NOTHING"#,
        )
        .bind(id)
        .bind(name)
        .bind(role.as_str())
        .bind(secret_sha256)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(DbError::from)?;
        if inserted == 0 {
            return Err(CreateTokenError::NameTaken(name.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates the full-access token `name`, or gives it this secret and full access if it
    /// exists (rotation through config). In a write transaction: on PostgreSQL, nodes starting at
    /// once with the same configured token would otherwise race past the `name` conflict into the
    /// `secret_sha256` unique index.
    pub async fn upsert_token(&self, id: &str, name: &str, secret_sha256: &str, now: i64) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, |conn| sqlx::query(
            r#"INSERT INTO access_tokens (id, name, role, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (name) DO UPDATE SET secret_sha256 = excluded.secret_sha256, role = excluded.role"#,
        )
        .bind(id)
        .bind(name)
        .bind(TokenRole::FullAccess.as_str())
        .bind(secret_sha256)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    /// Deletes the token with this id or name; `None` when there is none. Uploads keep naming it
    /// as their creator.
    pub async fn revoke_token(&self, id_or_name: &str) -> Result<Option<TokenRow>, DbError> {
        let mut tx = self.begin_write().await?;
        let found: Option<TokenRow> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(
            "SELECT id, name, role, created_at FROM access_tokens WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1"
        )
        .bind(id_or_name)
        .fetch_optional(conn)
        .await
        })?;
        let Some(token) = found else { return Ok(None) };
        on_tx!(&mut tx, |conn| sqlx::query("DELETE FROM access_tokens WHERE id = $1")
            .bind(&token.id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(Some(token))
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
