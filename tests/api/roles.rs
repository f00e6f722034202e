//! Issue 6: token roles (full access, read-only, upload-only) and `assetd tokens`.

use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp, TestResponse};
use assetd::{
    db::Db,
    domain::{token_secret_hash, TokenRole},
};

async fn token(app: &TestApp, name: &str, role: TokenRole) -> (String, String) {
    let secret = format!("{name}-secret-0123456789");
    let id = assetd::domain::new_entity_id();
    app.app.db.create_token(&id, name, role, &token_secret_hash(&secret), 1).await.unwrap();
    (id, secret)
}

fn assert_denied(response: &TestResponse, what: &str) {
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{what}: {}", String::from_utf8_lossy(&response.bytes));
    assert_eq!(response.error_code(), "INSUFFICIENT_PERMISSIONS", "{what}");
}

fn upload_body(id: &str, attributes: Value) -> Value {
    json!({"data": {"type": "upload", "id": id, "attributes": attributes}})
}

#[tokio::test]
async fn read_only_tokens_read_and_change_nothing() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({"notes": "original"})).await;
    let id = upload["id"].as_str().unwrap();
    let collection = app.create_collection("Folder").await;
    let (_, secret) = token(&app, "reader", TokenRole::ReadOnly).await;

    for uri in ["/uploads", &format!("/uploads/{id}"), "/upload-collections", "/upload-tags", "/upload-filters"] {
        let response = app.call_as(&secret, Method::GET, uri, None).await;
        assert_eq!(response.status, StatusCode::OK, "GET {uri}");
    }
    let attempts = [
        (Method::PUT, format!("/uploads/{id}"), Some(upload_body(id, json!({"notes": "changed"})))),
        (Method::DELETE, format!("/uploads/{id}"), None),
        (Method::POST, "/upload-requests".into(), Some(json!({"data": {"type": "upload_request", "attributes": {}}}))),
        (
            Method::POST,
            "/uploads/bulk/destroy".into(),
            Some(
                json!({"data": {"type": "upload_bulk_destroy_operation", "attributes": {}, "relationships": {"uploads": {"data": [{"type": "upload", "id": id}]}}}}),
            ),
        ),
        (Method::DELETE, format!("/upload-collections/{collection}"), None),
        (
            Method::POST,
            "/upload-tags".into(),
            Some(json!({"data": {"type": "upload_tag", "attributes": {"name": "x"}}})),
        ),
    ];
    for (method, uri, body) in attempts {
        let what = format!("{method} {uri}");
        assert_denied(&app.call_as(&secret, method, &uri, body).await, &what);
    }
    app.run_pending_jobs().await;
    let after = app.get_upload(id).await;
    assert_eq!(after["attributes"]["notes"], "original", "nothing changed");
    assert_eq!(app.call(Method::GET, &format!("/upload-collections/{collection}"), None).await.status, StatusCode::OK);
    assert_eq!(app.pending_jobs().await, 0, "no job was queued");
}

#[tokio::test]
async fn upload_only_tokens_add_files_and_are_their_creator() {
    let app = TestApp::spawn().await;
    let existing = app.create_upload("dog.jpg", &fixture("dog.jpg"), json!({})).await;
    let existing_id = existing["id"].as_str().unwrap();
    let (token_id, secret) = token(&app, "ingest-bot", TokenRole::UploadOnly).await;

    let request = json!({"data": {"type": "upload_request", "attributes": {"filename": "cat.jpg"}}});
    let response = app.call_as(&secret, Method::POST, "/upload-requests", Some(request)).await;
    assert_eq!(response.status, StatusCode::OK);
    let request = response.json();
    let put = app.put_to_url(request["data"]["attributes"]["url"].as_str().unwrap(), fixture("cat.jpg")).await;
    assert_eq!(put.status, StatusCode::OK);
    let body = json!({"data": {"type": "upload", "attributes": {"path": request["data"]["id"]}}});
    let response = app.call_as(&secret, Method::POST, "/uploads", Some(body)).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&response.bytes));
    let job_id = response.json()["data"]["id"].as_str().unwrap().to_owned();
    app.run_pending_jobs().await;
    let result = app.call_as(&secret, Method::GET, &format!("/job-results/{job_id}"), None).await;
    assert_eq!(result.status, StatusCode::OK, "upload-only tokens poll their jobs");
    let created = result.json()["data"]["attributes"]["payload"]["data"].clone();
    assert_eq!(created["relationships"]["creator"]["data"], json!({"type": "access_token", "id": token_id}));
    let new_id = created["id"].as_str().unwrap();

    // Reading is allowed (the client's md5 dedupe lists uploads first) …
    let listed = app.call_as(&secret, Method::GET, "/uploads", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    // … changing or deleting anything, even its own uploads, is not.
    for id in [existing_id, new_id] {
        let update = app
            .call_as(&secret, Method::PUT, &format!("/uploads/{id}"), Some(upload_body(id, json!({"notes": "x"}))))
            .await;
        assert_denied(&update, "update");
        assert_denied(&app.call_as(&secret, Method::DELETE, &format!("/uploads/{id}"), None).await, "delete");
    }
    let collection = json!({"data": {"type": "upload_collection", "attributes": {"label": "x"}}});
    assert_denied(&app.call_as(&secret, Method::POST, "/upload-collections", Some(collection)).await, "collection");
    assert_eq!(app.get_upload(existing_id).await["attributes"]["notes"], Value::Null);
}

