//! The orphaned-blob sweep: what it removes, what it must keep (referenced, young, named by a
//! pending job, not ours), and temporary files. Files on local disk, or in the S3 bucket of
//! `ASSETD_TEST_STORAGE_URL` (with PostgreSQL when `ASSETD_TEST_DATABASE_URL` is set).

use std::{
    collections::BTreeSet,
    time::{Duration, SystemTime},
};

use assetd::{
    cleanup::{remove_temp_files, sweep, SweepReport},
    storage::StorageKey,
};
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde_json::json;

use crate::helpers::{fixture, TestApp};

/// Every key under the prefixes the sweep looks at, plus one it must never look at.
async fn stored_keys(app: &TestApp) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for prefix in ["originals/", "derived/", "incoming/", "other/"] {
        let listed: Vec<_> = app.app.storage.list_blobs(prefix).try_collect().await.unwrap();
        keys.extend(listed.into_iter().map(|blob| blob.key.as_str().to_owned()));
    }
    keys
}

async fn sweep_with_grace(app: &TestApp, grace: Duration) -> SweepReport {
    // Blob ages are compared in milliseconds (S3: seconds): let "just written" become "before now".
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sweep(&app.app.db, &app.app.storage, grace).await.unwrap()
}

async fn store(app: &TestApp, key: &str) {
    app.app.storage.put_bytes(&StorageKey::from_stored(key), Bytes::from_static(b"orphan")).await.unwrap();
}

async fn blob_key_of(app: &TestApp, upload_id: &str) -> String {
    let rows = app.raw_text_rows(&format!("SELECT blob_key FROM uploads WHERE id = '{upload_id}'")).await;
    rows[0][0].clone()
}

