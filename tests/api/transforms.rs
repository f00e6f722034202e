//! Issue 4: imgix-style transforms at the asset URL, the derived-image cache and its limits.

use std::io::Cursor;

use axum::http::StatusCode;
use image::{codecs::gif::GifEncoder, Delay, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::json;

use crate::helpers::{fixture, TestApp, TestResponse};

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];

/// Four 100-px bands side by side (red, green, blue, white): which band a crop kept tells which
/// source window it used.
fn bands_png(vertical: bool) -> Vec<u8> {
    let colours = [RED, GREEN, BLUE, WHITE];
    let (w, h) = if vertical { (100, 400) } else { (400, 100) };
    let image = RgbImage::from_fn(w, h, |x, y| Rgb(colours[(if vertical { y } else { x } / 100) as usize]));
    encode(&image, ImageFormat::Png)
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn decode(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).unwrap_or_else(|e| panic!("output does not decode: {e}"))
}

fn mean_rgb(bytes: &[u8]) -> [u8; 3] {
    let image = decode(bytes).to_rgb8();
    let n = u64::from(image.width() * image.height());
    let mut sum = [0u64; 3];
    for p in image.pixels() {
        for (total, value) in sum.iter_mut().zip(p.0) {
            *total += u64::from(value);
        }
    }
    sum.map(|s| u8::try_from(s / n).unwrap())
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

fn dims(bytes: &[u8]) -> (u32, u32) {
    let image = decode(bytes);
    (image.width(), image.height())
}

struct Asset {
    id: String,
    url: String,
}

async fn upload(app: &TestApp, name: &str, bytes: &[u8]) -> Asset {
    let upload = app.create_upload(name, bytes, json!({})).await;
    Asset {
        id: upload["id"].as_str().unwrap().to_owned(),
        url: upload["attributes"]["url"].as_str().unwrap().to_owned(),
    }
}

async fn get(app: &TestApp, asset: &Asset, query: &str) -> TestResponse {
    app.fetch_asset(&format!("{}?{query}", asset.url), &[]).await
}

async fn get_ok(app: &TestApp, asset: &Asset, query: &str) -> TestResponse {
    let response = get(app, asset, query).await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {:?}", String::from_utf8_lossy(&response.bytes));
    response
}

#[tokio::test]
async fn width_height_and_fit_modes_size_the_output() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await; // 80×60
    let cases = [
        ("w=40", (40, 30)),
        ("h=30", (40, 30)),
        ("w=0.5", (40, 30)),
        ("w=160", (160, 120)),
        ("w=160&fit=max", (80, 60)),
        ("w=40&h=40&fit=clip", (40, 30)),
        ("w=40&h=40&fit=crop", (40, 40)),
        ("w=40&h=40&fit=scale", (40, 40)),
        ("w=40&h=40&fit=fill", (40, 40)),
        ("w=200&h=200&fit=fillmax", (200, 200)),
        ("w=40&h=40&fit=clamp", (40, 40)),
        ("w=200&h=100&fit=min", (80, 40)),
        ("w=40&h=40&fit=facearea", (40, 40)),
        ("max-w=20", (20, 15)),
        ("w=80&max-w=20&fit=crop&h=80", (20, 20)),
        ("w=20&dpr=2", (40, 30)),
        ("w=40&dpr=0.5", (20, 15)),
        ("fit=crop&ar=16:9&w=64", (64, 36)),
        ("fit=crop&ar=1:1", (60, 60)),
        ("rect=0,0,40,30", (40, 30)),
        ("rect=40,30,40,30&w=20", (20, 15)),
    ];
    for (query, expected) in cases {
        let response = get_ok(&app, &asset, query).await;
        assert_eq!(response.header("content-type"), Some("image/jpeg"), "{query}");
        assert_eq!(dims(&response.bytes), expected, "{query}");
    }
}

