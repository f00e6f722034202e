//! Issue 6: location data never leaves through a derived image; originals are served as uploaded.

use std::io::Cursor;

use axum::http::StatusCode;
use serde_json::json;

use crate::{
    helpers::{fixture, md5_hex, TestApp},
    image_facts::with_exif,
};

/// The GPS fields of the EXIF block in `bytes`, if any (none when there is no EXIF at all).
fn gps_fields(bytes: &[u8]) -> usize {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => {
            exif.fields().filter(|f| f.ifd_num == exif::In::PRIMARY && f.tag.context() == exif::Context::Gps).count()
        }
        Err(_) => 0,
    }
}

#[tokio::test]
async fn derived_images_carry_no_location_and_originals_are_untouched() {
    let app = TestApp::spawn().await;
    let photo = with_exif(&fixture("cat.jpg"));
    assert_eq!(gps_fields(&photo), 1, "the test photo carries a GPS position");
    let upload = app.create_upload("photo.jpg", &photo, json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();

    let original = app.fetch_asset(url, &[]).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(md5_hex(&original.bytes), md5_hex(&photo), "the original is served byte for byte");
    assert_eq!(gps_fields(&original.bytes), 1);

    for format in ["jpg", "pjpg", "png", "webp", "avif", "gif"] {
        let derived = app.fetch_asset(&format!("{url}?w=40&fm={format}"), &[]).await;
        assert_eq!(derived.status, StatusCode::OK, "{format}");
        assert_eq!(gps_fields(&derived.bytes), 0, "{format} keeps no GPS");
        let exif_marker = derived.bytes.windows(6).any(|w| w == b"Exif\0\0");
        assert!(!exif_marker, "{format}: no EXIF block at all");
    }
}
