//! The worker: claims jobs one at a time from the queue, runs up to N at once, retries passing
//! failures with backoff, and keeps the lease of long jobs alive.

use std::{sync::Arc, time::Duration};

use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

use super::{BackgroundJob, JobError, ReorderCollections};
use crate::{
    app::App,
    db::{ClaimedJob, Db, DbError, JobEnd},
    domain::{now_millis, CmaError},
    metrics::{JobLabels, JobOutcomeLabels},
    queue::Job,
    uploads::{BulkUploads, CreateUpload, UpdateUpload},
    video::{GenerateSubtitles, TranscodeVideo},
    webhooks::DeliverWebhook,
};

/// The jobs that run in one of the node's video slots ([`crate::video::Transcoder`]).
const VIDEO_JOBS: &[&str] = &[TranscodeVideo::JOB_NAME, GenerateSubtitles::JOB_NAME];

/// How long a claimed job stays ours without a heartbeat.
const LEASE_MS: i64 = 30_000;
/// Heartbeat period (a third of the lease).
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often an idle worker looks for jobs queued by other nodes.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Attempts before a job that keeps failing for passing reasons gets a 500 result.
pub(super) const MAX_ATTEMPTS: i64 = 5;
/// Finished jobs' results are kept this long for clients to poll.
const RESULT_RETENTION_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Executed,
    EmptyQueue,
}

#[derive(Clone)]
pub struct Worker {
    app: Arc<App>,
}

impl Worker {
    pub fn new(app: Arc<App>) -> Self {
        Worker { app }
    }

    /// Claims and runs one job, if any is ready (tests drive the queue with this).
    pub async fn run_one(&self) -> Result<RunOutcome, DbError> {
        match self.app.db.claim_next_job(now_millis(), LEASE_MS).await? {
            Some(job) => {
                self.execute(job).await;
                Ok(RunOutcome::Executed)
            }
            None => Ok(RunOutcome::EmptyQueue),
        }
    }

    /// Runs jobs, `concurrency` at a time, until `stop` turns true; then waits for running jobs.
    pub async fn run_until_stopped(self, concurrency: usize, mut stop: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut last_cleanup = 0;
        while !*stop.borrow() {
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            // With every video slot of this node taken, a transcode claimed here would only wait
            // (holding a worker slot and its lease): other nodes take it.
            let skip: &[&str] = if self.app.video.has_free_slot() { &[] } else { VIDEO_JOBS };
            match self.app.db.claim_next_job_except(now_millis(), LEASE_MS, skip).await {
                Ok(Some(job)) => {
                    let worker = self.clone();
                    tokio::spawn(async move {
                        worker.execute(job).await;
                        drop(slot);
                    });
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "cannot claim jobs"),
            }
            drop(slot);
            if now_millis() - last_cleanup > 3_600_000 {
                last_cleanup = now_millis();
                self.delete_old_results().await;
            }
            tokio::select! {
                () = self.app.jobs.woken() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => {}
            }
        }
        // Running jobs hold slots: taking all of them means they finished.
        let all = u32::try_from(concurrency.max(1)).unwrap_or(u32::MAX);
        if tokio::time::timeout(Duration::from_secs(20), slots.acquire_many(all)).await.is_err() {
            tracing::warn!("jobs still running at shutdown; their leases expire and another run picks them up");
        }
    }

    async fn execute(&self, job: ClaimedJob) {
        let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
        self.execute_in_span(job).instrument(span).await;
    }

