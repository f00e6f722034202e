//! `assetd import` and `assetd export` against real servers: the binary runs as a subprocess
//! and talks to `assetd serve` over HTTP, as a user would.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Stdio,
};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{fixture, md5_hex, with_prefix_segment},
    real_server::{free_port, Server, SECRET},
};

/// A running server with its data directory.
struct Remote {
    server: Server,
    dir: tempfile::TempDir,
    /// The backend settings it runs with (for `assetd tokens` on the same database).
    env: Vec<(String, String)>,
}

/// Starts `assetd serve` (locales en and it, two workers) on the test backend: PostgreSQL when
/// `ASSETD_TEST_DATABASE_URL` is set (a fresh schema), S3 when `ASSETD_TEST_STORAGE_URL` is.
async fn start_server() -> Remote {
    start_server_with(&[]).await
}

/// [`start_server`] with more settings.
async fn start_server_with(settings: &[(&str, &str)]) -> Remote {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![("ASSETD_LOCALES".to_owned(), "en,it".to_owned())];
    env.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    if let Ok(url) = std::env::var("ASSETD_TEST_DATABASE_URL") {
        let prefix = std::env::var("ASSETD_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "assetd_test_".into());
        env.push(("ASSETD_DATABASE_URL".into(), url));
        env.push(("ASSETD_DATABASE_SCHEMA".into(), format!("{prefix}{}", uuid::Uuid::new_v4().simple())));
    }
    if let Ok(url) = std::env::var("ASSETD_TEST_STORAGE_URL") {
        let prefix = format!("transfer-{}", uuid::Uuid::new_v4().simple());
        env.push(("ASSETD_STORAGE_URL".into(), with_prefix_segment(&url, &prefix)));
    }
    let server = Server::spawn_with_env(dir.path(), free_port(), 2, Some(SECRET), Stdio::null(), &env).await;
    Remote { server, dir, env }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `assetd <args>` against `url` with `token` (none: no token anywhere).
async fn assetd(args: &[&str], url: &str, token: Option<&str>) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_assetd"));
    command.args(args).env("ASSETD_URL", url).env("RUST_LOG", "warn").kill_on_drop(true);
    match token {
        Some(token) => command.env("ASSETD_API_TOKEN", token),
        None => command.env_remove("ASSETD_API_TOKEN"),
    };
    let output = command.output().await.expect("the assetd binary runs");
    let run = Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "no panic: {}", run.stderr);
    run
}

async fn import(remote: &Remote, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["import", dir.to_str().unwrap()];
    args.extend(extra);
    assetd(&args, &remote.server.base, Some(SECRET)).await
}

async fn export(remote: &Remote, dir: &Path) -> Run {
    assetd(&["export", dir.to_str().unwrap()], &remote.server.base, Some(SECRET)).await
}

/// Every upload on the server, by filename.
async fn uploads_by_filename(remote: &Remote) -> BTreeMap<String, Value> {
    let answer: Value =
        remote.server.cma(Method::GET, "/uploads?page[limit]=500").send().await.unwrap().json().await.unwrap();
    let uploads = answer["data"].as_array().unwrap();
    let by_name: BTreeMap<String, Value> =
        uploads.iter().map(|u| (u["attributes"]["filename"].as_str().unwrap().to_owned(), u.clone())).collect();
    assert_eq!(by_name.len(), uploads.len(), "filenames are unique in these tests: {answer}");
    by_name
}

/// Writes `files` (relative path → fixture name) under `root`.
fn tree(root: &Path, files: &[(&str, &str)]) {
    for (path, name) in files {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, fixture(name)).unwrap();
    }
}

const TREE: [(&str, &str); 7] = [
    ("photos/cats/cat.jpg", "cat.jpg"),
    ("photos/cats/cat.png", "cat.png"),
    ("photos/dog.jpg", "dog.jpg"),
    ("docs/2026/doc.pdf", "doc.pdf"),
    ("media/clip.mp4", "clip.mp4"),
    ("drawing.svg", "drawing.svg"),
    ("notes.txt", "notes.txt"),
];

