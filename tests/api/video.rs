//! Video streams (issue 16): the transcode job's HLS ladder and MP4 renditions, served at the
//! Mux-shaped URLs; thumbnails; what a new version, a keep_url replacement and a delete do to the
//! stream; failures; the sweep. Read back with m3u8-rs and ffprobe, not only our own code. On
//! memory storage, or S3 + PostgreSQL when the test environment names them.

use std::{path::Path, sync::OnceLock};

use assetd::{cleanup::sweep, storage::StorageKey};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestResponse};

/// A 6 s 854×480 clip with a tone, made once per test run (ffmpeg's test sources).
pub(crate) fn clip() -> &'static [u8] {
    static CLIP: OnceLock<Vec<u8>> = OnceLock::new();
    CLIP.get_or_init(|| make_clip("854x480", 6, true))
}

pub(crate) fn make_clip(size: &str, seconds: u32, audio: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let mut command = std::process::Command::new("ffmpeg");
    command.args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", &format!("testsrc2=size={size}:rate=25")]);
    if audio {
        command.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    }
    command.args(["-t", &seconds.to_string(), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]);
    let status = command.arg(&out).status().expect("ffmpeg runs");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

pub(crate) async fn spawn() -> TestApp {
    TestApp::spawn_with(|config| {
        config.video_segment_secs = 2;
        config.video_preset = "ultrafast".into();
    })
    .await
}

pub(crate) async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = Request::builder().method(Method::GET).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

pub(crate) fn text(response: &TestResponse) -> String {
    String::from_utf8(response.bytes.clone()).unwrap()
}

/// ffprobe's view of `bytes` as a file: (duration, [(codec, width, height)]).
fn ffprobe(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.mp4");
    std::fs::write(&file, bytes).unwrap();
    probe_path(&file)
}

fn probe_path(target: &Path) -> Value {
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(target)
        .output()
        .unwrap();
    assert!(output.status.success(), "ffprobe: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

pub(crate) async fn video_upload(app: &TestApp) -> Value {
    let upload = app.create_upload("clip.mp4", clip(), json!({})).await;
    // The create job queued the transcode: nothing is served until it ran.
    assert_eq!(upload["attributes"]["mux_playback_id"], Value::Null);
    assert_eq!(upload["meta"]["video"]["status"], "preparing");
    app.run_pending_jobs().await;
    app.get_upload(upload["id"].as_str().unwrap()).await
}

pub(crate) fn playback_id(upload: &Value) -> String {
    upload["attributes"]["mux_playback_id"].as_str().expect("a playback id once ready").to_owned()
}

#[tokio::test]
async fn a_video_streams_as_hls_with_mp4_renditions() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    assert_eq!(upload["meta"]["video"], json!({ "status": "ready", "error": null }));
    assert_eq!(upload["attributes"]["mux_mp4_highest_res"], "medium", "480 lines: low and medium only");
    let id = playback_id(&upload);

    let master = get(&app, &format!("/video/{id}.m3u8"), &[]).await;
    assert_eq!(master.status, StatusCode::OK, "{}", text(&master));
    assert_eq!(master.header("content-type"), Some("application/vnd.apple.mpegurl"));
    assert_eq!(master.header("access-control-allow-origin"), Some("*"));
    assert_eq!(master.header("cache-control"), Some("public, max-age=10"));
    let playlist = m3u8_rs::parse_master_playlist_res(&master.bytes).unwrap();
    let sizes: Vec<_> = playlist.variants.iter().map(|v| v.resolution.map(|r| (r.width, r.height))).collect();
    assert_eq!(sizes, [Some((854, 480)), Some((640, 360))]);
    for variant in &playlist.variants {
        assert!(variant.bandwidth > 100_000, "{variant:?}");
        let codecs = variant.codecs.as_deref().unwrap();
        assert!(codecs.starts_with("avc1.") && codecs.contains("mp4a.40.2"), "{codecs}");
        // Relative to the master's folder (/video/): inside the video's own path.
        assert!(variant.uri.starts_with(&format!("{id}/")), "{}", variant.uri);
        let media_path = format!("/video/{}", variant.uri);
        let media = get(&app, &media_path, &[]).await;
        assert_eq!(media.status, StatusCode::OK);
        assert_eq!(media.header("cache-control"), Some("public, max-age=31536000, immutable"));
        let media = m3u8_rs::parse_media_playlist_res(&media.bytes).unwrap();
        assert!(media.end_list);
        assert_eq!(media.segments.len(), 3, "6 s in 2 s segments");
        let folder = media_path.rsplit_once('/').unwrap().0;
        let init = get(&app, &format!("{folder}/{}", media.segments[0].map.as_ref().unwrap().uri), &[]).await;
        assert_eq!((init.status, init.header("content-type")), (StatusCode::OK, Some("video/mp4")));
        for segment in &media.segments {
            let response = get(&app, &format!("{folder}/{}", segment.uri), &[]).await;
            assert_eq!(response.status, StatusCode::OK, "{}", segment.uri);
            assert_eq!(response.header("content-type"), Some("video/iso.segment"));
            assert!(response.bytes.len() > 1000);
        }
        // A segment past the last, and names the generation does not hold, are 404s.
        for bad in ["seg_00003.m4s", "seg_1.m4s", "..%2Findex.m3u8", "init_9.mp4", "master.m3u8"] {
            assert_eq!(get(&app, &format!("{folder}/{bad}"), &[]).await.status, StatusCode::NOT_FOUND, "{bad}");
        }
    }

    let medium = get(&app, &format!("/video/{id}/medium.mp4"), &[]).await;
    assert_eq!(medium.status, StatusCode::OK);
    assert_eq!(medium.header("content-type"), Some("video/mp4"));
    assert_eq!(medium.header("accept-ranges"), Some("bytes"));
    let probe = ffprobe(&medium.bytes);
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 6.0).abs() < 0.2, "{duration}");
    assert_eq!(probe["streams"][0]["height"], 480);
    assert_eq!(probe["streams"][1]["codec_name"], "aac");
    // +faststart: the index (moov) comes before the media data (mdat).
    let at = |tag: &[u8]| medium.bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"));
    let partial = get(&app, &format!("/video/{id}/medium.mp4"), &[("range", "bytes=100-199")]).await;
    assert_eq!(partial.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(partial.bytes, medium.bytes[100..200]);
    assert_eq!(partial.header("content-range"), Some(format!("bytes 100-199/{}", medium.bytes.len()).as_str()));
    let low = get(&app, &format!("/video/{id}/low.mp4"), &[]).await;
    assert_eq!(ffprobe(&low.bytes)["streams"][0]["height"], 360);
    assert_eq!(get(&app, &format!("/video/{id}/high.mp4"), &[]).await.status, StatusCode::NOT_FOUND, "not made");

    let preflight = app
        .send(Request::builder().method(Method::OPTIONS).uri(format!("/video/{id}.m3u8")).body(Body::empty()).unwrap())
        .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert!(preflight.header("access-control-allow-headers").unwrap().contains("Range"));
}

#[tokio::test]
async fn thumbnails_follow_the_poster_time() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let (upload_id, id) = (upload["id"].as_str().unwrap().to_owned(), playback_id(&upload));
    let thumbnail = |query: &'static str| {
        let path = format!("/video/{id}/thumbnail.jpg{query}");
        let app = &app;
        async move { get(app, &path, &[]).await }
    };
    let middle = thumbnail("?width=200").await;
    assert_eq!(middle.status, StatusCode::OK, "{}", text(&middle));
    assert_eq!(middle.header("content-type"), Some("image/jpeg"));
    let decoded = image::load_from_memory(&middle.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (200, 112));
    assert_eq!(middle.bytes, thumbnail("?width=200&time=3").await.bytes, "the default is the middle");

    let (status, _) = app
        .update_upload(
            &upload_id,
            json!({ "default_field_metadata": { "en": { "poster_time": 1 }, "it": { "poster_time": 1 } } }),
        )
        .await;
    assert_eq!(status, 200);
    let posted = thumbnail("?width=200").await;
    assert_ne!(posted.bytes, middle.bytes, "the old poster frame is not served");
    assert_ne!(posted.header("etag"), middle.header("etag"));
    assert_eq!(posted.header("cache-control"), Some("public, max-age=60, must-revalidate"));
    assert_eq!(posted.bytes, thumbnail("?width=200&time=1").await.bytes);
    assert_eq!(
        thumbnail("?width=200&time=1").await.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let png = get(&app, &format!("/video/{id}/thumbnail.png?width=64&height=64&fit_mode=crop"), &[]).await;
    assert_eq!(png.header("content-type"), Some("image/png"));
    let decoded = image::load_from_memory(&png.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 64));
    let webp = get(&app, &format!("/video/{id}/thumbnail.webp"), &[]).await;
    assert_eq!(webp.header("content-type"), Some("image/webp"));

    for bad in ["thumbnail.jpg?width=0", "thumbnail.jpg?time=-1", "thumbnail.jpg?fit_mode=zoom", "thumbnail.bmp"] {
        let response = get(&app, &format!("/video/{id}/{bad}"), &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.error_code(), "INVALID_THUMBNAIL_PARAMS", "{bad}");
    }
}

