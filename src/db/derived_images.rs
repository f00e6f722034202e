//! `derived_images` (PostgreSQL only): leases that make several nodes render each derived image
//! once. One node claims a key, the others wait for its blob to appear in the shared store.

use super::{sql::escape_like, Db, DbError};

impl Db {
    /// Takes the render lease of `key` until `until`: free when nobody holds it, when its holder's
    /// lease expired (the node died mid-render), or when the blob was stored once and is missing
    /// now (purged). False while another node holds it.
    pub async fn claim_derived_render(&self, key: &str, now: i64, until: i64) -> Result<bool, DbError> {
        let claimed: Option<String> = on_write!(self, |pool| sqlx::query_scalar(
            r#"INSERT INTO derived_images (key, state, locked_until, renders, updated_at)
               VALUES ($1, 'rendering', $2, 0, $3)
               ON CONFLICT (key) DO UPDATE SET state = 'rendering', locked_until = $2, updated_at = $3
               WHERE derived_images.state = 'stored' OR derived_images.locked_until < $3
               RETURNING key"#,
        )
        .bind(key)
        .bind(until)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        Ok(claimed.is_some())
    }

    /// Counts a render of `key` about to start (under its lease).
    pub async fn count_derived_render(&self, key: &str) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query("UPDATE derived_images SET renders = renders + 1 WHERE key = $1")
            .bind(key)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Ends the lease: `stored` once the blob is in the store, otherwise (the render failed) the
    /// key is freed at once for the next request to try.
    pub async fn end_derived_render(&self, key: &str, stored: bool, now: i64) -> Result<(), DbError> {
        let sql = if stored {
            "UPDATE derived_images SET state = 'stored', locked_until = 0, updated_at = $2 WHERE key = $1"
        } else {
            "UPDATE derived_images SET locked_until = 0, updated_at = $2 WHERE key = $1 AND state = 'rendering'"
        };
        on_write!(self, |pool| sqlx::query(sql).bind(key).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets the derived images under `prefix` (their blobs were purged).
    pub async fn forget_derived_images(&self, prefix: &str) -> Result<(), DbError> {
        let pattern = format!("{}%", escape_like(prefix));
        on_write!(self, |pool| sqlx::query("DELETE FROM derived_images WHERE key LIKE $1 ESCAPE '\\'")
            .bind(pattern)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
