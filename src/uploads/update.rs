//! Updating an upload: a new version of its file (at a new URL, or at the same one with
//! `keep_url`), a rename, and its regular attributes, in that order.

use serde_json::Value;

use super::{constraint_error, rules, UploadChanges, UploadError};
use crate::{
    db::{Db, FileFacts, UploadRow},
    domain::{now_millis, Change, CmaError, UploadPatch, UploadPathParts},
    video,
    webhooks::UploadEvent,
};

impl UploadChanges<'_> {
    /// Applies the patch `patch_for` makes of the upload as it is now (most callers ignore the
    /// row; a bulk tag adds to its tags), with `new_file` the inspected file of `patch.path`.
    /// Returns the upload's document after the change.
    pub async fn update(
        &mut self,
        upload_id: &str,
        new_file: Option<&FileFacts>,
        patch_for: impl FnOnce(&UploadRow) -> UploadPatch,
    ) -> Result<Value, UploadError> {
        let now = now_millis();
        let upload = Db::find_upload_in(self.tx, upload_id).await?.ok_or_else(CmaError::not_found)?;
        let patch = patch_for(&upload);
        // The upload as it was, for the webhooks' `previous_entity` (rendered only if one listens).
        let previous = match self.anyone_listens(UploadEvent::Update).await? {
            true => Some(self.resource_of(&upload).await?),
            false => None,
        };
        let mut path = upload.path.clone();
        let replaced = match (&patch.path, new_file) {
            (Change::Set(new_path), Some(facts)) => {
                self.replace_file(&upload, &patch, new_path, facts, now).await?;
                if !patch.keep_url {
                    path.clone_from(new_path);
                }
                true
            }
            _ => false,
        };
        let is_image = new_file.map_or(upload.is_image, |f| f.is_image);
        let is_video = new_file.map_or(upload.is_video(), |f| f.mime_type.starts_with("video/"));
        patch.metadata.check_fits(is_image, is_video)?;
        if let Change::Set(basename) = &patch.basename {
            self.rename(upload_id, &path, basename, now).await?;
        }
        Db::apply_upload_patch(self.tx, upload_id, &patch, now)
            .await
            .map_err(|error| constraint_error(error, CmaError::internal(), rules::collection_gone()))?;
        Db::refresh_search_document(self.tx, upload_id).await?;
        let document = self.current_document(upload_id).await?;
        if let Some(previous) = &previous {
            self.record(UploadEvent::Update, &document["data"], Some(previous)).await?;
        }
        if replaced {
            self.after.removed_files.push((upload.id, upload.blob_key));
        }
        Ok(document)
    }

    /// Points the upload at its new file: at the new path, or at the same URL with keep_url.
    async fn replace_file(
        &mut self,
        upload: &UploadRow,
        patch: &UploadPatch,
        path: &str,
        facts: &FileFacts,
        now: i64,
    ) -> Result<(), UploadError> {
        if !Db::consume_upload_request(self.tx, path, &upload.id).await? {
            return Err(rules::already_used().into());
        }
        if patch.keep_url {
            rules::check_same_format(&upload.mime_type, &facts.mime_type)?;
            Db::replace_upload_file(self.tx, &upload.id, facts, None, now).await?;
        } else {
            let parts = UploadPathParts::parse(path).ok_or_else(rules::not_an_upload_path)?;
            let new_path = (path, parts.stem.as_str(), parts.extension.as_deref());
            Db::replace_upload_file(self.tx, &upload.id, facts, Some(new_path), now).await?;
            // The old URL (and any older ones) stop serving: it is a new file at a new URL.
            Db::delete_path_aliases(self.tx, &upload.id).await?;
        }
        let stream = video::prepare_stream_in(self.tx, &upload.id, Some(upload), facts, patch.keep_url).await?;
        self.after.stream_changed(&upload.id, stream);
        Ok(())
    }

    /// Moves the upload from `current_path` to `<prefix><basename>.<ext>`; the old path redirects.
    async fn rename(
        &mut self,
        upload_id: &str,
        current_path: &str,
        basename: &str,
        now: i64,
    ) -> Result<(), UploadError> {
        let parts = UploadPathParts::parse(current_path)
            .ok_or_else(|| anyhow::anyhow!("stored path {current_path} is not an upload path"))?;
        let new_path = parts.with_stem(basename);
        if !Db::path_is_free_for(self.tx, &new_path, upload_id).await? {
            let taken = format!("{new_path} is taken");
            return Err(CmaError::invalid_field("basename", "VALIDATION_UNIQUENESS", taken).into());
        }
        Db::rename_upload(self.tx, upload_id, current_path, &new_path, basename, now).await?;
        Ok(())
    }
}
