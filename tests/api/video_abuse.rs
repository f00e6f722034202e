//! The video image API under abuse (issue 16): every distinct `start` or `time` is a new ffmpeg
//! render, so a flood of distinct animated previews and thumbnails is held to the same bounds as
//! image transforms: the transform slots and memory budget (an animation reserves its largest
//! output), the bounded queue (beyond it 503 with Retry-After, no render), the per-client budget
//! (429) and the derived cache's size (renders past it are evicted).

use axum::http::StatusCode;
use futures_util::future::join_all;

use crate::{
    helpers::TestApp,
    video::{get, playback_id, text, video_upload},
};

async fn flood_app(configure: impl FnOnce(&mut assetd::config::Config)) -> TestApp {
    TestApp::spawn_on_disk_with(|config| {
        config.video_segment_secs = 2;
        config.video_preset = "ultrafast".into();
        config.transform_concurrency = 1;
        config.transform_queue = 2;
        configure(config);
    })
    .await
}

/// A distinct animated preview (a new render) for each `i`.
fn animated(id: &str, i: usize) -> String {
    let start = 0.05 * i as f64;
    format!("/video/{id}/animated.gif?start={start:.2}&end={:.2}&width=64&fps=5", start + 1.0)
}

#[tokio::test]
async fn a_flood_of_distinct_previews_waits_in_the_bounded_queue_or_is_refused() {
    let app = flood_app(|_| {}).await;
    let id = playback_id(&video_upload(&app).await);
    let mut paths: Vec<String> = (0..12).map(|i| animated(&id, i)).collect();
    paths.extend((0..6).map(|i| format!("/video/{id}/thumbnail.jpg?width=80&time={:.2}", 0.3 + 0.4 * i as f64)));
    let answers = join_all(paths.iter().map(|path| get(&app, path, &[]))).await;

    let (mut rendered, mut refused) = (0, 0);
    for (path, answer) in paths.iter().zip(&answers) {
        match answer.status {
            StatusCode::OK => {
                rendered += 1;
                let kind = if path.contains("animated") { "image/gif" } else { "image/jpeg" };
                assert_eq!(answer.header("content-type"), Some(kind), "{path}");
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                assert_eq!(answer.header("retry-after"), Some("1"), "{path}: {}", text(answer));
                assert_eq!(answer.error_code(), "SERVICE_UNAVAILABLE", "{path}");
            }
            other => panic!("{path}: {other} {}", text(answer)),
        }
    }
    // One render at a time and two waiting: of 18 at once, at least the first three are made and
    // most of the rest are refused without an ffmpeg process.
    assert!(rendered >= 3, "{rendered} rendered, {refused} refused");
    assert!(refused >= 6, "{rendered} rendered, {refused} refused");

    // Nothing is stuck: once the burst is over, each preview renders (or is served from cache).
    for path in &paths[..4] {
        let answer = get(&app, path, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", text(&answer));
    }
}

#[tokio::test]
async fn the_per_client_budget_stops_a_scan_of_start_values() {
    let app = flood_app(|config| {
        config.public_rate_limit = 4;
        config.rate_limit_window_secs = 60;
    })
    .await;
    let id = playback_id(&video_upload(&app).await);
    let answers: Vec<_> = {
        let mut answers = Vec::new();
        for i in 0..7 {
            answers.push(get(&app, &animated(&id, i), &[]).await);
        }
        answers
    };
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    // On local disk the upload's direct PUT of its file (to assetd) took one of the 4 already;
    // on S3 the file went to the bucket.
    let allowed = if app.uses_s3() { 4 } else { 3 };
    let expected: Vec<u16> = (0..7).map(|i| if i < allowed { 200 } else { 429 }).collect();
    assert_eq!(statuses, expected, "{statuses:?}");
    assert!(answers[4].header("retry-after").is_some());
    assert_eq!(answers[4].error_code(), "RATE_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn renders_of_distinct_start_values_stay_within_the_derived_cache() {
    const LIMIT: u64 = 20_000;
    let app = flood_app(|config| config.derived_cache_max_bytes = LIMIT).await;
    let id = playback_id(&video_upload(&app).await);
    let mut made = 0u64;
    for i in 0..16 {
        let answer = get(&app, &animated(&id, i), &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
        made += answer.bytes.len() as u64;
        app.app.renditions.cache().wait_for_eviction().await;
        let total = app.raw_text_rows("SELECT CAST(bytes AS TEXT) FROM derived_cache").await[0][0].parse::<u64>();
        assert!(total.unwrap() <= LIMIT, "after {} previews", i + 1);
    }
    assert!(made > 2 * LIMIT, "the previews ({made} bytes) are several times the cache");
    assert!(app.app.renditions.cache().evicted_count() > 0);
}
