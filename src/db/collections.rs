//! `upload_collections`: folders for uploads. The tree logic lives in `domain::CollectionTree`;
//! here the rows are read and the changed ones written back.

use super::{Db, DbError, Tx};
use crate::domain::{CollectionNode, CollectionTree};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CollectionRow {
    pub id: String,
    pub label: String,
    pub position: i64,
    pub parent_id: Option<String>,
}

const SELECT_ALL: &str = "SELECT id, label, position, parent_id FROM upload_collections ORDER BY position, id";

impl Db {
    /// Every collection (they are few: a Media Area's folders).
    pub async fn list_collections(&self) -> Result<Vec<CollectionRow>, DbError> {
        Ok(on_read!(self, |pool| sqlx::query_as(SELECT_ALL).fetch_all(pool).await)?)
    }

    pub async fn list_collections_in(tx: &mut Tx) -> Result<Vec<CollectionRow>, DbError> {
        Ok(on_tx!(tx, |conn| sqlx::query_as(SELECT_ALL).fetch_all(conn).await)?)
    }

    pub async fn find_collection(&self, id: &str) -> Result<Option<CollectionRow>, DbError> {
        let row = on_read!(self, |pool| sqlx::query_as(
            "SELECT id, label, position, parent_id FROM upload_collections WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    pub async fn insert_collection(
        tx: &mut Tx,
        id: &str,
        label: &str,
        parent_id: Option<&str>,
        now: i64,
    ) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query(
            r#"INSERT INTO upload_collections (id, label, position, parent_id, created_at, updated_at)
               VALUES ($1, $2, 0, $3, $4, $4)"#,
        )
        .bind(id)
        .bind(label)
        .bind(parent_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn set_collection_label(tx: &mut Tx, id: &str, label: &str, now: i64) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query("UPDATE upload_collections SET label = $1, updated_at = $2 WHERE id = $3")
            .bind(label)
            .bind(now)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Writes the parent and position of every node that differs from `before`.
    pub async fn write_collection_tree(
        tx: &mut Tx,
        before: &[CollectionRow],
        after: &CollectionTree,
        now: i64,
    ) -> Result<(), DbError> {
        for node in after.nodes() {
            let unchanged = before
                .iter()
                .any(|row| row.id == node.id && row.parent_id == node.parent && row.position == node.position);
            if !unchanged {
                on_tx!(tx, |conn| sqlx::query(
                    "UPDATE upload_collections SET parent_id = $1, position = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(&node.parent)
                .bind(node.position)
                .bind(now)
                .bind(&node.id)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }

    /// Deletes collections; their uploads move to the root (the foreign key sets them to NULL).
    pub async fn delete_collections(tx: &mut Tx, ids: &[String]) -> Result<(), DbError> {
        // Children first, so no row ever points at a deleted parent.
        for id in ids.iter().rev() {
            on_tx!(tx, |conn| sqlx::query("DELETE FROM upload_collections WHERE id = $1")
                .bind(id)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }
}

impl From<&CollectionRow> for CollectionNode {
    fn from(row: &CollectionRow) -> Self {
        CollectionNode { id: row.id.clone(), parent: row.parent_id.clone(), position: row.position }
    }
}

/// The tree of the given rows.
pub fn collection_tree(rows: &[CollectionRow]) -> CollectionTree {
    CollectionTree::new(rows.iter().map(CollectionNode::from).collect())
}
