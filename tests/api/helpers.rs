//! A fresh, isolated assetd per test: SQLite in a temp dir, blobs in memory, no background worker
//! unless asked (jobs run step by step with `run_pending_jobs`). Requests go through the router
//! in process; helpers speak the public API only.
//!
//! With `ASSETD_TEST_STORAGE_URL` set (see `scripts/s3-server`) blobs go to that S3 bucket
//! instead, under a fresh key prefix per app, and uploads are PUT to the bucket over HTTP.

use std::{path::PathBuf, sync::Arc};

use assetd::{
    api::{self, state::ApiState},
    app::App,
    config::{Config, Secret},
    domain::Locale,
    jobs::{RunOutcome, Worker},
    storage::Storage,
};
use axum::{
    body::Body,
    http::{header, HeaderMap, Method, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token-secret";
pub const PUBLIC_URL: &str = "http://assetd.test";

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub struct TestApp {
    pub app: Arc<App>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

/// A response, fully read.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `code` of the first `api_error`, checking the envelope on the way.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(
            self.header("content-type").unwrap_or_default().contains("application/json"),
            "error without a JSON content type"
        );
        let error = &body["data"][0];
        assert_eq!(error["type"], "api_error", "not an error envelope: {body}");
        assert!(error["attributes"]["details"].is_object(), "details must be an object: {body}");
        error["attributes"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// With `ASSETD_TEST_DATABASE_URL` set (scripts/test does), every test app gets a fresh schema
/// of that PostgreSQL database (named `$ASSETD_TEST_SCHEMA_PREFIX<uuid>`, so that a run can drop
/// its own); otherwise SQLite in its temp dir.
fn use_test_database(config: &mut Config) {
    if let Ok(url) = std::env::var("ASSETD_TEST_DATABASE_URL") {
        config.database_url = Some(url);
        let prefix = std::env::var("ASSETD_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "assetd_test_".into());
        config.database_schema = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_configured(configure, false).await
    }

    /// Like [`TestApp::spawn_with`], with files on local disk (under the app's data directory)
    /// instead of memory when no S3 bucket is configured: for tests of what lands on disk.
    pub async fn spawn_on_disk_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_configured(configure, true).await
    }

    async fn spawn_configured(configure: impl FnOnce(&mut Config), on_disk: bool) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path().to_path_buf());
        config.public_url = Some(PUBLIC_URL.into());
        config.api_token = Some(Secret::new(TOKEN));
        config.locales = vec![Locale::parse("en").unwrap(), Locale::parse("it").unwrap()];
        config.workers = 0;
        config.ffprobe = "ffprobe".into();
        use_test_database(&mut config);
        configure(&mut config);
        let storage = match std::env::var("ASSETD_TEST_STORAGE_URL") {
            Ok(url) => {
                let url = with_prefix_segment(&url, &format!("api-{}", uuid::Uuid::new_v4().simple()));
                config.storage_url = Some(url.clone());
                Storage::s3(&url).unwrap_or_else(|e| panic!("ASSETD_TEST_STORAGE_URL: {e}"))
            }
            Err(_) if on_disk => Storage::local(config.data_dir.join("files")).expect("local file store"),
            Err(_) => Storage::in_memory(),
        };
        let app = App::build_with_storage(config, storage).await.expect("app builds");
        let router = api::router(ApiState::new(app.clone()).await.expect("the HTTP edge builds"));
        TestApp { app, router, _dir: dir }
    }

    /// Another node of the same deployment: its own process state (caches, single flight), the
    /// same database and blob store.
    pub async fn sibling(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = App::build_with_storage(self.app.config.clone(), self.app.storage.clone()).await.expect("app builds");
        let router = api::router(ApiState::new(app.clone()).await.expect("the HTTP edge builds"));
        TestApp { app, router, _dir: dir }
    }

    /// Rows of text columns, read straight from the database (SQLite file or PostgreSQL schema)
    /// behind the API, for tests that check what is stored.
    pub async fn raw_text_rows(&self, sql: &str) -> Vec<Vec<String>> {
        use sqlx::Row;
        let config = &self.app.config;
        match &config.database_url {
            Some(url) => {
                let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
                let options = options.options([("search_path", config.database_schema.as_str())]);
                let pool = sqlx::PgPool::connect_with(options).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                rows.iter().map(|row| (0..row.len()).map(|i| row.get::<String, _>(i)).collect()).collect()
            }
            None => {
                let file = config.data_dir.join("assetd.db");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                rows.iter().map(|row| (0..row.len()).map(|i| row.get::<String, _>(i)).collect()).collect()
            }
        }
    }

    /// Sends a raw request.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        TestResponse { status, headers, bytes }
    }

    /// A CMA request with the headers the official client sends.
    pub fn cma(method: Method, uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-version", "3")
    }

    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> TestResponse {
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(Self::cma(method, uri).body(body).unwrap()).await
    }

    /// Like [`TestApp::call`] with another token's secret.
    pub async fn call_as(&self, secret: &str, method: Method, uri: &str, body: Option<Value>) -> TestResponse {
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let mut request = Self::cma(method, uri).body(body).unwrap();
        request.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {secret}").parse().unwrap());
        self.send(request).await
    }

    /// Runs queued jobs until the queue is empty.
    pub async fn run_pending_jobs(&self) {
        let worker = Worker::new(self.app.clone());
        while worker.run_one().await.expect("job queue works") == RunOutcome::Executed {}
    }

    /// `POST /upload-requests` then the direct PUT; returns the upload-request id (path).
    pub async fn put_file(&self, filename: &str, bytes: &[u8]) -> String {
        let response = self
            .call(
                Method::POST,
                "/upload-requests",
                Some(json!({"data": {"type": "upload_request", "attributes": {"filename": filename}}})),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "upload request: {}", String::from_utf8_lossy(&response.bytes));
        let body = response.json();
        let url = body["data"]["attributes"]["url"].as_str().unwrap().to_owned();
        let put = self.put_to_url(&url, bytes.to_vec()).await;
        assert_eq!(put.status, StatusCode::OK, "direct PUT: {}", String::from_utf8_lossy(&put.bytes));
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// True when files go to an S3 bucket (clients PUT them there, not to assetd).
    pub fn uses_s3(&self) -> bool {
        self.app.storage.takes_direct_uploads()
    }

    /// PUTs raw bytes to an absolute upload URL handed out by the API: in process when it is
    /// assetd's own, over HTTP when it is a presigned bucket URL.
    pub async fn put_to_url(&self, url: &str, bytes: Vec<u8>) -> TestResponse {
        let Some(path) = url.strip_prefix(PUBLIC_URL) else {
            return put_over_http(url, bytes).await;
        };
        let request = Request::builder()
            .method(Method::PUT)
            .uri(path)
            .header(header::CONTENT_LENGTH, bytes.len())
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(bytes))
            .unwrap();
        self.send(request).await
    }

    /// Polls a job result once the queue has run; panics if the job is still pending.
    pub async fn job_result(&self, job_id: &str) -> (u16, Value) {
        self.run_pending_jobs().await;
        let response = self.call(Method::GET, &format!("/job-results/{job_id}"), None).await;
        assert_eq!(response.status, StatusCode::OK, "job result: {}", String::from_utf8_lossy(&response.bytes));
        let body = response.json();
        assert_eq!(body["data"]["type"], "job_result");
        assert_eq!(body["data"]["id"], job_id);
        let status = body["data"]["attributes"]["status"].as_u64().unwrap() as u16;
        (status, body["data"]["attributes"]["payload"].clone())
    }

    /// Sends a request that must answer 202 with a job, runs the job, returns its result.
    pub async fn call_job(&self, method: Method, uri: &str, body: Value) -> (u16, Value) {
        let response = self.call(method, uri, Some(body)).await;
        assert_eq!(
            response.status,
            StatusCode::ACCEPTED,
            "expected a job: {}",
            String::from_utf8_lossy(&response.bytes)
        );
        let job = response.json();
        assert_eq!(job["data"]["type"], "job");
        self.job_result(job["data"]["id"].as_str().unwrap()).await
    }

    /// Creates an upload from bytes with extra attributes; returns the upload resource.
    pub async fn create_upload(&self, filename: &str, bytes: &[u8], attributes: Value) -> Value {
        let path = self.put_file(filename, bytes).await;
        let mut attributes = attributes;
        attributes["path"] = json!(path);
        let (status, payload) = self
            .call_job(Method::POST, "/uploads", json!({"data": {"type": "upload", "attributes": attributes}}))
            .await;
        assert_eq!(status, 200, "create failed: {payload}");
        payload["data"].clone()
    }

    /// `PUT /uploads/{id}` with attributes (and optional relationships / query); runs the job.
    pub async fn update_upload(&self, id: &str, attributes: Value) -> (u16, Value) {
        self.update_upload_with(id, "", json!({"data": {"type": "upload", "id": id, "attributes": attributes}})).await
    }

    pub async fn update_upload_with(&self, id: &str, query: &str, body: Value) -> (u16, Value) {
        let response = self.call(Method::PUT, &format!("/uploads/{id}{query}"), Some(body)).await;
        if response.status != StatusCode::ACCEPTED {
            return (response.status.as_u16(), response.json());
        }
        let job = response.json();
        self.job_result(job["data"]["id"].as_str().unwrap()).await
    }

    /// `POST /upload-collections` with a label; returns the new collection's id.
    pub async fn create_collection(&self, label: &str) -> String {
        let body = json!({"data": {"type": "upload_collection", "attributes": {"label": label}}});
        let response = self.call(Method::POST, "/upload-collections", Some(body)).await;
        assert_eq!(response.status, StatusCode::OK, "create collection: {}", String::from_utf8_lossy(&response.bytes));
        response.json()["data"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn get_upload(&self, id: &str) -> Value {
        let response = self.call(Method::GET, &format!("/uploads/{id}"), None).await;
        assert_eq!(response.status, StatusCode::OK);
        response.json()["data"].clone()
    }

    /// GETs an asset URL (absolute, as the API gives it) with extra headers.
    pub async fn fetch_asset(&self, url: &str, headers: &[(&str, &str)]) -> TestResponse {
        let path = url.strip_prefix(PUBLIC_URL).expect("asset URLs are absolute on the public URL");
        let mut request = Request::builder().method(Method::GET).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn pending_jobs(&self) -> i64 {
        self.app.db.count_pending_jobs().await.unwrap()
    }
}

/// A PUT over the network, the way the official client sends it.
async fn put_over_http(url: &str, bytes: Vec<u8>) -> TestResponse {
    let response = reqwest::Client::new()
        .put(url)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
    // reqwest and axum share the `http` crate: statuses and headers carry over as they are.
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.bytes().await.expect("response body").to_vec();
    TestResponse { status, headers, bytes }
}

/// Appends `segment` to the key prefix of a storage URL (`s3://bucket[/prefix][?query]`).
pub fn with_prefix_segment(url: &str, segment: &str) -> String {
    let (location, query) = url.split_once('?').map_or((url, None), |(l, q)| (l, Some(q)));
    let location = format!("{}/{segment}", location.trim_end_matches('/'));
    query.map_or(location.clone(), |q| format!("{location}?{q}"))
}
