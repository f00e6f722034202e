//! `uploads` with their per-locale metadata, tag links and old-path aliases.

use serde_json::Value;

use super::{
    sql::{read_built, tx_built, SqlBuilder},
    Db, DbError, Tx,
};
use crate::domain::{color_bucket, media_type, Change, Creator, MetadataPatch, UploadPatch};

/// Columns of `uploads`, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: String,
    pub path: String,
    pub blob_key: String,
    pub basename: String,
    pub extension: Option<String>,
    pub format: Option<String>,
    pub size: i64,
    pub md5: String,
    pub mime_type: String,
    pub is_image: bool,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration: Option<f64>,
    pub frame_rate: Option<f64>,
    pub blurhash: Option<String>,
    pub thumbhash: Option<String>,
    pub exif_info: String,
    pub colors: String,
    pub author: Option<String>,
    pub copyright: Option<String>,
    pub notes: Option<String>,
    pub tags: String,
    pub focal_point_x: Option<f64>,
    pub focal_point_y: Option<f64>,
    pub poster_time: Option<f64>,
    pub upload_collection_id: Option<String>,
    pub creator_type: String,
    pub creator_id: String,
    pub url_replaced: bool,
    pub file_updated_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The video stream (see `db/video_streams.rs`): null for uploads that are not videos.
    pub video_playback_id: Option<String>,
    /// `preparing`, `ready` or `errored`.
    pub video_status: Option<String>,
    /// The outputs served, if any (`video/<id>/<generation>/`).
    pub video_generation: Option<String>,
    /// What the served outputs hold (`crate::video::VideoOutputs` as JSON).
    pub video_outputs: Option<String>,
    pub video_error: Option<String>,
}

impl UploadRow {
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    /// True for videos (and audio): what `poster_time` applies to.
    pub fn is_video(&self) -> bool {
        self.mime_type.starts_with("video/")
    }
}

/// One `upload_metadata` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MetadataRow {
    pub locale: String,
    pub alt: Option<String>,
    pub title: Option<String>,
    pub custom_data: String,
}

#[derive(sqlx::FromRow)]
struct ListedMetadataRow {
    upload_id: String,
    locale: String,
    alt: Option<String>,
    title: Option<String>,
    custom_data: String,
}

/// What ingesting a stored file tells about it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFacts {
    pub blob_key: String,
    pub size: i64,
    pub md5: String,
    pub mime_type: String,
    pub sniffed_format: Option<String>,
    pub is_image: bool,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration: Option<f64>,
    pub frame_rate: Option<f64>,
    pub blurhash: Option<String>,
    pub thumbhash: Option<String>,
    pub exif_info: Value,
    pub colors: Value,
}

/// A new upload row and everything written with it.
#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    pub id: &'a str,
    pub path: &'a str,
    pub basename: &'a str,
    pub extension: Option<&'a str>,
    pub facts: &'a FileFacts,
    pub author: Option<&'a str>,
    pub copyright: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub tags: &'a [String],
    pub metadata: &'a MetadataPatch,
    pub upload_collection_id: Option<&'a str>,
    pub creator: &'a Creator,
    pub now: i64,
}

pub(super) const UPLOAD_COLUMNS: &str =
    "id, path, blob_key, basename, extension, format, size, md5, mime_type, is_image, \
    width, height, duration, frame_rate, blurhash, thumbhash, exif_info, colors, author, copyright, notes, tags, \
    focal_point_x, focal_point_y, poster_time, upload_collection_id, creator_type, creator_id, url_replaced, \
    file_updated_at, created_at, updated_at, video_playback_id, video_status, video_generation, video_outputs, \
    video_error";

