//! The job queue under node failures: a worker whose lease expired is fenced off (another node
//! took the job over, and only one run takes effect), and a job that keeps dying with its node is
//! given up as dead with a 500 result.

use assetd::{
    db::{Db, JobEnd},
    domain::now_millis,
};
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{fixture, TestApp};

/// Queues a create-upload job (the worker is off in tests) and returns its id.
async fn queued_create(app: &TestApp) -> String {
    let path = app.put_file("cat.png", &fixture("cat.png")).await;
    let body = json!({"data": {"type": "upload", "attributes": {"path": path}}});
    let response = app.call(Method::POST, "/uploads", Some(body)).await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    response.json()["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_cannot_finish_requeue_or_extend_the_job() {
    let app = TestApp::spawn().await;
    let job_id = queued_create(&app).await;
    let db = &app.app.db;
    // Node A claims with a lease that is over at once (as if A stalled past it); node B takes over.
    let stale = db.claim_next_job(now_millis(), -1).await.unwrap().expect("a job to claim");
    let current = db.claim_next_job(now_millis(), 30_000).await.unwrap().expect("the expired lease is reclaimed");
    assert_eq!((stale.id.as_str(), current.id.as_str()), (job_id.as_str(), job_id.as_str()));
    assert_eq!((stale.attempts, current.attempts), (1, 2));
    assert!(db.claim_next_job(now_millis(), 30_000).await.unwrap().is_none(), "B's lease holds");

    assert!(!db.extend_job_lease(&stale, now_millis() + 30_000).await.unwrap());
    db.retry_job_later(&stale, now_millis()).await.unwrap();
    assert!(db.claim_next_job(now_millis(), 30_000).await.unwrap().is_none(), "A could not requeue B's job");
    let mut tx = db.begin_write().await.unwrap();
    assert!(!Db::finish_job(&mut tx, &stale, JobEnd::Done, 200, "{\"stale\":true}", now_millis()).await.unwrap());
    drop(tx);

    assert!(db.extend_job_lease(&current, now_millis() + 30_000).await.unwrap());
    let mut tx = db.begin_write().await.unwrap();
    assert!(Db::finish_job(&mut tx, &current, JobEnd::Done, 200, "{\"current\":true}", now_millis()).await.unwrap());
    tx.commit().await.unwrap();
    let response = app.call(Method::GET, &format!("/job-results/{job_id}"), None).await;
    assert_eq!(response.json()["data"]["attributes"]["payload"], json!({"current": true}));
    assert_eq!(app.pending_jobs().await, 0);
}

#[tokio::test]
async fn a_job_whose_runs_keep_dying_is_given_up_as_dead() {
    let app = TestApp::spawn().await;
    let job_id = queued_create(&app).await;
    // Five runs died with their node: each claim's lease expired without a result.
    for attempt in 1..=5 {
        let job = app.app.db.claim_next_job(now_millis(), -1).await.unwrap().expect("reclaimed");
        assert_eq!(job.attempts, attempt);
    }
    // The sixth claim gives it up instead of running it again.
    app.run_pending_jobs().await;
    let (status, payload) = app.job_result(&job_id).await;
    assert_eq!(status, 500, "{payload}");
    assert_eq!(payload["data"][0]["attributes"]["code"], "EXCEPTION", "{payload}");
    let states = app.raw_text_rows("SELECT state FROM jobs").await;
    assert_eq!(states, [["dead"]]);
    assert_eq!(app.pending_jobs().await, 0);
    let listed = app.call(Method::GET, "/uploads", None).await.json();
    assert_eq!(listed["data"], json!([]), "the dead job created nothing");
}

#[tokio::test]
async fn a_claim_can_leave_kinds_of_jobs_to_other_workers() {
    let app = TestApp::spawn().await;
    let first = queued_create(&app).await;
    let second = queued_create(&app).await;
    let db = &app.app.db;
    // A node whose video slots are taken skips those kinds: here, create_upload as a stand-in.
    assert!(db.claim_next_job_except(now_millis(), 30_000, &["create_upload"]).await.unwrap().is_none());
    assert!(db
        .claim_next_job_except(now_millis(), 30_000, &["transcode_video", "create_upload"])
        .await
        .unwrap()
        .is_none());
    let claimed = db.claim_next_job_except(now_millis(), 30_000, &["transcode_video"]).await.unwrap().expect("a job");
    assert_eq!((claimed.id.as_str(), claimed.kind.as_str()), (first.as_str(), "create_upload"));
    let claimed = db.claim_next_job(now_millis(), 30_000).await.unwrap().expect("the other job");
    assert_eq!(claimed.id, second);
}