#[tokio::test]
async fn import_uploads_a_folder_tree_with_folder_tags_then_skips_it_all_the_second_time() {
    let remote = start_server().await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE);
    // Hidden files and folders stay home.
    tree(source.path(), &[(".cache/cat.webp", "cat.webp"), ("photos/.thumb.png", "p3.png")]);

    let run = import(&remote, source.path(), &["--tags-from-folders", "--concurrency", "3"]).await;
    assert!(run.ok, "import succeeds: {}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("7 uploaded"), "{}", run.stdout);
    assert!(run.stdout.contains("0 already present") && run.stdout.contains("0 failed"), "{}", run.stdout);

    let uploads = uploads_by_filename(&remote).await;
    let names: Vec<&str> = uploads.keys().map(String::as_str).collect();
    assert_eq!(names, ["cat.jpg", "cat.png", "clip.mp4", "doc.pdf", "dog.jpg", "drawing.svg", "notes.txt"]);
    for (path, name) in TREE {
        let upload = &uploads[name]["attributes"];
        let bytes = fixture(name);
        assert_eq!(upload["md5"], json!(md5_hex(&bytes)), "{path}");
        assert_eq!(upload["size"], json!(bytes.len()), "{path}");
        let tags: BTreeSet<&str> = upload["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        let folders: BTreeSet<&str> = path.split('/').rev().skip(1).collect();
        assert_eq!(tags, folders, "{path} is tagged with its folders");
    }

    let again = import(&remote, source.path(), &["--tags-from-folders"]).await;
    assert!(again.ok, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("0 uploaded") && again.stdout.contains("7 already present"), "{}", again.stdout);
    assert_eq!(uploads_by_filename(&remote).await.len(), 7, "nothing was uploaded twice");
}

#[tokio::test]
async fn import_resumes_a_partial_state_sending_only_the_missing_files() {
    let remote = start_server().await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE);
    // An earlier run sent two of the files before it was stopped.
    let partial = tempfile::tempdir().unwrap();
    tree(partial.path(), &TREE[..2]);
    let first = import(&remote, partial.path(), &[]).await;
    assert!(first.ok && first.stdout.contains("2 uploaded"), "{}{}", first.stdout, first.stderr);
    let before = uploads_by_filename(&remote).await;

    // Identical files are stored once, even when they go up at the same time.
    tree(source.path(), &[("copies/cat-copy.jpg", "cat.jpg"), ("copies/cat-copy-2.jpg", "cat.jpg")]);

    let run = import(&remote, source.path(), &["--concurrency", "8"]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 uploaded") && run.stdout.contains("4 already present"), "{}", run.stdout);
    let after = uploads_by_filename(&remote).await;
    assert_eq!(after.len(), 7);
    for (name, upload) in &before {
        assert_eq!(after[name]["id"], upload["id"], "{name} kept its upload");
    }
}

#[tokio::test]
async fn import_and_export_wait_out_rate_limits() {
    // A handful of API requests and two PUTs/downloads per second: the runs must hit 429s.
    let remote = start_server_with(&[
        ("ASSETD_RATE_LIMIT", "6"),
        ("ASSETD_RATE_LIMIT_WINDOW", "1"),
        ("ASSETD_PUBLIC_RATE_LIMIT", "2"),
    ])
    .await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE[..5]);
    let run = import(&remote, source.path(), &["--concurrency", "5"]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 uploaded") && run.stdout.contains("rate-limit waits"), "{}", run.stdout);
    let out = tempfile::tempdir().unwrap();
    let run = export(&remote, out.path()).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 downloaded") && run.stdout.contains("rate-limit waits"), "{}", run.stdout);
    let exported = comparable(out.path());
    assert_eq!(exported.len(), 5, "every file came down whole");
}

#[tokio::test]
async fn export_with_a_filter_takes_only_the_uploads_it_lists() {
    let remote = start_server().await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE[..5]);
    assert!(import(&remote, source.path(), &[]).await.ok);

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let run =
        assetd(&["export", dir, "--filter", "filter[fields][type][eq]=image"], &remote.server.base, Some(SECRET)).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let filenames: BTreeSet<String> =
        comparable(out.path()).values().map(|(a, _, _)| a["filename"].as_str().unwrap().to_owned()).collect();
    assert_eq!(filenames, BTreeSet::from(["cat.jpg".into(), "cat.png".into(), "dog.jpg".into()]));

    let run =
        assetd(&["export", dir, "--filter", "filter[fields][nope][eq]=1"], &remote.server.base, Some(SECRET)).await;
    assert!(!run.ok);
    assert!(run.stderr.starts_with("error: listing uploads: 422 INVALID_FILTER_FIELDS_PARAM"), "{}", run.stderr);
    let run = assetd(&["export", dir, "--filter", "page[limit]=1"], &remote.server.base, Some(SECRET)).await;
    assert!(!run.ok && run.stderr.contains("is not a filter"), "{}", run.stderr);
}

