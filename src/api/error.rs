//! Turns every failure into the CMA error envelope (spec §1.8). Database and storage failures
//! become 500 `EXCEPTION` (or 503, transient) whose details are logged, never sent.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use crate::{db::DbError, domain::CmaError, ingest::IngestError, storage::StorageError, uploads::UploadError};

/// The error type of every handler.
pub type ApiError = CmaError;
pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for CmaError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.to_document())).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("x-ratelimit-reset", value.clone());
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<DbError> for CmaError {
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            return CmaError::unavailable();
        }
        tracing::error!(%error, "database error");
        CmaError::internal()
    }
}

impl From<StorageError> for CmaError {
    fn from(error: StorageError) -> Self {
        tracing::error!(%error, "storage error");
        CmaError::internal()
    }
}

impl From<IngestError> for CmaError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Rejected(error) => error,
            IngestError::Storage(error) => error.into(),
            IngestError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "ingest failed");
                CmaError::internal()
            }
        }
    }
}

impl From<UploadError> for CmaError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Rejected(error) => error,
            UploadError::Db(error) => error.into(),
            UploadError::Storage(error) => error.into(),
            UploadError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "upload change failed");
                CmaError::internal()
            }
        }
    }
}

/// Every unknown route or method: 404 `INVALID_ENDPOINT` in the CMA envelope.
pub(super) async fn unknown_endpoint() -> CmaError {
    CmaError::invalid_endpoint()
}

/// Last line of defence: a failure answered by the framework itself (a path that does not decode,
/// a panic caught by a layer, …) still goes out in the CMA envelope.
pub(super) async fn envelope_framework_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "INVALID_ENDPOINT",
        StatusCode::PAYLOAD_TOO_LARGE => "REQUEST_ENTITY_TOO_LARGE",
        StatusCode::RANGE_NOT_SATISFIABLE => "RANGE_NOT_SATISFIABLE",
        status if status.is_server_error() => "EXCEPTION",
        _ => "INVALID_REQUEST",
    };
    let (mut parts, _) = response.into_parts();
    let replacement = CmaError::new(status.as_u16(), code, serde_json::json!({})).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    let (replacement_parts, body) = replacement.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    drop(replacement_parts);
    Response::from_parts(parts, body)
}
