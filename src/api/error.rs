//! Turns every failure into the CMA error envelope (spec §1.8). Database and storage failures
//! become 500 `EXCEPTION` (or 503, transient) whose details are logged, never sent.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use crate::{db::DbError, domain::CmaError, ingest::IngestError, storage::StorageError};

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
