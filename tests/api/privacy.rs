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

#[tokio::test]
async fn strip_location_removes_the_position_from_jpeg_originals_only() {
    let app = TestApp::spawn_with(|c| c.strip_location = true).await;
    let photo = with_exif(&fixture("cat.jpg"));
    let upload = app.create_upload("photo.jpg", &photo, json!({})).await;
    let attributes = &upload["attributes"];
    let stored = app.fetch_asset(attributes["url"].as_str().unwrap(), &[]).await;
    assert_eq!(stored.status, StatusCode::OK);
    assert_eq!(gps_fields(&stored.bytes), 0, "the original lost its GPS position");
    assert_eq!(stored.bytes.len(), photo.len(), "emptied in place: nothing else moved");
    assert_eq!(attributes["md5"], md5_hex(&stored.bytes), "md5 and size describe the stored file");
    assert_ne!(attributes["md5"], md5_hex(&photo));
    assert_eq!(attributes["exif_info"]["make"], "Apple", "the camera facts are kept");
    let before = image::load_from_memory(&photo).unwrap().to_rgb8();
    let after = image::load_from_memory(&stored.bytes).unwrap().to_rgb8();
    assert!(before == after, "the pixels are untouched");

    // Files without a location are stored as uploaded.
    let plain = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    assert_eq!(plain["attributes"]["md5"], md5_hex(&fixture("cat.jpg")));
}