#[tokio::test]
async fn crops_keep_the_window_the_parameters_name() {
    let app = TestApp::spawn().await;
    let wide = upload(&app, "wide.png", &bands_png(false)).await;
    let tall = upload(&app, "tall.png", &bands_png(true)).await;
    let cases = [
        (&wide, "w=100&h=100&fit=crop&crop=left", RED),
        (&wide, "w=100&h=100&fit=crop&crop=right", WHITE),
        (&wide, "w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.125&fp-y=0.5", RED),
        (&wide, "w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.375&fp-y=0.5", GREEN),
        (&wide, "w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.625&fp-y=0.5", BLUE),
        // A point near the edge: the window stops at the border instead of leaving the image.
        (&wide, "w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.99&fp-y=0.5", WHITE),
        (&wide, "w=50&h=100&fit=crop&crop=focalpoint&fp-x=0.375&fp-y=0.5&fp-z=2", GREEN),
        (&tall, "w=100&h=100&fit=crop&crop=top", RED),
        (&tall, "w=100&h=100&fit=crop&crop=bottom", WHITE),
        (&tall, "w=100&h=100&fit=crop&crop=focalpoint&fp-x=0.5&fp-y=0.625", BLUE),
        (&tall, "w=100&h=100&fit=crop&crop=bottom,left", WHITE),
        (&wide, "rect=200,0,100,100", BLUE),
    ];
    for (asset, query, colour) in cases {
        let response = get_ok(&app, asset, &format!("{query}&fm=png")).await;
        let mean = mean_rgb(&response.bytes);
        assert!(close(mean, colour), "{query}: kept {mean:?}, expected {colour:?}");
    }
    // The centre crop straddles green and blue.
    let centre = get_ok(&app, &wide, "w=100&h=100&fit=crop&fm=png").await;
    let image = decode(&centre.bytes).to_rgb8();
    assert_eq!(image.get_pixel(10, 50).0, GREEN);
    assert_eq!(image.get_pixel(90, 50).0, BLUE);
}

#[tokio::test]
async fn focal_point_crops_use_the_stored_point_and_follow_its_changes() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "wide.png", &bands_png(false)).await;
    let query = "w=100&h=100&fit=crop&crop=focalpoint&fm=png";
    let centred = get_ok(&app, &asset, query).await;
    assert_eq!(decode(&centred.bytes).to_rgb8().get_pixel(10, 50).0, GREEN, "no stored point: the centre");

    let metadata = json!({"default_field_metadata": {"en": {"focal_point": {"x": 0.125, "y": 0.5}}}});
    let (status, _) = app.update_upload(&asset.id, metadata).await;
    assert_eq!(status, 200);
    let left = get_ok(&app, &asset, query).await;
    assert!(close(mean_rgb(&left.bytes), RED), "the stored focal point moves the window");
    let explicit = get_ok(&app, &asset, &format!("{query}&fp-x=0.875&fp-y=0.5")).await;
    assert!(close(mean_rgb(&explicit.bytes), WHITE), "explicit fp-x/fp-y win over the stored point");
}

#[tokio::test]
async fn every_output_format_is_valid() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.png", &fixture("cat.png")).await; // 64×48 RGBA
    for (fm, mime, format) in [
        ("jpg", "image/jpeg", Some(ImageFormat::Jpeg)),
        ("pjpg", "image/jpeg", Some(ImageFormat::Jpeg)),
        ("png", "image/png", Some(ImageFormat::Png)),
        ("png8", "image/png", Some(ImageFormat::Png)),
        ("webp", "image/webp", Some(ImageFormat::WebP)),
        ("gif", "image/gif", Some(ImageFormat::Gif)),
        ("avif", "image/avif", None),
    ] {
        let response = get_ok(&app, &asset, &format!("w=32&fm={fm}")).await;
        assert_eq!(response.header("content-type"), Some(mime), "fm={fm}");
        match format {
            Some(format) => {
                assert_eq!(image::guess_format(&response.bytes).unwrap(), format, "fm={fm}");
                assert_eq!(dims(&response.bytes), (32, 24), "fm={fm}");
            }
            None => {
                assert_eq!(&response.bytes[4..12], b"ftypavif", "fm=avif");
                // Decodable: assetd reads it back as an input and renders it to PNG.
                let avif = upload(&app, "out.avif", &response.bytes).await;
                let png = get_ok(&app, &avif, "fm=png").await;
                assert_eq!(dims(&png.bytes), (32, 24));
            }
        }
    }
    let progressive = get_ok(&app, &asset, "w=32&fm=pjpg").await;
    assert!(progressive.bytes.windows(2).any(|m| m == [0xFF, 0xC2]), "pjpg has a progressive SOF2 marker");
    let baseline = get_ok(&app, &asset, "w=32&fm=jpg").await;
    assert!(!baseline.bytes.windows(2).any(|m| m == [0xFF, 0xC2]));
}

