//! `GET /healthz`: 200 once the service can answer (database reachable), 503 otherwise.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::app::App;

pub(super) async fn healthz(State(app): State<Arc<App>>) -> (StatusCode, Json<Value>) {
    match app.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
        }
    }
}

/// Every unknown route or method: 404 `INVALID_ENDPOINT` in the CMA envelope.
pub(super) async fn unknown_endpoint() -> crate::domain::CmaError {
    crate::domain::CmaError::invalid_endpoint()
}
