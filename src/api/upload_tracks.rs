//! A video's text tracks (DatoCMS's `upload_track`, `client.uploadTracks`): list, create from an
//! upload request's WebVTT or SRT file, destroy; `generate-subtitles` runs the configured
//! speech-to-text command as a job (and says so when there is none). Create and destroy answer
//! the track at once (200): reading a subtitle file takes milliseconds, and the client takes a
//! plain answer as well as a job.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::{json, Value};

use super::{
    error::ApiResult,
    extract::{parse_resource, CmaJson, ResourceBody, ResourceShape},
};
use crate::{
    app::App,
    db::{Db, TrackRow, UploadRow},
    domain::{new_entity_id, now_millis, CmaError},
    queue,
    uploads::take_upload_request,
    video::{
        tracks::{NewTrack, TrackError},
        GenerateSubtitles,
    },
    views::{document, track_resource},
};

/// The body of `POST /uploads/{id}/tracks`.
pub(in crate::api) const CREATE_TRACK: ResourceShape = ResourceShape {
    kind: "upload_track",
    attributes: &["url_or_upload_request_id", "type", "name", "language_code", "closed_captions"],
    relationships: &[],
};

/// The body of `POST /uploads/{id}/tracks/generate-subtitles`.
pub(in crate::api) const GENERATE_SUBTITLES: ResourceShape =
    ResourceShape { kind: "subtitles_generation", attributes: &["name", "language_code"], relationships: &[] };

/// `GET /uploads/{id}/tracks`.
pub(super) async fn list_tracks(State(app): State<Arc<App>>, Path(upload_id): Path<String>) -> ApiResult<Json<Value>> {
    upload_of(&app, &upload_id).await?;
    let tracks = app.db.list_tracks(&upload_id).await?;
    Ok(Json(json!({ "data": tracks.iter().map(track_resource).collect::<Vec<_>>() })))
}

/// `POST /uploads/{id}/tracks`.
pub(super) async fn create_track(
    State(app): State<Arc<App>>,
    Path(upload_id): Path<String>,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &CREATE_TRACK)?;
    let upload = upload_of(&app, &upload_id).await?;
    let source = required_text(&resource, "url_or_upload_request_id")?;
    if source.starts_with("http://") || source.starts_with("https://") {
        return Err(CmaError::invalid_field(
            "url_or_upload_request_id",
            "INVALID_FORMAT",
            "assetd does not download files from URLs: upload the file (POST /upload-requests) and give its id",
        ));
    }
    match required_text(&resource, "type")?.as_str() {
        "subtitles" => {}
        "audio" => {
            return Err(CmaError::invalid_field(
                "type",
                "VALIDATION_INCLUSION",
                "audio tracks are not supported: only subtitles",
            ))
        }
        _ => return Err(CmaError::invalid_field("type", "VALIDATION_INCLUSION", "type must be subtitles or audio")),
    }
    let language_code = language_code(&resource)?;
    let name = track_name(&resource, &language_code)?;
    let closed_captions = match resource.attributes.get("closed_captions") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(flag)) => Some(*flag),
        Some(_) => {
            return Err(CmaError::invalid_field(
                "closed_captions",
                "INVALID_FORMAT",
                "closed_captions must be a boolean",
            ))
        }
    };
    if !upload.mime_type.starts_with("video/") {
        return Err(CmaError::invalid_field("upload", "INVALID_FORMAT", "tracks can only be added to videos"));
    }
    let track_id = new_entity_id();
    let request = take_upload_request(&app, &source, &track_id).await.map_err(rename_path)?;
    let new = NewTrack {
        id: track_id,
        upload_id: upload.id,
        name,
        language_code,
        closed_captions,
        request_path: source,
        source_key: request.blob_key,
    };
    match app.video.add_track(new).await {
        Ok(track) => Ok(Json(document(track_resource(&track)))),
        Err(TrackError::Rejected(message)) => {
            Err(CmaError::invalid_field("url_or_upload_request_id", "INVALID_FORMAT", message))
        }
        Err(TrackError::UploadGone) => Err(CmaError::not_found()),
        Err(TrackError::Internal(error)) => {
            tracing::error!(error = format!("{error:#}"), "adding a track failed");
            Err(CmaError::internal())
        }
    }
}

