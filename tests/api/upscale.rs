//! Issue 14: enlarging is bounded by `ASSETD_MAX_UPSCALE` × the source, whatever the fit mode, so
//! a tiny file cannot ask for huge renders (20 `?w=800N&fm=png` of a 9 KB JPEG cost 36 s of CPU).

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{fixture, TestApp, TestResponse};

fn dims(response: &TestResponse) -> (u32, u32) {
    let image = image::load_from_memory(&response.bytes).unwrap_or_else(|e| panic!("output does not decode: {e}"));
    (image.width(), image.height())
}

async fn render(app: &TestApp, url: &str, query: &str) -> TestResponse {
    let response = app.fetch_asset(&format!("{url}?{query}"), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&response.bytes));
    response
}

#[tokio::test]
async fn requests_beyond_max_upscale_get_the_largest_allowed_output_of_the_same_shape() {
    let app = TestApp::spawn_with(|config| config.max_upscale = 2.0).await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await; // 80×60
    let url = upload["attributes"]["url"].as_str().unwrap();
    // At most 160×120; a larger request shrinks as a whole, as ASSETD_MAX_OUTPUT_PIXELS does.
    let cases = [
        ("w=160", (160, 120), "exactly 2×"),
        ("w=8000", (160, 120), "clip (the default)"),
        ("h=8000&fit=clip", (160, 120), "clip by height"),
        ("w=80&dpr=5", (160, 120), "dpr multiplies w before the bound"),
        ("w=2000&h=2000&fit=crop", (120, 120), "crop keeps the square"),
        ("w=2000&h=200&fit=crop", (160, 16), "crop keeps 10:1"),
        ("w=100&h=100&fit=crop&dpr=5", (120, 120), "crop with dpr"),
        ("w=2000&h=2000&fit=facearea", (120, 120), "facearea crops like crop"),
        ("w=2000&h=2000&fit=scale", (120, 120), "scale keeps the requested shape"),
        ("w=2000&h=100&fit=scale", (160, 8), "scale keeps the stretch"),
        ("w=2000&h=2000&fit=fill", (120, 120), "fill: the canvas counts"),
        ("w=2000&h=2000&fit=clamp", (120, 120), "clamp: the canvas counts"),
        ("w=2000&h=2000&fit=fillmax", (120, 120), "fillmax: the canvas counts"),
        ("w=8000&fit=max", (80, 60), "max never enlarges"),
        ("w=2000&h=2000&fit=min", (60, 60), "min never enlarges"),
        ("w=100&h=100&fit=crop", (100, 100), "within the bound: as asked"),
        ("rect=0,0,20,20&w=1000", (40, 40), "the source is the rect"),
    ];
    for (query, size, why) in cases {
        assert_eq!(dims(&render(&app, url, query).await), size, "{query}: {why}");
    }
    // The capped answer is the picture the request asked for, smaller: the same pixels as asking
    // for that size directly.
    for (capped, direct) in [
        ("w=2000&h=2000&fit=crop&fm=png", "w=120&h=120&fit=crop&fm=png"),
        ("w=2000&h=2000&fit=fill&bg=f00&fm=png", "w=120&h=120&fit=fill&bg=f00&fm=png"),
        ("w=80&dpr=5&fm=png", "w=160&fm=png"),
    ] {
        assert_eq!(render(&app, url, capped).await.bytes, render(&app, url, direct).await.bytes, "{capped}");
    }
}

#[tokio::test]
async fn the_default_bound_is_four_times_the_source_and_zero_lifts_it() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await; // 80×60
    let url = upload["attributes"]["url"].as_str().unwrap();
    assert_eq!(dims(&render(&app, url, "w=8000&fm=png").await), (320, 240));
    assert_eq!(dims(&render(&app, url, "w=320&h=240&fit=scale&fm=png").await), (320, 240), "4× exactly");

    let unbounded = TestApp::spawn_with(|config| config.max_upscale = 0.0).await;
    let upload = unbounded.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();
    assert_eq!(dims(&render(&unbounded, url, "w=800&fm=png").await), (800, 600));
}