/// Sets metadata and a collection on an upload through the API and waits for the job.
async fn update(remote: &Remote, id: &str, attributes: Value, collection: Option<&str>) {
    let relationships = match collection {
        Some(id) => json!({"upload_collection": {"data": {"type": "upload_collection", "id": id}}}),
        None => json!({}),
    };
    let body = json!({"data": {"type": "upload", "id": id, "attributes": attributes, "relationships": relationships}});
    let response = remote.server.cma(Method::PUT, &format!("/uploads/{id}")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap());
    let job: Value = response.json().await.unwrap();
    let result = remote
        .server
        .job_result(job["data"]["id"].as_str().unwrap(), std::time::Duration::from_secs(20))
        .await
        .expect("the update finishes");
    assert_eq!(result["data"]["attributes"]["status"], 200, "{result}");
}

async fn create_collection(remote: &Remote, label: &str, parent: Option<&str>) -> String {
    let parent = parent.map_or(Value::Null, |id| json!({"type": "upload_collection", "id": id}));
    let body = json!({"data": {"type": "upload_collection", "attributes": {"label": label},
                               "relationships": {"parent": {"data": parent}}}});
    let answer: Value =
        remote.server.cma(Method::POST, "/upload-collections").json(&body).send().await.unwrap().json().await.unwrap();
    answer["data"]["id"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
}

fn read_manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("assetd-export.json")).unwrap()).unwrap()
}

/// A manifest's uploads by md5: the attributes that must survive a round trip (everything but
/// where and when the server stored it), the collection as a label path, and the file's bytes.
fn comparable(dir: &Path) -> BTreeMap<String, (Value, Option<String>, Vec<u8>)> {
    let manifest = read_manifest(dir);
    let collections: BTreeMap<String, (String, Option<String>)> = manifest["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let parent = c["parent"].as_str().map(str::to_owned);
            (c["id"].as_str().unwrap().to_owned(), (c["label"].as_str().unwrap().to_owned(), parent))
        })
        .collect();
    let label_path = |mut id: Option<String>| {
        let mut labels = Vec::new();
        while let Some(current) = id {
            let (label, parent) = collections[&current].clone();
            labels.insert(0, label);
            id = parent;
        }
        (!labels.is_empty()).then(|| labels.join("/"))
    };
    manifest["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|upload| {
            let mut attributes = upload["attributes"].clone();
            for key in ["url", "path", "created_at", "updated_at"] {
                attributes.as_object_mut().unwrap().remove(key);
            }
            let file = upload["file"].as_str().unwrap();
            assert_eq!(
                file,
                format!("files/{}/{}", upload["id"].as_str().unwrap(), attributes["filename"].as_str().unwrap())
            );
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let md5 = attributes["md5"].as_str().unwrap().to_owned();
            assert_eq!(md5_hex(&bytes), md5, "{file} holds the upload's bytes");
            (md5, (attributes, label_path(upload["collection"].as_str().map(str::to_owned)), bytes))
        })
        .collect()
}

