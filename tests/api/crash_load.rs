//! The crash test of issue 6: a mixed concurrent load through the HTTP API (upload requests and
//! direct PUTs, creates, seed updates, new versions, deletes, reads and small transforms) while the real binary is
//! SIGKILLed at random moments and restarted, with the background cleanup sweeping every second
//! under the load. After every kill, with the server down: `assetd cleanup` (grace 0), then the
//! store holds exactly what the database references (every upload's file, the files of unused
//! upload URLs, derived images of existing uploads: no orphan, no staging or scratch file) and
//! every upload's blob is whole; on SQLite `PRAGMA integrity_check` is ok and
//! `PRAGMA foreign_key_check` empty. After every restart, through the API: every acknowledged
//! create exists with its md5 and downloads whole, every acknowledged update is visible, every
//! acknowledged delete stays deleted, an outcome the client never saw is one of the two possible
//! ones, and nothing else exists. Each upload has one writer, so "the last acknowledged value or
//! the one in flight" is well defined; an upload whose last write's outcome is unknown gets no
//! more writes.
//!
//! On SQLite + local disk by default; with `ASSETD_TEST_DATABASE_URL` and `ASSETD_TEST_STORAGE_URL`
//! set (the second pass of scripts/test) on a fresh PostgreSQL schema and bucket prefix, where the
//! SQLite PRAGMAs have no equivalent and are skipped (PostgreSQL enforces foreign keys itself).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use assetd::{domain::new_entity_id, storage::Storage};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{fixture, md5_hex, with_prefix_segment},
    real_server::{free_port, Server, SECRET},
};

/// Kills under load (the final stop is one more).
const KILLS: usize = 5;
/// Concurrent clients; each owns the uploads it creates.
const CLIENTS: usize = 6;

fn random() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// What the client may see for one upload.
#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    /// Allowed answers of `GET /uploads/{id}`: 200, 404 or either (an outcome never seen).
    may_exist: bool,
    may_be_gone: bool,
    /// Allowed md5s and authors: one once acknowledged, two while a change is in flight or its
    /// outcome unknown.
    md5s: Vec<String>,
    authors: Vec<String>,
    /// A job answered 202 (so it must finish) whose result was not seen yet, and what it does.
    pending: Option<(String, Effect)>,
    /// The last write's outcome is unknown (or the upload is deleted): no more writes.
    frozen: bool,
}

#[derive(Debug, Clone)]
enum Effect {
    Create,
    Author(String),
    Version(String),
}

impl Tracked {
    fn writable(&self) -> bool {
        !self.frozen && self.pending.is_none() && self.may_exist && !self.may_be_gone
    }

    /// The job's result arrived: the change is acknowledged.
    fn acknowledge(&mut self, effect: &Effect) {
        match effect {
            Effect::Create => self.may_be_gone = false,
            Effect::Author(author) => self.authors = vec![author.clone()],
            Effect::Version(md5) => self.md5s = vec![md5.clone()],
        }
        self.pending = None;
        self.frozen = false;
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    creates: u64,
    updates: u64,
    versions: u64,
    deletes: u64,
    reads: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.creates += other.creates;
        self.updates += other.updates;
        self.versions += other.versions;
        self.deletes += other.deletes;
        self.reads += other.reads;
    }
}

/// A failed request: the server is gone (expected around a kill) or answered what it must not.
enum Failed {
    Transport,
    Wrong(String),
}

impl From<reqwest::Error> for Failed {
    fn from(_: reqwest::Error) -> Self {
        Failed::Transport
    }
}

#[derive(Clone)]
struct Api {
    base: String,
    http: Client,
}

impl Api {
    fn cma(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-api-version", "3")
    }

