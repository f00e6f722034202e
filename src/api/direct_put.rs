//! The direct PUT of an upload's bytes (spec §4.2): no token, but a valid unexpired signature for
//! exactly that path. The body streams to storage in constant memory. With S3 storage clients PUT
//! to presigned bucket URLs instead and this endpoint refuses every request.
//!
//! Each PUT streams into a fresh key of its own, never into a file anything points at. Once the
//! body is stored, one conditional write makes that key the request's file, unless the first
//! `POST /uploads` (or new version) naming the path took the request meanwhile: then the PUT
//! answers 409 and deletes what it wrote. Until the take, the last PUT to complete wins and the
//! file it replaced is deleted.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Value};

use super::{error::ApiResult, extract::NestedQuery, state::HttpEdge};
use crate::{
    app::App,
    domain::{now_millis, CmaError},
    storage::{StorageError, StorageKey},
};

pub(super) async fn put_file(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    Path((project, file)): Path<(String, String)>,
    NestedQuery(query): NestedQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if app.storage.takes_direct_uploads() {
        return Err(CmaError::new(
            404,
            "INVALID_ENDPOINT",
            json!({ "message": "files go straight to object storage: PUT them to the url POST /upload-requests answers" }),
        ));
    }
    let path = format!("/{project}/{file}");
    let expires = query.get("expires").and_then(Value::as_str).and_then(|e| e.parse::<i64>().ok());
    let (Some(expires), Some(sig)) = (expires, query.get("sig").and_then(Value::as_str)) else {
        return Err(forbidden("the upload URL has no valid signature"));
    };
    if !http.signer.verify(&path, expires, sig) {
        return Err(forbidden("the upload URL signature does not match"));
    }
    if expires * 1000 < now_millis() {
        return Err(forbidden("the upload URL has expired; request a new one"));
    }
    let request = app.db.find_upload_request(&path).await?.ok_or_else(|| forbidden("unknown upload request"))?;
    if request.taken_at.is_some() || request.consumed_by.is_some() {
        return Err(already_used());
    }
    let limit = app.config.max_upload_size;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let key = StorageKey::new_original();
    let size = match app.storage.put_stream(&key, body.into_data_stream(), limit).await {
        Ok(size) => size,
        Err(StorageError::TooLarge { limit }) => return Err(too_large(limit)),
        Err(StorageError::Body(message)) => {
            return Err(CmaError::new(
                400,
                "INVALID_BODY",
                json!({ "message": format!("reading the body failed: {message}") }),
            ))
        }
        Err(error) => return Err(error.into()),
    };
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    // On a failed write nothing is deleted: whether it committed is unknown, and the sweep
    // removes whichever file no request holds.
    let (garbage, answer) = match app.db.record_direct_put(&path, key.as_str(), size, now_millis()).await? {
        Some(replaced) => (StorageKey::from_stored(&replaced), Ok(())),
        // Taken meanwhile: this PUT's file is nobody's.
        None => (key, Err(already_used())),
    };
    if let Err(error) = app.storage.delete(&garbage).await {
        tracing::warn!(%error, key = garbage.as_str(), "could not delete a file no upload request holds");
    }
    answer?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(response)
}

/// CORS preflight for browsers uploading straight to us.
pub(super) async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("PUT"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

fn already_used() -> CmaError {
    CmaError::new(409, "UPLOAD_REQUEST_ALREADY_USED", json!({ "message": "this file already belongs to an upload" }))
}

fn forbidden(message: &str) -> CmaError {
    CmaError::new(403, "INVALID_SIGNATURE", json!({ "message": message }))
}

fn too_large(limit: u64) -> CmaError {
    CmaError::new(
        413,
        "FILE_TOO_LARGE",
        json!({ "limit": limit, "message": format!("files are limited to {limit} bytes") }),
    )
}