#[tokio::test]
async fn export_then_import_into_a_fresh_server_then_export_round_trips_files_and_metadata() {
    let a = start_server().await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE[..5]);
    let run = import(&a, source.path(), &[]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let uploads = uploads_by_filename(&a).await;
    let animals = create_collection(&a, "Animals", None).await;
    let cats = create_collection(&a, "Cats", Some(&animals)).await;
    let cat = uploads["cat.jpg"]["id"].as_str().unwrap();
    update(
        &a,
        cat,
        json!({
            "author": "Ann Author", "copyright": "2026 ACME", "notes": "the grey one", "tags": ["pets", "grey"],
            "default_field_metadata": {
                "en": {"alt": "A grey cat", "title": "Cat", "focal_point": {"x": 0.25, "y": 0.75}},
                "it": {"alt": "Un gatto grigio", "title": "Gatto", "focal_point": {"x": 0.25, "y": 0.75}}
            }
        }),
        Some(&cats),
    )
    .await;
    let doc = uploads["doc.pdf"]["id"].as_str().unwrap();
    update(&a, doc, json!({"default_field_metadata": {"en": {"custom_data": {"source": "scan"}}}}), Some(&animals))
        .await;
    let dog = uploads["dog.jpg"]["id"].as_str().unwrap();
    update(&a, dog, json!({"basename": "good-dog", "tags": ["pets"]}), None).await;

    let export_a = tempfile::tempdir().unwrap();
    let run = export(&a, export_a.path()).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 downloaded"), "{}", run.stdout);
    let from_a = comparable(export_a.path());
    assert_eq!(from_a.len(), 5);
    let exported_cat = &from_a[&md5_hex(&fixture("cat.jpg"))];
    assert_eq!(exported_cat.0["default_field_metadata"]["it"]["alt"], "Un gatto grigio");
    assert_eq!(exported_cat.1.as_deref(), Some("Animals/Cats"));
    assert_eq!(from_a[&md5_hex(&fixture("dog.jpg"))].0["filename"], "good-dog.jpg");

    // Exporting again fetches nothing; a damaged file is fetched again.
    let damaged = export_a.path().join(format!("files/{cat}/cat.jpg"));
    std::fs::write(&damaged, b"not the cat").unwrap();
    let run = export(&a, export_a.path()).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1 downloaded") && run.stdout.contains("4 already present"), "{}", run.stdout);
    assert_eq!(std::fs::read(&damaged).unwrap(), fixture("cat.jpg"));

    let b = start_server().await;
    let run = import(&b, export_a.path(), &[]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 uploaded"), "{}", run.stdout);
    let export_b = tempfile::tempdir().unwrap();
    let run = export(&b, export_b.path()).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let from_b = comparable(export_b.path());

    assert_eq!(from_a.keys().collect::<Vec<_>>(), from_b.keys().collect::<Vec<_>>(), "the same files");
    for (md5, (attributes, collection, bytes)) in &from_a {
        let (b_attributes, b_collection, b_bytes) = &from_b[md5];
        assert_eq!(bytes, b_bytes, "{md5}: the same bytes");
        assert_eq!(attributes, b_attributes, "{md5}: the same metadata");
        assert_eq!(collection, b_collection, "{md5}: the same collection");
    }
}

#[tokio::test]
async fn wrong_token_no_server_and_missing_folder_fail_with_one_clear_line() {
    let remote = start_server().await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE[..1]);
    let dir = source.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();

    // (what, arguments, server URL, token, what the error says)
    type Case<'a> = (&'a str, Vec<&'a str>, String, Option<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "import, wrong token",
            vec!["import", dir],
            remote.server.base.clone(),
            Some("wrong-token"),
            "rejected the API token",
        ),
        (
            "export, wrong token",
            vec!["export", out],
            remote.server.base.clone(),
            Some("wrong-token"),
            "rejected the API token",
        ),
        ("import, no token", vec!["import", dir], remote.server.base.clone(), None, "no API token"),
        (
            "import, no server",
            vec!["import", dir],
            format!("http://127.0.0.1:{}", free_port()),
            Some(SECRET),
            "cannot reach the server",
        ),
        (
            "export, no server",
            vec!["export", out],
            format!("http://127.0.0.1:{}", free_port()),
            Some(SECRET),
            "cannot reach the server",
        ),
        (
            "import, missing folder",
            vec!["import", "/nonexistent/assetd-import"],
            remote.server.base.clone(),
            Some(SECRET),
            "does not exist",
        ),
        ("import, bad url", vec!["import", dir], "ftp://example".into(), Some(SECRET), "invalid --url"),
        (
            "import, unknown collection",
            vec!["import", dir, "--collection", "nope"],
            remote.server.base.clone(),
            Some(SECRET),
            "no upload collection",
        ),
    ];
    for (what, args, url, token, message) in cases {
        let run = assetd(&args, &url, token).await;
        assert!(!run.ok, "{what}: fails");
        assert!(run.stderr.contains(message), "{what}: says {message:?}: {}", run.stderr);
        let error_lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(error_lines.len(), 1, "{what}: one line: {}", run.stderr);
        assert!(error_lines[0].starts_with("error: "), "{what}: {}", run.stderr);
    }
    assert!(uploads_by_filename(&remote).await.is_empty(), "nothing was uploaded");
}

