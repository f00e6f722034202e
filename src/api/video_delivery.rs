//! The stream URLs, shaped as Mux's (`stream.mux.com`, `image.mux.com`) under `/video/`: the
//! master playlist, each rung's playlist and segments, the MP4 renditions (with ranges) and
//! thumbnails. With `ASSETD_VIDEO_DOMAIN`, the `stream.` and `image.` hosts answer Mux's own
//! paths ([`mux_host_path`]). Public: no token, rate limited per client like asset URLs.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    asset_delivery::{insert, is_not_modified, requested_range, RangeRequest, CACHE_IMMUTABLE, CACHE_REPLACEABLE},
    asset_transforms::{serve_transformed, serve_variant, source_of},
    error::ApiResult,
};
use crate::{
    app::App,
    db::UploadRow,
    domain::{encode_hex, CmaError},
    storage::StorageKey,
    video::{
        animated, storyboard::StoryboardImage, thumbnail, tracks, OutputFile, VideoOutputs, PLAYLIST_CONTENT_TYPE,
    },
};

/// The master playlist changes when a keep_url replacement's stream is ready.
const CACHE_MASTER: &str = "public, max-age=10";

/// `GET /video/{playback_id}.m3u8`.
pub(super) async fn serve_master(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let playback_id = file.strip_suffix(".m3u8").ok_or_else(CmaError::not_found)?;
    let stream = ready_stream(&app, playback_id).await?;
    let tracks = app.db.list_tracks(&stream.upload.id).await?;
    let body = stream.outputs.master_playlist(playback_id, &stream.generation, &tracks).map_err(|error| {
        tracing::error!(%error, "cannot write a master playlist");
        CmaError::internal()
    })?;
    let etag = digest_etag(&[&stream.generation, &String::from_utf8_lossy(&body)]);
    Ok(small_response(body, PLAYLIST_CONTENT_TYPE, &etag, CACHE_MASTER, &headers, &method))
}

/// Marks a request that came to one of Mux's hosts (see [`mux_host_path`]): URLs written into
/// answers then name the image host, as Mux's do.
#[derive(Debug, Clone)]
pub(super) struct ViaMuxHost {
    /// `https://image.example.com` (with the port the request named, if any).
    pub image_origin: String,
}

