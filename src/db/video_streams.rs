//! A video upload's stream, kept on its `uploads` row (`video_*` columns): its playback id, its
//! status and the generation of outputs served. What the outputs hold is `crate::video`'s.

use std::collections::HashSet;

use super::{
    sql::{read_built, SqlBuilder},
    Db, DbError, Tx, UploadRow,
};

/// A transcode's outputs, ready to be served in place of the previous generation.
#[derive(Debug, Clone)]
pub struct ReadyStream<'a> {
    pub upload_id: &'a str,
    /// The file the outputs were made of: they are recorded only while the upload still has it.
    pub blob_key: &'a str,
    pub generation: &'a str,
    /// `crate::video::VideoOutputs` as JSON.
    pub outputs: &'a str,
}

impl Db {
    /// Marks the upload's stream as being prepared under `playback_id` (a new one for a new
    /// upload or version, the same one for a keep_url replacement). The generation served so far,
    /// if any, stays until the new one is ready.
    pub async fn prepare_video_stream(tx: &mut Tx, upload_id: &str, playback_id: &str) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query(
            "UPDATE uploads SET video_playback_id = $1, video_status = 'preparing', video_error = NULL WHERE id = $2"
        )
        .bind(playback_id)
        .bind(upload_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Videos that have never had a stream (uploaded before streams existed), after `after_id`
    /// by id: (id, blob key), at most `limit`.
    pub async fn videos_without_stream(&self, after_id: &str, limit: i64) -> Result<Vec<(String, String)>, DbError> {
        let sql = "SELECT id, blob_key FROM uploads \
                   WHERE id > $1 AND mime_type LIKE 'video/%' AND width IS NOT NULL AND height IS NOT NULL \
                   AND video_status IS NULL ORDER BY id LIMIT $2";
        Ok(on_read!(self, |pool| sqlx::query_as(sql).bind(after_id).bind(limit).fetch_all(pool).await)?)
    }

    /// [`Db::prepare_video_stream`] for an upload that has no stream yet; `false` if it has one
    /// by now (another node's backfill, or a new version, got there first).
    pub async fn prepare_missing_video_stream(
        tx: &mut Tx,
        upload_id: &str,
        playback_id: &str,
    ) -> Result<bool, DbError> {
        let changed = on_tx!(tx, |conn| sqlx::query(
            "UPDATE uploads SET video_playback_id = $1, video_status = 'preparing', video_error = NULL \
             WHERE id = $2 AND video_status IS NULL"
        )
        .bind(playback_id)
        .bind(upload_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Forgets the upload's stream (its new file is not a video, or is a new version at a new
    /// URL, whose stream starts from nothing).
    pub async fn clear_video_stream(tx: &mut Tx, upload_id: &str) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query(
            r#"UPDATE uploads SET video_playback_id = NULL, video_status = NULL, video_generation = NULL,
                   video_outputs = NULL, video_error = NULL
               WHERE id = $1"#
        )
        .bind(upload_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Serves `ready`'s outputs from now on, if the upload still has the file they were made of.
    /// Returns `None` when it does not (the outputs are stale), else the generation served until
    /// now (if any), whose blobs the caller deletes after the commit.
    pub async fn record_ready_video_stream(
        tx: &mut Tx,
        ready: &ReadyStream<'_>,
    ) -> Result<Option<Option<String>>, DbError> {
        let previous: Option<(Option<String>,)> = on_tx!(tx, |conn| {
            sqlx::query_as(
            "SELECT video_generation FROM uploads WHERE id = $1 AND blob_key = $2 AND video_playback_id IS NOT NULL"
        )
        .bind(ready.upload_id)
        .bind(ready.blob_key)
        .fetch_optional(conn)
        .await
        })?;
        let Some((previous,)) = previous else { return Ok(None) };
        on_tx!(tx, |conn| sqlx::query(
            r#"UPDATE uploads SET video_status = 'ready', video_generation = $1, video_outputs = $2, video_error = NULL
               WHERE id = $3"#
        )
        .bind(ready.generation)
        .bind(ready.outputs)
        .bind(ready.upload_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(Some(previous))
    }

    /// Records why the stream of the upload's file `blob_key` could not be made (nothing if the
    /// upload has another file by now). A generation already served stays served.
    pub async fn record_failed_video_stream(
        tx: &mut Tx,
        upload_id: &str,
        blob_key: &str,
        error: &str,
    ) -> Result<bool, DbError> {
        let updated = on_tx!(tx, |conn| sqlx::query(
            r#"UPDATE uploads SET video_status = 'errored', video_error = $1
               WHERE id = $2 AND blob_key = $3 AND video_playback_id IS NOT NULL"#
        )
        .bind(error)
        .bind(upload_id)
        .bind(blob_key)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// The upload whose stream has `playback_id`.
    pub async fn find_upload_by_playback_id(&self, playback_id: &str) -> Result<Option<UploadRow>, DbError> {
        let sql = format!("SELECT {} FROM uploads WHERE video_playback_id = $1", super::uploads::UPLOAD_COLUMNS);
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(playback_id).fetch_optional(pool).await)?)
    }

    /// Which `(upload id, generation)` of `upload_ids` are being served (the sweep keeps their
    /// blobs and removes other generations').
    pub async fn served_video_generations(&self, upload_ids: &[String]) -> Result<HashSet<(String, String)>, DbError> {
        if upload_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut query = SqlBuilder::new(
            self.dialect(),
            "SELECT id, video_generation FROM uploads WHERE video_generation IS NOT NULL AND id IN ",
        );
        query.push_list(upload_ids);
        let found: Vec<(String, String)> = read_built!(self, rows query, fetch_all);
        Ok(found.into_iter().collect())
    }
}
