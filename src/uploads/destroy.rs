//! Destroying an upload.

use serde_json::Value;

use super::{UploadChanges, UploadError};
use crate::{db::Db, views::document, webhooks::UploadEvent};

impl UploadChanges<'_> {
    /// Destroys the upload; returns its document as it was (`None`: there is no such upload).
    /// Its file and renditions go after the commit; its URL 404s from the commit on.
    pub async fn destroy(&mut self, upload_id: &str) -> Result<Option<Value>, UploadError> {
        let Some(upload) = Db::find_upload_in(self.tx, upload_id).await? else { return Ok(None) };
        let resource = self.resource_of(&upload).await?;
        Db::delete_upload(self.tx, upload_id).await?;
        // The delete event commits with the delete (the transactional outbox).
        self.record(UploadEvent::Delete, &resource, None).await?;
        if upload.video_status.is_some() {
            self.after.destroyed_streams.push(upload.id.clone());
        }
        self.after.removed_files.push((upload.id, upload.blob_key));
        Ok(Some(document(resource)))
    }
}
