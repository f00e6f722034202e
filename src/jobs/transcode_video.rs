//! Make a video upload's stream (`crate::video`) and serve it from the commit that finishes the
//! job; the generation it replaces goes after that commit. A run whose lease was lost (its node
//! was killed or stalled) leaves its outputs to the sweep, and the run that finishes records its own.

use serde_json::json;

use super::{finish, worker::MAX_ATTEMPTS, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    video::{TranscodeVideo, VideoError},
};

impl BackgroundJob for TranscodeVideo {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let made = match app.video.transcode(&self).await {
            Ok(Some(made)) => made,
            // Deleted, or another file by now: that file's own job makes its stream.
            Ok(None) => return finish(app.db.begin_write().await?, job, &json!({ "status": "superseded" })).await,
            Err(VideoError::Rejected(message)) => return self.fail(app, job, &message).await,
            Err(VideoError::Transient(error)) if job.attempts >= MAX_ATTEMPTS => {
                tracing::error!(error = format!("{error:#}"), "transcode failed on its last attempt");
                return self.fail(app, job, "the transcode kept failing").await;
            }
            Err(VideoError::Transient(error)) => return Err(JobError::Transient(error)),
        };
        let mut tx = app.db.begin_write().await?;
        let Some(previous) = app.video.record_ready(&mut tx, &made).await? else {
            drop(tx);
            app.video.discard(&made).await;
            return finish(app.db.begin_write().await?, job, &json!({ "status": "superseded" })).await;
        };
        if let Err(error) = finish(tx, job, &json!({ "status": "ready", "generation": made.generation })).await {
            app.video.discard(&made).await;
            return Err(error);
        }
        if let Some(previous) = previous.filter(|p| *p != made.generation) {
            app.video.delete_generation(&made.upload_id, &previous).await;
        }
        Ok(())
    }
}

impl TranscodeVideo {
    /// Records that the file cannot be streamed; the job is done (the upload stays a file).
    async fn fail(&self, app: &App, job: &ClaimedJob, message: &str) -> Result<(), JobError> {
        let mut tx = app.db.begin_write().await?;
        app.video.record_failure(&mut tx, self, message).await?;
        finish(tx, job, &json!({ "status": "errored", "error": message })).await
    }
}
