//! Issue 18: imgix parameters rendered, each compared with a reference made by the `vips`
//! command line (libvips-tools) doing the same operation on the same source, within a stated
//! tolerance, never with assetd's own earlier output. The source is a lossless PNG whose four
//! quadrants differ, so that a wrong turn or mirror cannot match.

use std::{path::Path, process::Command};

use axum::http::StatusCode;
use image::{Rgb, RgbImage};
use serde_json::json;

use crate::helpers::{TestApp, TestResponse};

const WIDTH: u32 = 120;
const HEIGHT: u32 = 80;

/// Red top left, green top right, blue bottom left, a grey ramp bottom right, with a white
/// diagonal across the whole picture.
fn quadrants() -> RgbImage {
    RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        if x * HEIGHT / WIDTH == y {
            return Rgb([255, 255, 255]);
        }
        match (x < WIDTH / 2, y < HEIGHT / 2) {
            (true, true) => Rgb([220, 30, 30]),
            (false, true) => Rgb([30, 200, 40]),
            (true, false) => Rgb([30, 40, 210]),
            (false, false) => {
                let v = u8::try_from(x * 255 / WIDTH).unwrap();
                Rgb([v, v, v])
            }
        }
    })
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Runs `vips` commands in `dir`; each is its arguments, with `in.png` the source.
fn vips(dir: &Path, commands: &[&[&str]]) {
    for args in commands {
        let output =
            Command::new("vips").args(*args).current_dir(dir).output().expect("the vips command (libvips-tools)");
        assert!(output.status.success(), "vips {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

/// The reference `out.png` the commands make from the source.
fn reference(commands: &[&[&str]]) -> RgbImage {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), png(&quadrants())).unwrap();
    vips(dir.path(), commands);
    image::open(dir.path().join("out.png")).unwrap().to_rgb8()
}

/// Mean and largest difference per channel between two images of one size.
fn difference(a: &RgbImage, b: &RgbImage) -> (f64, u8) {
    assert_eq!(a.dimensions(), b.dimensions(), "sizes");
    let mut sum = 0u64;
    let mut max = 0u8;
    for (p, q) in a.pixels().zip(b.pixels()) {
        for (x, y) in p.0.iter().zip(q.0) {
            let d = x.abs_diff(y);
            sum += u64::from(d);
            max = max.max(d);
        }
    }
    (sum as f64 / (f64::from(a.width() * a.height()) * 3.0), max)
}

struct Source {
    app: TestApp,
    url: String,
}

async fn source() -> Source {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("quadrants.png", &png(&quadrants()), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    Source { app, url }
}

impl Source {
    async fn get(&self, query: &str) -> TestResponse {
        self.app.fetch_asset(&format!("{}?{query}", self.url), &[]).await
    }

    async fn render(&self, query: &str) -> RgbImage {
        let response = self.get(query).await;
        assert_eq!(response.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&response.bytes));
        image::load_from_memory(&response.bytes).unwrap().to_rgb8()
    }
}

#[tokio::test]
async fn orient_flip_and_quarter_turns_move_pixels_exactly_as_vips_does() {
    let source = source().await;
    let cases: [(&str, &[&[&str]]); 9] = [
        ("orient=6", &[&["rot", "in.png", "out.png", "d90"]]),
        ("orient=90", &[&["rot", "in.png", "out.png", "d90"]]),
        ("orient=3", &[&["rot", "in.png", "out.png", "d180"]]),
        ("orient=8", &[&["rot", "in.png", "out.png", "d270"]]),
        ("orient=2", &[&["flip", "in.png", "out.png", "horizontal"]]),
        ("orient=5", &[&["rot", "in.png", "t.v", "d90"], &["flip", "t.v", "out.png", "horizontal"]]),
        ("flip=v", &[&["flip", "in.png", "out.png", "vertical"]]),
        ("flip=hv", &[&["flip", "in.png", "t.v", "horizontal"], &["flip", "t.v", "out.png", "vertical"]]),
        ("rot=180", &[&["rot", "in.png", "out.png", "d180"]]),
    ];
    for (query, commands) in cases {
        let got = source.render(&format!("{query}&fm=png")).await;
        // Pixels are moved, not resampled: identical.
        assert_eq!(difference(&got, &reference(commands)), (0.0, 0), "{query}");
    }
    // Sizes follow the orientation: the turned picture is 80 × 120 before `w` applies.
    let turned = source.render("orient=6&w=60&fm=png").await;
    assert_eq!(turned.dimensions(), (60, 90));
    let refused = source.get("orient=45").await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, "INVALID_IMAGE_PARAMS".into()));
    assert_eq!(source.get("flip=x").await.status, StatusCode::BAD_REQUEST);
}

