//! The job queue's producer side: what a job is (a stored name and a typed payload), queueing one
//! inside the caller's write transaction (so it exists exactly when the change it follows does),
//! and the handle that wakes this node's worker once that transaction committed.
//!
//! Owns no SQL (the queries are `db/jobs.rs`'s) and runs nothing: the worker and what each kind
//! of job does are [`crate::jobs`]'s. May use `db` and `domain` only, so that every layer that
//! produces work (the upload workflow, webhooks, the HTTP edge) can queue it.

use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::Notify;

use crate::{
    db::{Db, DbError, Tx},
    domain::{new_opaque_id, now_millis},
};

/// A kind of job: its payload type. `JOB_NAME` is stored with every queued job: never rename it.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    const JOB_NAME: &'static str;
}

/// Queues `job` in `tx`, to run as soon as a worker is free; returns its id (the 202's job id).
/// Wake the worker ([`JobWakeup::wake`]) once `tx` committed.
pub async fn enqueue_in<J: Job>(tx: &mut Tx, job: &J) -> Result<String, DbError> {
    let now = now_millis();
    enqueue_at_in(tx, job, now).await
}

/// Like [`enqueue_in`], to run no earlier than `run_after` (milliseconds since the epoch).
pub async fn enqueue_at_in<J: Job>(tx: &mut Tx, job: &J, run_after: i64) -> Result<String, DbError> {
    let id = new_opaque_id();
    let payload = serde_json::to_string(job)?;
    Db::enqueue_job(tx, &id, J::JOB_NAME, &payload, now_millis(), run_after).await?;
    Ok(id)
}

/// Wakes this node's idle worker at once instead of at its next poll (other nodes find the
/// work at theirs). Cheap to clone: every clone wakes the same worker.
#[derive(Debug, Clone, Default)]
pub struct JobWakeup(Arc<Notify>);

impl JobWakeup {
    /// Call after a commit that queued work.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next [`JobWakeup::wake`] (or at once if one came while nobody waited).
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
