//! Issue 14, defect 1, against the real binary over HTTP: bytes PUT to an upload URL after its file
//! was taken (by `POST /uploads` or a new version) never change an upload's file. A PUT is held
//! open after its first bytes while the create (or new version) runs to its end, then finishes:
//! on local disk it answers 409 `UPLOAD_REQUEST_ALREADY_USED` and leaves nothing behind; with S3
//! the bucket takes it, on a staging key the sweep removes. Either way the upload's record, its
//! bytes (a full GET), a transform and the store stay the first file's.
//!
//! On SQLite + local disk by default; with `ASSETD_TEST_DATABASE_URL` and `ASSETD_TEST_STORAGE_URL`
//! set, on a fresh PostgreSQL schema and bucket prefix, through the presigned bucket URL.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use assetd::storage::Storage;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{fixture, md5_hex, with_prefix_segment},
    real_server::{free_port, Server, SECRET},
};

/// Where the server keeps its data, and how the test looks at the store behind its back.
struct Deployment {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    storage: Storage,
    s3: bool,
}

impl Deployment {
    fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        // No sweep in the server: the test sweeps itself, to see what the race left.
        let mut env: Vec<(String, String)> = vec![("ASSETD_CLEANUP_INTERVAL".into(), "0".into())];
        let storage = match (std::env::var("ASSETD_TEST_DATABASE_URL"), std::env::var("ASSETD_TEST_STORAGE_URL")) {
            (Ok(database_url), Ok(storage_url)) => {
                let prefix = std::env::var("ASSETD_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "assetd_test_".into());
                let schema = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
                let storage_url = with_prefix_segment(&storage_url, &format!("race-{}", uuid::Uuid::new_v4().simple()));
                env.push(("ASSETD_DATABASE_URL".into(), database_url));
                env.push(("ASSETD_DATABASE_SCHEMA".into(), schema));
                env.push(("ASSETD_STORAGE_URL".into(), storage_url.clone()));
                Some(Storage::s3(&storage_url).unwrap())
            }
            _ => None,
        };
        let s3 = storage.is_some();
        let storage = storage.unwrap_or_else(|| Storage::local(dir.path().join("files")).unwrap());
        Deployment { dir, env, storage, s3 }
    }

    async fn start(&self) -> Server {
        Server::spawn_with_env(self.dir.path(), free_port(), 2, Some(SECRET), Stdio::null(), &self.env).await
    }

    /// Every original file and staging copy in the store with its bytes (derived images, made
    /// by the transforms the test asks for, are left out).
    async fn stored(&self) -> BTreeMap<String, Vec<u8>> {
        let mut listed: Vec<_> = self.storage.list_blobs("originals/").try_collect().await.unwrap();
        listed.extend(self.storage.list_blobs("incoming/").try_collect::<Vec<_>>().await.unwrap());
        let mut blobs = BTreeMap::new();
        for blob in listed {
            let read = self.storage.get(&blob.key, None).await.unwrap();
            let parts: Vec<Bytes> = read.stream.try_collect().await.unwrap();
            blobs.insert(blob.key.as_str().to_owned(), parts.concat());
        }
        blobs
    }