#[tokio::test]
async fn the_sweep_removes_orphans_and_keeps_everything_referenced() {
    let app = TestApp::spawn_on_disk_with(|_| {}).await;
    let kept = app.create_upload("kept.png", &fixture("cat.png"), json!({})).await;
    let kept_id = kept["id"].as_str().unwrap().to_owned();
    let kept_key = blob_key_of(&app, &kept_id).await;
    // A file PUT to an upload URL that is still valid: the client may still create the upload.
    let pending_path = app.put_file("later.png", &fixture("cat.png")).await;
    // A derived image of a live upload.
    let derived_kept = StorageKey::derived(&kept_id, "0123abcd").as_str().to_owned();
    store(&app, &derived_kept).await;
    // Orphans: a blob whose upload row is gone (crash between the delete's commit and the blob
    // removal), the derived images of an upload that no longer exists, a presigned PUT nobody
    // asked for, and a blob of someone else's under a prefix assetd does not own.
    let deleted = app.create_upload("deleted.png", &fixture("dog.jpg"), json!({})).await;
    let deleted_id = deleted["id"].as_str().unwrap();
    let deleted_key = blob_key_of(&app, deleted_id).await;
    let response = app.call(Method::DELETE, &format!("/uploads/{deleted_id}"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    store(&app, &deleted_key).await;
    let orphans = [deleted_key, "derived/gone-upload/0123abcd".to_owned(), "incoming/originals/nobody".to_owned()];
    for orphan in &orphans[1..] {
        store(&app, orphan).await;
    }
    store(&app, "other/not-ours").await;
    let before = stored_keys(&app).await;

    let report = sweep_with_grace(&app, Duration::ZERO).await;

    let removed: BTreeSet<String> = report.removed_blobs.iter().cloned().collect();
    assert_eq!(removed, orphans.iter().cloned().collect(), "{report}");
    let expected: BTreeSet<String> = before.difference(&removed).cloned().collect();
    assert_eq!(stored_keys(&app).await, expected);
    assert!(expected.contains(&kept_key) && expected.contains(&derived_kept) && expected.contains("other/not-ours"));
    // The kept files still work: the upload serves, the pending request becomes an upload.
    let served = app.fetch_asset(kept["attributes"]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(served.bytes, fixture("cat.png"));
    let body = json!({"data": {"type": "upload", "attributes": {"path": pending_path}}});
    let (status, payload) = app.call_job(Method::POST, "/uploads", body).await;
    assert_eq!(status, 200, "{payload}");

    let again = sweep_with_grace(&app, Duration::ZERO).await;
    assert!(again.removed_blobs.is_empty(), "a second sweep finds nothing: {again}");
}

#[tokio::test]
async fn blobs_younger_than_the_grace_period_are_kept() {
    let app = TestApp::spawn_on_disk_with(|_| {}).await;
    store(&app, "originals/fresh-orphan").await;
    let report = sweep_with_grace(&app, Duration::from_secs(3600)).await;
    assert!(report.removed_blobs.is_empty(), "{report}");
    assert_eq!(report.young, 1);
    assert!(stored_keys(&app).await.contains("originals/fresh-orphan"));
}

#[tokio::test]
async fn an_expired_upload_url_loses_its_file_unless_a_job_still_needs_it() {
    let app = TestApp::spawn_on_disk_with(|config| config.upload_url_ttl_secs = 1).await;
    let unused = app.put_file("unused.png", &fixture("cat.png")).await;
    let used = app.put_file("used.png", &fixture("dog.jpg")).await;
    let body = json!({"data": {"type": "upload", "attributes": {"path": used}}});
    let response = app.call(Method::POST, "/uploads", Some(body)).await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    let job_id = response.json()["data"]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Both URLs expired; the file of the one a queued job will ingest stays.
    let report = sweep_with_grace(&app, Duration::ZERO).await;
    let unused_key = request_blob_key(&app, &unused).await;
    assert!(report.removed_blobs.iter().any(|key| key.ends_with(&unused_key)), "{report}");
    let used_key = request_blob_key(&app, &used).await;
    assert!(!report.removed_blobs.iter().any(|key| key.ends_with(&used_key)), "{report}");
    let (status, payload) = app.job_result(&job_id).await;
    assert_eq!(status, 200, "the job still finds its file: {payload}");
    let removed = sweep_with_grace(&app, Duration::ZERO).await;
    assert!(removed.removed_blobs.is_empty(), "the upload now holds the file: {removed}");
}

async fn request_blob_key(app: &TestApp, path: &str) -> String {
    let rows = app.raw_text_rows(&format!("SELECT blob_key FROM upload_requests WHERE path = '{path}'")).await;
    rows[0][0].clone()
}

#[tokio::test]
async fn replaced_versions_and_deleted_uploads_leave_exactly_the_live_files() {
    let app = TestApp::spawn_on_disk_with(|_| {}).await;
    let upload = app.create_upload("v1.png", &fixture("cat.png"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let new_path = app.put_file("v2.png", &fixture("cat.png")).await;
    let (status, _) = app.update_upload(id, json!({"path": new_path})).await;
    assert_eq!(status, 200);
    let gone = app.create_upload("gone.jpg", &fixture("dog.jpg"), json!({})).await;
    let response = app.call(Method::DELETE, &format!("/uploads/{}", gone["id"].as_str().unwrap()), None).await;
    assert_eq!(response.status, StatusCode::OK);

    sweep_with_grace(&app, Duration::ZERO).await;

    let live = blob_key_of(&app, id).await;
    assert_eq!(stored_keys(&app).await, BTreeSet::from([live]));
}

#[tokio::test]
async fn temporary_files_go_by_age_or_all_at_once_at_start() {
    let app = TestApp::spawn_on_disk_with(|_| {}).await;
    let scratch = app.app.config.data_dir.join("tmp");
    std::fs::create_dir_all(&scratch).unwrap();
    let old = scratch.join("ingest-old");
    std::fs::write(&old, b"half").unwrap();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&old).unwrap().set_modified(an_hour_ago).unwrap();
    let young = scratch.join("ingest-young");
    std::fs::write(&young, b"busy").unwrap();
    let dirs = [scratch.clone()];
    let storage = &app.app.storage;

    let ten_minutes_ago = SystemTime::now() - Duration::from_secs(600);
    let removed = remove_temp_files(storage, &dirs, Some(ten_minutes_ago)).await.unwrap();
    assert_eq!(removed, vec![old.clone()]);
    assert!(young.exists());

    // At start, before the server wrote any, everything goes.
    let removed = remove_temp_files(storage, &dirs, None).await.unwrap();
    assert_eq!(removed, vec![young.clone()]);
    assert!(remove_temp_files(storage, &dirs, None).await.unwrap().is_empty());
}
