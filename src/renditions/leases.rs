//! Render leases across nodes (PostgreSQL): the node that misses the cache first takes the lease
//! of the key and renders; the others wait for its blob. On one node (SQLite) there are no leases:
//! the in-process single flight is enough.

use std::time::Duration;

use super::Renditions;
use crate::{
    imaging::TransformError,
    storage::{BlobRead, StorageKey},
};

/// A render lease outlives the transform timeout by this much before another node may take over.
const LEASE_MARGIN_MS: i64 = 10_000;
/// How often a node waiting for another node's render looks for the blob.
const LEASE_POLL: Duration = Duration::from_millis(50);

/// What a render lease tells a node that missed the cache.
pub(super) enum Turn {
    /// This node renders the image.
    Render { leased: bool },
    /// Another node stored it meanwhile.
    Stored(BlobRead),
}

impl Renditions {
    /// Across nodes: takes the render lease of `key`, or waits while another node renders it and
    /// answers its stored blob. The wait is bounded by the lease: a node that died mid-render
    /// leaves a lease that expires, and then this node renders. Should the database fail, this
    /// node renders anyway (a duplicate render beats an error).
    pub(super) async fn cross_node_turn(&self, key: &StorageKey) -> Result<Turn, TransformError> {
        let Some(db) = &self.leases else { return Ok(Turn::Render { leased: false }) };
        let timeout = self.renderer.settings().timeout;
        let lease = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 4) + LEASE_MARGIN_MS;
        loop {
            let now = crate::domain::now_millis();
            match db.claim_derived_render(key.as_str(), now, now + lease).await {
                Ok(true) => {
                    // Stored by another node between our miss and the claim: nothing to render.
                    if let Some(stored) = self.stored(key).await? {
                        self.cache.record(key, stored.total_size).await;
                        return Ok(Turn::Stored(stored));
                    }
                    if let Err(error) = db.count_derived_render(key.as_str()).await {
                        tracing::warn!(%error, "could not count a render");
                    }
                    return Ok(Turn::Render { leased: true });
                }
                Ok(false) => {
                    tokio::time::sleep(LEASE_POLL).await;
                    if let Some(stored) = self.stored(key).await? {
                        return Ok(Turn::Stored(stored));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, key = key.as_str(), "render lease unavailable; rendering anyway");
                    return Ok(Turn::Render { leased: false });
                }
            }
        }
    }

    /// Frees the lease of a render that stored nothing, for the next request to try.
    pub(super) async fn end_failed_lease(&self, key: &StorageKey) {
        if let Some(db) = &self.leases {
            if let Err(error) = db.end_failed_derived_render(key.as_str(), crate::domain::now_millis()).await {
                tracing::warn!(%error, key = key.as_str(), "could not end a render lease");
            }
        }
    }
}