#[tokio::test]
async fn full_access_tokens_do_everything_and_revoked_tokens_nothing() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let (_, secret) = token(&app, "editor", TokenRole::FullAccess).await;
    let deleted = app.call_as(&secret, Method::DELETE, &format!("/uploads/{id}"), None).await;
    assert!(deleted.status.is_success(), "{}", deleted.status);

    let (_, revoked) = token(&app, "leaked", TokenRole::FullAccess).await;
    assert!(app.app.db.revoke_token("leaked").await.unwrap().is_some());
    let response = app.call_as(&revoked, Method::GET, "/uploads", None).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "INVALID_AUTHORIZATION_HEADER");
}

fn assetd(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_assetd"))
        .arg("tokens")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("ASSETD_DATABASE_URL")
        .env_remove("ASSETD_LOCALES")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the assetd binary runs")
}

#[tokio::test]
async fn the_tokens_command_creates_lists_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let created = assetd(dir.path(), &["create", "--name", "ci-bot", "--role", "upload-only"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8(created.stdout).unwrap();
    let secret = stdout.lines().find_map(|l| l.strip_prefix("secret (shown only now): ")).expect("secret printed");
    assert!(secret.len() >= 40, "{secret}");

    let db =
        Db::open_sqlite(&dir.path().join("assetd.db"), &[assetd::domain::Locale::parse("en").unwrap()]).await.unwrap();
    let stored = db.find_token_by_hash(&token_secret_hash(secret)).await.unwrap().expect("stored by hash");
    assert_eq!((stored.name.as_str(), stored.role()), ("ci-bot", TokenRole::UploadOnly));
    let raw: Vec<String> = sqlx::query_scalar("SELECT secret_sha256 FROM access_tokens")
        .fetch_all(
            &sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("assetd.db").display())).await.unwrap(),
        )
        .await
        .unwrap();
    assert!(!raw.iter().any(|h| h.contains(secret)), "the secret itself is never stored");

    let again = assetd(dir.path(), &["create", "--name", "ci-bot"]);
    assert!(!again.status.success(), "names are unique");
    let bad_role = assetd(dir.path(), &["create", "--name", "x", "--role", "admin"]);
    assert!(!bad_role.status.success());

    let listed = assetd(dir.path(), &["list", "--json"]);
    let lines: Vec<Value> =
        String::from_utf8(listed.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0]["name"].as_str(), lines[0]["role"].as_str()), (Some("ci-bot"), Some("upload_only")));
    assert!(!lines[0].to_string().contains(secret), "list never shows secrets");

    let revoked = assetd(dir.path(), &["revoke", "ci-bot"]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert!(db.find_token_by_hash(&token_secret_hash(secret)).await.unwrap().is_none());
    let twice = assetd(dir.path(), &["revoke", "ci-bot"]);
    assert!(!twice.status.success(), "revoking an unknown token fails");
    assert!(String::from_utf8_lossy(&twice.stderr).contains("no token"), "{}", String::from_utf8_lossy(&twice.stderr));
}
