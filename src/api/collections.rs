//! `/upload-collections`: create and show (the rest of the collection API comes with the Media Area).

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::Value;

use super::{
    error::ApiResult,
    extract::{parse_resource, CmaJson},
};
use crate::{
    app::App,
    domain::{is_valid_entity_id, new_entity_id, now_millis, CmaError},
    views::{collection_resource, document},
};

pub(super) async fn create_collection(State(app): State<Arc<App>>, CmaJson(body): CmaJson) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, "upload_collection", &["label", "position"], &["parent"])?;
    let id = match resource.id.clone() {
        Some(id) if !is_valid_entity_id(&id) => {
            return Err(CmaError::invalid_field("id", "INVALID_FORMAT", "id must be a URL-safe base64 UUID v4"))
        }
        Some(id) => id,
        None => new_entity_id(),
    };
    let label = match resource.attributes.get("label") {
        Some(Value::String(label)) if !label.trim().is_empty() => label.trim().to_owned(),
        Some(_) => return Err(CmaError::invalid_field("label", "INVALID_FORMAT", "label must be a non-empty string")),
        None => return Err(CmaError::invalid_field("label", "VALIDATION_REQUIRED", "label is required")),
    };
    let position = match resource.attributes.get("position") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_i64().filter(|p| *p >= 0).ok_or_else(|| {
            CmaError::invalid_field("position", "INVALID_FORMAT", "position must be a non-negative integer")
        })?),
    };
    let parent = match resource.linkage("parent")?.flatten() {
        None => None,
        Some((kind, parent_id)) => {
            if kind != "upload_collection" || app.db.find_collection(&parent_id).await?.is_none() {
                return Err(CmaError::invalid_field("parent", "NOT_FOUND", "no upload collection has this id"));
            }
            Some(parent_id)
        }
    };
    let row = match app.db.insert_collection(&id, &label, position, parent.as_deref(), now_millis()).await {
        Ok(row) => row,
        Err(error) if error.is_unique_violation() => {
            return Err(CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "a collection with this id exists"))
        }
        Err(error) => return Err(error.into()),
    };
    Ok(Json(document(collection_resource(&row, &[]))))
}

pub(super) async fn show_collection(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let row = app.db.find_collection(&id).await?.ok_or_else(CmaError::not_found)?;
    let children = app.db.list_collection_children(&id).await?;
    Ok(Json(document(collection_resource(&row, &children))))
}
