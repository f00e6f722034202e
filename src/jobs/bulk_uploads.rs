//! Bulk operations on uploads (tag, set collection, destroy). Each upload counts as a success or
//! a failure on its own: one bad id does not fail the rest.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{finish, upload_document_in, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    db::Db,
    domain::{normalize_tags, now_millis, Change, UploadPatch},
    storage::StorageKey,
    webhooks::{outbox, UploadEvent},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BulkAction {
    /// Adds these tags to each upload's own.
    Tag(Vec<String>),
    /// Moves each upload into this collection (None = root).
    SetCollection(Option<String>),
    Destroy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkUploads {
    pub action: BulkAction,
    pub upload_ids: Vec<String>,
}

impl BackgroundJob for BulkUploads {
    const JOB_NAME: &'static str = "bulk_uploads";

    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let now = now_millis();
        let mut tx = app.db.begin_write().await?;
        let (mut successful, mut failed) = (0u64, 0u64);
        let mut removed_blobs = Vec::new();
        // Each upload changed or destroyed is an update or delete event for the webhooks.
        let event = match self.action {
            BulkAction::Destroy => UploadEvent::Delete,
            _ => UploadEvent::Update,
        };
        let subscribers = outbox::subscribers(&mut tx, event).await?;
        for id in &self.upload_ids {
            let Some(upload) = Db::find_upload_in(&mut tx, id).await? else {
                failed += 1;
                continue;
            };
            let before = match subscribers.is_empty() {
                true => None,
                false => Some(upload_document_in(&mut tx, app, id).await?["data"].take()),
            };
            match &self.action {
                BulkAction::Tag(tags) => {
                    let tags = normalize_tags(upload.tag_list().into_iter().chain(tags.iter().cloned()));
                    let patch = UploadPatch { tags: Change::Set(tags), ..UploadPatch::default() };
                    Db::apply_upload_patch(&mut tx, id, &patch, now).await?;
                }
                BulkAction::SetCollection(collection) => {
                    let patch =
                        UploadPatch { upload_collection: Change::Set(collection.clone()), ..UploadPatch::default() };
                    if let Err(error) = Db::apply_upload_patch(&mut tx, id, &patch, now).await {
                        // The collection was deleted after the request was accepted: nothing can move.
                        if error.is_foreign_key_violation() {
                            failed += 1;
                            continue;
                        }
                        return Err(error.into());
                    }
                }
                BulkAction::Destroy => {
                    Db::delete_upload(&mut tx, id).await?;
                    removed_blobs.push((id.clone(), upload.blob_key.clone()));
                }
            }
            if let Some(before) = &before {
                if event == UploadEvent::Delete {
                    outbox::record_for(&mut tx, app, &subscribers, event, before, None).await?;
                } else {
                    let after = upload_document_in(&mut tx, app, id).await?;
                    outbox::record_for(&mut tx, app, &subscribers, event, &after["data"], Some(before)).await?;
                }
            }
            successful += 1;
        }
        finish(tx, job, &json!({ "data": [], "meta": { "successful": successful, "failed": failed } })).await?;
        for (id, key) in removed_blobs {
            if let Err(error) = app.storage.delete(&StorageKey::from_stored(&key)).await {
                tracing::warn!(%error, "could not delete the file of a destroyed upload");
            }
            app.renditions.purge(&id).await;
        }
        Ok(())
    }
}