/// Frames in an animated image or cues in a WebVTT file, as ffprobe counts them.
fn ffprobe_packets(bytes: &[u8], name: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_packets", "-show_streams"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "ffprobe {name}: {}", String::from_utf8_lossy(&output.stderr));
    let probed: Value = serde_json::from_slice(&output.stdout).unwrap();
    probed["packets"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn animated_previews_and_storyboards() {
    let app = spawn().await;
    let id = playback_id(&video_upload(&app).await);

    // Mux's defaults: 0–5 s, 320 px wide, 15 fps; several frames.
    let gif = get(&app, &format!("/video/{id}/animated.gif"), &[]).await;
    assert_eq!(gif.status, StatusCode::OK, "{}", text(&gif));
    assert_eq!(gif.header("content-type"), Some("image/gif"));
    assert_eq!(gif.header("x-cache"), Some("MISS"));
    assert_eq!(gif.header("cache-control"), Some("public, max-age=31536000, immutable"));
    let decoded = image::load_from_memory(&gif.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 180));
    let frames = ffprobe_packets(&gif.bytes, "preview.gif");
    assert!((70..=80).contains(&frames), "5 s at 15 fps: {frames} frames");
    let again = get(&app, &format!("/video/{id}/animated.gif"), &[]).await;
    assert_eq!((again.header("x-cache"), &again.bytes), (Some("HIT"), &gif.bytes), "made once, then cached");

    let webp = get(&app, &format!("/video/{id}/animated.webp?start=1&end=3&width=100&fps=5"), &[]).await;
    assert_eq!(webp.status, StatusCode::OK, "{}", text(&webp));
    assert_eq!(webp.header("content-type"), Some("image/webp"));
    assert_eq!(&webp.bytes[8..12], b"WEBP");
    let anmf = webp.bytes.windows(4).filter(|w| *w == b"ANMF").count();
    assert!((9..=11).contains(&anmf), "2 s at 5 fps: {anmf} frames");
    for bad in [
        "animated.gif?fps=31",
        "animated.gif?width=641",
        "animated.gif?start=5.9",
        "animated.mp4",
        "animated.gif?end=x",
    ] {
        let response = get(&app, &format!("/video/{id}/{bad}"), &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.error_code(), "INVALID_THUMBNAIL_PARAMS", "{bad}");
    }

    // The storyboard: 50 tiles of 256×144 (854×480 source), 10 a row.
    let board = get(&app, &format!("/video/{id}/storyboard.jpg"), &[]).await;
    assert_eq!(board.status, StatusCode::OK, "{}", text(&board));
    assert_eq!(board.header("content-type"), Some("image/jpeg"));
    let decoded = image::load_from_memory(&board.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (2560, 720));
    let last_tile = decoded.crop_imm(2304, 576, 256, 144).to_luma8();
    assert!(last_tile.pixels().any(|p| p.0[0] > 40), "the last tile holds a frame, not padding");
    for (image, content_type) in [("png", "image/png"), ("webp", "image/webp")] {
        let response = get(&app, &format!("/video/{id}/storyboard.{image}"), &[]).await;
        assert_eq!(response.header("content-type"), Some(content_type), "{image}");
        let decoded = image::load_from_memory(&response.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (2560, 720), "{image}");
    }
    let vtt = get(&app, &format!("/video/{id}/storyboard.vtt?format=webp"), &[]).await;
    assert_eq!(vtt.status, StatusCode::OK);
    assert_eq!(vtt.header("content-type"), Some("text/vtt; charset=utf-8"));
    assert_eq!(vtt.header("access-control-allow-origin"), Some("*"));
    assert_eq!(ffprobe_packets(&vtt.bytes, "storyboard.vtt"), 50, "50 cues, read by ffmpeg's WebVTT demuxer");
    let image_url = format!("{}/video/{id}/storyboard.webp", crate::helpers::PUBLIC_URL);
    let cues = text(&vtt);
    assert!(cues.contains(&format!("00:00:00.000 --> 00:00:00.120\n{image_url}#xywh=0,0,256,144\n")), "{cues}");
    assert!(cues.contains(&format!("{image_url}#xywh=2304,576,256,144")), "{cues}");
    let json = get(&app, &format!("/video/{id}/storyboard.json"), &[]).await;
    let json: Value = serde_json::from_slice(&json.bytes).unwrap();
    assert_eq!(json["url"], format!("{}/video/{id}/storyboard.jpg", crate::helpers::PUBLIC_URL));
    assert_eq!((json["tile_width"].as_u64(), json["tiles"].as_array().unwrap().len()), (Some(256), 50));
    let bad = get(&app, &format!("/video/{id}/storyboard.vtt?format=gif"), &[]).await;
    assert_eq!((bad.status, bad.error_code()), (StatusCode::BAD_REQUEST, "INVALID_THUMBNAIL_PARAMS".into()));
}

#[tokio::test]
async fn a_new_version_is_a_new_stream_and_keep_url_keeps_the_playback_id() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    let first_id = playback_id(&upload);
    let first_generation = generation_of(&app, &first_id).await;

    // keep_url: same playback id; the old outputs serve until the new ones are ready, then go.
    let path = app.put_file("clip.mp4", &make_clip("640x360", 4, true)).await;
    let response = app
        .call(
            Method::PUT,
            &format!("/uploads/{upload_id}?replace_strategy=keep_url"),
            Some(json!({"data": {"type": "upload", "id": upload_id, "attributes": {"path": path}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", text(&response));
    let job = response.json()["data"]["id"].as_str().unwrap().to_owned();
    // Only the update job runs here, not the transcode it queues.
    let worker = assetd::jobs::Worker::new(app.app.clone());
    worker.run_one().await.unwrap();
    let (status, payload) = (job_status(&app, &job).await, app.get_upload(&upload_id).await);
    assert_eq!(status, Some(200));
    assert_eq!(payload["attributes"]["mux_playback_id"], first_id.as_str(), "still served meanwhile");
    assert_eq!(payload["meta"]["video"]["status"], "preparing");
    assert_eq!(generation_of(&app, &first_id).await, first_generation);
    app.run_pending_jobs().await;
    let replaced = app.get_upload(&upload_id).await;
    assert_eq!(playback_id(&replaced), first_id);
    assert_eq!(replaced["attributes"]["mux_mp4_highest_res"], "low");
    let second_generation = generation_of(&app, &first_id).await;
    assert_ne!(second_generation, first_generation);
    assert_eq!(count(&app, &StorageKey::video_generation_prefix(&upload_id, &first_generation)).await, 0);
    let master = get(&app, &format!("/video/{first_id}.m3u8"), &[]).await;
    assert_eq!(m3u8_rs::parse_master_playlist_res(&master.bytes).unwrap().variants.len(), 1, "360 lines: one rung");

    // A new version at a new URL: a new stream, and the old playback id is gone.
    let path = app.put_file("other.mp4", clip()).await;
    let (status, body) = app.update_upload(&upload_id, json!({ "path": path })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["mux_playback_id"], Value::Null, "null until the new stream is ready");
    assert_eq!(get(&app, &format!("/video/{first_id}.m3u8"), &[]).await.status, StatusCode::NOT_FOUND);
    let old = StorageKey::video_generation_prefix(&upload_id, &second_generation);
    assert_eq!(count(&app, &old).await, 0, "the old outputs went");
    app.run_pending_jobs().await;
    let second_id = playback_id(&app.get_upload(&upload_id).await);
    assert_ne!(second_id, first_id);
    assert_eq!(get(&app, &format!("/video/{second_id}.m3u8"), &[]).await.status, StatusCode::OK);

    // Deleting the upload removes every output.
    let response = app.call(Method::DELETE, &format!("/uploads/{upload_id}"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(get(&app, &format!("/video/{second_id}.m3u8"), &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, &StorageKey::video_prefix(&upload_id)).await, 0);
}

#[tokio::test]
async fn a_video_that_cannot_be_streamed_stays_a_file_with_its_failure_visible() {
    let app = TestApp::spawn_with(|config| config.video_max_duration_secs = 3).await;
    let upload = app.create_upload("clip.mp4", clip(), json!({})).await;
    app.run_pending_jobs().await;
    let upload = app.get_upload(upload["id"].as_str().unwrap()).await;
    assert_eq!(upload["meta"]["video"]["status"], "errored");
    assert!(upload["meta"]["video"]["error"].as_str().unwrap().contains("longer than"), "{upload}");
    assert_eq!(upload["attributes"]["mux_playback_id"], Value::Null);
    let original = app.fetch_asset(upload["attributes"]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(original.bytes, clip(), "the file is still served");
    assert_eq!(app.pending_jobs().await, 0, "not retried");

    // Not videos: no stream at all.
    let image = app.create_upload("cat.png", &crate::helpers::fixture("cat.png"), json!({})).await;
    assert!(image["meta"].get("video").is_none());
}

#[tokio::test]
async fn stream_urls_refuse_what_they_do_not_serve() {
    let app = spawn().await;
    for path in [
        "/video/nope.m3u8",
        "/video/a.b.m3u8",
        "/video/nope/low.mp4",
        "/video/nope/thumbnail.jpg",
        "/video/x/y/z/index.m3u8",
    ] {
        let response = get(&app, path, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.error_code(), "NOT_FOUND", "{path}");
    }
    // A stream being prepared says so: only the create job runs here, not the transcode.
    let path = app.put_file("clip.mp4", clip()).await;
    let body = json!({"data": {"type": "upload", "attributes": {"path": path}}});
    let response = app.call(Method::POST, "/uploads", Some(body)).await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert_eq!(assetd::jobs::Worker::new(app.app.clone()).run_one().await.unwrap(), assetd::jobs::RunOutcome::Executed);
    let upload = app.call(Method::GET, "/uploads", None).await.json()["data"][0].clone();
    let rows = app
        .raw_text_rows(&format!(
            "SELECT video_playback_id FROM uploads WHERE id = '{}'",
            upload["id"].as_str().unwrap()
        ))
        .await;
    let pending = get(&app, &format!("/video/{}.m3u8", rows[0][0]), &[]).await;
    assert_eq!(pending.status, StatusCode::NOT_FOUND);
    assert_eq!(pending.error_code(), "STREAM_NOT_READY");
    assert_eq!(pending.header("retry-after"), Some("5"));
}

#[tokio::test]
async fn the_stream_host_answers_mux_paths() {
    let app = TestApp::spawn_with(|config| {
        config.video_domain = Some("example.com".into());
        config.video_segment_secs = 2;
        config.video_preset = "ultrafast".into();
    })
    .await;
    let id = playback_id(&video_upload(&app).await);
    let on_host = |host: &'static str, path: String| {
        let request = Request::builder().uri(path).header(header::HOST, host).body(Body::empty()).unwrap();
        app.send(request)
    };
    let master = on_host("stream.example.com", format!("/{id}.m3u8")).await;
    assert_eq!(master.status, StatusCode::OK);
    let playlist = m3u8_rs::parse_master_playlist_res(&master.bytes).unwrap();
    // Resolved against https://stream.example.com/, the variant stays on the stream host's paths.
    let media = on_host("stream.example.com", format!("/{}", playlist.variants[0].uri)).await;
    assert_eq!(media.status, StatusCode::OK);
    assert_eq!(on_host("stream.example.com", format!("/{id}/medium.mp4")).await.status, StatusCode::OK);
    let thumbnail = on_host("image.example.com:443", format!("/{id}/thumbnail.jpg?width=100")).await;
    assert_eq!(thumbnail.header("content-type"), Some("image/jpeg"));
    // Cues name the image host, as Mux's do.
    let vtt = on_host("image.example.com", format!("/{id}/storyboard.vtt")).await;
    let cues = String::from_utf8(vtt.bytes.clone()).unwrap();
    assert!(cues.contains(&format!("\nhttps://image.example.com/{id}/storyboard.jpg#xywh=0,0,")), "{cues}");
    let board = on_host("image.example.com", format!("/{id}/storyboard.jpg")).await;
    assert_eq!(board.header("content-type"), Some("image/jpeg"));
    // Other hosts keep the plain routes (there, this is an unknown CMA endpoint); the stream
    // host answers nothing else.
    assert_ne!(on_host("assets.example.com", format!("/{id}.m3u8")).await.status, StatusCode::OK);
    assert_eq!(on_host("stream.example.com", "/uploads".into()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("/video/{id}.m3u8"), &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_sweep_removes_generations_nothing_serves() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    let served = generation_of(&app, &playback_id(&upload)).await;
    let orphan = StorageKey::video_file(&upload_id, "crashed", "720p/seg_00000.m4s");
    app.app.storage.put_bytes(&orphan, Bytes::from_static(b"partial")).await.unwrap();
    let gone = StorageKey::video_file("deleted-upload", "g", "low.mp4");
    app.app.storage.put_bytes(&gone, Bytes::from_static(b"x")).await.unwrap();
    let served_count = count(&app, &StorageKey::video_generation_prefix(&upload_id, &served)).await;
    assert!(served_count > 5);

    // Blob ages are compared in milliseconds (S3: seconds): let "just written" become "before now".
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let young = sweep(&app.app.db, &app.app.storage, std::time::Duration::from_secs(3600)).await.unwrap();
    assert!(young.removed_blobs.is_empty(), "young blobs stay: {young}");
    let report = sweep(&app.app.db, &app.app.storage, std::time::Duration::ZERO).await.unwrap();
    let mut removed = report.removed_blobs.clone();
    removed.sort();
    let mut expected = [gone.as_str(), orphan.as_str()];
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(count(&app, &StorageKey::video_generation_prefix(&upload_id, &served)).await, served_count);
}

async fn generation_of(app: &TestApp, playback_id: &str) -> String {
    let master = get(app, &format!("/video/{playback_id}.m3u8"), &[]).await;
    assert_eq!(master.status, StatusCode::OK);
    let playlist = m3u8_rs::parse_master_playlist_res(&master.bytes).unwrap();
    playlist.variants[0].uri.split('/').nth(1).unwrap().to_owned()
}

async fn count(app: &TestApp, prefix: &str) -> usize {
    app.app.storage.count_prefix(prefix).await.unwrap()
}

async fn job_status(app: &TestApp, job: &str) -> Option<u64> {
    let response = app.call(Method::GET, &format!("/job-results/{job}"), None).await;
    (response.status == StatusCode::OK).then(|| response.json()["data"]["attributes"]["status"].as_u64().unwrap())
}

#[tokio::test]
async fn videos_uploaded_before_streams_get_one_queued_once() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    let image = app.create_upload("cat.png", &crate::helpers::fixture("cat.png"), json!({})).await;
    // The state a video uploaded before streams existed is in.
    let cleared = app
        .raw_text_rows(&format!(
            "UPDATE uploads SET video_playback_id = NULL, video_status = NULL, video_generation = NULL, \
             video_outputs = NULL WHERE id = '{id}' RETURNING id"
        ))
        .await;
    assert_eq!(cleared.len(), 1);
    assert_eq!(app.get_upload(&id).await["attributes"]["mux_playback_id"], Value::Null);

    assert_eq!(assetd::video::backfill_streams(&app.app.db).await.unwrap(), 1, "the video, not the image");
    assert_eq!(assetd::video::backfill_streams(&app.app.db).await.unwrap(), 0, "queued once");
    assert_eq!(app.pending_jobs().await, 1);
    let done = app.raw_text_rows("SELECT value FROM settings WHERE key = 'video_streams_backfilled'").await;
    assert_eq!(done, [["1"]], "a finished pass is recorded: later starts skip the scan");
    app.run_pending_jobs().await;
    let streamed = app.get_upload(&id).await;
    assert_eq!(streamed["meta"]["video"]["status"], "ready");
    let master = get(&app, &format!("/video/{}.m3u8", playback_id(&streamed)), &[]).await;
    assert_eq!(master.status, StatusCode::OK);
    assert!(app.get_upload(image["id"].as_str().unwrap()).await["meta"]["video"].is_null());
}
