//! Make a `preparing` track's subtitles with the speech-to-text command (`crate::video`) and
//! record the track `ready` in the commit that finishes the job, or `errored` with the reason.
//! A run whose lease was lost wrote the same storage key the run that finishes writes.

use serde_json::json;

use super::{finish, worker::MAX_ATTEMPTS, BackgroundJob, JobError};
use crate::{
    app::App,
    db::{ClaimedJob, Db},
    video::{GenerateSubtitles, VideoError},
};

impl BackgroundJob for GenerateSubtitles {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let end = match app.video.generate_subtitles(&self).await {
            Ok(Some(key)) => Ok(key),
            Ok(None) => return finish(app.db.begin_write().await?, job, &json!({ "status": "superseded" })).await,
            Err(VideoError::Rejected(message)) => Err(message),
            Err(VideoError::Transient(error)) if job.attempts >= MAX_ATTEMPTS => {
                tracing::error!(error = format!("{error:#}"), "making subtitles failed on its last attempt");
                Err("making the subtitles kept failing".to_owned())
            }
            Err(VideoError::Transient(error)) => return Err(JobError::Transient(error)),
        };
        let mut tx = app.db.begin_write().await?;
        let recorded = Db::end_preparing_track(
            &mut tx,
            &self.upload_id,
            &self.track_id,
            match &end {
                Ok(key) => Ok(key.as_str()),
                Err(message) => Err(message.as_str()),
            },
        )
        .await?;
        let result = match &end {
            Ok(_) => json!({ "status": "ready" }),
            Err(message) => json!({ "status": "errored", "error": message }),
        };
        finish(tx, job, &result).await?;
        if !recorded && end.is_ok() {
            // The track was deleted while its subtitles were made.
            app.video.delete_track_files(&self.upload_id, &self.track_id).await;
        }
        Ok(())
    }
}
