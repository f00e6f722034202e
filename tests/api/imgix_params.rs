//! Issue 18: imgix's whole parameter list (the pinned `imgix-url-params`), one row per name.
//! Every parameter assetd renders has a rendering case here (output size, format or a pixel;
//! `transforms.rs` tests each further); every other name and alias answers 400
//! `UNSUPPORTED_PARAMS` naming it as written. A parameter added to the list without either fails.

use std::collections::BTreeSet;

use assetd::imaging::{imgix_catalog, DELIVERY_PARAMS, RENDERED_PARAMS};
use axum::http::StatusCode;
use image::codecs::gif::Repeat;
use serde_json::{json, Value};

use crate::{
    helpers::{fixture, TestApp, TestResponse},
    imgix_animation,
};

/// What a rendered parameter's case checks on the answer for an 80×60 JPEG.
enum Check {
    Size(u32, u32),
    Width(u32),
    Height(u32),
    Format(image::ImageFormat),
    /// The top-left pixel, within 12 per channel.
    Corner([u8; 3]),
    /// The top-left pixel's alpha, and the centre's.
    CornerAlpha(u8, u8),
    /// A JPEG different from the one without the parameter.
    Changed(&'static str),
    /// For the animated GIF of `imgix_animation.rs` (which tests each further): the frames, the
    /// first one's colour and the loop count of the answer.
    Animated {
        frames: usize,
        first: usize,
        loops: u16,
    },
}

/// A query rendering with each parameter assetd renders, and what it must produce.
fn rendering_case(param: &str) -> Option<(&'static str, Check)> {
    use image::ImageFormat::{Png, WebP};
    Some(match param {
        "w" => ("w=40", Check::Size(40, 30)),
        "h" => ("h=30", Check::Size(40, 30)),
        "max-w" => ("w=200&max-w=50", Check::Width(50)),
        "max-h" => ("h=150&max-h=30", Check::Height(30)),
        "fit" => ("w=30&h=30&fit=crop", Check::Size(30, 30)),
        "crop" => ("w=30&h=30&fit=crop&crop=left,top", Check::Size(30, 30)),
        "fp-x" | "fp-y" | "fp-z" => ("w=30&h=30&fit=crop&crop=focalpoint&fp-x=0&fp-y=1&fp-z=2", Check::Size(30, 30)),
        "ar" => ("w=40&ar=1:1&fit=crop", Check::Size(40, 40)),
        "rect" => ("rect=0,0,20,10", Check::Size(20, 10)),
        "dpr" => ("w=20&dpr=2", Check::Size(40, 30)),
        "fm" => ("fm=png", Check::Format(Png)),
        "auto" => ("auto=format&w=40", Check::Format(WebP)),
        "lossless" => ("fm=webp&lossless=1", Check::Format(WebP)),
        "chromasub" => ("chromasub=444", Check::Changed("q=75")),
        "q" => ("q=5", Check::Changed("q=90")),
        "blur" => ("blur=200", Check::Changed("q=75")),
        "bg" => ("w=100&h=100&fit=fill&bg=f00&fm=png", Check::Corner([255, 0, 0])),
        // imgix_rendering.rs compares each with vips' own output.
        "orient" => ("orient=6", Check::Size(60, 80)),
        "flip" => ("flip=h", Check::Changed("q=75")),
        "rot" => ("rot=30", Check::Changed("q=75")),
        "bri" => ("bri=50", Check::Changed("q=75")),
        "con" => ("con=50", Check::Changed("q=75")),
        "exp" => ("exp=50", Check::Changed("q=75")),
        "gam" => ("gam=50", Check::Changed("q=75")),
        "sat" => ("sat=-50", Check::Changed("q=75")),
        "hue" => ("hue=90", Check::Changed("q=75")),
        "invert" => ("invert=1", Check::Changed("q=75")),
        "sharp" => ("sharp=80", Check::Changed("q=75")),
        "usm" => ("usm=80", Check::Changed("q=75")),
        "usmrad" => ("usm=80&usmrad=8", Check::Changed("usm=80")),
        "px" => ("px=8", Check::Changed("q=75")),
        "fill" => ("w=100&h=100&fit=fill&fill=blur&fm=png", Check::Size(100, 100)),
        "sepia" => ("sepia=80", Check::Changed("q=75")),
        "monochrome" => ("monochrome=00f", Check::Changed("q=75")),
        "duotone" => ("duotone=000,fff", Check::Changed("q=75")),
        "duotone-alpha" => ("duotone=000,f00&duotone-alpha=40", Check::Changed("duotone=000,f00")),
        "fill-color" => ("w=100&h=100&fit=fill&fill-color=00f&fm=png", Check::Corner([0, 0, 255])),
        "pad" => ("pad=10&fm=png", Check::Size(100, 80)),
        "pad-top" => ("pad-top=7", Check::Size(80, 67)),
        "pad-right" => ("pad-right=7", Check::Size(87, 60)),
        "pad-bottom" => ("pad-bottom=5", Check::Size(80, 65)),
        "pad-left" => ("pad=2&pad-left=5", Check::Size(87, 64)),
        "mask" => ("mask=ellipse&fm=png", Check::CornerAlpha(0, 255)),
        "corner-radius" => ("mask=corners&corner-radius=0,30,30,30&fm=png", Check::CornerAlpha(255, 255)),
        "mask-bg" => ("mask=ellipse&mask-bg=f00&fm=png", Check::Corner([255, 0, 0])),
        "frame" => ("frame=2-3", Check::Animated { frames: 2, first: 1, loops: 0 }),
        "reverse" => ("reverse=1", Check::Animated { frames: 4, first: 3, loops: 0 }),
        "loop" => ("loop=5", Check::Animated { frames: 4, first: 0, loops: 5 }),
        _ => return None,
    })
}

/// A value of the type imgix's list gives the parameter (the answer must not depend on it).
fn sample(name: &str) -> &'static str {
    match name {
        "txt" | "mark" | "blend" | "mask" | "dl" | "txt-font" | "mark-base" | "prefix" => "aGk",
        _ => "1",
    }
}