    async fn execute_in_span(&self, job: ClaimedJob) {
        if job.attempts > MAX_ATTEMPTS {
            // Claimed again and again without finishing: its runs die with their node (a crash, an
            // out-of-memory kill). Give up instead of taking the next node down too.
            tracing::error!("job claimed {} times without finishing; giving up", job.attempts);
            self.store_failure(&job, JobEnd::Dead, &CmaError::internal()).await;
            self.record_run(&job, "dead", None);
            return;
        }
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            outcome = self.dispatch(&job) => outcome,
            () = self.heartbeat(&job) => Err(JobError::LeaseLost),
        };
        let took = started.elapsed();
        let label = match &outcome {
            Ok(()) => "done",
            Err(JobError::Rejected(_)) => "rejected",
            Err(JobError::LeaseLost) => "lease_lost",
            Err(JobError::Transient(_)) if job.attempts < MAX_ATTEMPTS => "retried",
            Err(JobError::Transient(_)) => "dead",
        };
        self.record_run(&job, label, Some(took));
        match outcome {
            Ok(()) => tracing::info!(elapsed_ms = took.as_millis() as u64, "job done"),
            Err(JobError::Rejected(error)) => {
                tracing::info!(code = error.code, "job rejected");
                self.store_failure(&job, JobEnd::Done, &error).await;
            }
            Err(JobError::LeaseLost) => tracing::warn!("lost the job to another worker; its run stands"),
            Err(JobError::Transient(error)) if job.attempts < MAX_ATTEMPTS => {
                let delay_ms = 1000 * (1 << job.attempts.min(6));
                tracing::warn!(error = format!("{error:#}"), delay_ms, "job failed; retrying later");
                if let Err(error) = self.app.db.retry_job_later(&job, now_millis() + delay_ms).await {
                    tracing::error!(%error, "cannot requeue job");
                }
            }
            Err(JobError::Transient(error)) => {
                tracing::error!(error = format!("{error:#}"), "job failed for good");
                self.store_failure(&job, JobEnd::Dead, &CmaError::internal()).await;
            }
        }
    }

    fn record_run(&self, job: &ClaimedJob, outcome: &'static str, took: Option<Duration>) {
        let metrics = &self.app.metrics.jobs;
        metrics.runs.get_or_create(&JobOutcomeLabels { kind: job.kind.clone(), outcome }).inc();
        if let Some(took) = took {
            metrics.duration.get_or_create(&JobLabels { kind: job.kind.clone() }).observe(took.as_secs_f64());
        }
    }

    /// The job registry: every kind of job, by its stored name.
    async fn dispatch(&self, job: &ClaimedJob) -> Result<(), JobError> {
        match job.kind.as_str() {
            CreateUpload::JOB_NAME => run::<CreateUpload>(&self.app, job).await,
            UpdateUpload::JOB_NAME => run::<UpdateUpload>(&self.app, job).await,
            ReorderCollections::JOB_NAME => run::<ReorderCollections>(&self.app, job).await,
            BulkUploads::JOB_NAME => run::<BulkUploads>(&self.app, job).await,
            DeliverWebhook::JOB_NAME => run::<DeliverWebhook>(&self.app, job).await,
            TranscodeVideo::JOB_NAME => run::<TranscodeVideo>(&self.app, job).await,
            GenerateSubtitles::JOB_NAME => run::<GenerateSubtitles>(&self.app, job).await,
            other => Err(JobError::Rejected({
                tracing::error!(kind = other, "unknown job kind");
                CmaError::internal()
            })),
        }
    }

    /// Keeps the job's lease alive; ends only when another worker took the job over.
    async fn heartbeat(&self, job: &ClaimedJob) {
        let mut ticks = tokio::time::interval(HEARTBEAT);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match self.app.db.extend_job_lease(job, now_millis() + LEASE_MS).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => tracing::warn!(%error, "cannot extend job lease"),
            }
        }
    }

    async fn store_failure(&self, job: &ClaimedJob, end: JobEnd, error: &CmaError) {
        let result = async {
            let mut tx = self.app.db.begin_write().await?;
            let document = error.to_document().to_string();
            if Db::finish_job(&mut tx, job, end, error.status, &document, now_millis()).await? {
                tx.commit().await?;
            }
            Ok::<(), DbError>(())
        };
        if let Err(error) = result.await {
            tracing::error!(%error, "cannot store a job failure; the job will run again");
        }
    }

    async fn delete_old_results(&self) {
        match self.app.db.delete_finished_jobs_before(now_millis() - RESULT_RETENTION_MS).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "forgot old job results"),
            Err(error) => tracing::warn!(%error, "cannot delete old job results"),
        }
        let days = self.app.config.webhook_log_retention_days;
        if days > 0 {
            let cutoff =
                now_millis().saturating_sub(i64::try_from(days.saturating_mul(86_400_000)).unwrap_or(i64::MAX));
            match self.app.db.delete_finished_webhook_calls_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "forgot old webhook calls"),
                Err(error) => tracing::warn!(%error, "cannot delete old webhook calls"),
            }
        }
    }
}

async fn run<J: BackgroundJob>(app: &App, job: &ClaimedJob) -> Result<(), JobError> {
    let payload: J = serde_json::from_str(&job.payload)
        .map_err(|error| JobError::Transient(anyhow::anyhow!("job payload does not parse: {error}")))?;
    payload.run(app, job).await
}