/// `GET /video/{playback_id}/{file}`: `low|medium|high.mp4`, `thumbnail.{jpg,png,webp}`,
/// `animated.{gif,webp}`, `storyboard.{jpg,png,webp}` and `storyboard.{vtt,json}`.
pub(super) async fn serve_video_file(
    State(app): State<Arc<App>>,
    Path((playback_id, file)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    via: Option<Extension<ViaMuxHost>>,
) -> ApiResult<Response> {
    let upload = find_by_playback_id(&app, &playback_id).await?;
    if let Some(extension) = file.strip_prefix("thumbnail.") {
        return serve_thumbnail(&app, upload, extension, query.as_deref(), &headers, &method).await;
    }
    if let Some(extension) = file.strip_prefix("animated.") {
        return serve_animation(&app, upload, extension, query.as_deref(), &headers, &method).await;
    }
    let stream = ready(upload)?;
    if let Some(kind) = file.strip_prefix("storyboard.").filter(|kind| matches!(*kind, "vtt" | "json")) {
        let image_origin = via.map(|Extension(via)| format!("{}/{playback_id}", via.image_origin));
        let base =
            image_origin.unwrap_or_else(|| format!("{}/video/{playback_id}", app.public_url.trim_end_matches('/')));
        return serve_storyboard_cues(&stream, kind, &base, query.as_deref(), &headers, &method);
    }
    let file = stream.outputs.file(None, &file).ok_or_else(CmaError::not_found)?;
    serve_output(&app, &stream, &file, CACHE_REPLACEABLE, &headers, &method).await
}

/// `GET /video/{playback_id}/{generation}/{rung}/{file}`: a rung's playlist and segments. A
/// generation's files never change, so they are cached for good.
pub(super) async fn serve_rung_file(
    State(app): State<Arc<App>>,
    Path((playback_id, generation, rung, file)): Path<(String, String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let stream = ready_stream(&app, &playback_id).await?;
    if stream.generation != generation {
        return Err(CmaError::not_found());
    }
    let file = stream.outputs.file(Some(&rung), &file).ok_or_else(CmaError::not_found)?;
    serve_output(&app, &stream, &file, CACHE_IMMUTABLE, &headers, &method).await
}

/// `GET /video/{playback_id}/tracks/{track_id}.{m3u8,vtt}`: a subtitle track's playlist (one
/// segment: the whole file) and its WebVTT. A track's file never changes; its playlist follows
/// the video's duration (a keep_url replacement may change it).
pub(super) async fn serve_track_file(
    State(app): State<Arc<App>>,
    Path((playback_id, file)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let stream = ready_stream(&app, &playback_id).await?;
    let (track_id, extension) = file.rsplit_once('.').ok_or_else(CmaError::not_found)?;
    if !matches!(extension, "m3u8" | "vtt") || !is_playback_id(track_id) {
        return Err(CmaError::not_found());
    }
    let track = app.db.find_track(&stream.upload.id, track_id).await?;
    let Some((track, blob_key)) = track.and_then(|t| t.blob_key.clone().map(|key| (t, key))) else {
        return Err(CmaError::not_found());
    };
    if extension == "m3u8" {
        let body = tracks::subtitle_playlist(&track.id, stream.upload.duration.unwrap_or(0.0)).map_err(|error| {
            tracing::error!(%error, "cannot write a subtitle playlist");
            CmaError::internal()
        })?;
        let etag = digest_etag(&[&track.id, &String::from_utf8_lossy(&body)]);
        return Ok(small_response(body, PLAYLIST_CONTENT_TYPE, &etag, CACHE_REPLACEABLE, &headers, &method));
    }
    let etag = format!("\"{}\"", track.id);
    let mut response = if is_not_modified(&headers, &etag, 0) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let read = app.storage.get(&StorageKey::from_stored(&blob_key), None).await?;
        let length = read.total_size;
        let body = if method == Method::HEAD { Body::empty() } else { Body::from_stream(read.stream) };
        let mut response = Response::new(body);
        insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
        response
    };
    insert(&mut response, header::CONTENT_TYPE, "text/vtt; charset=utf-8");
    insert(&mut response, header::ETAG, &etag);
    insert(&mut response, header::CACHE_CONTROL, CACHE_IMMUTABLE);
    cors(&mut response);
    Ok(response)
}

/// An ETag of what an answer is made of.
fn digest_etag(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    format!("\"{}\"", encode_hex(&hasher.finalize()[..12]))
}

/// `OPTIONS` on any stream URL: players on other origins may send `Range`.
pub(super) async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors(&mut response);
    insert(&mut response, header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS");
    insert(&mut response, header::ACCESS_CONTROL_ALLOW_HEADERS, "Range, If-None-Match, If-Modified-Since");
    insert(&mut response, header::ACCESS_CONTROL_MAX_AGE, "86400");
    response
}

/// A stream being served.
struct ReadyStream {
    upload: UploadRow,
    generation: String,
    outputs: VideoOutputs,
}

/// Playback ids are opaque ids: anything else is not looked up.
fn is_playback_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn find_by_playback_id(app: &App, playback_id: &str) -> ApiResult<UploadRow> {
    if !is_playback_id(playback_id) {
        return Err(CmaError::not_found());
    }
    app.db.find_upload_by_playback_id(playback_id).await?.ok_or_else(CmaError::not_found)
}

async fn ready_stream(app: &App, playback_id: &str) -> ApiResult<ReadyStream> {
    ready(find_by_playback_id(app, playback_id).await?)
}

/// The stream's outputs, or 404 `STREAM_NOT_READY` while the first are made (or could not be).
fn ready(upload: UploadRow) -> ApiResult<ReadyStream> {
    let outputs = upload.video_outputs.as_deref().and_then(|o| serde_json::from_str::<VideoOutputs>(o).ok());
    match (upload.video_generation.clone(), outputs) {
        (Some(generation), Some(outputs)) => Ok(ReadyStream { upload, generation, outputs }),
        _ => {
            let status = upload.video_status.clone().unwrap_or_default();
            let message = match status.as_str() {
                "errored" => "the stream could not be made",
                _ => "the stream is being prepared",
            };
            let error = CmaError::new(404, "STREAM_NOT_READY", json!({ "status": status, "message": message }));
            Err(CmaError { retry_after_secs: (status == "preparing").then_some(5), ..error })
        }
    }
}

/// Streams one stored output, with single byte ranges and conditional requests.
async fn serve_output(
    app: &App,
    stream: &ReadyStream,
    file: &OutputFile,
    cache: &str,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Response> {
    let name = file.relative_name(&stream.outputs);
    let key = StorageKey::video_file(&stream.upload.id, &stream.generation, &name);
    let etag = format!("\"{}-{}\"", stream.generation, name.replace('/', "-"));
    let mut response = if is_not_modified(headers, &etag, 0) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let size = app.storage.size(&key).await?;
        let (status, range) = match requested_range(headers, &etag, size) {
            RangeRequest::Full => (StatusCode::OK, None),
            RangeRequest::Partial(range) => (StatusCode::PARTIAL_CONTENT, Some(range)),
            RangeRequest::Unsatisfiable => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                insert(&mut response, header::CONTENT_RANGE, &format!("bytes */{size}"));
                cors(&mut response);
                return Ok(response);
            }
        };
        let length = range.as_ref().map_or(size, |r| r.end - r.start);
        let body = match *method == Method::HEAD || length == 0 {
            true => Body::empty(),
            false => Body::from_stream(app.storage.get(&key, range.clone()).await?.stream),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
        if let Some(range) = range {
            insert(&mut response, header::CONTENT_RANGE, &format!("bytes {}-{}/{size}", range.start, range.end - 1));
        }
        response
    };
    insert(&mut response, header::CONTENT_TYPE, file.content_type());
    insert(&mut response, header::ETAG, &etag);
    insert(&mut response, header::CACHE_CONTROL, cache);
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    cors(&mut response);
    Ok(response)
}

/// A thumbnail: the video's frame at `time` (default: the upload's poster time, else the
/// middle), made by the renditions workflow from the upload's file, so it exists as soon as the
/// upload does. Without `time` the image follows the poster time: cached briefly, revalidated.
async fn serve_thumbnail(
    app: &App,
    mut upload: UploadRow,
    extension: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Response> {
    let request = thumbnail::translate(query, extension).map_err(invalid_image_api_params)?;
    if request.time.is_some() {
        upload.poster_time = request.time;
    }
    let follows_poster_time = request.time.is_none() || upload.url_replaced;
    let mut response = serve_transformed(app, &upload, Some(&request.imgix_query), headers, method)
        .await?
        .ok_or_else(CmaError::not_found)?;
    insert(&mut response, header::CACHE_CONTROL, if follows_poster_time { CACHE_REPLACEABLE } else { CACHE_IMMUTABLE });
    Ok(response)
}

/// The storyboard's cues (`storyboard.vtt`, `storyboard.json`), naming the image at `base`
/// in the format `?format=` asks for (`jpg` by default, `png`, `webp`).
fn serve_storyboard_cues(
    stream: &ReadyStream,
    kind: &str,
    base: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Response> {
    let board = stream.outputs.storyboard.as_ref().ok_or_else(CmaError::not_found)?;
    let mut image = StoryboardImage::Jpg;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "format" {
            image = StoryboardImage::from_extension(&value).ok_or_else(|| {
                let error = thumbnail::ThumbnailError { param: "format", message: format!("unknown format `{value}`") };
                invalid_image_api_params(error)
            })?;
        }
    }
    let image_url = format!("{base}/{}", image.file_name());
    let (body, content_type) = match kind {
        "vtt" => (board.vtt(&image_url).into_bytes(), "text/vtt; charset=utf-8"),
        _ => (board.json(&image_url).to_string().into_bytes(), "application/json"),
    };
    let etag = digest_etag(&[&stream.generation, kind, &image_url]);
    Ok(small_response(body, content_type, &etag, CACHE_REPLACEABLE, headers, method))
}

/// An animated preview (Mux's `animated.{gif,webp}`), made by the renditions workflow from the
/// upload's file and cached like a transform. Its bytes change only with a keep_url replacement.
async fn serve_animation(
    app: &App,
    upload: UploadRow,
    extension: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Response> {
    let side = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    let size = (side(upload.width), side(upload.height));
    let clip = animated::translate(query, extension, size, upload.duration).map_err(invalid_image_api_params)?;
    let source = source_of(&upload);
    let variant = app.renditions.animation(&source, clip);
    let mut response =
        serve_variant(app, &upload, &source, &variant, headers, method).await?.ok_or_else(CmaError::not_found)?;
    insert(&mut response, header::CACHE_CONTROL, if upload.url_replaced { CACHE_REPLACEABLE } else { CACHE_IMMUTABLE });
    Ok(response)
}

/// 400 `INVALID_THUMBNAIL_PARAMS`: a parameter of Mux's image API with a value assetd cannot use.
fn invalid_image_api_params(error: thumbnail::ThumbnailError) -> CmaError {
    CmaError::new(400, "INVALID_THUMBNAIL_PARAMS", json!({ "param": error.param, "message": error.message }))
}

/// A playlist built per request.
fn small_response(
    body: Vec<u8>,
    content_type: &str,
    etag: &str,
    cache: &str,
    headers: &HeaderMap,
    method: &Method,
) -> Response {
    let mut response = if is_not_modified(headers, etag, 0) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = body.len();
        let mut response = Response::new(if *method == Method::HEAD { Body::empty() } else { Body::from(body) });
        insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
        response
    };
    insert(&mut response, header::CONTENT_TYPE, content_type);
    insert(&mut response, header::ETAG, etag);
    insert(&mut response, header::CACHE_CONTROL, cache);
    cors(&mut response);
    response
}

/// Players fetch streams from any origin.
fn cors(response: &mut Response) {
    insert(response, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    insert(response, header::ACCESS_CONTROL_EXPOSE_HEADERS, "Content-Length, Content-Range, ETag");
}

/// Serves a request to Mux's own hosts (see [`mux_host_path`]) at its `/video/…` path, marked
/// [`ViaMuxHost`] so that its answers name the image host; another request passes unchanged.
/// Runs before routing.
pub(super) fn route_mux_hosts(video_domain: &str, mut request: axum::extract::Request) -> axum::extract::Request {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
    let Some(path) = mux_host_path(video_domain, &host, request.uri().path()) else {
        return request;
    };
    // `stream.example.com:8443` → `https://image.example.com:8443` (Mux's hosts are HTTPS).
    let parent = host.split_once('.').map_or("", |(_, parent)| parent);
    let image_origin = format!("https://image.{parent}");
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    if let Ok(uri) = path_and_query.parse() {
        *request.uri_mut() = uri;
    }
    request.extensions_mut().insert(ViaMuxHost { image_origin });
    request
}

/// The path a request to Mux's own hosts maps to: with `video_domain` = `example.com`, a request
/// for `stream.example.com` or `image.example.com` (any port) at `/{id}.m3u8` is served as
/// `/video/{id}.m3u8`, and so on. `None`: another host, served as it is.
pub(super) fn mux_host_path(video_domain: &str, host: &str, path: &str) -> Option<String> {
    let name =
        host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(n, _)| n);
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let sub = name.strip_suffix(&video_domain.to_ascii_lowercase())?.strip_suffix('.')?;
    matches!(sub, "stream" | "image").then(|| format!("/video{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mux_hosts_answer_mux_paths() {
        assert_eq!(mux_host_path("example.com", "stream.example.com", "/abc.m3u8").as_deref(), Some("/video/abc.m3u8"));
        assert_eq!(
            mux_host_path("example.com", "IMAGE.example.com:8443", "/abc/thumbnail.jpg").as_deref(),
            Some("/video/abc/thumbnail.jpg")
        );
        for host in
            ["example.com", "cdn.example.com", "stream.example.org", "streamexample.com", "x.stream.example.com"]
        {
            assert_eq!(mux_host_path("example.com", host, "/abc.m3u8"), None, "{host}");
        }
    }

    #[test]
    fn playback_ids_are_opaque_ids() {
        assert!(is_playback_id("AbC-_09"));
        for bad in ["", "a/b", "a.b", "..", &"a".repeat(65)] {
            assert!(!is_playback_id(bad), "{bad}");
        }
    }
}
