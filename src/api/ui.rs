//! The browser Media Area at `/ui`: static files built from `ui/src` by `scripts/build-ui` into
//! `ui/dist/` (committed, so `cargo build` needs no Node) and embedded in the binary here.
//!
//! No token is needed for these files: the page asks for an API token and calls the CMA on this
//! origin like any client. Every answer carries a strict Content-Security-Policy (no inline
//! script; images from here and the asset origin; connections to here and the upload PUT
//! origin; media from here, the asset origin and the `blob:` URLs of Media Source Extensions),
//! `nosniff`, `Referrer-Policy: same-origin` and `X-Frame-Options: DENY`.

use std::sync::{Arc, LazyLock};

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use sha2::Digest;

use super::state::HttpEdge;
use crate::{
    app::App,
    domain::{encode_hex, CmaError},
    storage::StorageKey,
};

/// One embedded file of `ui/dist`.
struct UiFile {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! ui_file {
    ($name:literal, $type:expr) => {
        UiFile { name: $name, content_type: $type, bytes: include_bytes!(concat!("../../ui/dist/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file `scripts/build-ui` writes (`tests/api/ui.rs` checks that none is missing).
const FILES: &[UiFile] = &[
    ui_file!("index.html", "text/html; charset=utf-8"),
    ui_file!("style.css", "text/css; charset=utf-8"),
    ui_file!("app.js", JS),
    ui_file!("api.js", JS),
    ui_file!("dom.js", JS),
    ui_file!("grid.js", JS),
    ui_file!("sidebar.js", JS),
    ui_file!("upload.js", JS),
    ui_file!("detail.js", JS),
    ui_file!("focal.js", JS),
    ui_file!("thumbs.js", JS),
    ui_file!("video.js", JS),
    // hls.js's ES module build (vendored by `scripts/build-ui`), imported by video.js when a
    // video's detail opens. Cached like the rest: it changes only with a bump of the pinned
    // package, together with video.js, so a longer life could pair an old copy with a new video.js.
    ui_file!("hls.min.js", JS),
];

/// The ETag of each of [`FILES`] (same order): the files are in the binary, so once per process.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES.iter().map(|file| format!("\"{}\"", encode_hex(&sha2::Sha256::digest(file.bytes)[..16]))).collect()
});

/// `GET /ui` and `GET /ui/`: the page.
pub(super) async fn index(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    headers: HeaderMap,
) -> Response {
    serve(0, &headers, "no-cache", ui_policy(&app, &http).await)
}

/// `GET /ui/{file}`: a script or the style sheet; 404 `NOT_FOUND` for anything else.
pub(super) async fn asset(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, CmaError> {
    let index = FILES.iter().position(|file| file.name == name).ok_or_else(CmaError::not_found)?;
    Ok(serve(index, &headers, "public, max-age=300", ui_policy(&app, &http).await))
}

fn serve(index: usize, request: &HeaderMap, cache_control: &'static str, csp: &str) -> Response {
    let (file, etag) = (&FILES[index], &ETAGS[index]);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag.as_str() || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { file.bytes.into_response() };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.content_type));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The app's policy, made on the first `/ui` request and kept (it depends only on the configuration).
async fn ui_policy<'a>(app: &App, http: &'a HttpEdge) -> &'a str {
    http.ui_policy.get_or_init(|| content_security_policy(app)).await
}

/// The policy of the page: its own files only, images also from the asset origin (the uploads'
/// `url`s), connections also to wherever `POST /upload-requests` sends the bytes (assetd's
/// public URL, or the S3 bucket's endpoint). The video player plays a stream (`/video/…`, here)
/// through hls.js, which fetches playlists and segments (connect-src 'self') and hands them to
/// the `<video>` as a MediaSource `blob:` URL; before the stream is ready it plays the original
/// file at the asset origin. hls.js runs without a worker, so `worker-src` stays the default.
async fn content_security_policy(app: &App) -> String {
    let asset_origin = origin(&app.public_url).unwrap_or_default();
    // The bucket's origin, read off a presigned URL (signing is local: nothing is sent).
    let ttl = std::time::Duration::from_secs(60);
    let put_origin = match app.storage.presigned_put_url(&StorageKey::new_original(), ttl).await {
        Ok(Some(url)) => origin(&url).unwrap_or_default(),
        _ => String::new(),
    };
    policy(&asset_origin, &put_origin)
}

/// The policy's text for these origins (either may be empty: left out).
fn policy(asset_origin: &str, put_origin: &str) -> String {
    let join = |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ");
    [
        "default-src 'self'".to_owned(),
        format!("img-src {}", join(&["'self'", asset_origin, "data:", "blob:"])),
        format!("connect-src {}", join(&["'self'", asset_origin, put_origin])),
        format!("media-src {}", join(&["'self'", asset_origin, "blob:"])),
        "script-src 'self'".to_owned(),
        "style-src 'self'".to_owned(),
        "object-src 'none'".to_owned(),
        "base-uri 'none'".to_owned(),
        "form-action 'self'".to_owned(),
        "frame-ancestors 'none'".to_owned(),
    ]
    .join("; ")
}

/// `scheme://host[:port]` of an absolute http(s) URL, or `None`.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
    // Never let a URL put policy syntax into the header.
    if authority.chars().any(|c| c.is_whitespace() || c == ';' || c == ',' || c == '\'') {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::{origin, policy};

    #[test]
    fn the_policy_lets_the_player_play_streams_and_originals_and_nothing_more() {
        let csp = policy("https://assets.example.com", "https://bucket.s3.example.com");
        let directive = |name: &str| csp.split("; ").find(|d| d.split(' ').next() == Some(name)).map(str::to_owned);
        // MediaSource blob: URLs (hls.js), the stream here, the original at the asset origin.
        assert_eq!(directive("media-src").as_deref(), Some("media-src 'self' https://assets.example.com blob:"));
        assert_eq!(
            directive("connect-src").as_deref(),
            Some("connect-src 'self' https://assets.example.com https://bucket.s3.example.com")
        );
        assert_eq!(directive("script-src").as_deref(), Some("script-src 'self'"));
        // hls.js runs without a worker: no blob: worker.
        assert_eq!(directive("worker-src"), None);
        assert!(!csp.contains("unsafe"), "{csp}");
        let without = policy("", "");
        assert!(without.contains("media-src 'self' blob:;") && without.contains("connect-src 'self';"), "{without}");
    }

    #[test]
    fn origin_keeps_scheme_host_and_port_only() {
        assert_eq!(origin("https://cdn.example.com/p/1-a.png?w=1").as_deref(), Some("https://cdn.example.com"));
        assert_eq!(origin("http://127.0.0.1:9000").as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(origin("http://h:1/put/x?sig=a#f").as_deref(), Some("http://h:1"));
        assert_eq!(origin("ftp://h/x"), None);
        assert_eq!(origin("https:///x"), None);
        assert_eq!(origin("https://a;b/x"), None);
    }
}
