//! Item 7: destroying an upload.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{fixture, TestApp};

#[tokio::test]
async fn destroy_answers_the_upload_and_removes_its_file() {
    let app = TestApp::spawn().await;
    let upload = app
        .create_upload("cat.png", &fixture("cat.png"), json!({"default_field_metadata": {"en": {"alt": "x"}}}))
        .await;
    let id = upload["id"].as_str().unwrap();
    let url = upload["attributes"]["url"].as_str().unwrap();
    assert_eq!(app.fetch_asset(url, &[]).await.status, StatusCode::OK);

    let response = app.call(Method::DELETE, &format!("/uploads/{id}"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["data"], upload);

    assert_eq!(app.call(Method::GET, &format!("/uploads/{id}"), None).await.status, StatusCode::NOT_FOUND);
    let gone = app.fetch_asset(url, &[]).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error_code(), "NOT_FOUND");
    let again = app.call(Method::DELETE, &format!("/uploads/{id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.error_code(), "NOT_FOUND");
}

#[tokio::test]
async fn an_update_queued_before_a_destroy_fails_cleanly() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let queued = app
        .call(
            Method::PUT,
            &format!("/uploads/{id}"),
            Some(json!({"data": {"type": "upload", "attributes": {"notes": "late"}}})),
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED);
    assert_eq!(app.call(Method::DELETE, &format!("/uploads/{id}"), None).await.status, StatusCode::OK);
    let (status, payload) = app.job_result(queued.json()["data"]["id"].as_str().unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(payload["data"][0]["attributes"]["code"], "NOT_FOUND");
}
