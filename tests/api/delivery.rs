//! Item 8: serving originals at their URL.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{fixture, md5_hex, TestApp};

#[tokio::test]
async fn originals_are_served_exactly_with_caching_headers() {
    let app = TestApp::spawn().await;
    let bytes = fixture("cat.jpg");
    let upload = app.create_upload("cat.jpg", &bytes, json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();
    let response = app.fetch_asset(url, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.bytes, bytes);
    assert_eq!(response.header("content-type"), Some("image/jpeg"));
    assert_eq!(response.header("content-length"), Some(bytes.len().to_string().as_str()));
    assert_eq!(response.header("etag"), Some(format!("\"{}\"", md5_hex(&bytes)).as_str()));
    assert!(response.header("last-modified").unwrap().ends_with("GMT"));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
    assert_eq!(response.header("cache-control"), Some("public, max-age=31536000, immutable"));
}

#[tokio::test]
async fn ranges_and_conditional_requests() {
    let app = TestApp::spawn().await;
    let bytes = fixture("cat.jpg");
    let upload = app.create_upload("cat.jpg", &bytes, json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();
    let size = bytes.len();

    let partial = app.fetch_asset(url, &[("range", "bytes=0-9")]).await;
    assert_eq!(partial.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(partial.bytes, bytes[..10]);
    assert_eq!(partial.header("content-range"), Some(format!("bytes 0-9/{size}").as_str()));
    assert_eq!(partial.header("content-length"), Some("10"));

    let tail = app.fetch_asset(url, &[("range", "bytes=-5")]).await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes, bytes[size - 5..]);

    let beyond = app.fetch_asset(url, &[("range", &format!("bytes={size}-"))]).await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.header("content-range"), Some(format!("bytes */{size}").as_str()));

    let etag = partial.header("etag").unwrap().to_owned();
    let cached = app.fetch_asset(url, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.bytes.is_empty());
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    let stale = app.fetch_asset(url, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(stale.status, StatusCode::OK);

    let stale_if_range = app.fetch_asset(url, &[("range", "bytes=0-9"), ("if-range", "\"old\"")]).await;
    assert_eq!(stale_if_range.status, StatusCode::OK, "a stale If-Range gets the whole file");
    assert_eq!(stale_if_range.bytes, bytes);
}

#[tokio::test]
async fn unknown_asset_paths_are_404() {
    let app = TestApp::spawn().await;
    let response = app.fetch_asset("http://assetd.test/1/123-nothing.png", &[]).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.error_code(), "NOT_FOUND");
}