/// `orient` replaces the file's EXIF orientation; `orient=0` ignores it.
#[tokio::test]
async fn orient_overrides_the_exif_orientation() {
    let app = TestApp::spawn().await;
    // A 120 × 80 JPEG whose EXIF says "turn 90° clockwise" (6): shown 80 × 120.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), png(&quadrants())).unwrap();
    vips(dir.path(), &[&["copy", "in.png", "t.v"], &["jpegsave", "t.v", "exif.jpg", "--Q", "95"]]);
    let exif = set_exif_orientation(&std::fs::read(dir.path().join("exif.jpg")).unwrap(), 6);
    let upload = app.create_upload("exif.jpg", &exif, json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let size = |bytes: &[u8]| {
        let image = image::load_from_memory(bytes).unwrap();
        (image.width(), image.height())
    };
    let get = |query: &'static str| {
        let (app, url) = (&app, &url);
        async move { app.fetch_asset(&format!("{url}?{query}"), &[]).await.bytes }
    };
    assert_eq!(size(&get("fm=png").await), (80, 120), "the EXIF orientation applies");
    assert_eq!(size(&get("fm=png&orient=0").await), (120, 80), "orient=0 ignores it");
    assert_eq!(size(&get("fm=png&orient=1").await), (120, 80));
    assert_eq!(size(&get("fm=png&orient=8").await), (80, 120));
}

/// A JPEG with an EXIF APP1 segment holding only the orientation tag, inserted after SOI.
fn set_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let length = u16::try_from(app1.len() + 2).unwrap().to_be_bytes();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1, length[0], length[1]]);
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// `rot`: counter-clockwise, within the frame, zoomed to cover it; the reference is vips'
/// `similarity` by the same scale and angle, cropped to the frame around the centre.
#[tokio::test]
async fn rot_turns_within_the_frame_as_vips_similarity_does() {
    let source = source().await;
    for degrees in [30.0_f64, 90.0, 300.0] {
        let got = source.render(&format!("rot={degrees}&fm=png")).await;
        assert_eq!(got.dimensions(), (WIDTH, HEIGHT), "rot={degrees} keeps the size");
        let (w, h) = (f64::from(WIDTH), f64::from(HEIGHT));
        let (sin, cos) = degrees.to_radians().sin_cos();
        let scale = (cos.abs() + sin.abs() * h / w).max(cos.abs() + sin.abs() * w / h) * (1.0 + 2.0 / h);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.png"), png(&quadrants())).unwrap();
        let (scale_arg, angle_arg) = (scale.to_string(), (-degrees).to_string());
        vips(dir.path(), &[&["similarity", "in.png", "t.v", "--scale", &scale_arg, "--angle", &angle_arg]]);
        let header = Command::new("vipsheader").args(["-f", "width", "t.v"]).current_dir(dir.path()).output().unwrap();
        let turned_w: u32 = String::from_utf8_lossy(&header.stdout).trim().parse().unwrap();
        let header = Command::new("vipsheader").args(["-f", "height", "t.v"]).current_dir(dir.path()).output().unwrap();
        let turned_h: u32 = String::from_utf8_lossy(&header.stdout).trim().parse().unwrap();
        let (left, top) = (((turned_w - WIDTH) / 2).to_string(), ((turned_h - HEIGHT) / 2).to_string());
        let (width, height) = (WIDTH.to_string(), HEIGHT.to_string());
        vips(dir.path(), &[&["crop", "t.v", "out.png", &left, &top, &width, &height]]);
        let expected = image::open(dir.path().join("out.png")).unwrap().to_rgb8();
        let (mean, _) = difference(&got, &expected);
        assert!(mean <= 1.0, "rot={degrees}: mean difference {mean} (tolerance 1 per channel)");
        // No corner shows the background: the turned picture covers the frame.
        for (x, y) in [(0, 0), (WIDTH - 1, 0), (0, HEIGHT - 1), (WIDTH - 1, HEIGHT - 1)] {
            assert_ne!(got.get_pixel(x, y).0, [0, 0, 0], "rot={degrees}: corner ({x}, {y})");
        }
    }
    // Counter-clockwise: a quarter turn takes the red top-left quadrant to the bottom left.
    let quarter = source.render("rot=90&fm=png").await;
    let [r, g, b] = quarter.get_pixel(4, HEIGHT - 4).0;
    assert!(r > 180 && g < 80 && b < 80, "bottom left after rot=90: {:?}", [r, g, b]);
    // Within a crop: the output keeps the box.
    assert_eq!(source.render("w=60&h=40&fit=crop&rot=45&fm=png").await.dimensions(), (60, 40));
}

