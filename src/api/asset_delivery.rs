//! Serving originals at their public URL (spec §7.1): exact bytes, sniffed type, strong ETag,
//! Last-Modified, single byte ranges, conditional requests. Old paths of renamed uploads redirect.

use std::{ops::Range, sync::Arc};

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{
    asset_transforms::{invalid_params, serve_transformed},
    error::ApiResult,
    state::HttpEdge,
};
use crate::{
    app::App,
    db::UploadRow,
    domain::{format_http_date, CmaError},
    storage::StorageKey,
};

/// For URLs whose bytes can never change (never replaced with keep_url).
pub(super) const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For URLs that keep_url has pointed at other bytes: revalidate (ETag) after a short time.
pub(super) const CACHE_REPLACEABLE: &str = "public, max-age=60, must-revalidate";
/// User files are shown, never run, even when they are SVG or HTML.
pub(super) const CSP_SANDBOX: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox";

pub(super) async fn serve_asset(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    Path(file): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let path = format!("/{}/{file}", app.config.project_id);
    let Some(upload) = app.db.find_upload_by_path(&path).await? else {
        return match app.db.find_current_path_for_alias(&path).await? {
            Some(current) => {
                let query = match query {
                    Some(query) => format!("?{}", http.transform_policy.resign(uri.path(), &current, &query)),
                    None => String::new(),
                };
                Ok(redirect(&format!("{}{current}{query}", app.views.asset_base)))
            }
            None => Err(CmaError::not_found()),
        };
    };
    let query = http.transform_policy.resolve(uri.path(), query.as_deref())?;
    let download = crate::imaging::download_name(query.as_deref().unwrap_or_default()).map_err(invalid_params)?;
    let download = download.map(|name| if name.is_empty() { file_name(&upload) } else { name });
    if let Some(mut response) = serve_transformed(&app, &upload, query.as_deref(), &headers, &method).await? {
        if let Some(name) = &download {
            insert(&mut response, header::CONTENT_DISPOSITION, &attachment(name));
        }
        return Ok(response);
    }
    let etag = format!("\"{}\"", upload.md5);
    let size = u64::try_from(upload.size).unwrap_or(0);
    let mut response = if is_not_modified(&headers, &etag, upload.file_updated_at) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match requested_range(&headers, &etag, size) {
            RangeRequest::Full => body_response(&app, &upload, None, &method).await?,
            RangeRequest::Partial(range) => body_response(&app, &upload, Some(range), &method).await?,
            RangeRequest::Unsatisfiable => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                insert(&mut response, header::CONTENT_RANGE, &format!("bytes */{size}"));
                response
            }
        }
    };
    if let Some(name) = &download {
        insert(&mut response, header::CONTENT_DISPOSITION, &attachment(name));
    }
    insert(&mut response, header::ETAG, &etag);
    insert(&mut response, header::LAST_MODIFIED, &format_http_date(upload.file_updated_at));
    insert(&mut response, header::CACHE_CONTROL, cache_control(&upload));
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    insert(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    insert(&mut response, header::CONTENT_SECURITY_POLICY, CSP_SANDBOX);
    insert(&mut response, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    Ok(response)
}

async fn body_response(
    app: &App,
    upload: &UploadRow,
    range: Option<Range<u64>>,
    method: &Method,
) -> ApiResult<Response> {
    let size = u64::try_from(upload.size).unwrap_or(0);
    let (status, length) = match &range {
        Some(range) => (StatusCode::PARTIAL_CONTENT, range.end - range.start),
        None => (StatusCode::OK, size),
    };
    let body = if *method == Method::HEAD || length == 0 {
        Body::empty()
    } else {
        let read = app.storage.get(&StorageKey::from_stored(&upload.blob_key), range.clone()).await?;
        Body::from_stream(read.stream)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    insert(&mut response, header::CONTENT_TYPE, &upload.mime_type);
    insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
    if is_download_only(&upload.mime_type) {
        insert(&mut response, header::CONTENT_DISPOSITION, "attachment");
    }
    if let Some(range) = range {
        insert(&mut response, header::CONTENT_RANGE, &format!("bytes {}-{}/{size}", range.start, range.end - 1));
    }
    Ok(response)
}

/// The upload's file name (`basename.extension`).
fn file_name(upload: &UploadRow) -> String {
    match &upload.extension {
        Some(extension) => format!("{}.{extension}", upload.basename),
        None => upload.basename.clone(),
    }
}

/// RFC 5987's `attr-char`: what `filename*` keeps as it is.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition: attachment` under `name` (imgix's `dl`): path separators, quotes and
/// control characters become `_`; `filename` is its ASCII form, `filename*` (RFC 6266) the
/// UTF-8 one; at most 200 characters.
fn attachment(name: &str) -> String {
    let safe: String =
        name.chars().take(200).map(|c| if c.is_control() || matches!(c, '/' | '\\' | '"') { '_' } else { c }).collect();
    let ascii: String = safe.chars().map(|c| if c.is_ascii() { c } else { '_' }).collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", utf8_percent_encode(&safe, ATTR_CHAR))
}

/// XML is downloaded, never shown: a browser renders XML whose root is SVG or XHTML as that, with
/// its scripts. SVGs get here only when they could not be sanitised (too large, not well-formed);
/// the others are served sanitised (see `transformed`). `text/xml` is what files sniffed before
/// assetd read XML were stored as.
fn is_download_only(mime_type: &str) -> bool {
    let essence = mime_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    matches!(essence.as_str(), "text/xml" | "application/xml" | "text/xsl" | "application/xslt+xml")
        || essence.ends_with("+xml")
}

/// Immutable, unless keep_url has ever pointed this URL at other bytes.
pub(super) fn cache_control(upload: &UploadRow) -> &'static str {
    if upload.url_replaced {
        CACHE_REPLACEABLE
    } else {
        CACHE_IMMUTABLE
    }
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    insert(&mut response, header::LOCATION, location);
    insert(&mut response, header::CACHE_CONTROL, "public, max-age=300");
    response
}

pub(super) fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// `If-None-Match` wins over `If-Modified-Since` (RFC 9110 §13.2.2).
pub(super) fn is_not_modified(headers: &HeaderMap, etag: &str, modified_millis: i64) -> bool {
    if let Some(candidates) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return candidates
            .split(',')
            .map(str::trim)
            .any(|c| c == "*" || c == etag || c.strip_prefix("W/") == Some(etag));
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match since {
        Some(since) => {
            let since_secs = since.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            u64::try_from(modified_millis / 1000).unwrap_or(0) <= since_secs
        }
        None => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeRequest {
    Full,
    Partial(Range<u64>),
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); several ranges, other units or a stale `If-Range`
/// get the whole file, as RFC 9110 allows.
pub(super) fn requested_range(headers: &HeaderMap, etag: &str, size: u64) -> RangeRequest {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return RangeRequest::Full };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        if if_range.trim() != etag {
            return RangeRequest::Full;
        }
    }
    parse_range(value, size)
}

fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return RangeRequest::Full };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return RangeRequest::Full };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.parse::<u64>(), end.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Ok(_), Ok(_)) => return RangeRequest::Full,
        (Ok(start), Err(_)) if end.is_empty() => start..size,
        (Err(_), Ok(suffix)) if start.is_empty() => {
            if suffix == 0 {
                return RangeRequest::Unsatisfiable;
            }
            size.saturating_sub(suffix)..size
        }
        _ => return RangeRequest::Full,
    };
    if range.start >= size {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Partial(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases = [
            ("bytes=0-9", RangeRequest::Partial(0..10)),
            ("bytes=5-", RangeRequest::Partial(5..100)),
            ("bytes=-10", RangeRequest::Partial(90..100)),
            ("bytes=-500", RangeRequest::Partial(0..100)),
            ("bytes=90-200", RangeRequest::Partial(90..100)),
            ("bytes=100-", RangeRequest::Unsatisfiable),
            ("bytes=-0", RangeRequest::Unsatisfiable),
            ("bytes=9-5", RangeRequest::Full),
            ("bytes=0-1,5-6", RangeRequest::Full),
            ("items=0-1", RangeRequest::Full),
            ("bytes=x-y", RangeRequest::Full),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_range(header, 100), expected, "{header}");
        }
    }

    #[test]
    fn xml_is_download_only() {
        for mime in ["image/svg+xml", "text/xml", "application/xml", "application/xhtml+xml", "Text/XML; charset=utf-8"]
        {
            assert!(is_download_only(mime), "{mime}");
        }
        for mime in ["text/plain", "text/html", "image/png", "application/pdf", "application/json"] {
            assert!(!is_download_only(mime), "{mime}");
        }
    }

    #[test]
    fn conditional_requests() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\", \"def\""));
        assert!(is_not_modified(&headers, "\"def\"", 0));
        assert!(!is_not_modified(&headers, "\"xyz\"", 0));
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MODIFIED_SINCE, HeaderValue::from_static("Tue, 21 Apr 2020 07:57:11 GMT"));
        assert!(is_not_modified(&headers, "\"x\"", 1_587_455_831_124));
        assert!(!is_not_modified(&headers, "\"x\"", 1_587_455_832_000));
    }
}
