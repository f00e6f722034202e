//! Issue 18: animated GIF and WebP keep their animation through transforms (every frame, its
//! delay and the loop count), and imgix's `frame`, `reverse` and `loop` choose and order the
//! frames. The sources are made here: four solid frames of known colours and delays (the GIF by
//! the `image` crate, the WebP from it by the `vips` command line); answers are decoded by the
//! `image` crate, frame by frame.

use std::{io::Cursor, process::Command, time::Duration};

use axum::http::StatusCode;
use image::{
    codecs::{
        gif::{GifDecoder, GifEncoder, Repeat},
        webp::WebPDecoder,
    },
    AnimationDecoder, Delay, Frame, Rgba, RgbaImage,
};
use serde_json::json;

use crate::helpers::TestApp;

/// The frames' colours and delays (ms).
pub(crate) const FRAMES: [([u8; 3], u64); 4] =
    [([230, 20, 20], 100), ([20, 200, 30], 200), ([20, 30, 220], 300), ([240, 240, 240], 400)];
const WIDTH: u32 = 120;
const HEIGHT: u32 = 80;

/// A 120 × 80 animated GIF of [`FRAMES`] that plays `repeat` times.
pub(crate) fn animated_gif(repeat: Repeat) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(repeat).unwrap();
        for ([r, g, b], ms) in FRAMES {
            let pixels = RgbaImage::from_pixel(WIDTH, HEIGHT, Rgba([r, g, b, 255]));
            let delay = Delay::from_saturating_duration(Duration::from_millis(ms));
            encoder.encode_frame(Frame::from_parts(pixels, 0, 0, delay)).unwrap();
        }
    }
    out
}

/// The same animation as an animated WebP, made by `vips` from the GIF (all its pages).
fn animated_webp() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.gif"), animated_gif(Repeat::Infinite)).unwrap();
    let output = Command::new("vips")
        .args(["copy", "in.gif[n=-1]", "out.webp[lossless]"])
        .current_dir(dir.path())
        .output()
        .expect("the vips command (libvips-tools)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::read(dir.path().join("out.webp")).unwrap()
}

/// An answer's frames: each one's size, centre colour and delay in milliseconds.
#[derive(Debug)]
pub(crate) struct Played {
    pub(crate) frames: Vec<((u32, u32), [u8; 3], u64)>,
}

pub(crate) fn played(bytes: &[u8]) -> Played {
    let frames: Vec<Frame> = match image::guess_format(bytes).unwrap() {
        image::ImageFormat::Gif => GifDecoder::new(Cursor::new(bytes)).unwrap().into_frames().collect_frames(),
        image::ImageFormat::WebP => WebPDecoder::new(Cursor::new(bytes)).unwrap().into_frames().collect_frames(),
        other => panic!("not an animation format: {other:?}"),
    }
    .unwrap();
    let frames = frames
        .into_iter()
        .map(|frame| {
            let (numerator, denominator) = frame.delay().numer_denom_ms();
            let buffer = frame.into_buffer();
            let centre = buffer.get_pixel(buffer.width() / 2, buffer.height() / 2).0;
            (buffer.dimensions(), [centre[0], centre[1], centre[2]], u64::from(numerator / denominator.max(1)))
        })
        .collect();
    Played { frames }
}

pub(crate) fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 16)
}

/// GIF's loop count (the NETSCAPE2.0 extension; `None` when absent: play once).
pub(crate) fn gif_loop_count(bytes: &[u8]) -> Option<u16> {
    let at = bytes.windows(11).position(|w| w == b"NETSCAPE2.0")?;
    let block = &bytes[at + 11..at + 16];
    assert_eq!(block[..2], [3, 1], "the looping sub-block");
    Some(u16::from_le_bytes([block[2], block[3]]))
}

/// WebP's loop count (the ANIM chunk: plays, 0 for ever).
fn webp_loop_count(bytes: &[u8]) -> u16 {
    let at = bytes.windows(4).position(|w| w == b"ANIM").expect("an ANIM chunk");
    u16::from_le_bytes([bytes[at + 12], bytes[at + 13]])
}

async fn upload(app: &TestApp, name: &str, bytes: &[u8]) -> String {
    let upload = app.create_upload(name, bytes, json!({})).await;
    upload["attributes"]["url"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, url: &str, query: &str) -> Vec<u8> {
    let response = app.fetch_asset(&format!("{url}?{query}"), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&response.bytes));
    response.bytes.to_vec()
}