/// The adjustment group and `px`: each as the `vips` command computes the formula the README
/// gives, within 3 levels per channel (8-bit rounding), plus what each must mean to the eye.
#[tokio::test]
async fn adjustments_match_vips_and_do_what_they_say() {
    let source = source().await;
    let lch = |a: &'static str, b: &'static str| -> Vec<Vec<&'static str>> {
        vec![
            vec!["colourspace", "in.png", "t.v", "lch"],
            vec!["linear", "t.v", "t2.v", a, b],
            vec!["colourspace", "t2.v", "t3.v", "srgb"],
            vec!["cast", "t3.v", "out.png", "uchar"],
        ]
    };
    let cases: Vec<(&str, Vec<Vec<&str>>)> = vec![
        // bri: + bri% of white.
        ("bri=40", vec![vec!["linear", "in.png", "out.png", "1", "102", "--uchar"]]),
        // con: (v - 128) × (1 + con/100) + 128.
        ("con=-50", vec![vec!["linear", "in.png", "out.png", "0.5", "64", "--uchar"]]),
        // exp: × 2^(exp/50).
        ("exp=50", vec![vec!["linear", "in.png", "out.png", "2", "0", "--uchar"]]),
        // gam: v^(1 / 2^(gam/100)).
        (
            "gam=50",
            vec![
                vec!["gamma", "in.png", "t.v", "--exponent", "1.4142135623730951"],
                vec!["cast", "t.v", "out.png", "uchar"],
            ],
        ),
        // sat: LCh chroma × (1 + sat/100); hue: LCh hue + hue.
        ("sat=-60", lch("1 0.4 1", "0 0 0")),
        ("hue=120", lch("1 1 1", "0 0 120")),
        ("invert=1", vec![vec!["invert", "in.png", "out.png"]]),
        // usm: (1 + usm/100) × v − usm/100 × gaussblur(v, usmrad).
        (
            "usm=60&usmrad=3",
            vec![
                vec!["gaussblur", "in.png", "b.v", "3"],
                vec!["linear", "in.png", "s.v", "1.6", "0"],
                vec!["linear", "b.v", "l.v", "0.6", "0"],
                vec!["subtract", "s.v", "l.v", "t.v"],
                vec!["cast", "t.v", "out.png", "uchar"],
            ],
        ),
        (
            "usm=-40",
            vec![
                vec!["gaussblur", "in.png", "b.v", "2.5"],
                vec!["linear", "in.png", "s.v", "0.6", "0"],
                vec!["linear", "b.v", "l.v", "0.4", "0"],
                vec!["add", "s.v", "l.v", "t.v"],
                vec!["cast", "t.v", "out.png", "uchar"],
            ],
        ),
        // sharp: libvips' sharpen, sigma 1, slope sharp/10.
        (
            "sharp=50",
            vec![
                vec!["sharpen", "in.png", "t.v", "--sigma", "1", "--m2", "5"],
                vec!["cast", "t.v", "out.png", "uchar"],
            ],
        ),
        // px: blocks of px × px, each its average.
        ("px=10", vec![vec!["shrink", "in.png", "t.v", "10", "10"], vec!["zoom", "t.v", "out.png", "10", "10"]]),
    ];
    for (query, commands) in &cases {
        let got = source.render(&format!("{query}&fm=png")).await;
        let commands: Vec<&[&str]> = commands.iter().map(Vec::as_slice).collect();
        let (mean, max) = difference(&got, &reference(&commands));
        assert!(mean <= 0.5 && max <= 3, "{query}: mean {mean}, max {max} (tolerance: 3 levels)");
    }
    let original = source.render("fm=png").await;
    let red = |image: &RgbImage| image.get_pixel(10, 10).0;
    assert_eq!(red(&original), [220, 30, 30]);
    assert_eq!(red(&source.render("invert=1&fm=png").await), [35, 225, 225]);
    let [r, g, b] = red(&source.render("sat=-100&fm=png").await);
    assert!(r.abs_diff(g) <= 3 && g.abs_diff(b) <= 3, "sat=-100 is grey: {:?}", [r, g, b]);
    let brighter = red(&source.render("bri=40&fm=png").await);
    assert!(brighter.iter().zip(red(&original)).all(|(after, before)| *after > before), "{brighter:?}");
    // A block of px=10 is one colour.
    let blocks = source.render("px=10&fm=png").await;
    let first = blocks.get_pixel(20, 50).0;
    assert!((20..30).all(|x| (50..60).all(|y| blocks.get_pixel(x, y).0 == first)));
    // Out-of-range values are clamped, bad ones refused.
    assert_eq!(source.get("bri=1000&fm=png").await.status, StatusCode::OK);
    let refused = source.get("con=lots").await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, "INVALID_IMAGE_PARAMS".into()));
}

