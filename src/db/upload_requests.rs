//! `upload_requests`: paths handed out by POST /upload-requests and the state of their direct PUT.

use super::{Db, DbError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRequestRow {
    pub path: String,
    pub blob_key: String,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub size: Option<i64>,
    pub consumed_by: Option<String>,
}

impl Db {
    /// Records a new request. Fails with a unique violation if `path` is taken.
    pub async fn insert_upload_request(
        &self,
        path: &str,
        blob_key: &str,
        created_by: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            r#"INSERT INTO upload_requests (path, blob_key, created_by, expires_at, created_at)
               VALUES ($1, $2, $3, $4, $5)"#,
        )
        .bind(path)
        .bind(blob_key)
        .bind(created_by)
        .bind(expires_at)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// True if `path` is used by an upload request, an upload or a renamed upload's old URL.
    pub async fn path_is_taken(&self, path: &str) -> Result<bool, DbError> {
        let taken: Option<i64> = on_read!(self, |pool| sqlx::query_scalar(
            r#"SELECT CAST(1 AS BIGINT) FROM upload_requests WHERE path = $1
               UNION ALL SELECT CAST(1 AS BIGINT) FROM uploads WHERE path = $1
               UNION ALL SELECT CAST(1 AS BIGINT) FROM upload_path_aliases WHERE path = $1
               LIMIT 1"#,
        )
        .bind(path)
        .fetch_optional(pool)
        .await)?;
        Ok(taken.is_some())
    }

    pub async fn find_upload_request(&self, path: &str) -> Result<Option<UploadRequestRow>, DbError> {
        let row = on_read!(self, |pool| sqlx::query_as(
            r#"SELECT path, blob_key, expires_at, completed_at, size, consumed_by
               FROM upload_requests WHERE path = $1"#,
        )
        .bind(path)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// Marks the direct PUT as done (a repeated PUT overwrites the previous bytes and size).
    pub async fn complete_upload_request(&self, path: &str, size: i64, now: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query("UPDATE upload_requests SET completed_at = $1, size = $2 WHERE path = $3")
            .bind(now)
            .bind(size)
            .bind(path)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Binds the request's file to `upload_id`. False if another upload took it first.
    pub async fn consume_upload_request(tx: &mut Tx, path: &str, upload_id: &str) -> Result<bool, DbError> {
        let result = on_tx!(tx, |conn| sqlx::query(
            r#"UPDATE upload_requests SET consumed_by = $1
               WHERE path = $2 AND (consumed_by IS NULL OR consumed_by = $1)"#,
        )
        .bind(upload_id)
        .bind(path)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }
}
