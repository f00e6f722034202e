//! A truncated JPEG (defect 7 of issue 14): the `image` crate decodes it (missing rows grey) but
//! the transform pipeline refuses it (libvips, `fail_on=truncated`). Ingest now asks the pipeline:
//! the file is kept and served as uploaded, but it is no image in the listing (no size, no
//! placeholders), and its transforms answer 422 as before. Both backends.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{fixture, TestApp};

#[tokio::test]
async fn a_truncated_jpeg_is_kept_as_a_damaged_file() {
    let app = TestApp::spawn().await;
    let mut truncated = fixture("cat.jpg");
    truncated.truncate(truncated.len() / 2);
    assert!(image::load_from_memory(&truncated).is_ok(), "the premise: the image crate decodes it");
    let upload = app.create_upload("half.jpg", &truncated, json!({})).await;
    let attributes = &upload["attributes"];
    assert_eq!(attributes["mime_type"], "image/jpeg");
    assert_eq!(attributes["is_image"], false, "{attributes}");
    for fact in ["width", "height", "blurhash", "thumbhash"] {
        assert_eq!(attributes[fact], json!(null), "{fact}: {attributes}");
    }
    assert_eq!(attributes["size"], truncated.len());

    let url = attributes["url"].as_str().unwrap();
    let original = app.fetch_asset(url, &[]).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(original.bytes, truncated, "served as uploaded");
    let transform = app.fetch_asset(&format!("{url}?w=10"), &[]).await;
    assert_eq!(transform.status.as_u16(), 422);
    assert_eq!(transform.error_code(), "INVALID_IMAGE");

    let listed = app.call(Method::GET, "/uploads", None).await.json();
    assert_eq!(listed["data"][0]["attributes"]["is_image"], false, "{listed}");
    assert_eq!(listed["data"][0]["attributes"]["width"], json!(null));

    // The whole file is an image as before, with its size and placeholders.
    let whole = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    assert_eq!(whole["attributes"]["is_image"], true);
    assert_eq!(whole["attributes"]["width"], 80);
    assert!(whole["attributes"]["blurhash"].is_string());
}