/// `fill=blur`: the canvas is the picture enlarged to cover it and blurred (sigma = 1/40 of the
/// longer side); the picture itself sits on it as with `fill=solid`. `fill-color` paints the
/// solid canvas, before `bg`.
#[tokio::test]
async fn fill_blur_and_fill_color_paint_the_canvas() {
    let source = source().await;
    // 120 × 80 on a 200 × 200 canvas: the picture is 200 × 133, from row 33.
    let solid = source.render("w=200&h=200&fit=fill&fill-color=0f0&bg=f00&fm=png").await;
    assert_eq!(solid.dimensions(), (200, 200));
    assert_eq!(solid.get_pixel(100, 5).0, [0, 255, 0], "fill-color comes before bg");
    let blurred = source.render("w=200&h=200&fit=fill&fill=blur&fm=png").await;
    let picture = source.render("w=200&h=200&fit=fill&fill-color=000&fm=png").await;
    for (x, y) in [(10, 60), (100, 100), (190, 160)] {
        assert_eq!(blurred.get_pixel(x, y), picture.get_pixel(x, y), "the picture at ({x}, {y})");
    }
    // The band above it: vips enlarging the source to cover 200 × 200 (300 × 200, centred) and
    // blurring with sigma 5; assetd enlarges the resized picture instead, so within 6 levels.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), png(&quadrants())).unwrap();
    vips(
        dir.path(),
        &[
            &["resize", "in.png", "t.v", "2.5"],
            &["crop", "t.v", "t2.v", "50", "0", "200", "200"],
            &["gaussblur", "t2.v", "t3.v", "5"],
            &["cast", "t3.v", "out.png", "uchar"],
        ],
    );
    let expected = image::open(dir.path().join("out.png")).unwrap().to_rgb8();
    let band = |image: &RgbImage| image::imageops::crop_imm(image, 0, 0, 200, 30).to_image();
    let (mean, _) = difference(&band(&blurred), &band(&expected));
    assert!(mean <= 6.0, "the blurred band: mean difference {mean} (tolerance 6)");
    let generative = source.get("w=200&h=200&fit=fill&fill=gen").await;
    assert_eq!(generative.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&generative.bytes).contains("generative"));
}

