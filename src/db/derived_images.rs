//! `derived_images`: a row per derived image in the blob store, with its size and last use, so
//! that the cache stays under `ASSETD_DERIVED_CACHE_MAX_BYTES` by deleting the least recently
//! used (`derived_cache` holds their total, kept by triggers). On PostgreSQL the rows are also the
//! render leases that make several nodes render each image once: one node claims a key, the
//! others wait for its blob to appear in the shared store.

use super::{
    sql::{write_built, SqlBuilder},
    Backend, Db, DbError,
};

/// A stored derived image, as eviction sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDerivedImage {
    pub key: String,
    pub size: i64,
    /// When its blob was written: eviction deletes the row only if no render wrote it again since.
    pub stored_at: i64,
}

/// The row of a blob the sweep listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedDerivedImage {
    pub key: String,
    pub size: i64,
    /// `stored`, or `rendering` while (or, if its node died, after) a node holds the lease.
    pub state: String,
    pub locked_until: i64,
}

/// The turn to evict: one node at a time on PostgreSQL (a transaction-scoped advisory lock, held
/// until this is dropped); on SQLite there is one node, and its process takes turns itself.
pub struct EvictionTurn {
    _lock: Option<sqlx::Transaction<'static, sqlx::Postgres>>,
}

impl Db {
    /// Takes the render lease of `key` until `until`: free when nobody holds it, when its holder's
    /// lease expired (the node died mid-render), or when the blob was stored once and is missing
    /// now (purged or evicted). False while another node holds it.
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