#[tokio::test]
async fn every_input_format_is_read() {
    let app = TestApp::spawn().await;
    for name in ["cat.jpg", "cat.png", "cat.webp", "cat.avif", "cat.heic", "cat.tiff"] {
        let asset = upload(&app, name, &fixture(name)).await;
        let response = get_ok(&app, &asset, "w=40&fm=png").await;
        let (w, h) = dims(&response.bytes);
        assert_eq!(w, 40, "{name}");
        assert!(h == 30, "{name}: {w}x{h}");
    }
    let gif = upload(&app, "anim.gif", &animated_gif()).await;
    let response = get_ok(&app, &gif, "w=20").await;
    assert_eq!(response.header("content-type"), Some("image/gif"), "a GIF stays a GIF");
    assert!(close(mean_rgb(&response.bytes), RED), "animated GIFs render their first frame");
}

/// Two 40×40 frames: red, then blue.
fn animated_gif() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = RgbaImage::from_pixel(40, 40, Rgba(colour));
            encoder.encode_frame(Frame::from_parts(frame, 0, 0, Delay::from_numer_denom_ms(100, 1))).unwrap();
        }
    }
    out
}

#[tokio::test]
async fn transparency_is_kept_or_flattened_on_bg() {
    let app = TestApp::spawn().await;
    let half = RgbaImage::from_fn(40, 40, |x, _| if x < 20 { Rgba([255, 0, 0, 255]) } else { Rgba([0, 0, 0, 0]) });
    let mut png = Cursor::new(Vec::new());
    half.write_to(&mut png, ImageFormat::Png).unwrap();
    let asset = upload(&app, "half.png", png.get_ref()).await;

    let kept = decode(&get_ok(&app, &asset, "w=40&fm=png").await.bytes).to_rgba8();
    assert_eq!(kept.get_pixel(35, 20).0[3], 0, "transparency kept in PNG");
    let webp = decode(&get_ok(&app, &asset, "w=40&fm=webp").await.bytes).to_rgba8();
    assert_eq!(webp.get_pixel(35, 20).0[3], 0, "transparency kept in WebP");
    let jpeg = decode(&get_ok(&app, &asset, "w=40&fm=jpg").await.bytes).to_rgb8();
    assert!(close(jpeg.get_pixel(35, 20).0, WHITE), "JPEG flattens on white");
    let on_blue = decode(&get_ok(&app, &asset, "w=40&fm=jpg&bg=00f").await.bytes).to_rgb8();
    assert!(close(on_blue.get_pixel(35, 20).0, BLUE), "bg sets the flattening colour");
    let filled = decode(&get_ok(&app, &asset, "w=80&h=40&fit=fill&fm=png").await.bytes).to_rgba8();
    assert_eq!((filled.width(), filled.height()), (80, 40));
    assert_eq!(filled.get_pixel(2, 20).0[3], 0, "fill pads with transparency");
    let filled = decode(&get_ok(&app, &asset, "w=80&h=40&fit=fill&fm=png&bg=ff00ff00").await.bytes).to_rgba8();
    assert_eq!(filled.get_pixel(2, 20).0, [0, 255, 0, 255], "fill pads with bg");
}

/// A JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6).
fn rotated_jpeg() -> Vec<u8> {
    rotated_jpeg_of(60, 40)
}

/// Stored `width`×`height`: left half red, right half blue. Displayed: rotated, red on top.
fn rotated_jpeg_of(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, _| Rgb(if x < width / 2 { RED } else { BLUE }));
    let jpeg = encode(&image, ImageFormat::Jpeg);
    let tiff: &[u8] = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::test]
async fn exif_orientation_is_applied() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "phone.jpg", &rotated_jpeg()).await;
    let response = get_ok(&app, &asset, "w=20&fm=png").await;
    let image = decode(&response.bytes).to_rgb8();
    assert_eq!((image.width(), image.height()), (20, 30), "displayed upright: portrait");
    assert!(close(image.get_pixel(10, 3).0, RED), "top is the stored left half");
    assert!(close(image.get_pixel(10, 26).0, BLUE));

    // A phone-sized photo: rotating needs the source out of order, which streaming cannot give.
    let large = upload(&app, "large.jpg", &rotated_jpeg_of(1600, 1000)).await;
    for query in ["w=200&fm=png", "w=800&fm=png"] {
        let image = decode(&get_ok(&app, &large, query).await.bytes).to_rgb8();
        let (w, h) = (image.width(), image.height());
        assert_eq!(h, w * 8 / 5, "{query}: displayed upright, {w}x{h}");
        assert!(close(image.get_pixel(w / 2, 5).0, RED), "{query}");
        assert!(close(image.get_pixel(w / 2, h - 5).0, BLUE), "{query}");
    }
}