/// `sepia`, `monochrome`, `duotone` (+ `duotone-alpha`): each a colour matrix on the picture's
/// colour (`vips recomb`) plus an offset, as the README gives them, within 3 levels.
#[tokio::test]
async fn colour_effects_match_vips_recomb() {
    let source = source().await;
    let luma = [0.299, 0.587, 0.114];
    let ramp = |low: [f64; 3], high: [f64; 3]| -> String {
        let rows: Vec<String> = (0..3)
            .map(|i| luma.iter().map(|w| (w * (high[i] - low[i]) / 255.0).to_string()).collect::<Vec<_>>().join(" "))
            .collect();
        format!("3 3\n{}\n", rows.join("\n"))
    };
    let sepia = "3 3\n0.393 0.769 0.189\n0.349 0.686 0.168\n0.272 0.534 0.131\n".to_owned();
    let cases = [
        ("sepia=100", sepia, "0 0 0"),
        ("monochrome=ff0000", ramp([0.0; 3], [255.0, 0.0, 0.0]), "0 0 0"),
        ("duotone=000080,ffff00", ramp([0.0, 0.0, 128.0], [255.0, 255.0, 0.0]), "0 0 128"),
    ];
    for (query, matrix, offset) in cases {
        let got = source.render(&format!("{query}&fm=png")).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.png"), png(&quadrants())).unwrap();
        std::fs::write(dir.path().join("m.mat"), matrix).unwrap();
        vips(
            dir.path(),
            &[&["recomb", "in.png", "t.v", "m.mat"], &["linear", "t.v", "out.png", "1 1 1", offset, "--uchar"]],
        );
        let expected = image::open(dir.path().join("out.png")).unwrap().to_rgb8();
        let (mean, max) = difference(&got, &expected);
        assert!(mean <= 0.5 && max <= 3, "{query}: mean {mean}, max {max} (tolerance: 3 levels)");
    }
    let red = |image: &RgbImage| image.get_pixel(10, 10).0;
    let [r, g, b] = red(&source.render("sepia=100&fm=png").await);
    assert!(r > g && g > b, "sepia is brown: {:?}", [r, g, b]);
    let [r, g, b] = red(&source.render("monochrome=ff0000&fm=png").await);
    assert!(r > 0 && g == 0 && b == 0, "monochrome red: {:?}", [r, g, b]);
    // Half strength: halfway between the picture and the full duotone.
    let full = source.render("duotone=000080,ffff00&fm=png").await;
    let half = source.render("duotone=000080,ffff00&duotone-alpha=50&fm=png").await;
    let original = source.render("fm=png").await;
    let midway = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let (a, b) = (original.get_pixel(x, y).0, full.get_pixel(x, y).0);
        Rgb(std::array::from_fn(|i| ((u16::from(a[i]) + u16::from(b[i])) / 2) as u8))
    });
    let (mean, _) = difference(&half, &midway);
    assert!(mean <= 1.0, "duotone-alpha=50: mean difference {mean} from halfway");
    assert_eq!(source.get("duotone=ff0000").await.status, StatusCode::BAD_REQUEST);
}