    /// Local disk: files of writes still open (or never finished), `<key>#<n>`.
    fn staging_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.file_name().is_some_and(|n| n.to_string_lossy().contains('#')) {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.dir.path().join("files"), &mut found);
        found
    }

    /// Returns once the held PUT is past its start checks and streaming: on local disk its
    /// staging file exists; a bucket shows nothing before the PUT completes, so there it waits.
    async fn wait_until_streaming(&self) {
        if self.s3 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.staging_files().is_empty() {
            assert!(Instant::now() < deadline, "the held PUT never started writing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `assetd cleanup` with a grace of 0 (the server is idle); returns its output.
    fn sweep(&self) -> String {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_assetd"))
            .arg("cleanup")
            .env("ASSETD_DATA_DIR", self.dir.path())
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("ASSETD_CLEANUP_GRACE", "0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "assetd cleanup failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
        stdout
    }

    /// After the sweep the store holds exactly `expected`, the upload's file, and nothing of the
    /// PUTs that lost; the sweep removed only what a late PUT left on the staging key of S3
    /// (`late_staging_puts` of them), and on local disk nothing at all.
    async fn check_only_file_left(&self, expected: &[u8], late_staging_puts: usize) {
        let report = self.sweep();
        let removed: Vec<&str> = report.lines().filter_map(|line| line.strip_prefix("removed blob ")).collect();
        let removed_temp = report.lines().filter(|line| line.starts_with("removed /")).count();
        assert_eq!(removed_temp, 0, "temporary files were left: {report}");
        match self.s3 {
            true => {
                assert_eq!(removed.len(), late_staging_puts, "{report}");
                assert!(removed.iter().all(|key| key.starts_with("incoming/")), "{report}");
            }
            false => assert!(removed.is_empty(), "the PUTs left files behind: {report}"),
        }
        let stored = self.stored().await;
        assert_eq!(stored.len(), 1, "exactly the upload's file stays: {:?}", stored.keys());
        let (key, bytes) = stored.iter().next().unwrap();
        assert!(key.starts_with("originals/"), "{key}");
        assert_eq!(md5_hex(bytes), md5_hex(expected), "the stored file is the first one");
        assert!(self.staging_files().is_empty(), "{:?}", self.staging_files());
    }

    /// What a PUT that finished after the take answers: 409 from assetd; the bucket takes it.
    async fn check_late_put(&self, answer: reqwest::Response) {
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        if self.s3 {
            assert!(status.is_success(), "{status} {body}");
            return;
        }
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["data"][0]["attributes"]["code"], "UPLOAD_REQUEST_ALREADY_USED", "{body}");
    }
}

async fn put(server: &Server, url: &str, bytes: &[u8]) {
    let response = server.http.put(url).header(header::CONTENT_TYPE, "application/octet-stream").body(bytes.to_vec());
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap_or_default());
}

/// A PUT of `bytes` (with its Content-Length) that sends 10 bytes, then waits for `release`.
struct HeldPut {
    release: tokio::sync::oneshot::Sender<()>,
    answer: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
}

impl HeldPut {
    fn start(server: &Server, url: &str, bytes: &[u8]) -> HeldPut {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (head, tail) = (Bytes::copy_from_slice(&bytes[..10]), Bytes::copy_from_slice(&bytes[10..]));
        let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(
            futures_util::stream::once(async move {
                let _ = released.await;
                Ok(tail)
            }),
        );
        let request = server
            .http
            .put(url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(reqwest::Body::wrap_stream(body));
        HeldPut { release, answer: tokio::spawn(request.send()) }
    }

    /// Sends the rest and returns the answer.
    async fn finish(self) -> reqwest::Response {
        self.release.send(()).unwrap();
        self.answer.await.unwrap().expect("the held PUT gets an answer")
    }
}

/// Sends a request that answers 202 with a job and returns the job's 200 payload (the upload).
async fn run_job(server: &Server, request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job_id = body["data"]["id"].as_str().unwrap();
    let result = server.job_result(job_id, Duration::from_secs(20)).await.expect("the job finishes");
    assert_eq!(result["data"]["attributes"]["status"], 200, "{result}");
    result["data"]["attributes"]["payload"]["data"].clone()
}

async fn create(server: &Server, path: &str) -> Value {
    let body = json!({"data": {"type": "upload", "attributes": {"path": path}}});
    run_job(server, server.cma(Method::POST, "/uploads").json(&body)).await
}

async fn new_version(server: &Server, id: &str, path: &str) -> Value {
    let body = json!({"data": {"type": "upload", "id": id, "attributes": {"path": path}}});
    run_job(server, server.cma(Method::PUT, &format!("/uploads/{id}")).json(&body)).await
}

/// The upload (as the API shows it now) is `expected` (a PNG): its record, a full GET of its URL,
/// and a transform of it.
async fn check_upload_is(server: &Server, id: &str, expected: &[u8]) {
    let response = server.cma(Method::GET, &format!("/uploads/{id}")).send().await.unwrap();
    let upload: Value = response.json().await.unwrap();
    let attributes = &upload["data"]["attributes"];
    assert_eq!(attributes["md5"], md5_hex(expected), "{upload}");
    assert_eq!(attributes["size"], expected.len(), "{upload}");
    assert_eq!(attributes["mime_type"], "image/png", "{upload}");
    let url = attributes["url"].as_str().unwrap();
    let served = server.http.get(url).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.content_length(), Some(expected.len() as u64));
    let body = served.bytes().await.expect("the whole file arrives");
    assert_eq!(md5_hex(&body), md5_hex(expected), "GET serves the record's file");
    // PNG to PNG at the same size is lossless: the transform's pixels are the file's.
    let transformed = server.http.get(format!("{url}?fm=png")).send().await.unwrap();
    assert_eq!(transformed.status(), StatusCode::OK);
    let pixels = image::load_from_memory(&transformed.bytes().await.unwrap()).expect("a PNG").to_rgb8();
    assert_eq!(pixels, image::load_from_memory(expected).unwrap().to_rgb8(), "the transform is of the record's file");
}

#[tokio::test]
async fn a_put_that_finishes_after_post_uploads_cannot_change_the_upload() {
    let deployment = Deployment::new();
    let server = deployment.start().await;
    let (first, late) = (fixture("cat.png"), fixture("dog.jpg"));
    let (path, url) = server.upload_request("cat.png").await;
    put(&server, &url, &first).await;

    let held = HeldPut::start(&server, &url, &late);
    deployment.wait_until_streaming().await;
    let upload = create(&server, &path).await;
    assert_eq!(upload["attributes"]["md5"], md5_hex(&first));
    deployment.check_late_put(held.finish().await).await;

    check_upload_is(&server, upload["id"].as_str().unwrap(), &first).await;
    deployment.check_only_file_left(&first, 1).await;
    check_upload_is(&server, upload["id"].as_str().unwrap(), &first).await;
}

#[tokio::test]
async fn a_put_that_finishes_after_a_new_version_cannot_change_the_upload() {
    let deployment = Deployment::new();
    let server = deployment.start().await;
    let (old, first, late) = (fixture("p3.png"), fixture("cat.png"), fixture("dog.jpg"));
    let (old_path, old_url) = server.upload_request("old.png").await;
    put(&server, &old_url, &old).await;
    let id = create(&server, &old_path).await["id"].as_str().unwrap().to_owned();
    let (path, url) = server.upload_request("new.png").await;
    put(&server, &url, &first).await;

    let held = HeldPut::start(&server, &url, &late);
    deployment.wait_until_streaming().await;
    let upload = new_version(&server, &id, &path).await;
    assert_eq!(upload["attributes"]["md5"], md5_hex(&first));
    deployment.check_late_put(held.finish().await).await;

    check_upload_is(&server, &id, &first).await;
    deployment.check_only_file_left(&first, 1).await;
}

#[tokio::test]
async fn until_the_file_is_taken_the_last_complete_put_wins() {
    let deployment = Deployment::new();
    let server = deployment.start().await;
    let (replaced, last) = (fixture("p3.png"), fixture("cat.png"));
    let (path, url) = server.upload_request("cat.png").await;
    put(&server, &url, &replaced).await;
    put(&server, &url, &last).await;
    let upload = create(&server, &path).await;
    check_upload_is(&server, upload["id"].as_str().unwrap(), &last).await;
    // The replaced file went at once (no sweep needed)...
    let stored = deployment.stored().await;
    assert_eq!(stored.values().map(|b| md5_hex(b)).collect::<Vec<_>>(), [md5_hex(&last)], "{:?}", stored.keys());
    // ...and the sweep finds nothing.
    deployment.check_only_file_left(&last, 0).await;
}

/// Local disk only, where assetd handles the PUTs (a bucket decides itself which of two
/// overlapping PUTs wins): a PUT that started first but completes last is the file.
#[tokio::test]
async fn on_local_disk_of_overlapping_puts_the_one_completing_last_wins() {
    let deployment = Deployment::new();
    if deployment.s3 {
        return;
    }
    let server = deployment.start().await;
    let (overtaken, last) = (fixture("p3.png"), fixture("cat.png"));
    let (path, url) = server.upload_request("cat.png").await;
    let held = HeldPut::start(&server, &url, &last);
    deployment.wait_until_streaming().await;
    put(&server, &url, &overtaken).await;
    let answer = held.finish().await;
    assert_eq!(answer.status(), StatusCode::OK);
    let upload = create(&server, &path).await;
    check_upload_is(&server, upload["id"].as_str().unwrap(), &last).await;
    deployment.check_only_file_left(&last, 0).await;
}

/// A request refused before the take (a bad attribute) leaves the URL open; one refused by a
/// check of the file itself (keep_url's format) has taken the file: later PUTs change nothing,
/// and the next valid request uses the file that was checked.
#[tokio::test]
async fn the_file_is_taken_only_by_a_request_whose_body_is_valid() {
    let deployment = Deployment::new();
    let server = deployment.start().await;
    let (old_path, old_url) = server.upload_request("old.png").await;
    put(&server, &old_url, &fixture("cat.png")).await;
    let id = create(&server, &old_path).await["id"].as_str().unwrap().to_owned();
    let (path, url) = server.upload_request("new.jpg").await;
    put(&server, &url, &fixture("dog.jpg")).await;
    let update = |query: &str, attributes: Value| {
        let body = json!({"data": {"type": "upload", "id": id, "attributes": attributes}});
        server.cma(Method::PUT, &format!("/uploads/{id}{query}")).json(&body).send()
    };
    let refused = update("?replace_strategy=keep_url", json!({"path": path, "tags": 42})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    put(&server, &url, &fixture("cat.jpg")).await;

    let refused = update("?replace_strategy=keep_url", json!({"path": path})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["data"][0]["attributes"]["details"]["code"], "VALIDATION_SAME_FORMAT", "{body}");
    let late = server.http.put(&url).body(fixture("dog.jpg")).send().await.unwrap();
    deployment.check_late_put(late).await;

    let body = json!({"data": {"type": "upload", "id": id, "attributes": {"path": path}}});
    let upload = run_job(&server, server.cma(Method::PUT, &format!("/uploads/{id}")).json(&body)).await;
    assert_eq!(upload["attributes"]["md5"], md5_hex(&fixture("cat.jpg")), "the file checked at the 422");
    let served = server.http.get(upload["attributes"]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(md5_hex(&served.bytes().await.unwrap()), md5_hex(&fixture("cat.jpg")));
    deployment.check_only_file_left(&fixture("cat.jpg"), 1).await;
}
