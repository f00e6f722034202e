//! Bulk operations (tag, set collection, destroy): each upload of a batch is one step of its own,
//! a success or a failure that does not fail the rest.

use super::{BulkAction, BulkUploads, UploadChanges, UploadError};
use crate::domain::{normalize_tags, Change, UploadPatch};

/// How a batch went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub successful: u64,
    pub failed: u64,
}

impl UploadChanges<'_> {
    /// Applies a bulk action to each upload of the batch. An upload that is gone, or that the
    /// action no longer fits (its collection was deleted meanwhile), counts as failed.
    pub async fn bulk(&mut self, command: &BulkUploads) -> Result<BulkOutcome, UploadError> {
        let mut outcome = BulkOutcome::default();
        for id in &command.upload_ids {
            let applied = match &command.action {
                BulkAction::Tag(tags) => self
                    .update(id, None, |upload| {
                        let tags = normalize_tags(upload.tag_list().into_iter().chain(tags.iter().cloned()));
                        UploadPatch { tags: Change::Set(tags), ..UploadPatch::default() }
                    })
                    .await
                    .map(|_| true),
                BulkAction::SetCollection(collection) => self
                    .update(id, None, |_| UploadPatch {
                        upload_collection: Change::Set(collection.clone()),
                        ..UploadPatch::default()
                    })
                    .await
                    .map(|_| true),
                BulkAction::Destroy => self.destroy(id).await.map(|destroyed| destroyed.is_some()),
            };
            match applied {
                Ok(true) => outcome.successful += 1,
                Ok(false) | Err(UploadError::Rejected(_)) => outcome.failed += 1,
                Err(error) => return Err(error),
            }
        }
        Ok(outcome)
    }
}