#[tokio::test]
async fn animated_gifs_keep_every_frame_delay_and_loop_through_resizes_and_crops() {
    let app = TestApp::spawn().await;
    let url = upload(&app, "spin.gif", &animated_gif(Repeat::Finite(3))).await;

    for query in ["w=60", "w=40&h=40&fit=crop", "w=60&rot=90&flip=h", "w=60&fm=gif"] {
        let bytes = get(&app, &url, query).await;
        assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::Gif, "{query}");
        let animation = played(&bytes);
        assert_eq!(animation.frames.len(), 4, "{query}: {animation:?}");
        for (frame, (colour, delay)) in animation.frames.iter().zip(FRAMES) {
            let expected_size = if query.contains("fit=crop") { (40, 40) } else { (60, 40) };
            assert_eq!(frame.0, expected_size, "{query}");
            assert!(near(frame.1, colour), "{query}: {:?} vs {colour:?}", frame.1);
            assert_eq!(frame.2, delay, "{query}");
        }
        // The source repeats 3 times (NETSCAPE2.0 count 3): kept.
        assert_eq!(gif_loop_count(&bytes), Some(3), "{query}");
    }

    // Into WebP (`fm=webp`, or `auto=format` for a browser that takes it): still animated.
    for (query, accept) in [("w=60&fm=webp", "*/*"), ("w=60&auto=format", "image/webp,*/*")] {
        let response = app.fetch_asset(&format!("{url}?{query}"), &[("accept", accept)]).await;
        assert_eq!(response.status, StatusCode::OK);
        let animation = played(&response.bytes);
        let delays: Vec<u64> = animation.frames.iter().map(|f| f.2).collect();
        assert_eq!(delays, [100, 200, 300, 400], "{query}");
        assert!(animation.frames.iter().zip(FRAMES).all(|(f, (c, _))| near(f.1, c)), "{query}: {animation:?}");
    }

    // Formats that do not animate take the first frame.
    let jpeg = image::load_from_memory(&get(&app, &url, "w=60&fm=jpg").await).unwrap().to_rgb8();
    assert!(near(jpeg.get_pixel(30, 20).0, FRAMES[0].0));
}

#[tokio::test]
async fn frame_reverse_and_loop_choose_and_order_the_frames() {
    let app = TestApp::spawn().await;
    let url = upload(&app, "spin.gif", &animated_gif(Repeat::Infinite)).await;

    // One frame: a still, in the source's format or another.
    let still = get(&app, &url, "frame=2").await;
    assert_eq!(played(&still).frames.len(), 1);
    assert!(near(played(&still).frames[0].1, FRAMES[1].0));
    let png = image::load_from_memory(&get(&app, &url, "frame=3&fm=png").await).unwrap().to_rgb8();
    assert!(near(png.get_pixel(60, 40).0, FRAMES[2].0));
    // Past the last frame: the last.
    assert!(near(played(&get(&app, &url, "frame=9").await).frames[0].1, FRAMES[3].0));

    // A stretch, reversed, with its own delays.
    let bytes = get(&app, &url, "frame=2-3&reverse=1&w=60").await;
    let stretch = played(&bytes);
    let delays: Vec<u64> = stretch.frames.iter().map(|f| f.2).collect();
    assert_eq!(delays, [300, 200], "{stretch:?}");
    assert!(near(stretch.frames[0].1, FRAMES[2].0) && near(stretch.frames[1].1, FRAMES[1].0), "{stretch:?}");
    let reversed: Vec<u64> = played(&get(&app, &url, "reverse=true").await).frames.iter().map(|f| f.2).collect();
    assert_eq!(reversed, [400, 300, 200, 100]);

    // `loop`: the source loops for ever (0); loop=2 repeats twice (GIF's count 2, WebP's 3 plays).
    assert_eq!(gif_loop_count(&get(&app, &url, "w=60").await), Some(0));
    assert_eq!(gif_loop_count(&get(&app, &url, "w=60&loop=2").await), Some(2));
    assert_eq!(webp_loop_count(&get(&app, &url, "w=60&loop=2&fm=webp").await), 3);
    assert_eq!(webp_loop_count(&get(&app, &url, "w=60&fm=webp").await), 0);

    for bad in ["frame=0", "frame=3-1", "frame=x", "loop=-1", "reverse=maybe"] {
        let response = app.fetch_asset(&format!("{url}?{bad}"), &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.error_code(), "INVALID_IMAGE_PARAMS", "{bad}");
    }
}

