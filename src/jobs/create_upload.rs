//! Create an upload: ingest the file the client PUT, then write the upload row and the job
//! result in one transaction.

use serde::{Deserialize, Serialize};

use super::{constraint_error, finish, upload_document_in, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    db::{Db, NewUpload},
    domain::{now_millis, CmaError, Creator, MetadataPatch, UploadPathParts},
    ingest::inspect_blob,
    storage::StorageKey,
    webhooks::{self, UploadEvent},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUpload {
    pub upload_id: String,
    /// The upload-request path the file was PUT to; it becomes the upload's path.
    pub path: String,
    /// The request's file, taken by `POST /uploads` before this job was queued: no PUT changes
    /// it any more, so what this job inspects is what the upload stores.
    pub blob_key: String,
    pub author: Option<String>,
    pub copyright: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub metadata: MetadataPatch,
    pub upload_collection_id: Option<String>,
    pub creator: Creator,
}

impl BackgroundJob for CreateUpload {
    const JOB_NAME: &'static str = "create_upload";

    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let facts = inspect_blob(&app.storage, &app.ingest, &StorageKey::from_stored(&self.blob_key)).await?;
        self.metadata.check_fits(facts.is_image, facts.mime_type.starts_with("video/"))?;
        let parts = UploadPathParts::parse(&self.path)
            .ok_or_else(|| CmaError::invalid_field("path", "INVALID_FORMAT", "not an upload path"))?;
        let mut tx = app.db.begin_write().await?;
        if !Db::consume_upload_request(&mut tx, &self.path, &self.upload_id).await? {
            return Err(CmaError::invalid_field(
                "path",
                "VALIDATION_UNIQUENESS",
                "this file already belongs to another upload",
            )
            .into());
        }
        let new = NewUpload {
            id: &self.upload_id,
            path: &self.path,
            basename: &parts.stem,
            extension: parts.extension.as_deref(),
            facts: &facts,
            author: self.author.as_deref(),
            copyright: self.copyright.as_deref(),
            notes: self.notes.as_deref(),
            tags: &self.tags,
            metadata: &self.metadata,
            upload_collection_id: self.upload_collection_id.as_deref(),
            creator: &self.creator,
            now: now_millis(),
        };
        Db::insert_upload(&mut tx, &new).await.map_err(|error| {
            constraint_error(
                error,
                CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "an upload with this id exists"),
                CmaError::invalid_field("upload_collection", "NOT_FOUND", "the upload collection was deleted"),
            )
        })?;
        let payload = upload_document_in(&mut tx, app, &self.upload_id).await?;
        // The event commits with the upload (the transactional outbox).
        webhooks::record_upload_event(&mut tx, app, UploadEvent::Create, &payload["data"], None).await?;
        finish(tx, job, &payload).await
    }
}
