//! Probes for load balancers and orchestrators: `GET /healthz` says the process answers (liveness);
//! `GET /readyz` says it can serve: the database takes queries and the blob store answers
//! (readiness; 503 with what failed otherwise).

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::app::App;

pub(super) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(app): State<Arc<App>>) -> (StatusCode, Json<Value>) {
    let (database, storage) = tokio::join!(app.db.ping(), app.storage.probe());
    let database_ok = database.inspect_err(|error| tracing::warn!(%error, "readiness: database")).is_ok();
    let storage_ok = storage.inspect_err(|error| tracing::warn!(%error, "readiness: storage")).is_ok();
    let status = if database_ok && storage_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "status": word(database_ok && storage_ok),
        "checks": { "database": word(database_ok), "storage": word(storage_ok) },
    });
    (status, Json(body))
}
