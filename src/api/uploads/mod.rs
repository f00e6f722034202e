//! `/uploads`: create (202 job), list, show, update (202 job) and destroy (spec §3).

mod bulk;
mod create;
mod list;
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
    domain::CmaError,
    uploads::UploadChanges,
    views::{document, upload_resource},
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
    let mut changes = UploadChanges::new(&mut tx, &app);
    let destroyed = changes.destroy(&id).await?.ok_or_else(CmaError::not_found)?;
    let after = changes.after_commit();
    tx.commit().await?;
    after.run(&app).await;
    Ok(Json(destroyed))
}
