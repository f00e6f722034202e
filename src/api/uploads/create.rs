//! `POST /uploads` (spec §3.2): validate now, take the request's file, ingest it in a job, answer 202.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::{
    api::{
        error::ApiResult,
        extract::{parse_resource, Caller, CmaJson, ResourceBody, ResourceShape},
    },
    app::App,
    domain::{is_valid_entity_id, new_entity_id, CmaError, Creator, MetadataPatch},
    media::MediaKind,
    uploads::{sniff_request_file, take_upload_request, CreateUpload},
    views::job_document,
};

/// The body of `POST /uploads`.
pub(in crate::api) const CREATE_UPLOAD: ResourceShape = ResourceShape {
    kind: "upload",
    attributes: &["path", "copyright", "author", "notes", "default_field_metadata", "tags"],
    relationships: &["upload_collection"],
};

pub(crate) async fn create_upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    CmaJson(body): CmaJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let resource = parse_resource(&body, &CREATE_UPLOAD)?;
    let upload_id = match &resource.id {
        Some(id) if !is_valid_entity_id(id) => {
            return Err(CmaError::new(
                422,
                "INVALID_ENTITY_ID",
                json!({ "field": "id", "message": "id must be a URL-safe base64 UUID v4" }),
            ))
        }
        Some(id) if app.db.upload_exists(id).await? => {
            return Err(CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "an upload with this id exists"))
        }
        Some(id) => id.clone(),
        None => new_entity_id(),
    };
    let path = match resource.attributes.get("path") {
        Some(Value::String(path)) => path.clone(),
        Some(_) => return Err(CmaError::invalid_field("path", "INVALID_FORMAT", "path must be a string")),
        None => return Err(CmaError::invalid_field("path", "VALIDATION_REQUIRED", "path is required")),
    };
    let metadata = match resource.attributes.get("default_field_metadata") {
        Some(value) => MetadataPatch::from_json(value, &app.config.locales)?,
        None => MetadataPatch::default(),
    };
    let (author, copyright, notes) =
        (text(&resource, "author")?, text(&resource, "copyright")?, text(&resource, "notes")?);
    let tags = resource.tags()?.unwrap_or_default();
    let upload_collection_id = collection(&app, &resource).await?;
    // The body is valid: take the file (no PUT changes it any more) and check what needs it.
    let request = take_upload_request(&app, &path, &upload_id).await?;
    if metadata.needs_file_kind() {
        let sniffed = sniff_request_file(&app, &request).await?;
        metadata.check_fits(sniffed.kind == MediaKind::Image, sniffed.kind == MediaKind::Video)?;
    }
    let job = CreateUpload {
        upload_id,
        path,
        blob_key: request.blob_key,
        author,
        copyright,
        notes,
        tags,
        metadata,
        upload_collection_id,
        creator: Creator::access_token(&caller.token_id),
    };
    let job_id = app.enqueue(&job).await?;
    Ok((StatusCode::ACCEPTED, Json(job_document(&job_id))))
}

fn text(resource: &ResourceBody, name: &str) -> ApiResult<Option<String>> {
    Ok(resource.optional_text(name)?.flatten())
}

async fn collection(app: &App, resource: &ResourceBody) -> ApiResult<Option<String>> {
    match resource.linkage("upload_collection")?.flatten() {
        None => Ok(None),
        Some((kind, id)) => {
            check_collection(app, &kind, &id).await?;
            Ok(Some(id))
        }
    }
}

/// The linkage must name an existing upload collection.
pub(super) async fn check_collection(app: &App, kind: &str, id: &str) -> ApiResult<()> {
    if kind != "upload_collection" {
        return Err(CmaError::new(
            422,
            "INVALID_RELATIONSHIP",
            json!({ "relationship": "upload_collection", "message": "type must be upload_collection" }),
        ));
    }
    if app.db.find_collection(id).await?.is_none() {
        return Err(CmaError::invalid_field("upload_collection", "NOT_FOUND", "no upload collection has this id"));
    }
    Ok(())
}
