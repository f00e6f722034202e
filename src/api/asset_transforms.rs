//! Serving transformed images at an asset URL with imgix parameters (spec §7.2): the derived image
//! from the cache, or rendered once and cached.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde_json::json;

use super::{
    asset_delivery::{cache_control, insert, is_not_modified, CACHE_REPLACEABLE, CSP_SANDBOX},
    error::ApiResult,
};
use crate::{
    app::App,
    db::UploadRow,
    domain::{format_http_date, CmaError},
    imaging::{ParamError, TransformError, TransformParams, MAX_SANITIZED_SVG_BYTES},
    media::{sniff, SNIFF_LEN},
    renditions::{Derived, Output, Source, Variant},
};

/// Answers a derived image: a transform when `query` holds rendering parameters for an image (or a
/// video: its poster frame), or the sanitised copy of an SVG. `None` means "serve the original"
/// (no parameters, or a file they do not apply to).
pub(super) async fn serve_transformed(
    app: &App,
    upload: &UploadRow,
    query: Option<&str>,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Option<Response>> {
    let mime = upload.mime_type.as_str();
    let is_svg = mime == "image/svg+xml";
    let transformable = crate::imaging::can_transform(mime) || mime.starts_with("video/");
    let params = match query.filter(|q| !q.is_empty()) {
        Some(query) if transformable => TransformParams::parse(query).map_err(invalid_params)?,
        _ => None,
    };
    let source = source_of(upload);
    let variant = match params {
        Some(params) => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            app.renditions.variant(&source, params, accept)
        }
        None if is_svg && upload.size <= MAX_SANITIZED_SVG_BYTES => app.renditions.safe_svg(&source),
        None => return Ok(None),
    };
    let mut response = serve_variant(app, upload, &source, &variant, headers, method).await?;
    if let Some(response) = response.as_mut().filter(|_| mime.starts_with("video/")) {
        // A video's poster frame follows its poster time, which an edit changes at the same URL.
        insert(response, header::CACHE_CONTROL, CACHE_REPLACEABLE);
    }
    Ok(response)
}

/// What the renditions workflow reads of an upload.
pub(super) fn source_of(upload: &UploadRow) -> Source {
    Source {
        upload_id: upload.id.clone(),
        blob_key: upload.blob_key.clone(),
        md5: upload.md5.clone(),
        mime_type: upload.mime_type.clone(),
        focal_point: upload.focal_point_x.zip(upload.focal_point_y),
        poster_time: upload.poster_time,
        duration: upload.duration,
    }
}

/// Answers the derived image `variant` of `upload` (from the cache, or made now). `None`: serve
/// the original instead (an SVG that is not well-formed XML).
pub(super) async fn serve_variant(
    app: &App,
    upload: &UploadRow,
    source: &Source,
    variant: &Variant,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Option<Response>> {
    let etag = format!("\"{}\"", variant.digest);
    // A video's images follow its poster time too (an edit of the upload, not of its file).
    let modified = match upload.mime_type.starts_with("video/") {
        true => upload.file_updated_at.max(upload.updated_at),
        false => upload.file_updated_at,
    };

    let mut response = if is_not_modified(headers, &etag, modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let derived = match app.renditions.fetch(source, variant).await {
            Ok(derived) => derived,
            // An SVG that is not well-formed XML is served as a download instead (see delivery).
            Err(TransformError::Decode(_)) if variant.output == Output::SafeSvg => return Ok(None),
            Err(error) => return Err(transform_error(error)),
        };
        let (cache, content_type, length, body) = match derived {
            Derived::Fresh { bytes, content_type } => {
                ("MISS", content_type.to_owned(), bytes.len() as u64, Body::from(bytes))
            }
            Derived::Stored(read) => match variant.content_type() {
                Some(content_type) => ("HIT", content_type.to_owned(), read.total_size, Body::from_stream(read.stream)),
                // The format depends on the source's alpha (HEIC, TIFF, SVG): read it off the bytes.
                None => {
                    let (head, rest) = read.stream.into_future().await;
                    let head = match head {
                        Some(Ok(bytes)) => bytes,
                        Some(Err(error)) => return Err(error.into()),
                        None => Bytes::new(),
                    };
                    let content_type = sniff(&head[..head.len().min(SNIFF_LEN)]).mime_type;
                    let body = Body::from_stream(stream::once(async move { Ok(head) }).chain(rest));
                    ("HIT", content_type, read.total_size, body)
                }
            },
        };
        let body = if *method == Method::HEAD { Body::empty() } else { body };
        let mut response = Response::new(body);
        insert(&mut response, header::CONTENT_TYPE, &content_type);
        insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
        insert(&mut response, header::HeaderName::from_static("x-cache"), cache);
        response
    };
    insert(&mut response, header::ETAG, &etag);
    insert(&mut response, header::LAST_MODIFIED, &format_http_date(modified));
    insert(&mut response, header::CACHE_CONTROL, cache_control(upload));
    if variant.negotiated {
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    insert(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    insert(&mut response, header::CONTENT_SECURITY_POLICY, CSP_SANDBOX);
    insert(&mut response, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    Ok(Some(response))
}

/// 400 `INVALID_IMAGE_PARAMS`: a rendering parameter assetd implements, with a value it cannot use.
pub(super) fn invalid_params(error: ParamError) -> CmaError {
    if !error.unsupported.is_empty() {
        let details = json!({ "params": error.unsupported, "message": error.message });
        return CmaError::new(400, "UNSUPPORTED_PARAMS", details);
    }
    CmaError::new(400, "INVALID_IMAGE_PARAMS", json!({ "param": error.param, "message": error.message }))
}

fn transform_error(error: TransformError) -> CmaError {
    match error {
        TransformError::Params(error) => invalid_params(error),
        TransformError::TooLarge { pixels, limit } => CmaError::new(
            422,
            "IMAGE_TOO_LARGE",
            json!({ "pixels": pixels, "limit": limit, "message": "the image is too large to transform" }),
        ),
        TransformError::OutputTooLarge { bytes, limit } => CmaError::new(
            422,
            "IMAGE_TOO_LARGE",
            json!({ "bytes": bytes, "limit": limit, "message": "the result would be too large: ask for fewer pixels or frames" }),
        ),
        TransformError::Decode(message) => {
            tracing::info!(%message, "an upload could not be decoded for a transform");
            CmaError::new(422, "INVALID_IMAGE", json!({ "message": "the image could not be decoded" }))
        }
        TransformError::Timeout => CmaError {
            retry_after_secs: Some(5),
            ..CmaError::new(503, "TRANSFORM_TIMEOUT", json!({ "message": "the transform took too long" }))
        },
        TransformError::Busy => CmaError { retry_after_secs: Some(1), ..CmaError::unavailable() },
        // Waited its whole turn in the queue: the server is saturated for longer than a moment.
        TransformError::QueueTimeout => CmaError { retry_after_secs: Some(5), ..CmaError::unavailable() },
        // The upload was deleted or replaced while its transform was made: like its URL now.
        TransformError::SourceGone => CmaError::not_found(),
        TransformError::Internal(message) => {
            tracing::error!(%message, "a transform failed");
            CmaError::internal()
        }
    }
}
