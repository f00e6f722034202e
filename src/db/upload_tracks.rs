//! A video upload's text tracks (`upload_tracks`): subtitles and captions whose WebVTT is in the
//! blob store. Deleted with their upload (foreign key, `ON DELETE CASCADE`).

use super::{
    sql::{read_built, SqlBuilder},
    Db, DbError, Tx,
};

/// One stored track.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TrackRow {
    pub id: String,
    pub upload_id: String,
    /// `subtitles`.
    pub kind: String,
    pub name: String,
    pub language_code: String,
    pub closed_captions: Option<bool>,
    /// `preparing`, `ready` or `errored`.
    pub status: String,
    pub error: Option<String>,
    /// The WebVTT file, once ready.
    pub blob_key: Option<String>,
    pub created_at: i64,
}

const TRACK_COLUMNS: &str =
    "id, upload_id, kind, name, language_code, closed_captions, status, error, blob_key, created_at";

impl Db {
    pub async fn insert_track(tx: &mut Tx, track: &TrackRow) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query(&format!(
            "INSERT INTO upload_tracks ({TRACK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&track.id)
        .bind(&track.upload_id)
        .bind(&track.kind)
        .bind(&track.name)
        .bind(&track.language_code)
        .bind(track.closed_captions)
        .bind(&track.status)
        .bind(&track.error)
        .bind(&track.blob_key)
        .bind(track.created_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The upload's tracks, oldest first.
    pub async fn list_tracks(&self, upload_id: &str) -> Result<Vec<TrackRow>, DbError> {
        let sql = format!("SELECT {TRACK_COLUMNS} FROM upload_tracks WHERE upload_id = $1 ORDER BY created_at, id");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(upload_id).fetch_all(pool).await)?)
    }

    pub async fn find_track(&self, upload_id: &str, track_id: &str) -> Result<Option<TrackRow>, DbError> {
        let sql = format!("SELECT {TRACK_COLUMNS} FROM upload_tracks WHERE upload_id = $1 AND id = $2");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(upload_id).bind(track_id).fetch_optional(pool).await)?)
    }

    /// Deletes the track; returns it as it was (`None`: there is no such track).
    pub async fn delete_track(tx: &mut Tx, upload_id: &str, track_id: &str) -> Result<Option<TrackRow>, DbError> {
        let sql = format!("SELECT {TRACK_COLUMNS} FROM upload_tracks WHERE upload_id = $1 AND id = $2");
        let found: Option<TrackRow> =
            on_tx!(tx, |conn| sqlx::query_as(&sql).bind(upload_id).bind(track_id).fetch_optional(conn).await)?;
        if found.is_some() {
            on_tx!(tx, |conn| sqlx::query("DELETE FROM upload_tracks WHERE upload_id = $1 AND id = $2")
                .bind(upload_id)
                .bind(track_id)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(found)
    }

    /// Ends a `preparing` track (generated subtitles): `ready` with its WebVTT at `blob_key`, or
    /// `errored` with `error`. `false`: there is no such preparing track (deleted meanwhile).
    pub async fn end_preparing_track(
        tx: &mut Tx,
        upload_id: &str,
        track_id: &str,
        end: Result<&str, &str>,
    ) -> Result<bool, DbError> {
        let (status, blob_key, error) = match end {
            Ok(blob_key) => ("ready", Some(blob_key), None),
            Err(error) => ("errored", None, Some(error)),
        };
        let changed = on_tx!(tx, |conn| sqlx::query(
            "UPDATE upload_tracks SET status = $1, blob_key = $2, error = $3 \
             WHERE upload_id = $4 AND id = $5 AND status = 'preparing'"
        )
        .bind(status)
        .bind(blob_key)
        .bind(error)
        .bind(upload_id)
        .bind(track_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Which of `track_ids` exist (the sweep keeps their files and removes the others').
    pub async fn existing_tracks(&self, track_ids: &[String]) -> Result<Vec<String>, DbError> {
        if track_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = SqlBuilder::new(self.dialect(), "SELECT id FROM upload_tracks WHERE id IN ");
        query.push_list(track_ids);
        let found: Vec<(String,)> = read_built!(self, rows query, fetch_all);
        Ok(found.into_iter().map(|(id,)| id).collect())
    }
}
