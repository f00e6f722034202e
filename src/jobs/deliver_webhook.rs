//! Send one webhook call (one attempt) and record it; on failure, queue the next attempt on the
//! retry schedule, in the same transaction that records this one.

use serde_json::{json, Value};

use super::{finish, BackgroundJob, JobError};
use crate::{
    app::App,
    db::{AttemptRecord, ClaimedJob, Db},
    domain::now_millis,
    metrics::DeliveryLabels,
    queue,
    webhooks::{
        delivery::{self, RetrySchedule},
        status, DeliverWebhook,
    },
};

impl BackgroundJob for DeliverWebhook {
    async fn run(self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        let done = json!({ "data": [] });
        // A deleted webhook took its calls with it: nothing to send.
        let Some(call) = app.db.find_webhook_call(&self.call_id).await? else {
            return finish(app.db.begin_write().await?, job, &done).await;
        };
        let Some(webhook) = app.db.find_webhook(&call.webhook_id).await? else {
            return finish(app.db.begin_write().await?, job, &done).await;
        };
        if !webhook.enabled {
            let mut tx = app.db.begin_write().await?;
            Db::set_webhook_call_status(&mut tx, &call.id, status::FAILED, Some("the webhook was disabled")).await?;
            return finish(tx, job, &done).await;
        }
        let outcome = delivery::attempt(&webhook, &call, now_millis() / 1000).await;
        let now = now_millis();
        let schedule = RetrySchedule {
            base_ms: app.config.webhook_retry_base_ms,
            max_attempts: app.config.webhook_max_attempts.max(1),
        };
        let retry_at = match (outcome.succeeded(), webhook.auto_retry) {
            (false, true) => schedule
                .delay_after(self.round_attempt)
                .map(|delay| now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2)),
            _ => None,
        };
        let call_status = if outcome.succeeded() {
            status::SUCCESS
        } else if retry_at.is_some() {
            status::RESCHEDULED
        } else {
            status::FAILED
        };
        app.metrics.webhook_deliveries.get_or_create(&DeliveryLabels { outcome: call_status }).inc();
        let record = AttemptRecord {
            sent_at: now - outcome.duration_ms,
            duration_ms: outcome.duration_ms,
            request_url: webhook.url.clone(),
            request_headers: Value::Object(outcome.request_headers.clone()).to_string(),
            request_payload: outcome.body.clone(),
            response_status: outcome.response_status.map(i64::from),
            response_headers: outcome.response_headers.clone().map(|h| Value::Object(h).to_string()),
            response_payload: outcome.response_excerpt.clone(),
            error: outcome.error.clone(),
            status: call_status,
            next_retry_at: retry_at,
        };
        match (&outcome.response_status, &outcome.error) {
            (_, Some(error)) => {
                tracing::warn!(call = %call.id, %error, status = call_status, "webhook delivery failed")
            }
            (Some(code), None) => {
                tracing::info!(call = %call.id, response = code, status = call_status, "webhook delivered")
            }
            (None, None) => {}
        }
        let mut tx = app.db.begin_write().await?;
        if Db::record_webhook_attempt(&mut tx, &call.id, &record).await? {
            if let Some(run_after) = retry_at {
                queue::enqueue_at_in(&mut tx, &self.retry(), run_after).await?;
            }
        }
        finish(tx, job, &done).await
    }
}
