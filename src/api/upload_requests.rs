//! `POST /upload-requests` (spec §4.1): hands out a path and a signed URL to PUT the bytes to:
//! a presigned URL straight into the bucket with S3 storage, else assetd's own direct PUT.

use std::{sync::Arc, time::Duration};

use axum::{extract::State, Json};
use serde_json::{json, Value};

use super::{
    error::ApiResult,
    extract::{parse_resource, Caller, CmaJson, ResourceShape},
    state::HttpEdge,
};
use crate::{
    app::App,
    domain::{new_opaque_id, now_millis, CmaError, SanitizedFilename},
    storage::StorageKey,
};

/// Attempts at finding a free path before giving up (each retry adds a random suffix).
const PATH_ATTEMPTS: usize = 5;

/// The body of `POST /upload-requests` (the collection is accepted and not used: files land in the
/// root until `POST /uploads` says otherwise).
pub(super) const CREATE_UPLOAD_REQUEST: ResourceShape =
    ResourceShape { kind: "upload_request", attributes: &["filename"], relationships: &["upload_collection"] };

pub(super) async fn create_upload_request(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    caller: Caller,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &CREATE_UPLOAD_REQUEST)?;
    let filename = match resource.attributes.get("filename") {
        None | Some(Value::Null) => "file".to_owned(),
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(CmaError::invalid_field("filename", "INVALID_FORMAT", "filename must be a string")),
    };
    let sanitized = SanitizedFilename::sanitize(&filename);
    let now = now_millis();
    let expires_at = now + i64::try_from(app.config.upload_url_ttl_secs * 1000).unwrap_or(i64::MAX / 2);
    let blob_key = StorageKey::new_original();
    let path = reserve_path(&app, &sanitized, now, expires_at, &blob_key, &caller).await?;
    let ttl = Duration::from_secs(app.config.upload_url_ttl_secs);
    let url = match app.storage.presigned_put_url(&blob_key, ttl).await? {
        Some(url) => url,
        None => {
            let expires_secs = expires_at / 1000;
            let sig = http.signer.sign(&path, expires_secs);
            format!("{}/put{}?expires={}&sig={}", app.public_url, path, expires_secs, sig)
        }
    };
    Ok(Json(json!({
        "data": {
            "type": "upload_request",
            "id": path,
            "attributes": { "url": url, "request_headers": {} },
        }
    })))
}

/// Finds a free `/<project>/<unix seconds>-<name>` and records the request under it.
async fn reserve_path(
    app: &App,
    name: &SanitizedFilename,
    now: i64,
    expires_at: i64,
    blob_key: &StorageKey,
    caller: &Caller,
) -> ApiResult<String> {
    let mut candidate = name.clone();
    for _ in 0..PATH_ATTEMPTS {
        let path = format!("/{}/{}-{}", app.config.project_id, now / 1000, candidate);
        if !app.db.path_is_taken(&path).await? {
            match app.db.insert_upload_request(&path, blob_key.as_str(), &caller.token_id, expires_at, now).await {
                Ok(()) => return Ok(path),
                Err(error) if error.is_unique_violation() => {}
                Err(error) => return Err(error.into()),
            }
        }
        candidate = name.with_suffix(&new_opaque_id()[..6].to_ascii_lowercase().replace(['-', '_'], "x"));
    }
    tracing::error!("no free upload path after {PATH_ATTEMPTS} attempts");
    Err(CmaError::unavailable())
}
