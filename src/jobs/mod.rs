//! The job edge: the worker that runs the durable queue's jobs (leases, retries, heartbeats) and
//! one thin file per job kind, each an adapter around the workflow it runs (the upload workflow
//! in [`crate::uploads`], webhook delivery in [`crate::webhooks`]). Queueing is [`crate::queue`]'s.
//!
//! May use every layer below the HTTP edge; never `api` (jobs answer no HTTP request).

mod bulk_uploads;
mod create_upload;
mod deliver_webhook;
mod generate_subtitles;
mod reorder_collections;
mod transcode_video;
mod update_upload;
mod worker;

use std::future::Future;

use serde_json::Value;

pub use reorder_collections::ReorderCollections;
pub use worker::{RunOutcome, Worker};

use crate::{
    app::App,
    db::{ClaimedJob, Db, DbError, JobEnd, Tx},
    domain::{now_millis, CmaError},
    ingest::IngestError,
    queue::Job,
    storage::StorageError,
    uploads::UploadError,
};

/// What running a kind of job does (its payload type and stored name are [`Job`]'s).
pub trait BackgroundJob: Job {
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

impl From<UploadError> for JobError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Rejected(error) => JobError::Rejected(error),
            UploadError::Db(error) => error.into(),
            UploadError::Storage(error) => error.into(),
            UploadError::Internal(error) => JobError::Transient(error),
        }
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