#[tokio::test]
async fn quality_blur_lossless_and_compress_change_the_bytes() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    let q90 = get_ok(&app, &asset, "w=80&fm=jpg&q=90").await.bytes.len();
    let q20 = get_ok(&app, &asset, "w=80&fm=jpg&q=20").await.bytes.len();
    assert!(q20 < q90, "q20 ({q20} B) is smaller than q90 ({q90} B)");
    let compressed = get_ok(&app, &asset, "w=80&fm=jpg&auto=compress").await.bytes.len();
    let default = get_ok(&app, &asset, "w=80&fm=jpg").await.bytes.len();
    assert!(compressed < default, "auto=compress ({compressed} B) < default ({default} B)");
    let lossless = get_ok(&app, &asset, "w=80&fm=webp&lossless=1").await.bytes.len();
    let lossy = get_ok(&app, &asset, "w=80&fm=webp").await.bytes.len();
    assert!(lossless > lossy, "lossless WebP ({lossless} B) is larger than lossy ({lossy} B)");

    let sharp = decode(&get_ok(&app, &upload(&app, "b.png", &bands_png(false)).await, "fm=png").await.bytes).to_rgb8();
    let blurred_asset = upload(&app, "c.png", &bands_png(false)).await;
    let blurred = decode(&get_ok(&app, &blurred_asset, "fm=png&blur=200").await.bytes).to_rgb8();
    assert_eq!(sharp.get_pixel(99, 50).0, RED);
    assert_ne!(blurred.get_pixel(99, 50).0, RED, "blur mixes the band edges");
}

#[tokio::test]
async fn auto_format_follows_accept_and_varies() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    let url = format!("{}?w=40&auto=format", asset.url);
    for (accept, mime) in [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "image/avif"),
        ("image/webp,image/*,*/*;q=0.8", "image/webp"),
        ("image/png,image/*;q=0.8", "image/jpeg"),
    ] {
        let response = app.fetch_asset(&url, &[("accept", accept)]).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("content-type"), Some(mime), "Accept: {accept}");
        assert_eq!(response.header("vary"), Some("Accept"));
    }
    let explicit =
        app.fetch_asset(&format!("{}?w=40&auto=format&fm=png", asset.url), &[("accept", "image/webp")]).await;
    assert_eq!(explicit.header("content-type"), Some("image/png"), "fm wins over auto=format");
    assert_eq!(explicit.header("vary"), None);
}

#[tokio::test]
async fn derived_images_are_cached_and_made_once() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    let before = app.app.renditions.rendered_count();
    let first = get_ok(&app, &asset, "w=40&fm=webp&q=80").await;
    assert_eq!(first.header("x-cache"), Some("MISS"));
    let second = get_ok(&app, &asset, "q=80&fm=webp&w=40").await;
    assert_eq!(second.header("x-cache"), Some("HIT"), "the same parameters in another order hit");
    assert_eq!(second.bytes, first.bytes);
    assert_eq!(second.header("content-type"), Some("image/webp"));
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(second.header("cache-control"), Some("public, max-age=31536000, immutable"));
    let folded = get_ok(&app, &asset, "w=20&dpr=2&fm=webp&q=80").await;
    assert_eq!(folded.header("x-cache"), Some("HIT"), "dpr folds into w");
    assert_eq!(app.app.renditions.rendered_count() - before, 1);

    let etag = first.header("etag").unwrap().to_owned();
    let not_modified = app.fetch_asset(&format!("{}?w=40&fm=webp&q=80", asset.url), &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);

    // Twenty concurrent requests for a new key render it once.
    let before = app.app.renditions.rendered_count();
    let url = format!("{}?w=33&fm=png", asset.url);
    let requests = (0..20).map(|_| app.fetch_asset(&url, &[]));
    let responses = futures_util::future::join_all(requests).await;
    assert!(responses.iter().all(|r| r.status == StatusCode::OK && r.bytes == responses[0].bytes));
    assert_eq!(app.app.renditions.rendered_count() - before, 1, "one render for concurrent requests");
}