async fn get(app: &TestApp, url: &str, query: &str, accept: &[(&str, &str)]) -> TestResponse {
    app.fetch_asset(&format!("{url}?{query}"), accept).await
}

#[tokio::test]
async fn every_imgix_parameter_is_rendered_or_refused_by_name() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let animated = app.create_upload("spin.gif", &imgix_animation::animated_gif(Repeat::Infinite), json!({})).await;
    let animated_url = animated["attributes"]["url"].as_str().unwrap().to_owned();
    let all = imgix_catalog::all();
    assert!(all.len() >= 180, "imgix's list has {} parameters", all.len());

    let mut rendered = BTreeSet::new();
    for parameter in all {
        let name = parameter.name;
        if DELIVERY_PARAMS.contains(&name) {
            assert_eq!(name, "dl", "a delivery parameter without a case");
            rendered.insert(name);
            continue;
        }
        if RENDERED_PARAMS.contains(&name) {
            let (query, check) =
                rendering_case(name).unwrap_or_else(|| panic!("`{name}` is rendered: give it a rendering case"));
            let accept = [("accept", "image/webp,image/*")];
            let source = if matches!(check, Check::Animated { .. }) { &animated_url } else { &url };
            let response = get(&app, source, query, &accept).await;
            assert_eq!(response.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&response.bytes));
            let image = image::load_from_memory(&response.bytes).unwrap_or_else(|e| panic!("{query}: {e}"));
            match check {
                Check::Size(w, h) => assert_eq!((image.width(), image.height()), (w, h), "{query}"),
                Check::Width(w) => assert_eq!(image.width(), w, "{query}"),
                Check::Height(h) => assert_eq!(image.height(), h, "{query}"),
                Check::Format(format) => {
                    assert_eq!(image::guess_format(&response.bytes).unwrap(), format, "{query}")
                }
                Check::Corner(rgb) => {
                    let pixel = image.to_rgb8().get_pixel(0, 0).0;
                    assert!(pixel.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 12), "{query}: {pixel:?}");
                }
                Check::CornerAlpha(corner, centre) => {
                    let rgba = image.to_rgba8();
                    let (w, h) = rgba.dimensions();
                    assert_eq!(
                        (rgba.get_pixel(0, 0).0[3], rgba.get_pixel(w / 2, h / 2).0[3]),
                        (corner, centre),
                        "{query}"
                    );
                }
                Check::Animated { frames, first, loops } => {
                    let played = imgix_animation::played(&response.bytes);
                    assert_eq!(played.frames.len(), frames, "{query}");
                    assert!(imgix_animation::near(played.frames[0].1, imgix_animation::FRAMES[first].0), "{query}");
                    assert_eq!(imgix_animation::gif_loop_count(&response.bytes), Some(loops), "{query}");
                }
                Check::Changed(other) => {
                    let without = get(&app, &url, other, &[]).await;
                    assert_eq!(without.status, StatusCode::OK);
                    assert_ne!(response.bytes, without.bytes, "{query} vs {other}");
                }
            }
            rendered.insert(name);
            continue;
        }
        for written in std::iter::once(name).chain(parameter.aliases.iter().copied()) {
            let query = format!("{written}={}&w=10", sample(name));
            let response = get(&app, &url, &query, &[]).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(response.error_code(), "UNSUPPORTED_PARAMS", "{query}");
            let details: Value = response.json()["data"][0]["attributes"]["details"].clone();
            assert_eq!(details["params"], json!([written]), "{query}");
        }
        if parameter.has_base64_form() {
            let written = format!("{name}64");
            let response = get(&app, &url, &format!("{written}=aGk"), &[]).await;
            assert_eq!(
                (response.status, response.error_code()),
                (StatusCode::BAD_REQUEST, "UNSUPPORTED_PARAMS".into())
            );
            assert_eq!(response.json()["data"][0]["attributes"]["details"]["params"], json!([written]));
        }
    }
    let expected: BTreeSet<&str> = RENDERED_PARAMS.into_iter().chain(DELIVERY_PARAMS).collect();
    assert_eq!(rendered, expected, "every rendered parameter is in imgix's list");
}

