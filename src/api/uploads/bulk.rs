//! `POST /uploads/bulk/{tag,set-upload-collection,destroy}` (spec §3.8): 202 jobs whose result
//! counts the uploads that succeeded and failed.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use super::create::check_collection;
use crate::{
    api::{
        error::ApiResult,
        extract::{parse_resource, CmaJson, ResourceBody, ResourceShape},
    },
    app::App,
    domain::CmaError,
    uploads::{BulkAction, BulkUploads},
    views::job_document,
};

/// Largest number of uploads one bulk operation takes.
pub(in crate::api) const MAX_BATCH: usize = 1000;

/// The body of `POST /uploads/bulk/tag`.
pub(in crate::api) const BULK_TAG: ResourceShape =
    ResourceShape { kind: "upload_bulk_tag_operation", attributes: &["tags"], relationships: &["uploads"] };
/// The body of `POST /uploads/bulk/set-upload-collection`.
pub(in crate::api) const BULK_SET_COLLECTION: ResourceShape = ResourceShape {
    kind: "upload_bulk_set_upload_collection_operation",
    attributes: &[],
    relationships: &["upload_collection", "uploads"],
};
/// The body of `POST /uploads/bulk/destroy`.
pub(in crate::api) const BULK_DESTROY: ResourceShape =
    ResourceShape { kind: "upload_bulk_destroy_operation", attributes: &[], relationships: &["uploads"] };

pub(crate) async fn bulk_tag(
    State(app): State<Arc<App>>,
    CmaJson(body): CmaJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let resource = parse_resource(&body, &BULK_TAG)?;
    let tags =
        resource.tags()?.ok_or_else(|| CmaError::invalid_field("tags", "VALIDATION_REQUIRED", "tags is required"))?;
    enqueue(&app, &resource, BulkAction::Tag(tags)).await
}

pub(crate) async fn bulk_set_collection(
    State(app): State<Arc<App>>,
    CmaJson(body): CmaJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let resource = parse_resource(&body, &BULK_SET_COLLECTION)?;
    let collection = match resource.linkage("upload_collection")? {
        None => {
            return Err(CmaError::invalid_field(
                "upload_collection",
                "VALIDATION_REQUIRED",
                "upload_collection is required ({\"data\": null} for the root)",
            ))
        }
        Some(None) => None,
        Some(Some((kind, id))) => {
            check_collection(&app, &kind, &id).await?;
            Some(id)
        }
    };
    enqueue(&app, &resource, BulkAction::SetCollection(collection)).await
}

pub(crate) async fn bulk_destroy(
    State(app): State<Arc<App>>,
    CmaJson(body): CmaJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let resource = parse_resource(&body, &BULK_DESTROY)?;
    enqueue(&app, &resource, BulkAction::Destroy).await
}

async fn enqueue(app: &App, resource: &ResourceBody, action: BulkAction) -> ApiResult<(StatusCode, Json<Value>)> {
    let upload_ids = upload_ids(resource)?;
    let job_id = app.enqueue(&BulkUploads { action, upload_ids }).await?;
    Ok((StatusCode::ACCEPTED, Json(job_document(&job_id))))
}

/// `relationships.uploads.data`: 1 to 1000 upload linkages (duplicates counted once).
fn upload_ids(resource: &ResourceBody) -> ApiResult<Vec<String>> {
    let missing = || {
        CmaError::new(
            422,
            "MISSING_UPLOAD_IDS",
            json!({ "message": "relationships.uploads.data must list the uploads" }),
        )
    };
    let items = resource
        .relationships
        .get("uploads")
        .and_then(|u| u.get("data"))
        .and_then(Value::as_array)
        .ok_or_else(missing)?;
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        match (item.get("type").and_then(Value::as_str), item.get("id").and_then(Value::as_str)) {
            (Some("upload"), Some(id)) => {
                if !ids.iter().any(|known| known == id) {
                    ids.push(id.to_owned());
                }
            }
            _ => {
                return Err(CmaError::invalid_field(
                    "uploads",
                    "INVALID_FORMAT",
                    "each upload must be {type: \"upload\", id}",
                ))
            }
        }
    }
    if ids.is_empty() {
        return Err(missing());
    }
    if ids.len() > MAX_BATCH {
        return Err(CmaError::invalid_field(
            "uploads",
            "VALIDATION_LENGTH",
            format!("at most {MAX_BATCH} uploads at once"),
        ));
    }
    Ok(ids)
}
