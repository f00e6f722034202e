//! `upload_collections`: folders for uploads (create and show; the full API comes later).

use super::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CollectionRow {
    pub id: String,
    pub label: String,
    pub position: i64,
    pub parent_id: Option<String>,
}

impl Db {
    /// Inserts a collection; without a position it goes after its last sibling.
    pub async fn insert_collection(
        &self,
        id: &str,
        label: &str,
        position: Option<i64>,
        parent_id: Option<&str>,
        now: i64,
    ) -> Result<CollectionRow, DbError> {
        let mut tx = self.begin_write().await?;
        let position = match position {
            Some(position) => position,
            None => {
                let last: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(position) FROM upload_collections WHERE parent_id IS $1")
                        .bind(parent_id)
                        .fetch_one(&mut *tx)
                        .await?;
                last.map_or(1, |p| p + 1)
            }
        };
        sqlx::query(
            r#"INSERT INTO upload_collections (id, label, position, parent_id, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $5)"#,
        )
        .bind(id)
        .bind(label)
        .bind(position)
        .bind(parent_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CollectionRow {
            id: id.to_owned(),
            label: label.to_owned(),
            position,
            parent_id: parent_id.map(str::to_owned),
        })
    }

    pub async fn find_collection(&self, id: &str) -> Result<Option<CollectionRow>, DbError> {
        let row = sqlx::query_as("SELECT id, label, position, parent_id FROM upload_collections WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Ids of the direct children, in order.
    pub async fn list_collection_children(&self, id: &str) -> Result<Vec<String>, DbError> {
        let ids = sqlx::query_scalar("SELECT id FROM upload_collections WHERE parent_id = $1 ORDER BY position, id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(ids)
    }
}
