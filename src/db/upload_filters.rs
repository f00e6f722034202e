//! `upload_filters`: saved Media-Area searches.

use super::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadFilterRow {
    pub id: String,
    pub name: String,
    pub filter: String,
    pub shared: bool,
}

impl Db {
    pub async fn insert_upload_filter(&self, row: &UploadFilterRow, now: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            r#"INSERT INTO upload_filters (id, name, filter, shared, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $5)"#,
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.filter)
        .bind(row.shared)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replaces name and filter, and `shared` when given. False if the filter does not exist.
    pub async fn update_upload_filter(
        &self,
        id: &str,
        name: &str,
        filter: &str,
        shared: Option<bool>,
        now: i64,
    ) -> Result<bool, DbError> {
        let result = on_write!(self, |pool| sqlx::query(
            r#"UPDATE upload_filters SET name = $1, filter = $2, shared = COALESCE($3, shared), updated_at = $4
               WHERE id = $5"#,
        )
        .bind(name)
        .bind(filter)
        .bind(shared)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }

    pub async fn find_upload_filter(&self, id: &str) -> Result<Option<UploadFilterRow>, DbError> {
        let row =
            on_read!(self, |pool| sqlx::query_as("SELECT id, name, filter, shared FROM upload_filters WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await)?;
        Ok(row)
    }

    /// Every saved filter, oldest first.
    pub async fn list_upload_filters(&self) -> Result<Vec<UploadFilterRow>, DbError> {
        let rows = on_read!(self, |pool| sqlx::query_as(
            "SELECT id, name, filter, shared FROM upload_filters ORDER BY created_at, id"
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn delete_upload_filter(&self, id: &str) -> Result<bool, DbError> {
        let result = on_write!(self, |pool| sqlx::query("DELETE FROM upload_filters WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }
}
