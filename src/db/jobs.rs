//! `jobs`: the durable queue behind every 202 answer, and the results clients poll for.

use super::{Db, DbError, Dialect, Tx};

/// A job this worker has leased.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd {
    /// Its work is done, or it was refused with a client error: the result is final.
    Done,
    /// It kept failing for reasons that should have passed and was given up after the last
    /// attempt; its result is a 500. Operators find these by `state = 'dead'`.
    Dead,
}

impl JobEnd {
    fn state(self) -> &'static str {
        match self {
            JobEnd::Done => "done",
            JobEnd::Dead => "dead",
        }
    }
}

/// A finished job's answer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobResultRow {
    pub result_status: i64,
    pub result_payload: Option<String>,
}

impl Db {
    /// Queues a job inside the caller's transaction, so it exists exactly when what it follows does.
    /// It runs no earlier than `run_after` (`now` for at once). Producers use `queue::enqueue_in`.
    pub async fn enqueue_job(
        tx: &mut Tx,
        id: &str,
        kind: &str,
        payload: &str,
        now: i64,
        run_after: i64,
    ) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query(
            r#"INSERT INTO jobs (id, kind, payload, state, attempts, run_after, created_at)
               VALUES ($1, $2, $3, 'queued', 0, $4, $5)"#,
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(run_after)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Leases the oldest runnable job until `now + lease_ms`: a queued one, or a running one whose
    /// lease expired (its worker died). One statement, so two workers never take the same job.
    pub async fn claim_next_job(&self, now: i64, lease_ms: i64) -> Result<Option<ClaimedJob>, DbError> {
        self.claim_next_job_except(now, lease_ms, &[]).await
    }

    /// [`Db::claim_next_job`], leaving jobs of the kinds `skip` to other workers (a node whose
    /// video slots are all taken leaves transcodes to the nodes with a free one).
    pub async fn claim_next_job_except(
        &self,
        now: i64,
        lease_ms: i64,
        skip: &[&str],
    ) -> Result<Option<ClaimedJob>, DbError> {
        // PostgreSQL: the row lock of the subquery keeps two nodes from taking the same job, and
        // SKIP LOCKED lets each take the next free one instead of queueing behind the other.
        let lock = if self.dialect() == Dialect::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let skipped: String = (0..skip.len()).map(|i| format!(" AND kind <> ${}", i + 3)).collect();
        let sql = format!(
            r#"UPDATE jobs SET state = 'running', locked_until = $1, attempts = attempts + 1
               WHERE id = (
                   SELECT id FROM jobs
                   WHERE ((state = 'queued' AND run_after <= $2) OR (state = 'running' AND locked_until < $2)){skipped}
                   ORDER BY run_after, created_at LIMIT 1{lock})
               RETURNING id, kind, payload, attempts"#
        );
        let job = on_write!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(now + lease_ms).bind(now);
            for kind in skip {
                query = query.bind(*kind);
            }
            query.fetch_optional(pool).await
        })?;
        Ok(job)
    }

    /// Extends the lease of a job this worker still holds; false if another worker took it over.
    /// Every write about a claimed job names the attempt it was claimed as (`attempts` at claim
    /// time): it fences off a worker whose lease expired.
    pub async fn extend_job_lease(&self, job: &ClaimedJob, until: i64) -> Result<bool, DbError> {
        let updated = on_write!(self, |pool| sqlx::query(
            "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND state = 'running' AND attempts = $3"
        )
        .bind(until)
        .bind(&job.id)
        .bind(job.attempts)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Stores the job's result inside the transaction that did its work; false (and nothing
    /// stored) if this worker no longer holds the job, in which case the caller rolls back.
    pub async fn finish_job(
        tx: &mut Tx,
        job: &ClaimedJob,
        end: JobEnd,
        status: u16,
        payload: &str,
        now: i64,
    ) -> Result<bool, DbError> {
        let updated = on_tx!(tx, |conn| sqlx::query(
            r#"UPDATE jobs SET state = $1, result_status = $2, result_payload = $3, finished_at = $4,
                   locked_until = NULL
               WHERE id = $5 AND state = 'running' AND attempts = $6"#,
        )
        .bind(end.state())
        .bind(i64::from(status))
        .bind(payload)
        .bind(now)
        .bind(&job.id)
        .bind(job.attempts)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Puts a job that failed for a passing reason back in the queue (if this worker holds it).
    pub async fn retry_job_later(&self, job: &ClaimedJob, run_after: i64) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(
            r#"UPDATE jobs SET state = 'queued', run_after = $1, locked_until = NULL
               WHERE id = $2 AND state = 'running' AND attempts = $3"#
        )
        .bind(run_after)
        .bind(&job.id)
        .bind(job.attempts)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The result of a finished job; `None` while it is queued or running, or if it does not exist.
    pub async fn find_job_result(&self, id: &str) -> Result<Option<JobResultRow>, DbError> {
        let row = on_read!(self, |pool| sqlx::query_as(
            "SELECT result_status, result_payload FROM jobs WHERE id = $1 AND state IN ('done', 'dead')"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// Jobs not yet done (tests use it to check the queue is drained).
    pub async fn count_pending_jobs(&self) -> Result<i64, DbError> {
        Ok(on_read!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
            .fetch_one(pool)
            .await)?)
    }

    /// The queue as `/metrics` shows it: jobs waiting, jobs running, and when the oldest waiting
    /// job was queued (if any waits).
    pub async fn job_queue_stats(&self) -> Result<(i64, i64, Option<i64>), DbError> {
        let row: (i64, i64, Option<i64>) = on_read!(self, |pool| sqlx::query_as(
            r#"SELECT COUNT(*) FILTER (WHERE state = 'queued'),
                      COUNT(*) FILTER (WHERE state = 'running'),
                      MIN(created_at) FILTER (WHERE state = 'queued')
               FROM jobs WHERE state IN ('queued', 'running')"#
        )
        .fetch_one(pool)
        .await)?;
        Ok(row)
    }

    /// Forgets results finished before `cutoff`.
    pub async fn delete_finished_jobs_before(&self, cutoff: i64) -> Result<u64, DbError> {
        let result = on_write!(self, |pool| sqlx::query(
            "DELETE FROM jobs WHERE state IN ('done', 'dead') AND finished_at < $1"
        )
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(result)
    }
}