#[tokio::test]
async fn replacing_or_deleting_the_file_purges_its_derived_images() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    let first = get_ok(&app, &asset, "w=40&fm=png").await;
    assert_eq!(derived_count(&app, &asset.id).await, 1);

    // keep_url: same URL, new bytes, new derived image; the old one is purged.
    let path = app.put_file("dog.jpg", &fixture("dog.jpg")).await;
    let body = json!({"data": {"type": "upload", "id": asset.id, "attributes": {"path": path}}});
    let (status, _) = app.update_upload_with(&asset.id, "?replace_strategy=keep_url", body).await;
    assert_eq!(status, 200);
    assert_eq!(derived_count(&app, &asset.id).await, 0, "keep_url purges");
    let second = get_ok(&app, &asset, "w=40&fm=png").await;
    assert_eq!(second.header("x-cache"), Some("MISS"));
    assert_ne!(second.bytes, first.bytes, "the new file is rendered");
    assert_eq!(dims(&second.bytes), (40, 30));
    assert_eq!(second.header("cache-control"), Some("public, max-age=60, must-revalidate"));

    // A new version (new path): purged too.
    let path = app.put_file("cat2.jpg", &fixture("cat.jpg")).await;
    let (status, updated) = app.update_upload(&asset.id, json!({"path": path})).await;
    assert_eq!(status, 200);
    assert_eq!(derived_count(&app, &asset.id).await, 0, "a new version purges");
    let url = updated["data"]["attributes"]["url"].as_str().unwrap().to_owned();
    let asset = Asset { id: asset.id, url };
    get_ok(&app, &asset, "w=40&fm=png").await;
    assert_eq!(derived_count(&app, &asset.id).await, 1);

    let response = app.call(axum::http::Method::DELETE, &format!("/uploads/{}", asset.id), None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(derived_count(&app, &asset.id).await, 0, "deletion purges");
}

async fn derived_count(app: &TestApp, upload_id: &str) -> usize {
    app.app.storage.count_prefix(&assetd::storage::StorageKey::derived_prefix(upload_id)).await.unwrap()
}

#[tokio::test]
async fn bad_parameters_answer_400_and_non_images_ignore_them() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    for (query, param) in [
        ("w=abc", "w"),
        ("w=-1", "w"),
        ("h=0", "h"),
        ("fit=stretch", "fit"),
        ("crop=middle", "crop"),
        ("fm=bmp", "fm"),
        ("fm=jp2", "fm"),
        ("ar=0:1&fit=crop&w=10", "ar"),
        ("rect=1,2,3", "rect"),
        ("rect=500,500,10,10", "rect"),
        ("bg=nothex", "bg"),
        ("dpr=-2&w=10", "dpr"),
        ("lossless=perhaps", "lossless"),
        ("fp-x=left&fit=crop&w=10&h=10", "fp-x"),
    ] {
        let response = get(&app, &asset, query).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(response.error_code(), "INVALID_IMAGE_PARAMS", "{query}");
        assert_eq!(response.json()["data"][0]["attributes"]["details"]["param"], json!(param), "{query}");
    }
    // Out-of-range numbers are clamped, not refused.
    for query in ["w=100000&h=1", "q=1000&w=10", "dpr=50&w=2", "blur=99999&w=10", "fp-x=7&fit=crop&w=10&h=10"] {
        let response = get(&app, &asset, query).await;
        assert_eq!(response.status, StatusCode::OK, "{query}");
    }
    // Names imgix does not know serve the original; imgix parameters assetd does not render are
    // refused, named as written.
    let original = get_ok(&app, &asset, "utm_source=x&ixlib=js-3.8.0").await;
    assert_eq!(original.bytes, fixture("cat.jpg"));
    let response = get(&app, &asset, "vib=20&w=10&txt64=aGk&utm_source=x").await;
    assert_eq!((response.status, response.error_code()), (StatusCode::BAD_REQUEST, "UNSUPPORTED_PARAMS".into()));
    assert_eq!(response.json()["data"][0]["attributes"]["details"]["params"], json!(["vib", "txt64"]));

    let pdf = upload(&app, "doc.pdf", &fixture("doc.pdf")).await;
    let response = get_ok(&app, &pdf, "w=100&fm=png").await;
    assert_eq!(response.bytes, fixture("doc.pdf"), "non-images ignore transform parameters");
    assert_eq!(response.header("content-type"), Some("application/pdf"));
}

