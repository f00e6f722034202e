//! What the orphaned-blob sweep (`crate::cleanup`) asks: which of a batch of stored keys the
//! database still needs.

use std::collections::HashSet;

use super::{
    sql::{read_built, SqlBuilder},
    Db, DbError,
};

/// Which of a batch of original-file keys the database still needs.
#[derive(Debug, Default)]
pub struct BlobReferences {
    /// Keys an upload points at.
    pub by_uploads: HashSet<String>,
    /// Keys of upload requests whose file may still become an upload: not bound to one yet, and
    /// either not expired long enough or named by a job that has not finished.
    pub by_requests: HashSet<String>,
}

impl Db {
    /// Which of `keys` are needed (see [`BlobReferences`]); requests that expired before
    /// `expired_before` (ms) no longer keep their file unless a queued or running job names it.
    ///
    /// One statement, so one snapshot: a key moves from its request to its upload in a single
    /// transaction (the create or update job), and a statement sees it on one side or the other,
    /// never between two queries. Job payloads are matched with LIKE, which can only match more
    /// (keep more) than an exact comparison.
    pub async fn blob_references(&self, keys: &[String], expired_before: i64) -> Result<BlobReferences, DbError> {
        if keys.is_empty() {
            return Ok(BlobReferences::default());
        }
        let mut query = SqlBuilder::new(self.dialect(), "SELECT blob_key, 'upload' FROM uploads WHERE blob_key IN ");
        query.push_list(keys);
        query.push(
            " UNION ALL SELECT r.blob_key, 'request' FROM upload_requests r \
             WHERE r.consumed_by IS NULL AND r.blob_key IN ",
        );
        query.push_list(keys);
        query.push(" AND (r.expires_at >= ").push_bind(expired_before).push(
            " OR EXISTS (SELECT 1 FROM jobs j WHERE j.state IN ('queued', 'running') \
             AND j.payload LIKE '%' || r.blob_key || '%'))",
        );
        let rows: Vec<(String, String)> = read_built!(self, rows query, fetch_all);
        let mut references = BlobReferences::default();
        for (key, holder) in rows {
            match holder.as_str() {
                "upload" => references.by_uploads.insert(key),
                _ => references.by_requests.insert(key),
            };
        }
        Ok(references)
    }

    /// Which of `ids` are uploads.
    pub async fn existing_upload_ids(&self, ids: &[String]) -> Result<HashSet<String>, DbError> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut query = SqlBuilder::new(self.dialect(), "SELECT id FROM uploads WHERE id IN ");
        query.push_list(ids);
        let found: Vec<String> = read_built!(self, scalar query, fetch_all);
        Ok(found.into_iter().collect())
    }
}
