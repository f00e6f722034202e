//! Reorder upload collections: apply several moves at once and answer every collection.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{finish, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    db::{collection_tree, Db},
    domain::{now_millis, CollectionMove},
    queue::Job,
    views::collection_resource,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReorderCollections {
    pub moves: Vec<StoredMove>,
}

/// A move as stored in the job payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMove {
    pub id: String,
    pub parent: Option<String>,
    pub position: i64,
}

impl From<CollectionMove> for StoredMove {
    fn from(m: CollectionMove) -> Self {
        StoredMove { id: m.id, parent: m.parent, position: m.position }
    }
}

impl Job for ReorderCollections {
    const JOB_NAME: &'static str = "reorder_collections";
}

impl BackgroundJob for ReorderCollections {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let moves: Vec<CollectionMove> = self
            .moves
            .into_iter()
            .map(|m| CollectionMove { id: m.id, parent: m.parent, position: m.position })
            .collect();
        let now = now_millis();
        let mut tx = app.db.begin_write().await?;
        let before = Db::list_collections_in(&mut tx).await?;
        let mut tree = collection_tree(&before);
        tree.apply_moves(&moves)?;
        Db::write_collection_tree(&mut tx, &before, &tree, now).await?;
        let after = Db::list_collections_in(&mut tx).await?;
        let tree = collection_tree(&after);
        let data: Vec<Value> =
            after.iter().map(|row| collection_resource(row, &tree.children_of(Some(&row.id)))).collect();
        finish(tx, job, &json!({ "data": data })).await
    }
}
