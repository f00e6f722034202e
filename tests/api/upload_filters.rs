//! Saved filters, smart tags and references.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{fixture, TestApp};

#[tokio::test]
async fn saved_filters_round_trip() {
    let app = TestApp::spawn().await;
    let body = json!({"data": {"type": "upload_filter", "attributes": {"name": "Big images", "shared": true,
        "filter": {"type": "image", "size": {"gt": 1000}}}}});
    let created = app.call(Method::POST, "/upload-filters", Some(body)).await;
    assert_eq!(created.status, StatusCode::OK);
    let filter = created.json()["data"].clone();
    let id = filter["id"].as_str().unwrap().to_owned();
    assert_eq!(
        filter["attributes"],
        json!({"name": "Big images", "shared": true, "filter": {"type": "image", "size": {"gt": 1000}}})
    );

    let updated = app
        .call(
            Method::PUT,
            &format!("/upload-filters/{id}"),
            Some(json!({"data": {"type": "upload_filter", "id": id,
            "attributes": {"name": "Huge images", "filter": {"size": {"gt": 9000}}}}})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(
        updated.json()["data"]["attributes"],
        json!({"name": "Huge images", "shared": true, "filter": {"size": {"gt": 9000}}})
    );

    let list = app.call(Method::GET, "/upload-filters", None).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.call(Method::GET, &format!("/upload-filters/{id}"), None).await.json()["data"]["attributes"]["name"],
        "Huge images"
    );
    let deleted = app.call(Method::DELETE, &format!("/upload-filters/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(app.call(Method::GET, &format!("/upload-filters/{id}"), None).await.status, StatusCode::NOT_FOUND);

    for attributes in [
        json!({"name": "x", "filter": {}}),
        json!({"name": "", "filter": {}, "shared": false}),
        json!({"name": "x", "filter": "a", "shared": false}),
    ] {
        let response = app
            .call(
                Method::POST,
                "/upload-filters",
                Some(json!({"data": {"type": "upload_filter", "attributes": attributes}})),
            )
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{attributes}");
    }
}

#[tokio::test]
async fn smart_tags_and_references_are_honest_empty_lists() {
    let app = TestApp::spawn().await;
    let smart = app.call(Method::GET, "/upload-smart-tags?filter[query]=cat&page[limit]=10", None).await;
    assert_eq!(smart.json(), json!({"data": [], "meta": {"total_count": 0}}));
    assert_eq!(
        app.call(Method::GET, "/upload-smart-tags?page[limit]=501", None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let references =
        app.call(Method::GET, &format!("/uploads/{id}/references?nested=true&version=current"), None).await;
    assert_eq!(references.status, StatusCode::OK);
    assert_eq!(references.json(), json!({"data": []}));
    assert_eq!(
        app.call(Method::GET, &format!("/uploads/{id}/references?version=draft"), None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.call(Method::GET, "/uploads/q0VNpiNQSkG6z0lif_O1zg/references", None).await.status,
        StatusCode::NOT_FOUND
    );
}
