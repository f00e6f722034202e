//! `GET /job-results/{id}` (spec §5.1): 404 with a JSON error while the job runs, 200 when done.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::{json, Value};

use super::error::ApiResult;
use crate::{app::App, domain::CmaError};

pub(super) async fn show_job_result(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let result = app.db.find_job_result(&id).await?.ok_or_else(CmaError::not_found)?;
    let payload: Value = match result.result_payload.as_deref() {
        Some(text) => serde_json::from_str(text).map_err(|error| {
            tracing::error!(%error, job = %id, "stored job payload is not JSON");
            CmaError::internal()
        })?,
        None => Value::Null,
    };
    Ok(Json(json!({
        "data": {
            "type": "job_result",
            "id": id,
            "attributes": { "status": result.result_status, "payload": payload },
        }
    })))
}
