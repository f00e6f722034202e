//! The `update_upload` job: inspect the new version's file if there is one, then apply the
//! update and store the result in one transaction ([`UploadChanges::update`]).

use super::{finish, BackgroundJob, JobError};
use crate::{
    app::App,
    db::ClaimedJob,
    ingest::inspect_blob,
    queue::Job,
    storage::StorageKey,
    uploads::{UpdateUpload, UploadChanges},
};

impl Job for UpdateUpload {
    const JOB_NAME: &'static str = "update_upload";
}

impl BackgroundJob for UpdateUpload {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let facts = match &self.new_blob_key {
            Some(key) => Some(inspect_blob(&app.storage, &app.ingest, &StorageKey::from_stored(key)).await?),
            None => None,
        };
        let mut tx = app.db.begin_write().await?;
        let mut changes = UploadChanges::new(&mut tx, app);
        let document = changes.update(&self.upload_id, facts.as_ref(), |_| self.patch.clone()).await?;
        let after = changes.after_commit();
        finish(tx, job, &document).await?;
        after.run(app).await;
        Ok(())
    }
}