    async fn expect(&self, request: reqwest::RequestBuilder, status: StatusCode, what: &str) -> Result<Value, Failed> {
        let response = request.send().await?;
        let got = response.status();
        let body = response.bytes().await?;
        if got != status {
            return Err(Failed::Wrong(format!("{what}: {got} {}", String::from_utf8_lossy(&body))));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Upload request + direct PUT; returns the path.
    async fn put_file(&self, name: &str, bytes: Vec<u8>) -> Result<String, Failed> {
        let body = json!({"data": {"type": "upload_request", "attributes": {"filename": name}}});
        let request =
            self.expect(self.cma(Method::POST, "/upload-requests").json(&body), StatusCode::OK, "request").await?;
        let url = request["data"]["attributes"]["url"].as_str().unwrap_or_default().to_owned();
        let response = self.http.put(url).body(bytes).send().await?;
        if response.status() != StatusCode::OK {
            return Err(Failed::Wrong(format!("direct PUT: {}", response.status())));
        }
        Ok(request["data"]["id"].as_str().unwrap_or_default().to_owned())
    }

    /// The job's result status and payload, or None while it runs.
    async fn job_result(&self, job: &str) -> Result<Option<(u64, Value)>, Failed> {
        let response = self.cma(Method::GET, &format!("/job-results/{job}")).send().await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::OK => {
                let body: Value = response.json().await?;
                let attributes = &body["data"]["attributes"];
                Ok(Some((attributes["status"].as_u64().unwrap_or(0), attributes["payload"].clone())))
            }
            other => Err(Failed::Wrong(format!("job result {job}: {other}"))),
        }
    }

    /// Waits for a job started under load (gives up when the server goes away).
    async fn wait_job(&self, job: &str) -> Result<Value, Failed> {
        loop {
            match self.job_result(job).await? {
                Some((200, payload)) => return Ok(payload),
                Some((status, payload)) => return Err(Failed::Wrong(format!("job {job}: {status} {payload}"))),
                None => tokio::time::sleep(Duration::from_millis(15)).await,
            }
        }
    }

    async fn download_md5(&self, url: &str) -> Result<String, Failed> {
        let response = self.http.get(url).send().await?;
        if response.status() != StatusCode::OK {
            return Err(Failed::Wrong(format!("GET {url}: {}", response.status())));
        }
        let mut body = response.bytes_stream();
        let mut digest = <md5::Md5 as md5::Digest>::new();
        while let Some(chunk) = body.next().await {
            md5::Digest::update(&mut digest, &chunk?);
        }
        Ok(md5::Digest::finalize(digest).iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// A file to upload: mostly random bytes of 1 KiB–512 KiB (stored as is), one in four a PNG with a
/// random tail (probed as an image). Returns the name, the bytes and their md5.
fn new_file(png: &[u8]) -> (String, Vec<u8>, String) {
    let n = random();
    let mut bytes = if n % 4 == 0 { png.to_vec() } else { Vec::new() };
    let len = 1024 + (n >> 8) as usize % (511 * 1024);
    let mut state = n | 1;
    bytes.extend((0..len).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    }));
    let name = if n % 4 == 0 { format!("c{n}.png") } else { format!("f{n}.bin") };
    let md5 = md5_hex(&bytes);
    (name, bytes, md5)
}

/// One client: random operations on its own uploads until the server goes away.
async fn client(
    api: Api,
    mut owned: Vec<Tracked>,
    stop: Arc<AtomicBool>,
    png: Arc<Vec<u8>>,
) -> (Vec<Tracked>, Counts, Vec<String>) {
    let mut counts = Counts::default();
    let mut wrong = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let writable: Vec<usize> = (0..owned.len()).filter(|&i| owned[i].writable()).collect();
        let roll = random() % 100;
        let target = (!writable.is_empty()).then(|| writable[random() as usize % writable.len()]);
        let outcome = match (roll, target) {
            (0..=29, _) | (_, None) => create(&api, &mut owned, &png, &mut counts).await,
            (30..=59, Some(i)) => update_author(&api, &mut owned[i], &mut counts).await,
            (60..=69, Some(i)) => new_version(&api, &mut owned[i], &png, &mut counts).await,
            (70..=84, Some(i)) => delete(&api, &mut owned[i], &mut counts).await,
            (_, Some(i)) => read(&api, &owned[i], &mut counts).await,
        };
        match outcome {
            Ok(()) => {}
            Err(Failed::Transport) => break,
            Err(Failed::Wrong(message)) => {
                wrong.push(message);
                break;
            }
        }
    }
    (owned, counts, wrong)
}

async fn create(api: &Api, owned: &mut Vec<Tracked>, png: &[u8], counts: &mut Counts) -> Result<(), Failed> {
    let (name, bytes, md5) = new_file(png);
    let path = api.put_file(&name, bytes).await?;
    let author = format!("a{}", random());
    let id = new_entity_id();
    owned.push(Tracked {
        id: id.clone(),
        may_exist: true,
        may_be_gone: true,
        md5s: vec![md5],
        authors: vec![author.clone()],
        pending: None,
        frozen: true,
    });
    let tracked = owned.last_mut().expect("just pushed");
    let body = json!({"data": {"type": "upload", "id": id, "attributes": {"path": path, "author": author}}});
    let job = api.expect(api.cma(Method::POST, "/uploads").json(&body), StatusCode::ACCEPTED, "create").await?;
    run_job(api, tracked, job, Effect::Create).await?;
    counts.creates += 1;
    Ok(())
}

/// Records the 202's job as pending (it must finish whatever happens next), then waits for it.
async fn run_job(api: &Api, tracked: &mut Tracked, accepted: Value, effect: Effect) -> Result<(), Failed> {
    let job = accepted["data"]["id"].as_str().unwrap_or_default().to_owned();
    tracked.pending = Some((job.clone(), effect.clone()));
    api.wait_job(&job).await?;
    tracked.acknowledge(&effect);
    Ok(())
}

async fn update_author(api: &Api, tracked: &mut Tracked, counts: &mut Counts) -> Result<(), Failed> {
    let author = format!("a{}", random());
    tracked.authors.push(author.clone());
    tracked.frozen = true;
    let attributes = json!({"author": author, "notes": "seed update", "copyright": "crash test"});
    let body = json!({"data": {"type": "upload", "id": tracked.id, "attributes": attributes}});
    let path = format!("/uploads/{}", tracked.id);
    let job = api.expect(api.cma(Method::PUT, &path).json(&body), StatusCode::ACCEPTED, "update").await?;
    run_job(api, tracked, job, Effect::Author(author)).await?;
    counts.updates += 1;
    Ok(())
}

async fn new_version(api: &Api, tracked: &mut Tracked, png: &[u8], counts: &mut Counts) -> Result<(), Failed> {
    let (name, bytes, md5) = new_file(png);
    let new_path = api.put_file(&name, bytes).await?;
    tracked.md5s.push(md5.clone());
    tracked.frozen = true;
    let body = json!({"data": {"type": "upload", "id": tracked.id, "attributes": {"path": new_path}}});
    let path = format!("/uploads/{}", tracked.id);
    let job = api.expect(api.cma(Method::PUT, &path).json(&body), StatusCode::ACCEPTED, "new version").await?;
    run_job(api, tracked, job, Effect::Version(md5)).await?;
    counts.versions += 1;
    Ok(())
}

async fn delete(api: &Api, tracked: &mut Tracked, counts: &mut Counts) -> Result<(), Failed> {
    tracked.may_be_gone = true;
    tracked.frozen = true;
    api.expect(api.cma(Method::DELETE, &format!("/uploads/{}", tracked.id)), StatusCode::OK, "delete").await?;
    tracked.may_exist = false;
    counts.deletes += 1;
    Ok(())
}

async fn read(api: &Api, tracked: &Tracked, counts: &mut Counts) -> Result<(), Failed> {
    let upload = api.expect(api.cma(Method::GET, &format!("/uploads/{}", tracked.id)), StatusCode::OK, "show").await?;
    let url = upload["data"]["attributes"]["url"].as_str().unwrap_or_default();
    let md5 = api.download_md5(url).await?;
    if !tracked.md5s.contains(&md5) {
        return Err(Failed::Wrong(format!("{} downloads with md5 {md5}, expected {:?}", tracked.id, tracked.md5s)));
    }
    if upload["data"]["attributes"]["is_image"] == json!(true) {
        // A small transform: derived images, which deletes and new versions must take along.
        let response = api.http.get(format!("{url}?w={}", 16 + random() % 48)).send().await?;
        if response.status() != StatusCode::OK || response.bytes().await?.is_empty() {
            return Err(Failed::Wrong(format!("transform of {} failed", tracked.id)));
        }
    }
    counts.reads += 1;
    Ok(())
}

/// Where the server keeps its data, and how the test looks at it behind the server's back.
struct Deployment {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    storage: Storage,
    postgres: Option<(String, String)>,
}

impl Deployment {
    fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> =
            [("ASSETD_RATE_LIMIT", "0"), ("ASSETD_CLEANUP_INTERVAL", "1"), ("ASSETD_CLEANUP_GRACE", "1")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let (mut storage, mut postgres) = (None, None);
        if let (Ok(url), Ok(storage_url)) =
            (std::env::var("ASSETD_TEST_DATABASE_URL"), std::env::var("ASSETD_TEST_STORAGE_URL"))
        {
            let prefix = std::env::var("ASSETD_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "assetd_test_".into());
            let schema = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
            let storage_url = with_prefix_segment(&storage_url, &format!("crash-{}", uuid::Uuid::new_v4().simple()));
            env.push(("ASSETD_DATABASE_URL".into(), url.clone()));
            env.push(("ASSETD_DATABASE_SCHEMA".into(), schema.clone()));
            env.push(("ASSETD_STORAGE_URL".into(), storage_url.clone()));
            storage = Some(Storage::s3(&storage_url).unwrap());
            postgres = Some((url, schema));
        }
        let storage = storage.unwrap_or_else(|| Storage::local(dir.path().join("files")).unwrap());
        Deployment { dir, env, storage, postgres }
    }

    async fn start(&self, port: u16) -> Server {
        Server::spawn_with_env(self.dir.path(), port, 4, Some(SECRET), Stdio::null(), &self.env).await
    }

    /// `assetd cleanup` with a grace of 0 (the server is down); returns its summary line.
    fn cleanup(&self) -> String {
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
        stdout.lines().last().unwrap_or_default().to_owned()
    }

    /// Text columns of a query, straight from the database.
    async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        use sqlx::Row;
        match &self.postgres {
            Some((url, schema)) => {
                let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
                let pool =
                    sqlx::PgPool::connect_with(options.options([("search_path", schema.as_str())])).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows.iter().map(|row| (0..row.len()).map(|i| row.get::<String, _>(i)).collect()).collect()
            }
            None => {
                let file = self.dir.path().join("assetd.db");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows.iter().map(|row| (0..row.len()).map(|i| row.get::<String, _>(i)).collect()).collect()
            }
        }
    }

