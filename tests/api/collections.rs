//! Upload collections: create, list, show, update (label, parent, position, children), reorder, destroy.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp};

async fn create(app: &TestApp, label: &str, parent: Option<&str>) -> String {
    let mut data = json!({"type": "upload_collection", "attributes": {"label": label}});
    if let Some(parent) = parent {
        data["relationships"] = json!({"parent": {"data": {"type": "upload_collection", "id": parent}}});
    }
    let response = app.call(Method::POST, "/upload-collections", Some(json!({ "data": data }))).await;
    assert_eq!(response.status, StatusCode::OK, "{}", String::from_utf8_lossy(&response.bytes));
    response.json()["data"]["id"].as_str().unwrap().to_owned()
}

async fn show(app: &TestApp, id: &str) -> Value {
    let response = app.call(Method::GET, &format!("/upload-collections/{id}"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()["data"].clone()
}

/// `(label, position)` of the root collections, in order.
async fn roots(app: &TestApp) -> Vec<(String, i64)> {
    let list = app.call(Method::GET, "/upload-collections", None).await.json();
    let mut roots: Vec<(String, i64)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["relationships"]["parent"]["data"].is_null())
        .map(|c| (c["attributes"]["label"].as_str().unwrap().to_owned(), c["attributes"]["position"].as_i64().unwrap()))
        .collect();
    roots.sort_by_key(|r| r.1);
    roots
}

fn children(collection: &Value) -> Vec<String> {
    collection["relationships"]["children"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn nesting_positions_and_updates() {
    let app = TestApp::spawn().await;
    let posts = create(&app, "Posts", None).await;
    let pages = create(&app, "Pages", None).await;
    let y2025 = create(&app, "2025", Some(&posts)).await;
    let y2026 = create(&app, "2026", Some(&posts)).await;
    assert_eq!(roots(&app).await, vec![("Posts".into(), 1), ("Pages".into(), 2)]);
    assert_eq!(children(&show(&app, &posts).await), vec![y2025.clone(), y2026.clone()]);
    assert_eq!(show(&app, &y2026).await["relationships"]["parent"]["data"]["id"], json!(posts));

    // Label and position.
    let response = app
        .call(
            Method::PUT,
            &format!("/upload-collections/{pages}"),
            Some(json!({"data": {"type": "upload_collection", "id": pages,
            "attributes": {"label": "Site pages", "position": 1}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(roots(&app).await, vec![("Site pages".into(), 1), ("Posts".into(), 2)]);

    // Reorder children through the relationship.
    let response = app
        .call(Method::PUT, &format!("/upload-collections/{posts}"), Some(json!({"data": {"type": "upload_collection",
            "relationships": {"children": {"data": [{"type": "upload_collection", "id": y2026}, {"type": "upload_collection", "id": y2025}]}}}})))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(children(&response.json()["data"]), vec![y2026.clone(), y2025.clone()]);

    // Move under another parent: both sibling lists are renumbered.
    let response = app
        .call(
            Method::PUT,
            &format!("/upload-collections/{y2026}"),
            Some(json!({"data": {"type": "upload_collection",
            "relationships": {"parent": {"data": {"type": "upload_collection", "id": pages}}}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(children(&show(&app, &pages).await), vec![y2026.clone()]);
    assert_eq!(show(&app, &y2025).await["attributes"]["position"], 1);

    let filtered =
        app.call(Method::GET, &format!("/upload-collections?filter[ids]={posts},{pages}"), None).await.json();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 2);
    assert!(filtered.get("meta").is_none(), "collections are not paginated");
}

#[tokio::test]
async fn tree_errors_are_422_and_change_nothing() {
    let app = TestApp::spawn().await;
    let a = create(&app, "A", None).await;
    let a1 = create(&app, "A1", Some(&a)).await;
    let b = create(&app, "B", None).await;
    let cases = [
        (
            a.clone(),
            json!({"type": "upload_collection", "relationships": {"parent": {"data": {"type": "upload_collection", "id": a1}}}}),
            "INVALID_PARENT",
        ),
        (
            a.clone(),
            json!({"type": "upload_collection", "relationships": {"parent": {"data": {"type": "upload_collection", "id": a}}}}),
            "INVALID_PARENT",
        ),
        (
            a.clone(),
            json!({"type": "upload_collection", "relationships": {"parent": {"data": {"type": "upload_collection", "id": "uinr2zfqQLeCo_1O0-ao-Q"}}}}),
            "INVALID_PARENT",
        ),
        (
            a.clone(),
            json!({"type": "upload_collection", "relationships": {"children": {"data": [{"type": "upload_collection", "id": b}]}}}),
            "INVALID_FIELD",
        ),
        (a.clone(), json!({"type": "upload_collection", "attributes": {"position": 0}}), "INVALID_POSITION"),
        (a.clone(), json!({"type": "upload_collection", "attributes": {"label": ""}}), "INVALID_FIELD"),
        (a.clone(), json!({"type": "upload", "attributes": {"label": "x"}}), "INVALID_TYPE"),
    ];
    for (id, data, code) in cases {
        let response = app.call(Method::PUT, &format!("/upload-collections/{id}"), Some(json!({ "data": data }))).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{data}");
        assert_eq!(response.error_code(), code, "{data}");
    }
    assert_eq!(roots(&app).await, vec![("A".into(), 1), ("B".into(), 2)]);
    assert_eq!(children(&show(&app, &a).await), vec![a1]);
    let missing = app.call(Method::GET, "/upload-collections/uinr2zfqQLeCo_1O0-ao-Q", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let no_label = app
        .call(
            Method::POST,
            "/upload-collections",
            Some(json!({"data": {"type": "upload_collection", "attributes": {}}})),
        )
        .await;
    assert_eq!(no_label.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn reorder_is_a_job_answering_every_collection() {
    let app = TestApp::spawn().await;
    let a = create(&app, "A", None).await;
    let b = create(&app, "B", None).await;
    let c = create(&app, "C", Some(&a)).await;
    let body = json!({"data": [
        {"type": "upload_collection", "id": b, "attributes": {"position": 1}, "relationships": {"parent": {"data": null}}},
        {"type": "upload_collection", "id": c, "attributes": {"position": 2}, "relationships": {"parent": {"data": null}}},
    ]});
    let (status, payload) = app.call_job(Method::POST, "/upload-collections/reorder", body).await;
    assert_eq!(status, 200, "{payload}");
    assert_eq!(payload["data"].as_array().unwrap().len(), 3);
    assert_eq!(roots(&app).await, vec![("B".into(), 1), ("C".into(), 2), ("A".into(), 3)]);

    let duplicate = json!({"data": [
        {"type": "upload_collection", "id": a, "attributes": {"position": 1}, "relationships": {"parent": {"data": null}}},
        {"type": "upload_collection", "id": b, "attributes": {"position": 1}, "relationships": {"parent": {"data": null}}},
    ]});
    let response = app.call(Method::POST, "/upload-collections/reorder", Some(duplicate)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.error_code(), "DUPLICATE_POSITIONS_FOUND");
}

#[tokio::test]
async fn deleting_a_collection_deletes_its_children_and_moves_uploads_to_the_root() {
    let app = TestApp::spawn().await;
    let a = create(&app, "A", None).await;
    let a1 = create(&app, "A1", Some(&a)).await;
    let b = create(&app, "B", None).await;
    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let id = upload["id"].as_str().unwrap();
    let (status, _) = app
        .update_upload_with(id, "", json!({"data": {"type": "upload", "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": a1}}}}}))
        .await;
    assert_eq!(status, 200);

    let response = app.call(Method::DELETE, &format!("/upload-collections/{a}"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["data"]["id"], json!(a));
    assert_eq!(app.call(Method::GET, &format!("/upload-collections/{a1}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(roots(&app).await, vec![("B".into(), 1)]);
    assert_eq!(app.get_upload(id).await["relationships"]["upload_collection"]["data"], Value::Null);
    let _ = b;
}
