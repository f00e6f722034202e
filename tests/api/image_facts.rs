//! Issue 4, item 4: what ingest learns about images (libvips for the formats the `image` crate
//! cannot read, EXIF camera facts).

use serde_json::json;

use crate::helpers::{fixture, TestApp};

#[tokio::test]
async fn heic_avif_and_svg_get_sizes_and_placeholders() {
    let app = TestApp::spawn().await;
    for (name, size) in [("cat.heic", (80, 60)), ("cat.avif", (80, 60)), ("drawing.svg", (64, 48))] {
        let upload = app.create_upload(name, &fixture(name), json!({})).await;
        let a = &upload["attributes"];
        assert_eq!((a["width"].clone(), a["height"].clone()), (json!(size.0), json!(size.1)), "{name}");
        assert_eq!(a["is_image"], json!(true), "{name}");
        assert!(a["blurhash"].as_str().is_some_and(|b| b.len() >= 6), "{name}: {}", a["blurhash"]);
        assert!(a["thumbhash"].as_str().is_some_and(|t| t.len() >= 20), "{name}: {}", a["thumbhash"]);
        assert!(!a["colors"].as_array().unwrap().is_empty(), "{name}: {}", a["colors"]);
    }
    // The drawing is mostly blue (#2050c0) with an orange circle: blue dominates.
    let svg = app.create_upload("d.svg", &fixture("drawing.svg"), json!({})).await;
    let first = &svg["attributes"]["colors"][0];
    assert!(first["blue"].as_u64().unwrap() > 150 && first["red"].as_u64().unwrap() < 80, "{first}");
}

#[tokio::test]
async fn exif_info_holds_the_camera_facts() {
    let app = TestApp::spawn().await;
    let plain = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    assert_eq!(plain["attributes"]["exif_info"], json!({}));
    let photo = app.create_upload("photo.jpg", &with_exif(&fixture("cat.jpg")), json!({})).await;
    assert_eq!(
        photo["attributes"]["exif_info"],
        json!({"make": "Apple", "model": "iPhone 15", "iso": 64, "exposure_time": 0.01, "orientation": 1})
    );
}

/// `jpeg` with an EXIF block: Make, Model, Orientation and an EXIF IFD with ISO and ExposureTime,
/// plus a GPS IFD that must not be reported.
pub fn with_exif(jpeg: &[u8]) -> Vec<u8> {
    let mut t: Vec<u8> = b"II\x2a\0\x08\0\0\0".to_vec();
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    // IFD0 at 8: 5 entries → 2 + 60 + 4 = 66 bytes; strings follow at 74.
    let (make, model) = (b"Apple\0", b"iPhone 15\0");
    let make_at = 8 + 66;
    let model_at = make_at + make.len() as u32;
    let exif_at = model_at + model.len() as u32; // EXIF IFD: 2 entries → 30 bytes
    let rational_at = exif_at + 30;
    let gps_at = rational_at + 8;
    t.extend_from_slice(&5u16.to_le_bytes());
    entry(&mut t, 0x010F, 2, make.len() as u32, make_at);
    entry(&mut t, 0x0110, 2, model.len() as u32, model_at);
    entry(&mut t, 0x0112, 3, 1, 1);
    entry(&mut t, 0x8769, 4, 1, exif_at);
    entry(&mut t, 0x8825, 4, 1, gps_at);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(make);
    t.extend_from_slice(model);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x829A, 5, 1, rational_at);
    entry(&mut t, 0x8827, 3, 1, 64);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&100u32.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    t.extend_from_slice(&0u32.to_le_bytes());

    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(2 + 6 + t.len()).unwrap().to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&t);
    out.extend_from_slice(&jpeg[2..]);
    out
}