    /// Ends the lease of a render that stored nothing: the key is free at once for the next
    /// request to try.
    pub async fn end_failed_derived_render(&self, key: &str, now: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            "UPDATE derived_images SET locked_until = 0, updated_at = $2 WHERE key = $1 AND state = 'rendering'"
        )
        .bind(key)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records that the blob of `key` (`size` bytes) was just written, ending its render lease if
    /// there is one. A render that took no lease (a single node) counts as one render.
    pub async fn store_derived_image(&self, key: &str, size: i64, now: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            r#"INSERT INTO derived_images (key, state, locked_until, renders, updated_at, size, stored_at, last_used_at)
               VALUES ($1, 'stored', 0, 1, $2, $3, $2, $2)
               ON CONFLICT (key) DO UPDATE SET state = 'stored', locked_until = 0, updated_at = $2, size = $3,
                   stored_at = $2, last_used_at = $2"#,
        )
        .bind(key)
        .bind(now)
        .bind(size)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The bytes of every derived image recorded (the triggers' running total).
    pub async fn derived_cache_bytes(&self) -> Result<i64, DbError> {
        let bytes = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT bytes FROM derived_cache WHERE id = 1").fetch_one(pool).await?
        });
        Ok(bytes)
    }

    /// Marks `keys` as used at `now` (one statement for a batch of hits).
    pub async fn touch_derived_images(&self, keys: &[String], now: i64) -> Result<(), DbError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut query = SqlBuilder::new(self.dialect(), "UPDATE derived_images SET last_used_at = ");
        query.push_bind(now).push(" WHERE last_used_at < ").push_bind(now).push(" AND key IN ").push_list(keys);
        write_built!(self, exec query, execute);
        Ok(())
    }

    /// Up to `limit` stored derived images, least recently used first.
    pub async fn least_recently_used_derived_images(&self, limit: i64) -> Result<Vec<StoredDerivedImage>, DbError> {
        let rows: Vec<(String, i64, i64)> = on_read!(self, |pool| {
            sqlx::query_as(
            "SELECT key, size, stored_at FROM derived_images WHERE state = 'stored' ORDER BY last_used_at, key LIMIT $1"
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
        });
        Ok(rows.into_iter().map(|(key, size, stored_at)| StoredDerivedImage { key, size, stored_at }).collect())
    }

    /// Forgets an evicted image, unless a render stored it again meanwhile (or holds its lease):
    /// true when the row is gone.
    pub async fn forget_evicted_derived_image(&self, image: &StoredDerivedImage) -> Result<bool, DbError> {
        let deleted = on_write!(self, |pool| sqlx::query(
            "DELETE FROM derived_images WHERE key = $1 AND state = 'stored' AND stored_at = $2"
        )
        .bind(&image.key)
        .bind(image.stored_at)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(deleted == 1)
    }

    /// Forgets the derived images whose keys start with `prefix` (their blobs were purged).
    pub async fn forget_derived_images(&self, prefix: &str) -> Result<u64, DbError> {
        // A key range rather than LIKE: it uses the primary key on both backends, and SQLite's LIKE
        // ignores case, which would match other uploads' keys.
        let forgotten = on_write!(self, |pool| sqlx::query("DELETE FROM derived_images WHERE key >= $1 AND key < $2")
            .bind(prefix)
            .bind(prefix_end(prefix))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(forgotten)
    }

    /// The sweep saw the blobs of `keys`: stamps their rows with `checked_at` and answers them
    /// (keys without a row are missing from the answer).
    pub async fn check_listed_derived_images(
        &self,
        keys: &[String],
        checked_at: i64,
    ) -> Result<Vec<CheckedDerivedImage>, DbError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = SqlBuilder::new(self.dialect(), "UPDATE derived_images SET checked_at = ");
        query.push_bind(checked_at).push(" WHERE key IN ").push_list(keys);
        query.push(" RETURNING key, size, state, locked_until");
        let rows: Vec<(String, i64, String, i64)> = write_built!(self, rows query, fetch_all);
        Ok(rows
            .into_iter()
            .map(|(key, size, state, locked_until)| CheckedDerivedImage { key, size, state, locked_until })
            .collect())
    }

    /// Records a blob the sweep found without a row (written before this table counted sizes, or
    /// a crash fell between the blob and its row), as used when it was written.
    pub async fn adopt_derived_image(
        &self,
        key: &str,
        size: i64,
        written_at: i64,
        checked_at: i64,
    ) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            r#"INSERT INTO derived_images
                   (key, state, locked_until, renders, updated_at, size, stored_at, last_used_at, checked_at)
               VALUES ($1, 'stored', 0, 0, $2, $3, $4, $4, $2)
               ON CONFLICT (key) DO NOTHING"#,
        )
        .bind(key)
        .bind(checked_at)
        .bind(size)
        .bind(written_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Corrects a listed blob's row: its size as stored, and `stored` if the lease of the render
    /// that wrote it expired before the render said so (its node died in between).
    pub async fn settle_derived_image(&self, key: &str, size: i64, now: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            r#"UPDATE derived_images SET state = 'stored', locked_until = 0, size = $2, updated_at = $3
               WHERE key = $1 AND (state = 'stored' OR locked_until < $3)"#,
        )
        .bind(key)
        .bind(size)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// After a complete listing of the derived images: forgets the rows the sweep did not check
    /// (their blob is gone), unless written or leased at or after `young_after`.
    pub async fn forget_unchecked_derived_images(&self, checked_at: i64, young_after: i64) -> Result<u64, DbError> {
        let forgotten = on_write!(self, |pool| sqlx::query(
            r#"DELETE FROM derived_images WHERE checked_at < $1 AND stored_at < $2
               AND (state = 'stored' OR locked_until < $2)"#,
        )
        .bind(checked_at)
        .bind(young_after)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(forgotten)
    }

    /// The turn to evict, or `None` while another node evicts.
    pub async fn try_derived_eviction_turn(&self) -> Result<Option<EvictionTurn>, DbError> {
        let Backend::Postgres { pool } = &self.backend else { return Ok(Some(EvictionTurn { _lock: None })) };
        let mut tx = pool.begin().await?;
        // Two keys: a key space apart from the single-key write lock of `begin_write`.
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), hashtext('derived-eviction'))",
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok(locked.then_some(EvictionTurn { _lock: Some(tx) }))
    }
}

/// The least string above every string that starts with `prefix` (keys are ASCII): the keys
/// starting with `prefix` are those in `prefix..prefix_end(prefix)`.
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_owned();
    match end.pop() {
        Some(last) if last.is_ascii() && last != '\x7f' => end.push(char::from(last as u8 + 1)),
        // Not a prefix assetd builds; an empty range forgets nothing.
        _ => return prefix.to_owned(),
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_holds_exactly_the_keys_starting_with_it() {
        let prefix = "derived/abc/";
        let end = prefix_end(prefix);
        assert_eq!(end, "derived/abc0");
        let inside = |key: &str| key >= prefix && key < end.as_str();
        assert!(inside("derived/abc/0123") && inside("derived/abc/ffff"));
        for outside in ["derived/abc", "derived/abcd/01", "derived/ab/01", "derived/ABC/01", "derived/abc0"] {
            assert!(!inside(outside), "{outside}");
        }
    }
}