#[tokio::test]
async fn animated_webps_keep_their_animation() {
    let app = TestApp::spawn().await;
    let url = upload(&app, "spin.webp", &animated_webp()).await;
    let bytes = get(&app, &url, "w=60").await;
    assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::WebP);
    let animation = played(&bytes);
    assert_eq!(animation.frames.len(), 4, "{animation:?}");
    for (frame, (colour, delay)) in animation.frames.iter().zip(FRAMES) {
        assert_eq!(frame.0, (60, 40));
        assert!(near(frame.1, colour), "{:?} vs {colour:?}", frame.1);
        assert_eq!(frame.2, delay);
    }
    let gif = played_gif_of(&app, &url).await;
    assert_eq!(gif, 4);
}

/// Frames of the WebP made into a GIF.
async fn played_gif_of(app: &TestApp, url: &str) -> usize {
    let bytes = get(app, url, "w=60&fm=gif").await;
    assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::Gif);
    played(&bytes).frames.len()
}

#[tokio::test]
async fn every_frame_counts_towards_the_output_limit() {
    // 4 frames of 120 × 80 = 38,400 pixels; a limit of 10,000 leaves 2,500 a frame.
    let app = TestApp::spawn_with(|config| config.max_output_pixels = 10_000).await;
    let url = upload(&app, "spin.gif", &animated_gif(Repeat::Infinite)).await;
    let animation = played(&get(&app, &url, "w=120").await);
    assert_eq!(animation.frames.len(), 4);
    let (w, h) = animation.frames[0].0;
    assert!(w * h * 4 <= 10_000 && w * h * 4 > 8_000, "scaled to fit, not further: {w}x{h}");
    // One frame alone may take the whole limit.
    let still = played(&get(&app, &url, "w=120&frame=1").await);
    let (w, h) = still.frames[0].0;
    assert!(w * h <= 10_000 && w * h > 8_000, "{w}x{h}");
}

/// What ffprobe reads of a video: codec, size, the start of each decoded frame (seconds, to the
/// millisecond) and the duration in seconds.
fn probe_video(bytes: &[u8], extension: &str) -> (String, u32, u32, Vec<u64>, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("video.{extension}"));
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-print_format", "json"])
        .args(["-show_entries", "stream=codec_name,width,height:format=duration:frame=pts_time"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let probe: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let stream = &probe["streams"][0];
    let number = |v: &serde_json::Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap();
    (
        stream["codec_name"].as_str().unwrap().to_owned(),
        u32::try_from(number(&stream["width"])).unwrap(),
        u32::try_from(number(&stream["height"])).unwrap(),
        probe["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|frame| (frame["pts_time"].as_str().unwrap().parse::<f64>().unwrap() * 1000.0).round() as u64)
            .collect(),
        probe["format"]["duration"].as_str().unwrap().parse().unwrap(),
    )
}

#[tokio::test]
async fn fm_mp4_and_webm_make_videos_of_animations_that_ffprobe_plays() {
    let app = TestApp::spawn().await;
    let url = upload(&app, "spin.gif", &animated_gif(Repeat::Infinite)).await;

    for (query, mime, extension, codec) in
        [("w=60&fm=mp4", "video/mp4", "mp4", "h264"), ("w=60&fm=webm", "video/webm", "webm", "vp9")]
    {
        let response = app.fetch_asset(&format!("{url}?{query}"), &[]).await;
        assert_eq!(response.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&response.bytes));
        assert_eq!(response.header("content-type"), Some(mime), "{query}");
        let (name, width, height, starts, duration) = probe_video(&response.bytes, extension);
        assert_eq!((name.as_str(), width, height), (codec, 60, 40), "{query}");
        // Each frame starts when the one before it has lasted its delay (100, 200, 300, 400 ms);
        // the last is repeated where the animation ends.
        assert_eq!(starts, [0, 100, 300, 600, 1000], "{query}");
        assert!((duration - 1.0).abs() < 0.05, "{query}: {duration} s");
    }
    // Odd sizes are rounded down to even (4:2:0).
    let (_, width, height, _, _) = probe_video(&get(&app, &url, "w=61&fm=mp4").await, "mp4");
    assert_eq!((width, height), (60, 40));
    // A stretch, reversed: its frames and their delays.
    let (_, _, _, starts, _) = probe_video(&get(&app, &url, "frame=3-4&reverse=1&fm=mp4").await, "mp4");
    assert_eq!(starts, [0, 400, 700]);

    // A still (a JPEG, or one frame) has no video to make: the client's error.
    let still = app.create_upload("cat.jpg", &crate::helpers::fixture("cat.jpg"), json!({})).await;
    let still_url = still["attributes"]["url"].as_str().unwrap();
    for (source, query) in [(still_url, "fm=mp4"), (url.as_str(), "frame=2&fm=webm")] {
        let response = app.fetch_asset(&format!("{source}?{query}"), &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(response.error_code(), "INVALID_IMAGE_PARAMS", "{query}");
    }
}
