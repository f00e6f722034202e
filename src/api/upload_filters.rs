//! `/upload-filters` (spec §6.2): saved Media-Area searches. Create, list, show, update, destroy.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::{json, Value};

use super::{
    error::ApiResult,
    extract::{parse_resource, CmaJson, NestedQuery, ResourceBody, ResourceShape},
    query::only_params,
};
use crate::{
    app::App,
    db::UploadFilterRow,
    domain::{is_valid_entity_id, new_entity_id, now_millis, CmaError},
    views::document,
};

/// The body of `POST /upload-filters` and `PUT /upload-filters/{id}`.
pub(super) const UPLOAD_FILTER: ResourceShape =
    ResourceShape { kind: "upload_filter", attributes: &["name", "filter", "shared"], relationships: &[] };

fn filter_resource(row: &UploadFilterRow) -> Value {
    let filter: Value = serde_json::from_str(&row.filter).unwrap_or_else(|_| json!({}));
    json!({
        "type": "upload_filter",
        "id": row.id,
        "attributes": { "name": row.name, "filter": filter, "shared": row.shared },
    })
}

/// The attributes of a create or update. `shared` is required on create only.
fn attributes(resource: &ResourceBody, shared_required: bool) -> ApiResult<(String, String, Option<bool>)> {
    let name = match resource.attributes.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        Some(_) => return Err(CmaError::invalid_field("name", "INVALID_FORMAT", "name must be a non-empty string")),
        None => return Err(CmaError::invalid_field("name", "VALIDATION_REQUIRED", "name is required")),
    };
    let filter = match resource.attributes.get("filter") {
        Some(filter @ Value::Object(_)) => filter.to_string(),
        Some(_) => return Err(CmaError::invalid_field("filter", "INVALID_FORMAT", "filter must be an object")),
        None => return Err(CmaError::invalid_field("filter", "VALIDATION_REQUIRED", "filter is required")),
    };
    let shared = match resource.attributes.get("shared") {
        Some(Value::Bool(shared)) => Some(*shared),
        Some(_) => return Err(CmaError::invalid_field("shared", "INVALID_FORMAT", "shared must be a boolean")),
        None if shared_required => {
            return Err(CmaError::invalid_field("shared", "VALIDATION_REQUIRED", "shared is required"))
        }
        None => None,
    };
    Ok((name, filter, shared))
}

pub(super) async fn create_upload_filter(
    State(app): State<Arc<App>>,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &UPLOAD_FILTER)?;
    let id = match resource.id.clone() {
        Some(id) if !is_valid_entity_id(&id) => {
            return Err(CmaError::new(422, "INVALID_ENTITY_ID", json!({ "field": "id" })));
        }
        Some(id) => id,
        None => new_entity_id(),
    };
    let (name, filter, shared) = attributes(&resource, true)?;
    let row = UploadFilterRow { id, name, filter, shared: shared.unwrap_or(false) };
    match app.db.insert_upload_filter(&row, now_millis()).await {
        Ok(()) => Ok(Json(document(filter_resource(&row)))),
        Err(error) if error.is_unique_violation() => {
            Err(CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "an upload filter with this id exists"))
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn update_upload_filter(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &UPLOAD_FILTER)?;
    if resource.id.as_deref().is_some_and(|body_id| body_id != id) {
        return Err(CmaError::invalid_field("id", "VALIDATION_MISMATCH", "data.id must be the id in the URL"));
    }
    let (name, filter, shared) = attributes(&resource, false)?;
    if !app.db.update_upload_filter(&id, &name, &filter, shared, now_millis()).await? {
        return Err(CmaError::not_found());
    }
    show(&app, &id).await
}

pub(super) async fn list_upload_filters(
    State(app): State<Arc<App>>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    only_params(&query, &[])?;
    let rows = app.db.list_upload_filters().await?;
    Ok(Json(json!({ "data": rows.iter().map(filter_resource).collect::<Vec<_>>() })))
}

pub(super) async fn show_upload_filter(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    show(&app, &id).await
}

pub(super) async fn destroy_upload_filter(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = app.db.find_upload_filter(&id).await?.ok_or_else(CmaError::not_found)?;
    app.db.delete_upload_filter(&id).await?;
    Ok(Json(document(filter_resource(&row))))
}

async fn show(app: &App, id: &str) -> ApiResult<Json<Value>> {
    let row = app.db.find_upload_filter(id).await?.ok_or_else(CmaError::not_found)?;
    Ok(Json(document(filter_resource(&row))))
}
