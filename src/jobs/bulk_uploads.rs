//! The `bulk_uploads` job: tag, move or destroy a batch of uploads in one transaction
//! ([`UploadChanges::bulk`]); its result counts the successes and failures.

use serde_json::json;

use super::{finish, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    queue::Job,
    uploads::{BulkUploads, UploadChanges},
};

impl Job for BulkUploads {
    const JOB_NAME: &'static str = "bulk_uploads";
}

impl BackgroundJob for BulkUploads {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let mut tx = app.db.begin_write().await?;
        let mut changes = UploadChanges::new(&mut tx, app);
        let outcome = changes.bulk(&self).await?;
        let after = changes.after_commit();
        let result = json!({ "data": [], "meta": { "successful": outcome.successful, "failed": outcome.failed } });
        finish(tx, job, &result).await?;
        after.run(app).await;
        Ok(())
    }
}
