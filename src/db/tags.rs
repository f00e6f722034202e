//! Upload tags: the ones created explicitly plus every tag in use on an upload.

use super::{sql::escape_like, Db, DbError};

#[derive(Debug, Clone, PartialEq)]
pub struct TagPage {
    pub names: Vec<String>,
    pub total_count: i64,
}

impl Db {
    /// Tags sorted by name, optionally those containing `query` (case-insensitive).
    pub async fn list_tags(&self, query: Option<&str>, offset: i64, limit: i64) -> Result<TagPage, DbError> {
        let pattern = query.map(|q| format!("%{}%", escape_like(&q.to_lowercase())));
        let all_tags = r#"SELECT name FROM upload_tags UNION SELECT tag FROM upload_tag_links"#;
        let filter = "WHERE $1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\'";
        let total: i64 =
            on_read!(self, |pool| sqlx::query_scalar(&format!("SELECT COUNT(*) FROM ({all_tags}) t {filter}"))
                .bind(&pattern)
                .fetch_one(pool)
                .await)?;
        let names = on_read!(self, |pool| sqlx::query_scalar(&format!(
            "SELECT name FROM ({all_tags}) t {filter} ORDER BY name LIMIT $2 OFFSET $3"
        ))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?;
        Ok(TagPage { names, total_count: total })
    }

    /// Creates a tag; creating an existing one is not an error.
    pub async fn insert_tag(&self, name: &str, now: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            "INSERT INTO upload_tags (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        )
        .bind(name)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
