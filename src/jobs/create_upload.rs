//! The `create_upload` job: inspect the file the client PUT, then create the upload and store
//! the result in one transaction ([`UploadChanges::create`]).

use super::{finish, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    ingest::inspect_blob,
    queue::Job,
    storage::StorageKey,
    uploads::{CreateUpload, UploadChanges},
};

impl Job for CreateUpload {
    const JOB_NAME: &'static str = "create_upload";
}

impl BackgroundJob for CreateUpload {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let facts = inspect_blob(&app.storage, &app.ingest, &StorageKey::from_stored(&self.blob_key)).await?;
        let mut tx = app.db.begin_write().await?;
        let mut changes = UploadChanges::new(&mut tx, app);
        let document = changes.create(&self, &facts).await?;
        let after = changes.after_commit();
        finish(tx, job, &document).await?;
        after.run(app).await;
        Ok(())
    }
}
