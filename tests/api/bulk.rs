//! Bulk operations on uploads: tag, set collection, destroy.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp};

fn linkages(ids: &[&str]) -> Value {
    json!({"data": ids.iter().map(|id| json!({"type": "upload", "id": id})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn bulk_operations_count_successes_and_failures() {
    let app = TestApp::spawn().await;
    let cat = app.create_upload("cat.png", &fixture("cat.png"), json!({"tags": ["cats"]})).await;
    let dog = app.create_upload("dog.jpg", &fixture("dog.jpg"), json!({})).await;
    let (cat_id, dog_id) = (cat["id"].as_str().unwrap(), dog["id"].as_str().unwrap());
    let missing = "q0VNpiNQSkG6z0lif_O1zg";

    let (status, payload) = app
        .call_job(Method::POST, "/uploads/bulk/tag", json!({"data": {"type": "upload_bulk_tag_operation",
            "attributes": {"tags": ["pets", "cats"]}, "relationships": {"uploads": linkages(&[cat_id, dog_id, missing])}}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(payload, json!({"data": [], "meta": {"successful": 2, "failed": 1}}));
    assert_eq!(app.get_upload(cat_id).await["attributes"]["tags"], json!(["cats", "pets"]));
    assert_eq!(app.get_upload(dog_id).await["attributes"]["tags"], json!(["pets", "cats"]));

    let collection = json!(app.create_collection("Pets").await);
    let (status, payload) = app
        .call_job(Method::POST, "/uploads/bulk/set-upload-collection", json!({"data": {"type": "upload_bulk_set_upload_collection_operation",
            "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": collection}}, "uploads": linkages(&[cat_id, dog_id])}}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(payload["meta"], json!({"successful": 2, "failed": 0}));
    assert_eq!(app.get_upload(dog_id).await["relationships"]["upload_collection"]["data"]["id"], collection);

    let url = cat["attributes"]["url"].as_str().unwrap();
    let (status, payload) = app
        .call_job(
            Method::POST,
            "/uploads/bulk/destroy",
            json!({"data": {"type": "upload_bulk_destroy_operation",
            "relationships": {"uploads": linkages(&[cat_id, missing])}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(payload["meta"], json!({"successful": 1, "failed": 1}));
    assert_eq!(app.call(Method::GET, &format!("/uploads/{cat_id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.fetch_asset(url, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, "/uploads", None).await.json()["meta"]["total_count"], 1);
}

#[tokio::test]
async fn malformed_bulk_requests_are_422() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "/uploads/bulk/tag",
            json!({"data": {"type": "upload_bulk_tag_operation", "attributes": {"tags": ["x"]}, "relationships": {"uploads": {"data": []}}}}),
            "MISSING_UPLOAD_IDS",
        ),
        (
            "/uploads/bulk/tag",
            json!({"data": {"type": "upload_bulk_tag_operation", "attributes": {"tags": ["x"]}}}),
            "MISSING_UPLOAD_IDS",
        ),
        (
            "/uploads/bulk/tag",
            json!({"data": {"type": "upload_bulk_tag_operation", "relationships": {"uploads": linkages(&["a"])}}}),
            "INVALID_FIELD",
        ),
        (
            "/uploads/bulk/tag",
            json!({"data": {"type": "upload_bulk_destroy_operation", "relationships": {"uploads": linkages(&["a"])}}}),
            "INVALID_TYPE",
        ),
        (
            "/uploads/bulk/destroy",
            json!({"data": {"type": "upload_bulk_destroy_operation", "relationships": {"uploads": {"data": [{"type": "item", "id": "a"}]}}}}),
            "INVALID_FIELD",
        ),
        (
            "/uploads/bulk/set-upload-collection",
            json!({"data": {"type": "upload_bulk_set_upload_collection_operation", "relationships": {"uploads": linkages(&["a"])}}}),
            "INVALID_FIELD",
        ),
        (
            "/uploads/bulk/set-upload-collection",
            json!({"data": {"type": "upload_bulk_set_upload_collection_operation",
            "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": "uinr2zfqQLeCo_1O0-ao-Q"}}, "uploads": linkages(&["a"])}}}),
            "INVALID_FIELD",
        ),
    ];
    for (uri, body, code) in cases {
        let response = app.call(Method::POST, uri, Some(body.clone())).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(response.error_code(), code, "{body}");
    }
    assert_eq!(app.pending_jobs().await, 0);
}
