//! What an upload change does once its transaction committed: never before, since a rollback
//! would leave the upload pointing at a deleted file or the worker woken for nothing.

use crate::{
    app::App,
    storage::StorageKey,
    video::{self, StreamChange},
};

/// Collected by the steps of [`super::UploadChanges`]; [`AfterCommit::run`] it after the commit.
#[derive(Debug, Default)]
#[must_use = "run it once the transaction committed"]
pub struct AfterCommit {
    /// Files no upload points at any more (replaced or destroyed), with their upload.
    pub(super) removed_files: Vec<(String, String)>,
    /// Webhook calls recorded (their delivery jobs are queued).
    pub(super) webhook_calls: usize,
    /// Transcode jobs queued.
    pub(super) transcodes: usize,
    /// Video stream outputs no longer served (upload id, generation): a new version replaced them.
    pub(super) superseded_streams: Vec<(String, String)>,
    /// Uploads destroyed with a video stream: all its outputs go.
    pub(super) destroyed_streams: Vec<String>,
}

impl AfterCommit {
    /// Notes what a change of an upload's file did to its stream.
    pub(super) fn stream_changed(&mut self, upload_id: &str, change: StreamChange) {
        self.transcodes += usize::from(change.queued);
        if let Some(generation) = change.superseded {
            self.superseded_streams.push((upload_id.to_owned(), generation));
        }
    }

    /// Wakes the worker for the recorded webhook calls, deletes the files no upload points at and
    /// purges those uploads' renditions. Failures are logged: the change stands, and what is left
    /// is only wasted space (the cleanup sweep removes orphaned files; rendition keys hold the
    /// md5, so stale ones are never served).
    pub async fn run(self, app: &App) {
        if self.webhook_calls > 0 || self.transcodes > 0 {
            app.jobs.wake();
        }
        for (upload_id, generation) in &self.superseded_streams {
            video::delete_generation(&app.storage, upload_id, generation).await;
        }
        for upload_id in &self.destroyed_streams {
            video::delete_streams(&app.storage, upload_id).await;
        }
        for (upload_id, blob_key) in self.removed_files {
            if let Err(error) = app.storage.delete(&StorageKey::from_stored(&blob_key)).await {
                tracing::warn!(%error, upload = %upload_id, "could not delete a file no upload uses any more");
            }
            app.renditions.purge(&upload_id).await;
        }
    }
}