/// `DELETE /uploads/{id}/tracks/{track_id}`.
pub(super) async fn destroy_track(
    State(app): State<Arc<App>>,
    Path((upload_id, track_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut tx = app.db.begin_write().await?;
    let track = Db::delete_track(&mut tx, &upload_id, &track_id).await?.ok_or_else(CmaError::not_found)?;
    tx.commit().await?;
    app.video.delete_track_files(&upload_id, &track_id).await;
    Ok(Json(document(track_resource(&track))))
}

/// `POST /uploads/{id}/tracks/generate-subtitles`: with a speech-to-text command configured,
/// answers the new track (`preparing`) and queues the job that makes its subtitles; without one,
/// a 422 that says so.
pub(super) async fn generate_subtitles(
    State(app): State<Arc<App>>,
    Path(upload_id): Path<String>,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &GENERATE_SUBTITLES)?;
    let upload = upload_of(&app, &upload_id).await?;
    let language_code = language_code(&resource)?;
    let name = track_name(&resource, &language_code)?;
    if !app.video.can_generate_subtitles() {
        return Err(CmaError::new(
            422,
            "SUBTITLES_GENERATION_UNAVAILABLE",
            json!({
                "message": "this server has no speech-to-text command (ASSETD_SPEECH_TO_TEXT_COMMAND): \
                            add a WebVTT or SRT track (POST /uploads/{id}/tracks)"
            }),
        ));
    }
    if !upload.mime_type.starts_with("video/") {
        return Err(CmaError::invalid_field("upload", "INVALID_FORMAT", "subtitles can only be made for videos"));
    }
    let track = TrackRow {
        id: new_entity_id(),
        upload_id: upload.id,
        kind: "subtitles".into(),
        name,
        language_code,
        closed_captions: None,
        status: "preparing".into(),
        error: None,
        blob_key: None,
        created_at: now_millis(),
    };
    let job = GenerateSubtitles {
        upload_id: track.upload_id.clone(),
        track_id: track.id.clone(),
        language_code: track.language_code.clone(),
    };
    let mut tx = app.db.begin_write().await?;
    if Db::find_upload_in(&mut tx, &track.upload_id).await?.is_none() {
        return Err(CmaError::not_found());
    }
    Db::insert_track(&mut tx, &track).await?;
    queue::enqueue_in(&mut tx, &job).await?;
    tx.commit().await?;
    app.jobs.wake();
    Ok(Json(document(track_resource(&track))))
}

async fn upload_of(app: &App, upload_id: &str) -> ApiResult<UploadRow> {
    app.db.find_upload(upload_id).await?.ok_or_else(CmaError::not_found)
}

fn required_text(resource: &ResourceBody, name: &str) -> ApiResult<String> {
    match resource.optional_text(name)? {
        Some(Some(text)) => Ok(text),
        _ => Err(CmaError::invalid_field(name, "VALIDATION_REQUIRED", format!("{name} is required"))),
    }
}

/// The track's `name`: 1 to 200 characters, the language code when not given.
fn track_name(resource: &ResourceBody, language_code: &str) -> ApiResult<String> {
    match resource.optional_text("name")?.flatten() {
        Some(name) if name.trim().is_empty() || name.chars().count() > 200 => {
            Err(CmaError::invalid_field("name", "INVALID_FORMAT", "name must have 1 to 200 characters"))
        }
        Some(name) => Ok(name.trim().to_owned()),
        None => Ok(language_code.to_owned()),
    }
}

/// A BCP 47 language tag (`en`, `pt-BR`, `zh-Hans`), as DatoCMS asks.
fn language_code(resource: &ResourceBody) -> ApiResult<String> {
    let code = required_text(resource, "language_code")?;
    match language_tags::LanguageTag::parse(&code) {
        Ok(tag) if tag.validate().is_ok() && code.len() <= 35 => Ok(tag.to_string()),
        _ => Err(CmaError::invalid_field(
            "language_code",
            "INVALID_FORMAT",
            "language_code must be a BCP 47 language tag such as en or pt-BR",
        )),
    }
}

/// The upload request's checks name `path` (the field of `POST /uploads`); here it is
/// `url_or_upload_request_id`.
fn rename_path(mut error: CmaError) -> CmaError {
    if error.details.get("field").and_then(Value::as_str) == Some("path") {
        error.details["field"] = json!("url_or_upload_request_id");
    }
    error
}
