//! `GET /metrics` after a known sequence of requests, `X-Request-Id` on every answer, and the
//! request id in the JSON logs of the real binary.

use std::{
    collections::BTreeMap,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};

use crate::{
    helpers::{fixture, TestApp},
    real_server::{free_port, SECRET},
};
use assetd::config::Secret;

/// Every sample of an exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("malformed sample: {line}"));
            (key.to_owned(), value.parse().unwrap_or_else(|_| panic!("malformed value: {line}")))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let response = app.send(Request::builder().uri("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    samples(std::str::from_utf8(&response.bytes).unwrap())
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_by_route_jobs_and_transform_cache_hits() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let before = scrape(&app).await;

    // The known sequence.
    for _ in 0..3 {
        assert_eq!(app.call(Method::GET, "/uploads", None).await.status, StatusCode::OK);
    }
    assert_eq!(app.call(Method::GET, "/uploads/no-such-upload", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, &format!("/uploads/{id}"), None).await.status, StatusCode::OK);
    assert_eq!(app.call(Method::GET, "/no-such-endpoint", None).await.status, StatusCode::NOT_FOUND);
    let thumbnail = format!("{}?w=20&h=20&fit=crop", upload["attributes"]["url"].as_str().unwrap());
    assert_eq!(app.fetch_asset(&thumbnail, &[]).await.status, StatusCode::OK);
    assert_eq!(app.fetch_asset(&thumbnail, &[]).await.status, StatusCode::OK);
    let update = json!({"data": {"type": "upload", "id": id, "attributes": {"notes": "queued"}}});
    let queued = app.call(Method::PUT, &format!("/uploads/{id}"), Some(update)).await;
    let job_queued = queued.status == StatusCode::ACCEPTED;

    let after = scrape(&app).await;
    let delta = |key: &str| value(&after, key) - value(&before, key);
    assert_eq!(delta(r#"assetd_http_requests_total{method="GET",route="/uploads",status="200"}"#), 3.0);
    assert_eq!(delta(r#"assetd_http_requests_total{method="GET",route="/uploads/{id}",status="404"}"#), 1.0);
    assert_eq!(delta(r#"assetd_http_requests_total{method="GET",route="/uploads/{id}",status="200"}"#), 1.0);
    assert_eq!(delta(r#"assetd_http_requests_total{method="GET",route="unmatched",status="404"}"#), 1.0);
    assert_eq!(delta(r#"assetd_http_request_duration_seconds_count{method="GET",route="/uploads"}"#), 3.0);
    let asset_route = format!(r#"method="GET",route="/{}/{{file}}""#, app.app.config.project_id);
    assert_eq!(delta(&format!(r#"assetd_http_requests_total{{{asset_route},status="200"}}"#)), 2.0);
    // The first GET of the thumbnail rendered it, the second was served from the cache.
    assert_eq!(delta(r#"assetd_transform_cache_lookups_total{result="miss"}"#), 1.0);
    assert_eq!(delta(r#"assetd_transform_cache_lookups_total{result="hit"}"#), 1.0);
    assert_eq!(delta(r#"assetd_transform_render_duration_seconds_count{output="image"}"#), 1.0);
    let ratio = value(&after, "assetd_transform_cache_hit_ratio");
    assert!((ratio - 0.5).abs() < 1e-9, "one hit, one miss: {ratio}");
    // The update waits in the queue (the test app runs no worker).
    let queued_now = if job_queued { 1.0 } else { 0.0 };
    assert_eq!(value(&after, "assetd_jobs_queued"), queued_now);
    assert_eq!(value(&after, "assetd_jobs_running"), 0.0);
    // The create job ran through the worker.
    assert!(value(&after, r#"assetd_job_runs_total{kind="create_upload",outcome="done"}"#) >= 1.0, "{after:?}");
    assert_eq!(value(&after, "assetd_http_requests_in_flight"), 1.0, "the scrape itself is in flight");

    app.run_pending_jobs().await;
    let drained = scrape(&app).await;
    assert_eq!(value(&drained, "assetd_jobs_queued"), 0.0);
    assert_eq!(value(&drained, "assetd_jobs_oldest_queued_age_seconds"), 0.0);
    if job_queued {
        assert_eq!(
            value(&drained, r#"assetd_job_runs_total{kind="update_upload",outcome="done"}"#)
                - value(&after, r#"assetd_job_runs_total{kind="update_upload",outcome="done"}"#),
            1.0
        );
    }
}

#[tokio::test]
async fn the_oldest_queued_job_has_an_age() {
    let app = TestApp::spawn().await;
    let path = app.put_file("cat.png", &fixture("cat.png")).await;
    let body = json!({"data": {"type": "upload", "attributes": {"path": path}}});
    assert_eq!(app.call(Method::POST, "/uploads", Some(body)).await.status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "assetd_jobs_queued"), 1.0);
    assert!(value(&metrics, "assetd_jobs_oldest_queued_age_seconds") >= 0.03, "{metrics:?}");
}

#[tokio::test]
async fn storage_failures_are_counted_by_operation() {
    let app = TestApp::spawn_on_disk_with(|_| {}).await;
    if app.uses_s3() {
        return; // the failure is provoked on local disk
    }
    let upload = app.create_upload("notes.txt", &fixture("notes.txt"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let rows = app.raw_text_rows(&format!("SELECT blob_key FROM uploads WHERE id = '{id}'")).await;
    let blob = app.app.config.data_dir.join("files").join(&rows[0][0]);
    // A directory where the file was: the store fails to read it (unlike a missing file, which
    // is an answer, not a failure).
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir(&blob).unwrap();
    let before = scrape(&app).await;
    let response = app.fetch_asset(upload["attributes"]["url"].as_str().unwrap(), &[]).await;
    assert!(response.status.is_server_error() || response.status == StatusCode::OK, "{}", response.status);
    let after = scrape(&app).await;
    let failures: f64 = after
        .iter()
        .filter(|(key, _)| key.starts_with("assetd_storage_errors_total"))
        .map(|(key, count)| count - value(&before, key))
        .sum();
    assert!(failures >= 1.0, "the failed read is counted: {after:?}");
}

#[tokio::test]
async fn a_metrics_token_guards_the_endpoint() {
    let app = TestApp::spawn_with(|config| config.metrics_token = Some(Secret::new("scraper-secret"))).await;
    let get = |authorization: Option<&str>| {
        let mut request = Request::builder().uri("/metrics");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(Body::empty()).unwrap()
    };
    let missing = app.send(get(None)).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "INVALID_AUTHORIZATION_HEADER");
    let wrong = app.send(get(Some("Bearer nope"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let api_token = app.send(get(Some(&format!("Bearer {}", crate::helpers::TOKEN)))).await;
    assert_eq!(api_token.status, StatusCode::UNAUTHORIZED, "an API token is not the metrics token");
    for malformed in ["scraper-secret", "Token scraper-secret", "Bearer"] {
        let response = app.send(get(Some(malformed))).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{malformed}");
        assert_eq!(response.error_code(), "INVALID_AUTHORIZATION_HEADER", "{malformed}");
    }
    let lower_case = app.send(get(Some("bearer scraper-secret"))).await;
    assert_eq!(lower_case.status, StatusCode::OK, "the scheme is case-insensitive");
    let right = app.send(get(Some("Bearer scraper-secret"))).await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&right.bytes).contains("assetd_http_requests_total"));
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let first = app.call(Method::GET, "/uploads", None).await;
    let second = app.call(Method::GET, "/uploads", None).await;
    let (a, b) = (first.header("x-request-id").unwrap(), second.header("x-request-id").unwrap());
    assert_ne!(a, b, "each request gets its own id");
    assert_eq!(a.len(), 36, "a UUID: {a}");
    // Errors, public routes and framework errors too.
    let unknown = app.call(Method::GET, "/no-such-endpoint", None).await;
    assert!(unknown.header("x-request-id").is_some());
    let health = app.send(Request::builder().uri("/healthz").body(Body::empty()).unwrap()).await;
    assert!(health.header("x-request-id").is_some());
    let bad_json = app
        .send(
            TestApp::cma(Method::POST, "/upload-collections")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert!(bad_json.status.is_client_error());
    assert!(bad_json.header("x-request-id").is_some());

    // A caller's sane id is kept (so logs across services line up); anything else is replaced.
    let traced = app
        .send(TestApp::cma(Method::GET, "/uploads").header("x-request-id", "edge-42.abc").body(Body::empty()).unwrap())
        .await;
    assert_eq!(traced.header("x-request-id"), Some("edge-42.abc"));
    let long = "x".repeat(200);
    let replaced = app
        .send(TestApp::cma(Method::GET, "/uploads").header("x-request-id", &long).body(Body::empty()).unwrap())
        .await;
    let id = replaced.header("x-request-id").unwrap();
    assert_ne!(id, long);
    assert_eq!(id.len(), 36);
}

/// The real binary with `ASSETD_LOG_FORMAT=json`: one JSON object per line, and the access-log
/// line of a request carries its id, route and status.
#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("assetd.log");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_assetd"))
        .arg("serve")
        .env("ASSETD_LISTEN", format!("127.0.0.1:{port}"))
        .env("ASSETD_DATA_DIR", dir.path().join("data"))
        .env("ASSETD_API_TOKEN", SECRET)
        .env("ASSETD_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("ASSETD_DATABASE_URL")
        .env_remove("ASSETD_STORAGE_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("the assetd binary starts");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "assetd did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = http
        .get(format!("{base}/uploads/some-id"))
        .header("authorization", format!("Bearer {SECRET}"))
        .header("x-api-version", "3")
        .header("x-request-id", "trace-me-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-id"], "trace-me-7");
    let generated = http.get(format!("{base}/healthz")).send().await.unwrap();
    let generated_id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();

    // The access-log line is written after the answer: wait for it.
    let find = |id: &str| -> Option<Value> {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
            .find(|line| line["span"]["request_id"] == id && line["message"] == "request")
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut traced, mut health) = (None, None);
    while (traced.is_none() || health.is_none()) && Instant::now() < deadline {
        traced = find("trace-me-7");
        health = find(&generated_id);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let traced = traced.expect("the request's log line names its id");
    assert_eq!(traced["status"], 404);
    assert_eq!(traced["span"]["route"], "/uploads/{id}");
    assert_eq!(traced["span"]["method"], "GET");
    assert_eq!(traced["level"], "INFO");
    assert!(traced["latency_ms"].is_number());
    assert_eq!(health.expect("a generated id is logged too")["span"]["route"], "/healthz");
}