/// `dl`: any file, rendered or not, is sent as an attachment under the name asked for (or its
/// own), and the bytes are those of the same URL without it.
#[tokio::test]
async fn dl_sends_the_answer_as_an_attachment() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let disposition = |response: &TestResponse| response.header("content-disposition").map(str::to_owned);

    let original = get(&app, &url, "dl=my%20c%C3%A4t.jpg", &[]).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(original.bytes, fixture("cat.jpg"));
    assert_eq!(
        disposition(&original).as_deref(),
        Some("attachment; filename=\"my c_t.jpg\"; filename*=UTF-8''my%20c%C3%A4t.jpg")
    );
    let own = get(&app, &url, "dl=", &[]).await;
    assert!(disposition(&own).unwrap().starts_with("attachment; filename=\"cat.jpg\""), "{:?}", disposition(&own));
    let unsafe_name = get(&app, &url, "dl=..%2F..%2Fetc%22x", &[]).await;
    assert!(disposition(&unsafe_name).unwrap().starts_with("attachment; filename=\".._.._etc_x\""));

    let rendered = get(&app, &url, "w=40&dl64=dGh1bWIuanBn", &[]).await;
    let plain = get(&app, &url, "w=40", &[]).await;
    assert_eq!((rendered.status, disposition(&plain)), (StatusCode::OK, None));
    assert_eq!(rendered.bytes, plain.bytes, "dl changes the headers, not the image");
    assert!(disposition(&rendered).unwrap().starts_with("attachment; filename=\"thumb.jpg\""));

    let pdf = app.create_upload("doc.pdf", &fixture("doc.pdf"), json!({})).await;
    let pdf_url = pdf["attributes"]["url"].as_str().unwrap();
    let response = get(&app, pdf_url, "dl=report.pdf", &[]).await;
    assert_eq!(response.bytes, fixture("doc.pdf"));
    assert!(disposition(&response).unwrap().starts_with("attachment; filename=\"report.pdf\""));
    let refused = get(&app, &url, "dl64=***", &[]).await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, "INVALID_IMAGE_PARAMS".into()));
}