    async fn unfinished_jobs(&self) -> u64 {
        let rows = self.rows("SELECT CAST(COUNT(*) AS TEXT) FROM jobs WHERE state IN ('queued', 'running')").await;
        rows[0][0].parse().unwrap()
    }

    /// The checks with the server down, after `assetd cleanup`.
    async fn check_at_rest(&self) {
        if self.postgres.is_none() {
            assert_eq!(self.rows("PRAGMA integrity_check").await, vec![vec!["ok".to_owned()]]);
            let file = self.dir.path().join("assetd.db");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            let violations = sqlx::query("PRAGMA foreign_key_check").fetch_all(&pool).await.unwrap();
            pool.close().await;
            assert!(violations.is_empty(), "{} foreign key violations", violations.len());
        }
        let uploads = self.rows("SELECT id, blob_key, md5, CAST(size AS TEXT) FROM uploads").await;
        let requests: BTreeSet<String> = self
            .rows("SELECT blob_key FROM upload_requests WHERE consumed_by IS NULL")
            .await
            .into_iter()
            .map(|row| row[0].clone())
            .collect();
        let stored: BTreeMap<String, u64> = self
            .storage
            .list_blobs("")
            .map_ok(|blob| (blob.key.as_str().to_owned(), blob.size))
            .try_collect()
            .await
            .unwrap();
        let mut referenced: BTreeSet<String> = uploads.iter().map(|row| row[1].clone()).collect();
        referenced.extend(requests.iter().cloned());
        referenced.extend(requests.iter().map(|key| format!("incoming/{key}")));
        let live: BTreeSet<&String> = uploads.iter().map(|row| &row[0]).collect();
        let derived_of_live = |key: &str| {
            key.strip_prefix("derived/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(id, _)| live.contains(&id.to_owned()))
        };
        let orphans: Vec<&String> =
            stored.keys().filter(|key| !referenced.contains(*key) && !derived_of_live(key)).collect();
        assert!(orphans.is_empty(), "blobs nothing references after cleanup: {orphans:?}");
        for row in &uploads {
            let (id, key, md5, size) = (&row[0], &row[1], &row[2], &row[3]);
            assert_eq!(
                stored.get(key).map(u64::to_string).as_ref(),
                Some(size),
                "upload {id}: blob {key} missing or partial"
            );
            let read = self.storage.get(&assetd::storage::StorageKey::from_stored(key), None).await.unwrap();
            let parts: Vec<bytes::Bytes> = read.stream.try_collect().await.unwrap();
            assert_eq!(&md5_hex(&parts.concat()), md5, "upload {id}: blob {key} is not the file it was");
        }
        let leftovers = leftover_files(self.dir.path());
        assert!(leftovers.is_empty(), "temporary files after cleanup: {leftovers:?}");
    }
}

/// Staging files in the local store and anything in the scratch directory.
fn leftover_files(data_dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>, all: bool) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found, all);
            } else if all || path.file_name().is_some_and(|n| n.to_string_lossy().contains('#')) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&data_dir.join("files"), &mut found, false);
    walk(&data_dir.join("tmp"), &mut found, true);
    found
}