#[tokio::test]
async fn limits_refuse_huge_sources_and_bound_outputs() {
    let app = TestApp::spawn_with(|config| {
        config.max_input_pixels = 4000;
        config.max_output_pixels = 10_000;
    })
    .await;
    let small = upload(&app, "dog.jpg", &fixture("dog.jpg")).await; // 40×30 = 1200 px
    let large = upload(&app, "cat.jpg", &fixture("cat.jpg")).await; // 80×60 = 4800 px
    let refused = get(&app, &large, "w=10").await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(refused.error_code(), "IMAGE_TOO_LARGE");
    let bounded = get_ok(&app, &small, "w=1000").await;
    let (w, h) = dims(&bounded.bytes);
    assert!(u64::from(w) * u64::from(h) <= 10_000, "output bounded: {w}x{h}");
    assert_eq!((w, h), (115, 86));
}

#[tokio::test]
async fn decompression_bombs_are_refused_from_the_header() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "bomb.png", &png_claiming(30_000, 30_000)).await;
    let response = get(&app, &asset, "w=10").await;
    assert_eq!(response.status.as_u16(), 422, "{:?}", String::from_utf8_lossy(&response.bytes));
    assert_eq!(response.error_code(), "IMAGE_TOO_LARGE");
}

#[tokio::test]
async fn corrupt_images_answer_422() {
    let app = TestApp::spawn().await;
    let mut truncated = fixture("cat.jpg");
    truncated.truncate(truncated.len() / 2);
    let path = app.put_file("half.jpg", &truncated).await;
    let body = json!({"data": {"type": "upload", "attributes": {"path": path}}});
    let (status, created) = app.call_job(axum::http::Method::POST, "/uploads", body).await;
    if status != 200 {
        // Ingest may already refuse the file; then there is nothing to transform.
        assert_eq!(created["data"][0]["type"], json!("api_error"));
        return;
    }
    let url = created["data"]["attributes"]["url"].as_str().unwrap();
    let response = app.fetch_asset(&format!("{url}?w=10"), &[]).await;
    assert_eq!(response.status.as_u16(), 422);
    assert_eq!(response.error_code(), "INVALID_IMAGE");
}

/// A valid PNG header claiming `w`×`h` greyscale pixels, with almost no pixel data.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of one empty stored block
    chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn renamed_urls_redirect_with_their_parameters() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    let (status, renamed) = app.update_upload(&asset.id, json!({"basename": "kitten"})).await;
    assert_eq!(status, 200);
    let new_url = renamed["data"]["attributes"]["url"].as_str().unwrap();
    let response = get(&app, &asset, "w=40&fm=png").await;
    assert_eq!(response.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.header("location"), Some(format!("{new_url}?w=40&fm=png").as_str()));
}