/// Whether the centre of pixel (x, y) of a `width` × `height` output lies inside the mask, and
/// how far (in pixels, roughly) it is from the mask's edge: the shape computed here from its
/// definition, not from what libvips or librsvg drew.
fn mask_shape(query: &str, width: f64, height: f64, x: u32, y: u32) -> (bool, f64) {
    let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
    if query.contains("ellipse") {
        let (rx, ry) = (width / 2.0, height / 2.0);
        let d = ((px - rx) / rx).powi(2) + ((py - ry) / ry).powi(2);
        // The normalised distance, in pixels along the shorter radius.
        return (d <= 1.0, (d.sqrt() - 1.0).abs() * rx.min(ry));
    }
    // Rounded corners 20, 0, 10, 0 (tl, tr, br, bl).
    let corners = [(20.0, 20.0, 20.0), (10.0, width - 10.0, height - 10.0)];
    for (r, cx, cy) in corners {
        let in_corner = (cx == r && px < cx && py < cy) || (cx != r && px > cx && py > cy);
        if in_corner {
            let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
            return (d <= r, (d - r).abs());
        }
    }
    (true, f64::INFINITY)
}

/// `mask=ellipse` and `mask=corners` hide what lies outside the shape (alpha 0), keep what lies
/// inside as it was, and blend only along the edge; `mask-bg` fills the hidden part.
#[tokio::test]
async fn masks_hide_what_lies_outside_the_shape() {
    let source = source().await;
    let plain = quadrants();
    for query in ["mask=ellipse&fm=png", "mask=corners&corner-radius=20,0,10,0&fm=png"] {
        let response = source.get(query).await;
        assert_eq!(response.status, StatusCode::OK, "{query}");
        let got = image::load_from_memory(&response.bytes).unwrap().to_rgba8();
        assert_eq!(got.dimensions(), (WIDTH, HEIGHT));
        for (x, y, pixel) in got.enumerate_pixels() {
            let (inside, edge) = mask_shape(query, f64::from(WIDTH), f64::from(HEIGHT), x, y);
            if edge < 1.5 {
                continue; // anti-aliased
            }
            if inside {
                assert_eq!(pixel.0[3], 255, "{query}: ({x},{y}) is inside");
                assert_eq!(pixel.0[..3], plain.get_pixel(x, y).0, "{query}: ({x},{y}) keeps its colour");
            } else {
                assert_eq!(pixel.0[3], 0, "{query}: ({x},{y}) is outside");
            }
        }
    }
    // The square corners of `0` radii stay; the default radius is 20 % of the shorter side (16).
    let corners = image::load_from_memory(&source.get("mask=corners&fm=png").await.bytes).unwrap().to_rgba8();
    assert_eq!(corners.get_pixel(3, 3).0[3], 0);
    assert_eq!(corners.get_pixel(8, 8).0[3], 255, "inside a 16 px radius");
    // `mask-bg` fills the hidden part; formats without alpha show white there by default.
    let filled = source.render("mask=ellipse&mask-bg=00f&fm=png").await;
    assert!(filled.get_pixel(0, 0).0.iter().zip([0, 0, 255]).all(|(a, b)| a.abs_diff(b) <= 2));
    let jpeg = source.render("mask=ellipse&fm=jpg").await;
    assert!(jpeg.get_pixel(1, 1).0.iter().all(|c| *c >= 245), "{:?}", jpeg.get_pixel(1, 1));
    // `dpr` scales the radius with the size: at dpr=2 a 10 px radius is 20 px.
    let scaled =
        image::load_from_memory(&source.get("w=60&dpr=2&mask=corners&corner-radius=10&fm=png").await.bytes).unwrap();
    let scaled = scaled.to_rgba8();
    assert_eq!(scaled.dimensions(), (120, 80));
    assert_eq!(scaled.get_pixel(4, 4).0[3], 0, "outside a 20 px radius");
    for bad in ["mask=star", "mask=corners&corner-radius=1,2", "mask=ellipse&mask-bg=zz"] {
        assert_eq!(source.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// `pad` and its sides: the image placed inside its padding exactly as `vips embed` places it,
/// the padding showing `bg` (transparent without it, white in JPEG); with `w`/`h` the image and
/// its padding together fit the size.
#[tokio::test]
async fn padding_surrounds_the_image_as_vips_embed_does() {
    let source = source().await;
    let exact: [(&str, &[&[&str]]); 2] = [
        (
            "pad=10&bg=f00",
            &[&[
                "embed",
                "in.png",
                "out.png",
                "10",
                "10",
                "140",
                "100",
                "--extend",
                "background",
                "--background",
                "255 0 0",
            ]],
        ),
        (
            "pad=5&pad-left=20&pad-bottom=0&bg=00f",
            &[&[
                "embed",
                "in.png",
                "out.png",
                "20",
                "5",
                "145",
                "85",
                "--extend",
                "background",
                "--background",
                "0 0 255",
            ]],
        ),
    ];
    for (query, commands) in exact {
        let got = source.render(&format!("{query}&fm=png")).await;
        assert_eq!(difference(&got, &reference(commands)), (0.0, 0), "{query}");
    }
    // With a width: 60 in all, so the image is 40 × 27 inside 10 px of padding.
    let got = source.render("w=60&pad=10&bg=00f&fm=png").await;
    let expected = reference(&[
        &["resize", "in.png", "t.v", "0.33334"],
        &["embed", "t.v", "out.png", "10", "10", "60", "47", "--extend", "background", "--background", "0 0 255"],
    ]);
    let (mean, _) = difference(&got, &expected);
    assert!(mean <= 3.0, "mean difference {mean}");
    // A crop box keeps its size; the image fills what the padding leaves.
    let cropped = source.render("w=100&h=100&fit=crop&pad=10&bg=0f0&fm=png").await;
    assert_eq!(cropped.dimensions(), (100, 100));
    assert_eq!(cropped.get_pixel(5, 50).0, [0, 255, 0]);
    assert_ne!(cropped.get_pixel(15, 50).0, [0, 255, 0]);
    // Without bg: transparent in PNG, white in JPEG.
    let png = image::load_from_memory(&source.get("pad=4&fm=png").await.bytes).unwrap().to_rgba8();
    assert_eq!((png.dimensions(), png.get_pixel(1, 1).0[3], png.get_pixel(60, 40).0[3]), ((128, 88), 0, 255));
    let jpeg = source.render("pad=16&fm=jpg").await;
    assert!(jpeg.get_pixel(1, 1).0.iter().all(|c| *c >= 245), "{:?}", jpeg.get_pixel(1, 1));
    // `dpr` scales the padding with the size: 120 wide, 100 × 67 inside 10 px.
    assert_eq!(source.render("w=60&dpr=2&pad=5&fm=png").await.dimensions(), (120, 87));
    for bad in ["pad=-1", "pad-top=x"] {
        assert_eq!(source.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// The luma component's sampling factors in a JPEG's frame header (0x22: 4:2:0, 0x11: 4:4:4).
fn jpeg_luma_sampling(jpeg: &[u8]) -> u8 {
    let at = jpeg.windows(2).position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2)).expect("a frame header");
    jpeg[at + 11]
}

/// `chromasub=444` keeps full-resolution chroma as `vips jpegsave --subsample-mode off` does.
#[tokio::test]
async fn chromasub_sets_the_jpeg_chroma_sampling() {
    let source = source().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), png(&quadrants())).unwrap();
    vips(
        dir.path(),
        &[&["jpegsave", "in.png", "full.jpg", "--subsample-mode", "off"], &["jpegsave", "in.png", "sub.jpg"]],
    );
    let full_reference = jpeg_luma_sampling(&std::fs::read(dir.path().join("full.jpg")).unwrap());
    let default_reference = jpeg_luma_sampling(&std::fs::read(dir.path().join("sub.jpg")).unwrap());
    assert_eq!((full_reference, default_reference), (0x11, 0x22));
    for (query, expected) in [("chromasub=444", 0x11), ("chromasub=420", 0x22), ("q=75", 0x22)] {
        let response = source.get(&format!("{query}&fm=jpg")).await;
        assert_eq!(response.status, StatusCode::OK, "{query}");
        assert_eq!(jpeg_luma_sampling(&response.bytes), expected, "{query}");
    }
    for bad in ["chromasub=422", "chromasub=111"] {
        let response = source.get(bad).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
