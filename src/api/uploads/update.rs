//! `PUT /uploads/{id}` (spec §3.5): metadata, rename by `basename`, new version by `path`,
//! `replace_strategy=keep_url`. Everything checkable is checked here (422 at once, nothing
//! changed); the change itself runs as a job whose result is the updated upload.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde_json::{json, Value};

use super::create::check_collection;
use crate::{
    api::{
        error::ApiResult,
        extract::{parse_resource, CmaJson, NestedQuery, ResourceBody, ResourceShape},
    },
    app::App,
    db::UploadRow,
    domain::{Basename, Change, CmaError, Creator, MetadataPatch, UploadPatch},
    media::MediaKind,
    uploads::{rules, sniff_request_file, take_upload_request, UpdateUpload},
    views::job_document,
};

/// The body of `PUT /uploads/{id}`.
pub(in crate::api) const UPDATE_UPLOAD: ResourceShape = ResourceShape {
    kind: "upload",
    attributes: &["path", "basename", "copyright", "author", "notes", "tags", "default_field_metadata"],
    relationships: &["creator", "upload_collection"],
};

pub(crate) async fn update_upload(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    NestedQuery(query): NestedQuery,
    CmaJson(body): CmaJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let keep_url = replace_strategy_keeps_url(&query)?;
    let upload = app.db.find_upload(&id).await?.ok_or_else(CmaError::not_found)?;
    let resource = parse_resource(&body, &UPDATE_UPLOAD)?;
    if resource.id.as_deref().is_some_and(|body_id| body_id != id) {
        return Err(CmaError::invalid_field("id", "VALIDATION_MISMATCH", "data.id must be the id in the URL"));
    }
    let mut patch = UploadPatch { keep_url, ..UploadPatch::default() };
    let path = new_path(&resource, &upload)?;
    patch.basename = new_basename(&resource, &upload)?;
    patch.author = change(resource.optional_text("author")?);
    patch.copyright = change(resource.optional_text("copyright")?);
    patch.notes = change(resource.optional_text("notes")?);
    patch.tags = change(resource.tags()?);
    let metadata = match resource.attributes.get("default_field_metadata") {
        Some(value) => Some(MetadataPatch::from_json(value, &app.config.locales)?),
        None => None,
    };
    patch.upload_collection = upload_collection(&app, &resource).await?;
    patch.creator = creator(&app, &resource, &upload).await?;
    // The kind of file the upload will hold once this update is applied.
    let (mut is_image, mut is_video) = (upload.is_image, upload.is_video());
    let mut new_blob_key = None;
    if let Some(path) = path {
        // The body is valid: take the new file (no PUT changes it any more) and check it.
        let request = take_upload_request(&app, &path, &upload.id).await?;
        let sniffed = sniff_request_file(&app, &request).await?;
        if keep_url {
            rules::check_same_format(&upload.mime_type, &sniffed.mime_type)?;
        }
        (is_image, is_video) = (sniffed.kind == MediaKind::Image, sniffed.kind == MediaKind::Video);
        patch.path = Change::Set(path);
        new_blob_key = Some(request.blob_key);
    }
    if let Some(metadata) = metadata {
        metadata.check_fits(is_image, is_video)?;
        patch.metadata = metadata;
    }
    let job = UpdateUpload { upload_id: upload.id, patch, new_blob_key };
    let job_id = app.enqueue(&job).await?;
    Ok((StatusCode::ACCEPTED, Json(job_document(&job_id))))
}

/// `?replace_strategy=create_new_url|keep_url` (absent = create_new_url).
fn replace_strategy_keeps_url(query: &serde_json::Map<String, Value>) -> ApiResult<bool> {
    if let Some(unknown) = query.keys().find(|k| *k != "replace_strategy") {
        return Err(CmaError::invalid_params(unknown, "unknown parameter; this endpoint takes replace_strategy"));
    }
    match query.get("replace_strategy").map(|v| v.as_str()) {
        None | Some(Some("create_new_url")) => Ok(false),
        Some(Some("keep_url")) => Ok(true),
        _ => Err(CmaError::invalid_params("replace_strategy", "must be create_new_url or keep_url")),
    }
}

fn change<T>(value: Option<T>) -> Change<T> {
    value.map_or(Change::Keep, Change::Set)
}

/// A `path` different from the current one; the same path is a no-op (clients echo it).
fn new_path(resource: &ResourceBody, upload: &UploadRow) -> ApiResult<Option<String>> {
    match resource.attributes.get("path") {
        None => Ok(None),
        Some(Value::String(path)) if *path == upload.path => Ok(None),
        Some(Value::String(path)) => Ok(Some(path.clone())),
        Some(_) => Err(CmaError::invalid_field("path", "INVALID_FORMAT", "path must be a string")),
    }
}

/// A `basename` different from the current one renames the upload.
fn new_basename(resource: &ResourceBody, upload: &UploadRow) -> ApiResult<Change<String>> {
    match resource.attributes.get("basename") {
        None => Ok(Change::Keep),
        Some(Value::String(raw)) => {
            let basename = Basename::parse(raw)
                .map_err(|message| CmaError::invalid_field("basename", "VALIDATION_FORMAT", message))?;
            if basename.as_str() == upload.basename {
                Ok(Change::Keep)
            } else {
                Ok(Change::Set(basename.as_str().to_owned()))
            }
        }
        Some(_) => Err(CmaError::invalid_field("basename", "INVALID_FORMAT", "basename must be a string")),
    }
}

async fn upload_collection(app: &App, resource: &ResourceBody) -> ApiResult<Change<Option<String>>> {
    match resource.linkage("upload_collection")? {
        None => Ok(Change::Keep),
        Some(None) => Ok(Change::Set(None)),
        Some(Some((kind, id))) => {
            check_collection(app, &kind, &id).await?;
            Ok(Change::Set(Some(id)))
        }
    }
}

/// `creator` may point at an existing access token (the only kind of creator assetd has);
/// echoing the current creator is a no-op.
async fn creator(app: &App, resource: &ResourceBody, upload: &UploadRow) -> ApiResult<Change<Creator>> {
    let invalid = |message: &str| {
        CmaError::new(422, "INVALID_RELATIONSHIP", json!({ "relationship": "creator", "message": message }))
    };
    match resource.linkage("creator")? {
        None => Ok(Change::Keep),
        Some(None) => Err(invalid("an upload always has a creator")),
        Some(Some((kind, id))) if kind == upload.creator_type && id == upload.creator_id => Ok(Change::Keep),
        Some(Some((kind, id))) => {
            if !Creator::KINDS.contains(&kind.as_str()) {
                return Err(invalid("type must be account, access_token, user, sso_user or organization"));
            }
            if kind != "access_token" || !app.db.token_exists(&id).await? {
                return Err(CmaError::invalid_field("creator", "NOT_FOUND", format!("no {kind} has id {id}")));
            }
            Ok(Change::Set(Creator { kind, id }))
        }
    }
}