impl Db {
    pub async fn find_upload(&self, id: &str) -> Result<Option<UploadRow>, DbError> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
    }

    pub async fn find_upload_in(tx: &mut Tx, id: &str) -> Result<Option<UploadRow>, DbError> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1");
        Ok(on_tx!(tx, |conn| sqlx::query_as(&sql).bind(id).fetch_optional(conn).await)?)
    }

    pub async fn find_upload_by_path(&self, path: &str) -> Result<Option<UploadRow>, DbError> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE path = $1");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(path).fetch_optional(pool).await)?)
    }

    /// The current path of the upload that used to live at `old_path`.
    pub async fn find_current_path_for_alias(&self, old_path: &str) -> Result<Option<String>, DbError> {
        let path = on_read!(self, |pool| sqlx::query_scalar(
            r#"SELECT u.path FROM upload_path_aliases a JOIN uploads u ON u.id = a.upload_id WHERE a.path = $1"#,
        )
        .bind(old_path)
        .fetch_optional(pool)
        .await)?;
        Ok(path)
    }

    pub async fn upload_exists(&self, id: &str) -> Result<bool, DbError> {
        let found: Option<i64> =
            on_read!(self, |pool| sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM uploads WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await)?;
        Ok(found.is_some())
    }

    pub async fn list_metadata(&self, upload_id: &str) -> Result<Vec<MetadataRow>, DbError> {
        let rows = on_read!(self, |pool| sqlx::query_as(
            "SELECT locale, alt, title, custom_data FROM upload_metadata WHERE upload_id = $1"
        )
        .bind(upload_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn list_metadata_in(tx: &mut Tx, upload_id: &str) -> Result<Vec<MetadataRow>, DbError> {
        let rows = on_tx!(tx, |conn| sqlx::query_as(
            "SELECT locale, alt, title, custom_data FROM upload_metadata WHERE upload_id = $1"
        )
        .bind(upload_id)
        .fetch_all(conn)
        .await)?;
        Ok(rows)
    }

    /// Metadata rows of many uploads at once, for listings.
    pub async fn list_metadata_for(&self, upload_ids: &[String]) -> Result<Vec<(String, MetadataRow)>, DbError> {
        if upload_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = SqlBuilder::new(
            self.dialect(),
            "SELECT upload_id, locale, alt, title, custom_data FROM upload_metadata WHERE upload_id IN ",
        );
        query.push_list(upload_ids);
        let rows: Vec<ListedMetadataRow> = read_built!(self, rows query, fetch_all);
        Ok(rows
            .into_iter()
            .map(|r| {
                (r.upload_id, MetadataRow { locale: r.locale, alt: r.alt, title: r.title, custom_data: r.custom_data })
            })
            .collect())
    }

    /// Inserts the upload, its metadata and its tag links.
    pub async fn insert_upload(tx: &mut Tx, new: &NewUpload<'_>) -> Result<(), DbError> {
        let facts = new.facts;
        let (focal_x, focal_y) = match new.metadata.focal_point.as_set().copied().flatten() {
            Some(point) => (Some(point.x), Some(point.y)),
            None => (None, None),
        };
        let poster_time = new.metadata.poster_time.as_set().copied().flatten().map(|t| t.seconds());
        let format = new.extension.map(str::to_owned).or_else(|| facts.sniffed_format.clone());
        on_tx!(tx, |conn| sqlx::query(
            r#"INSERT INTO uploads (id, path, blob_key, basename, extension, format, size, md5, mime_type, is_image,
                   width, height, duration, frame_rate, blurhash, thumbhash, exif_info, colors, author, copyright,
                   notes, tags, focal_point_x, focal_point_y, poster_time, upload_collection_id, creator_type,
                   creator_id, url_replaced, file_updated_at, created_at, updated_at, media_type)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                   $21, $22, $23, $24, $25, $26, $27, $28, FALSE, $29, $29, $29, $30)"#,
        )
        .bind(new.id)
        .bind(new.path)
        .bind(&facts.blob_key)
        .bind(new.basename)
        .bind(new.extension)
        .bind(format)
        .bind(facts.size)
        .bind(&facts.md5)
        .bind(&facts.mime_type)
        .bind(facts.is_image)
        .bind(facts.width)
        .bind(facts.height)
        .bind(facts.duration)
        .bind(facts.frame_rate)
        .bind(&facts.blurhash)
        .bind(&facts.thumbhash)
        .bind(facts.exif_info.to_string())
        .bind(facts.colors.to_string())
        .bind(new.author)
        .bind(new.copyright)
        .bind(new.notes)
        .bind(serde_json::to_string(new.tags)?)
        .bind(focal_x)
        .bind(focal_y)
        .bind(poster_time)
        .bind(new.upload_collection_id)
        .bind(&new.creator.kind)
        .bind(&new.creator.id)
        .bind(new.now)
        .bind(media_type(&facts.mime_type))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Self::write_tag_links(tx, new.id, new.tags).await?;
        Self::write_color_buckets(tx, new.id, &facts.colors).await?;
        Self::write_locale_metadata(tx, new.id, new.metadata).await?;
        Self::refresh_search_document(tx, new.id).await?;
        Ok(())
    }

    /// Applies the regular attributes of `patch` (not the file, not the basename). Only the columns
    /// and locale cells the patch names are written, so concurrent patches of other parts survive.
    /// Like [`Db::replace_upload_file`] and [`Db::rename_upload`], it leaves the search document
    /// as it was: the caller refreshes it once, after its last write ([`Db::refresh_search_document`]).
    pub async fn apply_upload_patch(tx: &mut Tx, id: &str, patch: &UploadPatch, now: i64) -> Result<(), DbError> {
        let mut query = SqlBuilder::new(tx.dialect(), "UPDATE uploads SET updated_at = ");
        query.push_bind(now);
        let text_columns = [("author", &patch.author), ("copyright", &patch.copyright), ("notes", &patch.notes)];
        for (column, change) in text_columns {
            if let Change::Set(value) = change {
                query.push(format_args!(", {column} = ")).push_bind(value.clone());
            }
        }
        if let Change::Set(tags) = &patch.tags {
            query.push(", tags = ").push_bind(serde_json::to_string(tags)?);
        }
        if let Change::Set(point) = &patch.metadata.focal_point {
            query.push(", focal_point_x = ").push_bind(point.map(|p| p.x));
            query.push(", focal_point_y = ").push_bind(point.map(|p| p.y));
        }
        if let Change::Set(time) = &patch.metadata.poster_time {
            query.push(", poster_time = ").push_bind(time.map(|t| t.seconds()));
        }
        if let Change::Set(collection) = &patch.upload_collection {
            query.push(", upload_collection_id = ").push_bind(collection.clone());
        }
        if let Change::Set(creator) = &patch.creator {
            query.push(", creator_type = ").push_bind(creator.kind.clone());
            query.push(", creator_id = ").push_bind(creator.id.clone());
        }
        query.push(" WHERE id = ").push_bind(id);
        tx_built!(tx, exec query, execute);
        if let Change::Set(tags) = &patch.tags {
            Self::write_tag_links(tx, id, tags).await?;
        }
        Self::write_locale_metadata(tx, id, &patch.metadata).await?;
        Ok(())
    }

    /// Points the upload at a new file. With `new_path` the URL changes (the old path stops
    /// serving); without it the bytes change under the same URL (`keep_url`).
    pub async fn replace_upload_file(
        tx: &mut Tx,
        id: &str,
        facts: &FileFacts,
        new_path: Option<(&str, &str, Option<&str>)>,
        now: i64,
    ) -> Result<(), DbError> {
        let mut query = SqlBuilder::new(tx.dialect(), "UPDATE uploads SET blob_key = ");
        query.push_bind(&facts.blob_key);
        query.push(", size = ").push_bind(facts.size);
        query.push(", md5 = ").push_bind(&facts.md5);
        query.push(", mime_type = ").push_bind(&facts.mime_type);
        query.push(", media_type = ").push_bind(media_type(&facts.mime_type));
        query.push(", is_image = ").push_bind(facts.is_image);
        query.push(", width = ").push_bind(facts.width);
        query.push(", height = ").push_bind(facts.height);
        query.push(", duration = ").push_bind(facts.duration);
        query.push(", frame_rate = ").push_bind(facts.frame_rate);
        query.push(", blurhash = ").push_bind(&facts.blurhash);
        query.push(", thumbhash = ").push_bind(&facts.thumbhash);
        query.push(", exif_info = ").push_bind(facts.exif_info.to_string());
        query.push(", colors = ").push_bind(facts.colors.to_string());
        query.push(", file_updated_at = ").push_bind(now);
        query.push(", updated_at = ").push_bind(now);
        match new_path {
            Some((path, basename, extension)) => {
                let format = extension.map(str::to_owned).or_else(|| facts.sniffed_format.clone());
                query.push(", path = ").push_bind(path);
                query.push(", basename = ").push_bind(basename);
                query.push(", extension = ").push_bind(extension);
                query.push(", format = ").push_bind(format);
                query.push(", url_replaced = FALSE");
            }
            None => {
                query.push(", url_replaced = TRUE");
            }
        }
        // A new file may not be an image or a video any more: drop what no longer applies.
        if !facts.is_image {
            query.push(", focal_point_x = NULL, focal_point_y = NULL");
        }
        if !facts.mime_type.starts_with("video/") {
            query.push(", poster_time = NULL");
        }
        query.push(" WHERE id = ").push_bind(id);
        tx_built!(tx, exec query, execute);
        Self::write_color_buckets(tx, id, &facts.colors).await?;
        Ok(())
    }

    /// Renames: the upload moves to `new_path` and its old path becomes a redirecting alias.
    pub async fn rename_upload(
        tx: &mut Tx,
        id: &str,
        old_path: &str,
        new_path: &str,
        basename: &str,
        now: i64,
    ) -> Result<(), DbError> {
        // The new URL never served other bytes, so it may be cached as immutable again.
        on_tx!(tx, |conn| sqlx::query(
            "UPDATE uploads SET path = $1, basename = $2, updated_at = $3, url_replaced = FALSE WHERE id = $4"
        )
        .bind(new_path)
        .bind(basename)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        // The new path may have been an alias of this same upload (renamed back): it is current again.
        on_tx!(tx, |conn| sqlx::query("DELETE FROM upload_path_aliases WHERE path = $1")
            .bind(new_path)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        on_tx!(tx, |conn| sqlx::query("INSERT INTO upload_path_aliases (path, upload_id) VALUES ($1, $2)")
            .bind(old_path)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// True if `path` is free for a rename of `upload_id` (its own old aliases do not count).
    pub async fn path_is_free_for(tx: &mut Tx, path: &str, upload_id: &str) -> Result<bool, DbError> {
        let taken: Option<i64> = on_tx!(tx, |conn| {
            sqlx::query_scalar(
            r#"SELECT CAST(1 AS BIGINT) FROM upload_requests WHERE path = $1 AND (consumed_by IS NULL OR consumed_by <> $2)
               UNION ALL SELECT CAST(1 AS BIGINT) FROM uploads WHERE path = $1
               UNION ALL SELECT CAST(1 AS BIGINT) FROM upload_path_aliases WHERE path = $1 AND upload_id <> $2
               LIMIT 1"#,
        )
        .bind(path)
        .bind(upload_id)
        .fetch_optional(conn)
        .await
        })?;
        Ok(taken.is_none())
    }

    /// Removes old aliases when an upload's URL changes for a new file (create_new_url).
    pub async fn delete_path_aliases(tx: &mut Tx, upload_id: &str) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query("DELETE FROM upload_path_aliases WHERE upload_id = $1")
            .bind(upload_id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Deletes the upload (metadata, tag links and aliases cascade).
    pub async fn delete_upload(tx: &mut Tx, id: &str) -> Result<bool, DbError> {
        Self::delete_search_document(tx, id).await?;
        let result = on_tx!(tx, |conn| sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }

    async fn write_tag_links(tx: &mut Tx, upload_id: &str, tags: &[String]) -> Result<(), DbError> {
        let seq: i64 = on_tx!(tx, |conn| sqlx::query_scalar("SELECT seq FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_one(conn)
            .await)?;
        on_tx!(tx, |conn| sqlx::query("DELETE FROM upload_tag_links WHERE upload_seq = $1")
            .bind(seq)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        for tag in tags {
            on_tx!(tx, |conn| sqlx::query(
                "INSERT INTO upload_tag_links (upload_seq, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            )
            .bind(seq)
            .bind(tag)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Replaces the colour buckets of an upload with those of `colors` (`[{red, green, blue, alpha}]`).
    pub(super) async fn write_color_buckets(tx: &mut Tx, upload_id: &str, colors: &Value) -> Result<(), DbError> {
        let seq: i64 = on_tx!(tx, |conn| sqlx::query_scalar("SELECT seq FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_one(conn)
            .await)?;
        on_tx!(tx, |conn| sqlx::query("DELETE FROM upload_color_buckets WHERE upload_seq = $1")
            .bind(seq)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let channel = |c: &Value, name: &str| c.get(name).and_then(Value::as_u64).map(|v| v.min(255) as u8);
        for colour in colors.as_array().map(Vec::as_slice).unwrap_or_default() {
            let (Some(r), Some(g), Some(b)) =
                (channel(colour, "red"), channel(colour, "green"), channel(colour, "blue"))
            else {
                continue;
            };
            on_tx!(tx, |conn| sqlx::query(
                "INSERT INTO upload_color_buckets (upload_seq, bucket) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            )
            .bind(seq)
            .bind(color_bucket(r, g, b))
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Upserts only the (locale, column) cells the patch names.
    async fn write_locale_metadata(tx: &mut Tx, upload_id: &str, patch: &MetadataPatch) -> Result<(), DbError> {
        for (locale, alt) in &patch.alt {
            Self::upsert_metadata_cell(tx, upload_id, locale.as_str(), "alt", alt.clone()).await?;
        }
        for (locale, title) in &patch.title {
            Self::upsert_metadata_cell(tx, upload_id, locale.as_str(), "title", title.clone()).await?;
        }
        for (locale, data) in &patch.custom_data {
            let json = Value::Object(data.clone()).to_string();
            Self::upsert_metadata_cell(tx, upload_id, locale.as_str(), "custom_data", Some(json)).await?;
        }
        Ok(())
    }

    async fn upsert_metadata_cell(
        tx: &mut Tx,
        upload_id: &str,
        locale: &str,
        column: &'static str,
        value: Option<String>,
    ) -> Result<(), DbError> {
        // `column` is one of three literals above, never client input.
        let sql = format!(
            "INSERT INTO upload_metadata (upload_id, locale, {column}) VALUES ($1, $2, $3) \
             ON CONFLICT (upload_id, locale) DO UPDATE SET {column} = excluded.{column}"
        );
        on_tx!(tx, |conn| sqlx::query(&sql)
            .bind(upload_id)
            .bind(locale)
            .bind(value)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