/// The checks through the API after a restart. Pending jobs whose result is there now are
/// acknowledged first.
async fn check_through_api(api: &Api, tracked: &mut [Tracked]) {
    let mut existing = BTreeSet::new();
    for t in tracked.iter_mut() {
        if let Some((job, effect)) = t.pending.clone() {
            match api.job_result(&job).await.unwrap_or_else(|_| panic!("job result {job}")) {
                Some((200, _)) => t.acknowledge(&effect),
                Some((status, payload)) => panic!("job {job} of {} ended with {status}: {payload}", t.id),
                None => {}
            }
        }
        if check_upload(api, t).await {
            existing.insert(t.id.clone());
        }
    }
    let mut listed = BTreeSet::new();
    loop {
        let path = format!("/uploads?page[limit]=100&page[offset]={}", listed.len());
        let Ok(page) = api.expect(api.cma(Method::GET, &path), StatusCode::OK, "list").await else {
            panic!("GET {path} failed");
        };
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            break;
        }
        listed.extend(data.iter().map(|u| u["id"].as_str().unwrap_or_default().to_owned()));
    }
    // A create whose 202 a kill swallowed may still be running (its job reclaimed after the
    // lease): it can finish between the GETs above and the listing. Such an upload must be one
    // that may exist, and whole.
    for id in listed.difference(&existing.clone()) {
        let t = tracked.iter().find(|t| &t.id == id).unwrap_or_else(|| panic!("listed upload {id} was never created"));
        assert!(check_upload(api, t).await, "listed upload {id} answers 404");
        existing.insert(id.clone());
    }
    assert_eq!(listed, existing, "the listing shows exactly the uploads that exist");
}

