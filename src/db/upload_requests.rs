//! `upload_requests`: paths handed out by POST /upload-requests and the state of their file.
//!
//! `blob_key` names the request's file. A direct PUT (local disk) streams into a fresh key of its
//! own and then makes it the request's file with [`Db::record_direct_put`], unless the request
//! was taken meanwhile; with S3 the presigned PUT lands on a staging key and the take records the
//! copy ([`Db::record_presigned_take`]). [`Db::take_upload_request`] freezes the file for the
//! create or new-version workflow: every write of `blob_key` requires the request not to be taken,
//! and a statement sees the take whole, so what the job inspects is what the upload stores.

use super::{Db, DbError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRequestRow {
    pub path: String,
    pub blob_key: String,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub size: Option<i64>,
    /// Set when the first create or new version took the file (see [`Db::take_upload_request`]).
    pub taken_at: Option<i64>,
    pub consumed_by: Option<String>,
}

/// The columns of [`UploadRequestRow`].
const ROW: &str = "path, blob_key, expires_at, completed_at, size, taken_at, consumed_by";

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
        let sql = format!("SELECT {ROW} FROM upload_requests WHERE path = $1");
        let row = on_read!(self, |pool| sqlx::query_as(&sql).bind(path).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// Makes `blob_key`, where a direct PUT just stored `size` bytes, the request's file, unless
    /// the request was taken (or used) meanwhile. Returns the key it replaced (an earlier PUT's
    /// file, or the reserved key nothing was written to), whose file nothing needs any more;
    /// `None` when the request was taken first and `blob_key` is not the request's.
    pub async fn record_direct_put(
        &self,
        path: &str,
        blob_key: &str,
        size: i64,
        now: i64,
    ) -> Result<Option<String>, DbError> {
        let mut tx = self.begin_write().await?;
        let replaced: Option<String> = on_tx!(&mut tx, |conn| sqlx::query_scalar(
            "SELECT blob_key FROM upload_requests WHERE path = $1 AND taken_at IS NULL AND consumed_by IS NULL",
        )
        .bind(path)
        .fetch_optional(conn)
        .await)?;
        if replaced.is_none() {
            return Ok(None);
        }
        // Conditional again: a take is a single write outside this transaction's lock, and
        // PostgreSQL re-checks the condition on the row a concurrent take just changed.
        let updated = on_tx!(&mut tx, |conn| sqlx::query(
            r#"UPDATE upload_requests SET blob_key = $1, completed_at = $2, size = $3
               WHERE path = $4 AND taken_at IS NULL AND consumed_by IS NULL"#,
        )
        .bind(blob_key)
        .bind(now)
        .bind(size)
        .bind(path)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if updated != 1 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(replaced)
    }

    /// Takes the request's file for an upload: from now on no PUT changes `blob_key`. Returns
    /// the request (taken now or earlier) when its file was uploaded, `None` when not yet (or,
    /// with S3, not yet copied into place: see [`Db::record_presigned_take`]).
    pub async fn take_upload_request(&self, path: &str, now: i64) -> Result<Option<UploadRequestRow>, DbError> {
        let sql = format!(
            "UPDATE upload_requests SET taken_at = COALESCE(taken_at, $1) \
             WHERE path = $2 AND completed_at IS NOT NULL RETURNING {ROW}"
        );
        let row = on_write!(self, |pool| sqlx::query_as(&sql).bind(now).bind(path).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// S3: records `blob_key`, a copy of the presigned PUT no client can write, as the request's
    /// file and takes it, in one write. False when another call recorded its copy first.
    pub async fn record_presigned_take(
        &self,
        path: &str,
        blob_key: &str,
        size: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let updated = on_write!(self, |pool| sqlx::query(
            r#"UPDATE upload_requests SET blob_key = $1, size = $2, completed_at = $3, taken_at = $3
               WHERE path = $4 AND completed_at IS NULL"#,
        )
        .bind(blob_key)
        .bind(size)
        .bind(now)
        .bind(path)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
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