#[tokio::test]
async fn a_token_whose_role_may_not_upload_stops_the_import_with_one_reason() {
    let remote = start_server().await;
    let created = tokio::process::Command::new(env!("CARGO_BIN_EXE_assetd"))
        .args(["tokens", "create", "--name", "reader", "--role", "read-only"])
        .env("ASSETD_DATA_DIR", remote.dir.path())
        .envs(remote.env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&created.stdout);
    let secret = stdout.lines().find_map(|l| l.strip_prefix("secret (shown only now): ")).expect("a secret").to_owned();
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &TREE);

    let run = assetd(&["import", source.path().to_str().unwrap()], &remote.server.base, Some(&secret)).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("error: import stopped (the API token may not do this (INSUFFICIENT_PERMISSIONS"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("0 uploaded") && run.stdout.contains("not done"), "{}", run.stdout);
    assert!(uploads_by_filename(&remote).await.is_empty());
}

#[tokio::test]
async fn a_file_the_server_refuses_fails_alone_with_its_reason_and_a_non_zero_exit() {
    let remote = start_server().await;
    let source = tempfile::tempdir().unwrap();
    tree(source.path(), &[("broken/corrupt.png", "corrupt.png"), ("notes.txt", "notes.txt")]);

    let run = import(&remote, source.path(), &[]).await;
    assert!(!run.ok, "a failed file fails the run");
    assert!(run.stdout.contains("1 uploaded") && run.stdout.contains("1 failed"), "{}", run.stdout);
    assert!(run.stdout.contains("failed broken/corrupt.png: creating the upload: 422"), "the reason: {}", run.stdout);
    assert!(run.stderr.contains("failed broken/corrupt.png"), "a line per failure: {}", run.stderr);
    assert!(run.stderr.contains("error: 1 file(s) failed"), "{}", run.stderr);
    let names: Vec<String> = uploads_by_filename(&remote).await.into_keys().collect();
    assert_eq!(names, ["notes.txt"]);

    let again = import(&remote, source.path(), &[]).await;
    assert!(!again.ok);
    assert!(again.stdout.contains("0 uploaded") && again.stdout.contains("1 already present"), "{}", again.stdout);
}