/// `GET /uploads/{id}` against what the client knows of it; true when it exists (and then its
/// metadata is one allowed and its file downloads whole).
async fn check_upload(api: &Api, t: &Tracked) -> bool {
    let response = api.cma(Method::GET, &format!("/uploads/{}", t.id)).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match status {
        StatusCode::NOT_FOUND => {
            assert!(t.may_be_gone, "acknowledged upload {} is lost: {t:?}", t.id);
            false
        }
        StatusCode::OK => {
            assert!(t.may_exist, "deleted upload {} is back: {t:?}", t.id);
            let attributes = &body["data"]["attributes"];
            let md5 = attributes["md5"].as_str().unwrap_or_default().to_owned();
            assert!(t.md5s.contains(&md5), "upload {} has md5 {md5}, expected one of {:?}", t.id, t.md5s);
            let author = attributes["author"].as_str().unwrap_or_default().to_owned();
            assert!(t.authors.contains(&author), "upload {} has author {author:?}, expected {:?}", t.id, t.authors);
            let url = attributes["url"].as_str().unwrap_or_default();
            let downloaded = api.download_md5(url).await.unwrap_or_else(|_| panic!("{} does not download", t.id));
            assert_eq!(downloaded, md5, "upload {} downloads a different or partial file", t.id);
            true
        }
        other => panic!("GET /uploads/{}: {other} {body}", t.id),
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_repeated_kill_9_under_load_and_nothing_is_orphaned() {
    let started = Instant::now();
    let deployment = Deployment::new();
    let port = free_port();
    let png = Arc::new(fixture("cat.png"));
    let mut tracked: Vec<Tracked> = Vec::new();
    let mut counts = Counts::default();
    let mut cleanups = Vec::new();
    for _ in 0..KILLS {
        let server = deployment.start(port).await;
        let api = Api {
            base: server.base.clone(),
            http: Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
        };
        check_through_api(&api, &mut tracked).await;

        // Load, then a SIGKILL at a random moment 1.5–4 s in.
        let stop = Arc::new(AtomicBool::new(false));
        let mut shares: Vec<Vec<Tracked>> = vec![Vec::new(); CLIENTS];
        for (i, t) in std::mem::take(&mut tracked).into_iter().enumerate() {
            shares[i % CLIENTS].push(t);
        }
        let clients: Vec<_> = shares
            .into_iter()
            .map(|share| tokio::spawn(client(api.clone(), share, stop.clone(), png.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(1500 + random() % 2500)).await;
        server.kill_9();
        stop.store(true, Ordering::Relaxed);
        for handle in clients {
            let (share, share_counts, wrong) = handle.await.unwrap();
            assert!(wrong.is_empty(), "wrong answers under load: {wrong:?}");
            tracked.extend(share);
            counts.add(share_counts);
        }

        cleanups.push(deployment.cleanup());
        deployment.check_at_rest().await;
    }

    // The last restart: every job answered 202 finishes (a job the kill cut short waits out its
    // 30 s lease), then the final state is checked.
    let server = deployment.start(port).await;
    let api = Api { base: server.base.clone(), http: Client::new() };
    let deadline = Instant::now() + Duration::from_secs(60);
    while deployment.unfinished_jobs().await > 0 {
        assert!(Instant::now() < deadline, "jobs still unfinished a minute after the last restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    check_through_api(&api, &mut tracked).await;
    let unresolved: Vec<&Tracked> = tracked.iter().filter(|t| t.pending.is_some()).collect();
    assert!(unresolved.is_empty(), "jobs answered 202 without a result: {unresolved:?}");
    server.kill_9();
    cleanups.push(deployment.cleanup());
    deployment.check_at_rest().await;

    let alive = tracked.iter().filter(|t| t.may_exist && !t.may_be_gone).count();
    // Writes whose answer a kill swallowed: either outcome was accepted, and the upload got no more writes.
    let unknown = tracked.iter().filter(|t| t.frozen && t.pending.is_none() && t.may_exist).count();
    println!(
        "crash test: {KILLS} kills + final stop in {:.1} s; acknowledged: {} creates, {} seed updates, {} new versions, \
         {} deletes, {} reads; {} outcomes unknown at a kill; {} uploads alive; cleanup after each stop: {:?}",
        started.elapsed().as_secs_f64(),
        counts.creates,
        counts.updates,
        counts.versions,
        counts.deletes,
        counts.reads,
        unknown,
        alive,
        cleanups
    );
    assert!(counts.creates >= 10 && counts.updates >= 5, "the load did too little: {counts:?}");
}
