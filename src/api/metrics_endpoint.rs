//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics::Metrics`], with the job
//! queue read from the database at scrape time. Open unless `ASSETD_METRICS_TOKEN` is set.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    api::guard::{malformed_authorization, Credential},
    app::App,
    domain::token_secret_hash,
    domain::{now_millis, CmaError},
    metrics::{QueueSnapshot, CONTENT_TYPE},
};

pub(super) async fn serve_metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, CmaError> {
    if let Some(secret) = &app.config.metrics_token {
        check_bearer(&headers, secret.expose())?;
    }
    let queue = match app.db.job_queue_stats().await {
        Ok((queued, running, oldest)) => Some(QueueSnapshot {
            queued,
            running,
            oldest_queued_age: oldest
                .map_or(Duration::ZERO, |created| Duration::from_millis((now_millis() - created).max(0) as u64)),
        }),
        Err(error) => {
            // The other figures are still worth a scrape; the queue gauges keep their last values.
            tracing::warn!(%error, "metrics: cannot read the job queue");
            None
        }
    };
    let body = app.metrics.render(queue);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")], body).into_response())
}

/// The configured secret, compared by hash so the comparison takes the same time wherever the
/// strings differ. `Authorization` is read as the CMA guard reads it.
fn check_bearer(headers: &HeaderMap, secret: &str) -> Result<(), CmaError> {
    match Credential::of(headers) {
        Credential::Bearer(given) if token_secret_hash(given) == token_secret_hash(secret) => Ok(()),
        Credential::Bearer(_) => {
            Err(CmaError::new(401, "INVALID_AUTHORIZATION_HEADER", json!({ "message": "wrong metrics token" })))
        }
        Credential::Malformed => Err(malformed_authorization()),
        Credential::Missing => Err(CmaError::new(
            401,
            "INVALID_AUTHORIZATION_HEADER",
            json!({ "message": "missing Authorization: Bearer <ASSETD_METRICS_TOKEN>" }),
        )),
    }
}