#[tokio::test]
async fn slow_transforms_time_out_and_a_full_queue_answers_503() {
    let app = TestApp::spawn_with(|config| {
        config.transform_timeout_secs = 1;
        config.transform_concurrency = 1;
        config.transform_queue = 0;
        // The slow transform below is a huge enlargement of a small image.
        config.max_upscale = 0.0;
    })
    .await;
    let asset = upload(&app, "cat.jpg", &fixture("cat.jpg")).await;
    // A 36-megapixel output blurred with a huge kernel takes far longer than a second.
    let slow = format!("{}?w=6000&h=6000&fit=scale&blur=2000&fm=png", asset.url);
    let busy = format!("{}?w=10&fm=png", asset.url);
    let (slow, busy) = tokio::join!(app.fetch_asset(&slow, &[]), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.fetch_asset(&busy, &[]).await
    });
    assert_eq!(slow.status.as_u16(), 503, "{:?}", String::from_utf8_lossy(&slow.bytes));
    assert_eq!(slow.error_code(), "TRANSFORM_TIMEOUT");
    assert!(slow.header("retry-after").is_some());
    assert_eq!(busy.status.as_u16(), 503, "the only slot is taken and nobody may wait");
    assert_eq!(busy.error_code(), "SERVICE_UNAVAILABLE");
    assert_eq!(busy.header("retry-after"), Some("1"));
    // Once the stopped transform has let go of its slot (libvips notices the kill between two
    // strips, later on a loaded machine), transforms work again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let after = app.fetch_asset(&format!("{}?w=10&fm=png", asset.url), &[]).await;
        if after.status == StatusCode::OK {
            break;
        }
        assert_eq!(after.error_code(), "SERVICE_UNAVAILABLE");
        assert!(std::time::Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn svgs_are_served_sanitised_and_rasterised_on_request() {
    let app = TestApp::spawn().await;
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" onload="alert(1)"><script>alert(2)</script><rect width="64" height="48" fill="#00f"/><image href="https://tracker.example/p.png"/></svg>"##;
    let asset = upload(&app, "evil.svg", svg.as_bytes()).await;
    let response = app.fetch_asset(&asset.url, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("image/svg+xml"));
    assert_eq!(response.header("x-cache"), Some("MISS"));
    let body = String::from_utf8(response.bytes.clone()).unwrap();
    assert!(!body.contains("alert") && !body.contains("tracker.example"), "{body}");
    assert!(body.contains("<rect") && body.contains("fill=\"#00f\""), "{body}");
    let again = app.fetch_asset(&asset.url, &[]).await;
    assert_eq!(again.header("x-cache"), Some("HIT"));
    assert_eq!(again.bytes, response.bytes);
    assert_eq!(again.header("content-type"), Some("image/svg+xml"));

    let png = get_ok(&app, &asset, "w=32&fm=png").await;
    assert_eq!(dims(&png.bytes), (32, 24));
    assert!(close(mean_rgb(&png.bytes), BLUE));

    let broken = upload(&app, "broken.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><g></svg>").await;
    let response = app.fetch_asset(&broken.url, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-disposition"), Some("attachment"), "a malformed SVG is only downloadable");
}

#[tokio::test]
async fn videos_answer_their_poster_frame() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "clip.mp4", &fixture("clip.mp4")).await; // 64×48, 2 s
    let original = app.fetch_asset(&asset.url, &[]).await;
    assert_eq!(original.bytes, fixture("clip.mp4"), "without parameters: the video");
    let poster = get_ok(&app, &asset, "fm=jpg").await;
    assert_eq!(poster.header("content-type"), Some("image/jpeg"));
    assert_eq!(dims(&poster.bytes), (64, 48));
    let small = get_ok(&app, &asset, "w=32").await;
    assert_eq!(small.header("content-type"), Some("image/jpeg"), "posters default to JPEG");
    assert_eq!(dims(&small.bytes), (32, 24));
    let webp = get_ok(&app, &asset, "w=32&fm=webp").await;
    assert_eq!(webp.header("content-type"), Some("image/webp"));

    // The editor's poster time is part of the key: changing it makes a new poster at the same
    // URL, so the poster is revalidated, not immutable, and old validators do not match it.
    let again = get_ok(&app, &asset, "w=32").await;
    assert_eq!(again.header("x-cache"), Some("HIT"));
    assert_eq!(again.header("cache-control"), Some("public, max-age=60, must-revalidate"));
    let (etag, modified) =
        (again.header("etag").unwrap().to_owned(), again.header("last-modified").unwrap().to_owned());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // Last-Modified has whole seconds
    let metadata = json!({"default_field_metadata": {"en": {"poster_time": 0.1}}});
    let (status, body) = app.update_upload(&asset.id, metadata).await;
    assert_eq!(status, 200, "{body}");
    let moved = get_ok(&app, &asset, "w=32").await;
    assert_eq!(moved.header("x-cache"), Some("MISS"));
    assert_ne!(moved.header("etag"), Some(etag.as_str()));
    for validator in [("if-none-match", etag.as_str()), ("if-modified-since", modified.as_str())] {
        let revalidated = app.fetch_asset(&format!("{}?w=32", asset.url), &[validator]).await;
        assert_eq!(revalidated.status, StatusCode::OK, "{validator:?} is the old poster's");
        assert_eq!(revalidated.bytes, moved.bytes);
    }
    let current =
        app.fetch_asset(&format!("{}?w=32", asset.url), &[("if-none-match", moved.header("etag").unwrap())]).await;
    assert_eq!(current.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn derived_images_carry_no_metadata() {
    let app = TestApp::spawn().await;
    let asset = upload(&app, "phone.jpg", &rotated_jpeg()).await;
    let webp = get_ok(&app, &asset, "w=20&fm=webp").await;
    assert!(!webp.bytes.windows(4).any(|w| w == b"EXIF" || w == b"XMP "), "no EXIF/XMP chunk in WebP");
    let jpeg = get_ok(&app, &asset, "w=20&fm=jpg").await;
    assert!(!jpeg.bytes.windows(6).any(|w| w == b"Exif\0\0"), "no EXIF segment in JPEG");
    let png = get_ok(&app, &upload(&app, "cat.png", &fixture("cat.png")).await, "w=20&fm=webp").await;
    assert!(!png.bytes.windows(4).any(|w| w == b"EXIF"));
}

#[tokio::test]
async fn colour_profiles_are_converted_to_srgb() {
    let app = TestApp::spawn().await;
    // p3.png: orange (230,120,40) | blue (30,80,200) in sRGB, stored as Display P3 values with the P3 profile.
    let raw = decode(&fixture("p3.png")).to_rgb8();
    let orange = [230, 120, 40];
    let blue = [30, 80, 200];
    assert!(!close(raw.get_pixel(8, 24).0, orange), "the stored values are not sRGB: {:?}", raw.get_pixel(8, 24).0);
    let asset = upload(&app, "p3.png", &fixture("p3.png")).await;
    let out = decode(&get_ok(&app, &asset, "w=64&fm=png").await.bytes).to_rgb8();
    let (left, right) = (out.get_pixel(8, 24).0, out.get_pixel(56, 24).0);
    assert!(left.iter().zip(orange).all(|(a, b)| a.abs_diff(b) <= 4), "left {left:?}");
    assert!(right.iter().zip(blue).all(|(a, b)| a.abs_diff(b) <= 4), "right {right:?}");
}

/// Nodes sharing PostgreSQL and a store render each derived image once between them (render
/// leases). Only a PostgreSQL deployment has several nodes: with SQLite (one node, one process)
/// the in-process single flight above is the whole story, so this test needs
/// `ASSETD_TEST_DATABASE_URL`, which scripts/test sets for its second pass.
#[tokio::test]
async fn nodes_sharing_postgres_render_each_image_once_if_configured() {
    if std::env::var("ASSETD_TEST_DATABASE_URL").is_err() {
        return;
    }
    let first = TestApp::spawn().await;
    let second = first.sibling().await;
    let asset = upload(&first, "cat.jpg", &fixture("cat.jpg")).await;
    for query in ["w=31&fm=webp", "w=32&fm=png", "w=33&fm=jpg&q=50"] {
        let url = format!("{}?{query}", asset.url);
        let requests =
            (0..6).map(|i| if i % 2 == 0 { first.fetch_asset(&url, &[]) } else { second.fetch_asset(&url, &[]) });
        let responses = futures_util::future::join_all(requests).await;
        assert!(responses.iter().all(|r| r.status == StatusCode::OK && r.bytes == responses[0].bytes), "{query}");
    }
    let renders = first.app.renditions.rendered_count() + second.app.renditions.rendered_count();
    assert_eq!(renders, 3, "three images, each rendered once across both nodes");
    let rows = first.raw_text_rows("SELECT state, CAST(renders AS TEXT) FROM derived_images").await;
    assert_eq!(rows, vec![vec!["stored".to_owned(), "1".to_owned()]; 3]);

    // A new version purges the derived images and their leases on every node.
    let (status, _) =
        first.update_upload(&asset.id, json!({"path": first.put_file("dog.jpg", &fixture("dog.jpg")).await})).await;
    assert_eq!(status, 200);
    assert!(first.raw_text_rows("SELECT key FROM derived_images").await.is_empty());
}

/// A transform asked for while its upload is being deleted (or replaced by a new version) finds
/// the row and then no file: that is the upload gone (404), not a broken image (422) or a server
/// error (500, as it was on S3). The state of that race is made here by removing the file.
#[tokio::test]
async fn a_transform_whose_original_left_the_store_answers_404() {
    let app = TestApp::spawn_on_disk_with(|_| {}).await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let rows = app.raw_text_rows(&format!("SELECT blob_key FROM uploads WHERE id = '{id}'")).await;
    app.app.storage.delete(&assetd::storage::StorageKey::from_stored(&rows[0][0])).await.unwrap();
    let url = upload["attributes"]["url"].as_str().unwrap();
    let response = app.fetch_asset(&format!("{url}?w=30&fm=png"), &[]).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&response.bytes));
    assert_eq!(response.error_code(), "NOT_FOUND");
    let metrics = app.app.metrics.render(None);
    assert!(metrics.contains("assetd_transform_failures_total{reason=\"source_gone\"} 1\n"), "{metrics}");
}
