//! `/uploads`: create (202 job), list, show, update (202 job) and destroy (spec §3).

mod bulk;
mod create;
mod list;
mod list_filter;
mod update;

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::Value;

pub(super) use bulk::{
    bulk_destroy, bulk_set_collection, bulk_tag, BULK_DESTROY, BULK_SET_COLLECTION, BULK_TAG, MAX_BATCH,
};
pub(super) use create::{create_upload, CREATE_UPLOAD};
pub(crate) use list::parse_query;
pub(super) use list::{list_uploads, DEFAULT_LIMIT as LIST_DEFAULT_LIMIT, MAX_LIMIT as LIST_MAX_LIMIT};
pub(super) use update::{update_upload, UPDATE_UPLOAD};

use super::{error::ApiResult, extract::NestedQuery, query::only_params};
use crate::{
    app::App,
    db::{Db, UploadRequestRow},
    domain::{now_millis, CmaError},
    storage::{StorageError, StorageKey},
    views::{document, upload_resource},
    webhooks::{self, UploadEvent},
};

/// `GET /uploads/{id}`.
pub(super) async fn show_upload(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let row = app.db.find_upload(&id).await?.ok_or_else(CmaError::not_found)?;
    let metadata = app.db.list_metadata(&id).await?;
    Ok(Json(document(upload_resource(&row, &metadata, &app.views))))
}

/// `GET /uploads/{id}/references`: the records using the upload. assetd holds no records, so
/// the list is empty; the upload must exist and the parameters must be valid.
pub(crate) async fn list_upload_references(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    only_params(&query, &["nested", "version"])?;
    match query.get("nested").map(Value::as_str) {
        None | Some(Some("true" | "false")) => {}
        _ => return Err(CmaError::invalid_params("nested", "must be true or false")),
    }
    match query.get("version").map(Value::as_str) {
        None | Some(Some("current" | "published" | "published-or-current")) => {}
        _ => return Err(CmaError::invalid_params("version", "must be current, published or published-or-current")),
    }
    if !app.db.upload_exists(&id).await? {
        return Err(CmaError::not_found());
    }
    Ok(Json(serde_json::json!({ "data": [] })))
}

/// `DELETE /uploads/{id}`: 200 with the upload as it was; its file is removed and its URL 404s.
pub(super) async fn destroy_upload(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let mut tx = app.db.begin_write().await?;
    let row = Db::find_upload_in(&mut tx, &id).await?.ok_or_else(CmaError::not_found)?;
    let metadata = Db::list_metadata_in(&mut tx, &id).await?;
    let resource = upload_resource(&row, &metadata, &app.views);
    Db::delete_upload(&mut tx, &id).await?;
    // The delete event commits with the delete (the transactional outbox).
    let calls = webhooks::record_upload_event(&mut tx, &app, UploadEvent::Delete, &resource, None).await?;
    tx.commit().await?;
    if calls > 0 {
        app.job_wakeup.notify_one();
    }
    if let Err(error) = app.storage.delete(&StorageKey::from_stored(&row.blob_key)).await {
        // The row is gone, so the URL already 404s; the orphaned blob is only wasted space.
        tracing::warn!(%error, upload = %id, "could not delete the file of a destroyed upload");
    }
    app.renditions.purge(&id).await;
    Ok(Json(document(resource)))
}

/// Sniffs the file of an upload request; a file that vanished is the client's reference gone bad.
async fn sniff_request_file(app: &App, request: &UploadRequestRow) -> ApiResult<crate::media::Sniffed> {
    match crate::ingest::sniff_blob(&app.storage, &StorageKey::from_stored(&request.blob_key)).await {
        Ok(sniffed) => Ok(sniffed),
        Err(error) if error.is_not_found() => {
            Err(CmaError::invalid_field("path", "FILE_NOT_FOUND", "the file of this upload request is gone"))
        }
        Err(error) => Err(error.into()),
    }
}

/// Takes the file of the upload request behind `path` for `upload_id`: from now on no PUT changes
/// it (a direct PUT answers 409, a presigned one only lands on the staging key), so the request's
/// `blob_key` is the file the job inspects and the upload keeps. Call it once every check that
/// needs no file passed; repeating it (a retried or concurrent create) takes the same file.
async fn take_upload_request(app: &App, path: &str, upload_id: &str) -> ApiResult<UploadRequestRow> {
    let request = app.db.find_upload_request(path).await?.ok_or_else(|| {
        CmaError::invalid_field("path", "NOT_FOUND", "path must be the id of an upload request (POST /upload-requests)")
    })?;
    if request.consumed_by.as_ref().is_some_and(|owner| owner != upload_id) {
        return Err(already_used());
    }
    let request = match app.db.take_upload_request(path, now_millis()).await? {
        Some(taken) => taken,
        None if app.storage.takes_direct_uploads() => take_presigned_upload(app, &request).await?,
        None => return Err(file_not_uploaded()),
    };
    match &request.consumed_by {
        Some(owner) if owner != upload_id => Err(already_used()),
        _ => Ok(request),
    }
}

/// S3: a file PUT straight to the bucket is noticed on first use of its path: copied to a key no
/// client can write, checked against the size limit, and recorded as the request's taken file.
/// Of concurrent calls, the first to record its copy wins; the others use that one.
async fn take_presigned_upload(app: &App, request: &UploadRequestRow) -> ApiResult<UploadRequestRow> {
    let staged = StorageKey::from_stored(&request.blob_key);
    let taken_elsewhere =
        || async { app.db.take_upload_request(&request.path, now_millis()).await?.ok_or_else(file_not_uploaded) };
    match app.storage.take_presigned_upload(&staged, app.config.max_upload_size).await {
        Ok((copy, size)) => {
            let (size, now) = (i64::try_from(size).unwrap_or(i64::MAX), now_millis());
            if !app.db.record_presigned_take(&request.path, copy.as_str(), size, now).await? {
                app.storage.delete(&copy).await?;
                return taken_elsewhere().await;
            }
            if let Err(error) = app.storage.discard_presigned_upload(&staged).await {
                // The copy is the request's file; the staging copy is only wasted space (swept).
                tracing::warn!(%error, path = %request.path, "could not delete a taken upload's staging copy");
            }
            let blob_key = copy.as_str().to_owned();
            Ok(UploadRequestRow {
                blob_key,
                size: Some(size),
                completed_at: Some(now),
                taken_at: Some(now),
                ..request.clone()
            })
        }
        // Nothing PUT, or a concurrent take recorded its copy and dropped the staging copy.
        Err(error) if error.is_not_found() => taken_elsewhere().await,
        Err(StorageError::TooLarge { limit }) => Err(CmaError::invalid_field(
            "path",
            "FILE_TOO_LARGE",
            format!("the uploaded file is larger than the limit of {limit} bytes and was deleted; PUT a smaller one"),
        )),
        Err(error) => Err(error.into()),
    }
}

fn already_used() -> CmaError {
    CmaError::invalid_field("path", "VALIDATION_UNIQUENESS", "this file already belongs to another upload")
}

fn file_not_uploaded() -> CmaError {
    CmaError::invalid_field("path", "FILE_NOT_UPLOADED", "the file was not PUT to the upload URL yet")
}
