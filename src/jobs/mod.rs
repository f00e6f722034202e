//! The job edge: a durable queue in the database (a 202 is answered only once the job row is
//! committed), one file per job kind, and the worker that runs them.

mod bulk_uploads;
mod create_upload;
mod deliver_webhook;
mod reorder_collections;
mod update_upload;
mod worker;

use std::future::Future;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

pub use bulk_uploads::{BulkAction, BulkUploads};
pub use create_upload::CreateUpload;
pub use deliver_webhook::DeliverWebhook;
pub use reorder_collections::ReorderCollections;
pub use update_upload::UpdateUpload;
pub use worker::{RunOutcome, Worker};

use crate::{
    app::App,
    db::{ClaimedJob, Db, DbError, JobEnd, Tx},
    domain::{new_opaque_id, now_millis, CmaError},
    ingest::IngestError,
    storage::StorageError,
    views::{document, upload_resource},
};

/// A kind of job. `JOB_NAME` is stored with every queued job: never rename it.
pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    const JOB_NAME: &'static str;

    /// Does the work. On success the job must have stored its result with [`Db::finish_job`]
    /// in the transaction that did the work. It may run more than once (after a crash), so it
    /// must be safe to repeat.
    fn run(self, app: &App, job: &ClaimedJob) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Final: the job result is this error (a 4xx for the client).
    #[error("rejected: {0}")]
    Rejected(CmaError),
    /// Passing: the job is retried later, and fails with a 500 result after the last attempt.
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
    /// Another worker took the job over (this one's lease expired): its work was rolled back and
    /// the other run's result stands.
    #[error("the job's lease was lost to another worker")]
    LeaseLost,
}

impl From<CmaError> for JobError {
    fn from(error: CmaError) -> Self {
        JobError::Rejected(error)
    }
}

impl From<DbError> for JobError {
    fn from(error: DbError) -> Self {
        JobError::Transient(error.into())
    }
}

impl From<StorageError> for JobError {
    fn from(error: StorageError) -> Self {
        if error.is_not_found() {
            return JobError::Rejected(CmaError::invalid_field("path", "FILE_NOT_FOUND", "the uploaded file is gone"));
        }
        JobError::Transient(error.into())
    }
}

impl From<IngestError> for JobError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Rejected(error) => JobError::Rejected(error),
            IngestError::Storage(error) => error.into(),
            IngestError::Internal(error) => JobError::Transient(error),
        }
    }
}

/// Queues `job` and wakes this node's worker. Returns the job id for the 202 answer.
pub async fn enqueue<J: BackgroundJob>(app: &App, job: &J) -> Result<String, DbError> {
    let id = new_opaque_id();
    let payload = serde_json::to_string(job)?;
    let mut tx = app.db.begin_write().await?;
    Db::enqueue_job(&mut tx, &id, J::JOB_NAME, &payload, now_millis()).await?;
    tx.commit().await?;
    app.job_wakeup.notify_one();
    Ok(id)
}

/// The body of a 202 answer: `{"data": {"type": "job", "id": …}}`.
pub fn job_document(job_id: &str) -> Value {
    json!({ "data": { "type": "job", "id": job_id } })
}

/// The `{data: upload}` document of an upload, read inside `tx` (so it shows the job's own writes).
async fn upload_document_in(tx: &mut Tx, app: &App, upload_id: &str) -> Result<Value, JobError> {
    let row = Db::find_upload_in(tx, upload_id).await?.ok_or_else(CmaError::not_found)?;
    let metadata = Db::list_metadata_in(tx, upload_id).await?;
    Ok(document(upload_resource(&row, &metadata, &app.views)))
}

/// Stores a successful result and commits the job's transaction.
/// The job's work and its result commit together, and only while this worker holds the job:
/// a run whose lease was taken over rolls back, so each job takes effect exactly once.
async fn finish(mut tx: Tx, job: &ClaimedJob, payload: &Value) -> Result<(), JobError> {
    if !Db::finish_job(&mut tx, job, JobEnd::Done, 200, &payload.to_string(), now_millis()).await? {
        return Err(JobError::LeaseLost);
    }
    tx.commit().await?;
    Ok(())
}

/// Maps database constraint failures that a concurrent client action can cause to 422s.
fn constraint_error(error: DbError, unique: CmaError, foreign_key: CmaError) -> JobError {
    if error.is_unique_violation() {
        JobError::Rejected(unique)
    } else if error.is_foreign_key_violation() {
        JobError::Rejected(foreign_key)
    } else {
        error.into()
    }
}
