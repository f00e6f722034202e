//! Update an upload: optionally ingest its new file, then apply the new version, the rename and
//! the regular attributes, and store the result, all in one transaction.

use serde::{Deserialize, Serialize};

use super::{constraint_error, finish, upload_document_in, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    db::{Db, FileFacts, Tx, UploadRow},
    domain::{now_millis, Change, CmaError, UploadPatch, UploadPathParts},
    ingest::inspect_blob,
    media,
    storage::StorageKey,
    webhooks::{outbox, UploadEvent},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateUpload {
    pub upload_id: String,
    pub patch: UploadPatch,
    /// Where the new version's bytes are, when `patch.path` is set: the request's file, taken by
    /// `PUT /uploads/{id}` before this job was queued, so no PUT changes it any more.
    pub new_blob_key: Option<String>,
}

impl BackgroundJob for UpdateUpload {
    const JOB_NAME: &'static str = "update_upload";

    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let facts = match &self.new_blob_key {
            Some(key) => Some(inspect_blob(&app.storage, &app.ingest, &StorageKey::from_stored(key)).await?),
            None => None,
        };
        let now = now_millis();
        let mut tx = app.db.begin_write().await?;
        let upload = Db::find_upload_in(&mut tx, &self.upload_id).await?.ok_or_else(CmaError::not_found)?;
        // The upload as it was, for the webhooks' `previous_entity` (rendered only if one listens).
        let subscribers = outbox::subscribers(&mut tx, UploadEvent::Update).await?;
        let previous = match subscribers.is_empty() {
            true => None,
            false => Some(upload_document_in(&mut tx, app, &self.upload_id).await?["data"].take()),
        };
        let mut replaced_blob = None;
        if let (Change::Set(path), Some(facts)) = (&self.patch.path, &facts) {
            self.replace_file(&mut tx, &upload, path, facts, now).await?;
            replaced_blob = Some(upload.blob_key.clone());
        }
        let is_image = facts.as_ref().map_or(upload.is_image, |f| f.is_image);
        let is_video = facts.as_ref().map_or(upload.is_video(), |f| f.mime_type.starts_with("video/"));
        self.patch.metadata.check_fits(is_image, is_video)?;
        if let Change::Set(basename) = &self.patch.basename {
            self.rename(&mut tx, basename, now).await?;
        }
        Db::apply_upload_patch(&mut tx, &self.upload_id, &self.patch, now).await.map_err(|error| {
            constraint_error(
                error,
                CmaError::internal(),
                CmaError::invalid_field("upload_collection", "NOT_FOUND", "the upload collection was deleted"),
            )
        })?;
        let payload = upload_document_in(&mut tx, app, &self.upload_id).await?;
        if let Some(previous) = &previous {
            outbox::record_for(&mut tx, app, &subscribers, UploadEvent::Update, &payload["data"], Some(previous))
                .await?;
        }
        finish(tx, job, &payload).await?;
        if let Some(old) = replaced_blob {
            if let Err(error) = app.storage.delete(&StorageKey::from_stored(&old)).await {
                tracing::warn!(%error, upload = %self.upload_id, "could not delete the replaced file");
            }
            app.renditions.purge(&self.upload_id).await;
        }
        Ok(())
    }
}

impl UpdateUpload {
    /// Points the upload at its new file: at the new path, or at the same URL with keep_url.
    async fn replace_file(
        &self,
        tx: &mut Tx,
        upload: &UploadRow,
        path: &str,
        facts: &FileFacts,
        now: i64,
    ) -> Result<(), JobError> {
        if !Db::consume_upload_request(tx, path, &upload.id).await? {
            return Err(CmaError::invalid_field(
                "path",
                "VALIDATION_UNIQUENESS",
                "this file already belongs to another upload",
            )
            .into());
        }
        if self.patch.keep_url {
            if !media::same_format(&upload.mime_type, &facts.mime_type) {
                return Err(CmaError::invalid_field(
                    "path",
                    "VALIDATION_SAME_FORMAT",
                    "replace_strategy=keep_url needs a file of the same format",
                )
                .into());
            }
            Db::replace_upload_file(tx, &upload.id, facts, None, now).await?;
        } else {
            let parts = UploadPathParts::parse(path)
                .ok_or_else(|| CmaError::invalid_field("path", "INVALID_FORMAT", "not an upload path"))?;
            Db::replace_upload_file(tx, &upload.id, facts, Some((path, &parts.stem, parts.extension.as_deref())), now)
                .await?;
            // The old URL (and any older ones) stop serving: it is a new file at a new URL.
            Db::delete_path_aliases(tx, &upload.id).await?;
        }
        Ok(())
    }

    /// Moves the upload to `<prefix><basename>.<ext>`; the old path redirects to the new one.
    async fn rename(&self, tx: &mut Tx, basename: &str, now: i64) -> Result<(), JobError> {
        let current = Db::find_upload_in(tx, &self.upload_id).await?.ok_or_else(CmaError::not_found)?;
        let parts = UploadPathParts::parse(&current.path)
            .ok_or_else(|| anyhow::anyhow!("stored path {} is not an upload path", current.path))?;
        let new_path = parts.with_stem(basename);
        if !Db::path_is_free_for(tx, &new_path, &self.upload_id).await? {
            return Err(
                CmaError::invalid_field("basename", "VALIDATION_UNIQUENESS", format!("{new_path} is taken")).into()
            );
        }
        Db::rename_upload(tx, &self.upload_id, &current.path, &new_path, basename, now).await?;
        Ok(())
    }
}
