//! Item 5: creating uploads through a durable job that ingests the file.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, md5_hex, TestApp, PUBLIC_URL};

/// Every attribute of spec §2.2, always present.
pub const ATTRIBUTES: [&str; 27] = [
    "size",
    "width",
    "height",
    "path",
    "basename",
    "filename",
    "url",
    "format",
    "author",
    "copyright",
    "notes",
    "md5",
    "duration",
    "frame_rate",
    "blurhash",
    "thumbhash",
    "mux_playback_id",
    "mux_mp4_highest_res",
    "default_field_metadata",
    "is_image",
    "created_at",
    "updated_at",
    "mime_type",
    "tags",
    "smart_tags",
    "exif_info",
    "colors",
];

pub fn assert_complete_upload(upload: &Value) {
    assert_eq!(upload["type"], "upload");
    let attributes = upload["attributes"].as_object().expect("attributes");
    for name in ATTRIBUTES {
        assert!(attributes.contains_key(name), "attribute {name} missing: {upload}");
    }
    assert!(upload["relationships"]["upload_collection"].get("data").is_some());
    assert_eq!(upload["relationships"]["creator"]["data"]["type"], "access_token");
    assert_eq!(upload["meta"]["antivirus"]["status"], "skipped");
}

#[tokio::test]
async fn creating_an_image_answers_a_job_whose_result_is_the_upload() {
    let app = TestApp::spawn().await;
    let bytes = fixture("cat.png");
    let path = app.put_file("cat.png", &bytes).await;
    let response = app
        .call(
            Method::POST,
            "/uploads",
            Some(json!({"data": {"type": "upload", "attributes": {
            "path": path, "author": "Mark", "copyright": "2020 ACME", "notes": "n", "tags": ["cats", " cats ", "pets"],
            "default_field_metadata": {"en": {"alt": "A cat", "title": "Cat", "custom_data": {"k": "v"}}}}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    let job_id = response.json()["data"]["id"].as_str().unwrap().to_owned();

    // Pending: a JSON 404, which the client keeps polling.
    let pending = app.call(Method::GET, &format!("/job-results/{job_id}"), None).await;
    assert_eq!(pending.status, StatusCode::NOT_FOUND);
    assert_eq!(pending.error_code(), "NOT_FOUND");

    let (status, payload) = app.job_result(&job_id).await;
    assert_eq!(status, 200);
    let upload = &payload["data"];
    assert_complete_upload(upload);
    let a = &upload["attributes"];
    assert_eq!(a["path"], json!(path));
    assert_eq!(a["url"], json!(format!("{PUBLIC_URL}{path}")));
    assert_eq!(a["size"], json!(bytes.len()));
    assert_eq!(a["md5"], json!(md5_hex(&bytes)));
    assert_eq!(a["mime_type"], "image/png");
    assert_eq!(a["format"], "png");
    assert_eq!(a["filename"], "cat.png");
    assert_eq!(a["basename"], "cat");
    assert_eq!(a["is_image"], true);
    assert_eq!((a["width"].clone(), a["height"].clone()), (json!(64), json!(48)));
    assert!(a["blurhash"].as_str().is_some_and(|h| h.len() >= 6));
    assert!(a["thumbhash"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(!a["colors"].as_array().unwrap().is_empty());
    assert_eq!(a["duration"], Value::Null);
    assert_eq!(a["tags"], json!(["cats", "pets"]));
    assert_eq!(
        (a["author"].clone(), a["copyright"].clone(), a["notes"].clone()),
        (json!("Mark"), json!("2020 ACME"), json!("n"))
    );
    assert_eq!(
        a["default_field_metadata"]["en"],
        json!({"alt": "A cat", "title": "Cat", "custom_data": {"k": "v"}, "focal_point": null, "poster_time": null})
    );
    assert_eq!(
        a["default_field_metadata"]["it"],
        json!({"alt": null, "title": null, "custom_data": {}, "focal_point": null, "poster_time": null})
    );
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.get_upload(upload["id"].as_str().unwrap()).await, upload.clone(), "show answers the same upload");
    assert_eq!(app.pending_jobs().await, 0);
}

#[tokio::test]
async fn the_type_is_sniffed_from_the_bytes_not_the_name() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("photo.jpg", &fixture("cat.png"), json!({})).await;
    assert_eq!(upload["attributes"]["mime_type"], "image/png");
    assert_eq!(upload["attributes"]["filename"], "photo.jpg");
}

#[tokio::test]
async fn videos_get_duration_and_frame_rate() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("clip.mp4", &fixture("clip.mp4"), json!({})).await;
    let a = &upload["attributes"];
    assert_eq!(a["mime_type"], "video/mp4");
    assert_eq!(a["is_image"], false);
    assert_eq!(a["frame_rate"], json!(25));
    let duration = a["duration"].as_f64().expect("duration");
    assert!((0.9..=2.1).contains(&duration), "duration {duration}");
    assert_eq!((a["width"].clone(), a["height"].clone()), (json!(64), json!(48)));
}

#[tokio::test]
async fn pdfs_have_no_dimensions() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("doc.pdf", &fixture("doc.pdf"), json!({})).await;
    let a = &upload["attributes"];
    assert_eq!(a["mime_type"], "application/pdf");
    assert_eq!(a["format"], "pdf");
    assert_eq!(a["is_image"], false);
    assert_eq!(
        (a["width"].clone(), a["height"].clone(), a["blurhash"].clone()),
        (Value::Null, Value::Null, Value::Null)
    );
    assert_complete_upload(&upload);
}

#[tokio::test]
async fn a_client_supplied_id_is_honoured_and_checked() {
    let app = TestApp::spawn().await;
    let id = "Ap3kQ0n5T8-8tP9bV7Xr2A";
    let path = app.put_file("cat.png", &fixture("cat.png")).await;
    let (status, payload) = app
        .call_job(Method::POST, "/uploads", json!({"data": {"type": "upload", "id": id, "attributes": {"path": path}}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["id"], id);

    let other = app.put_file("dog.jpg", &fixture("dog.jpg")).await;
    for (bad_id, code) in [(id, "INVALID_FIELD"), ("not-an-id", "INVALID_ENTITY_ID")] {
        let response = app
            .call(
                Method::POST,
                "/uploads",
                Some(json!({"data": {"type": "upload", "id": bad_id, "attributes": {"path": other}}})),
            )
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad_id}");
        assert_eq!(response.error_code(), code, "{bad_id}");
    }
    assert_eq!(app.pending_jobs().await, 0, "rejected requests queue nothing");
}

#[tokio::test]
async fn bad_create_requests_get_422_and_change_nothing() {
    let app = TestApp::spawn().await;
    let image = app.put_file("cat.png", &fixture("cat.png")).await;
    let pdf = app.put_file("doc.pdf", &fixture("doc.pdf")).await;
    let cases = [
        ("no path", json!({}), "INVALID_FIELD"),
        ("unknown path", json!({"path": "/1/123-nothing.png"}), "INVALID_FIELD"),
        ("path not a string", json!({"path": 3}), "INVALID_FIELD"),
        ("tags not strings", json!({"path": image, "tags": [1]}), "INVALID_FIELD"),
        ("author not a string", json!({"path": image, "author": {"x": 1}}), "INVALID_FIELD"),
        ("unknown locale", json!({"path": image, "default_field_metadata": {"fr": {"alt": "x"}}}), "INVALID_FIELD"),
        (
            "focal point out of range",
            json!({"path": image, "default_field_metadata": {"focal_point": {"x": 2, "y": 0}}}),
            "INVALID_FIELD",
        ),
        (
            "focal point on a PDF",
            json!({"path": pdf, "default_field_metadata": {"focal_point": {"x": 0.5, "y": 0.5}}}),
            "INVALID_FIELD",
        ),
        (
            "poster time on an image",
            json!({"path": image, "default_field_metadata": {"poster_time": 1}}),
            "INVALID_FIELD",
        ),
        ("read-only attribute", json!({"path": image, "md5": "x"}), "INVALID_ATTRIBUTES"),
    ];
    for (description, attributes, code) in cases {
        let response = app
            .call(Method::POST, "/uploads", Some(json!({"data": {"type": "upload", "attributes": attributes}})))
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{description}: {}",
            String::from_utf8_lossy(&response.bytes)
        );
        assert_eq!(response.error_code(), code, "{description}");
    }
    let missing_collection = json!({"data": {"type": "upload", "attributes": {"path": image},
        "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": "uinr2zfqQLeCo_1O0-ao-Q"}}}}});
    let response = app.call(Method::POST, "/uploads", Some(missing_collection)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.pending_jobs().await, 0);
    let list = app.call(Method::GET, "/uploads", None).await.json();
    assert_eq!(list["meta"]["total_count"], 0);
}

#[tokio::test]
async fn a_corrupt_image_fails_the_job_with_a_4xx() {
    let app = TestApp::spawn().await;
    let path = app.put_file("corrupt.png", &fixture("corrupt.png")).await;
    let (status, payload) =
        app.call_job(Method::POST, "/uploads", json!({"data": {"type": "upload", "attributes": {"path": path}}})).await;
    assert_eq!(status, 422, "{payload}");
    assert_eq!(payload["data"][0]["type"], "api_error");
    assert_eq!(payload["data"][0]["attributes"]["details"]["field"], "path");
    assert_eq!(app.call(Method::GET, "/uploads", None).await.json()["meta"]["total_count"], 0);
}

#[tokio::test]
async fn one_file_makes_one_upload() {
    let app = TestApp::spawn().await;
    let path = app.put_file("cat.png", &fixture("cat.png")).await;
    let body = json!({"data": {"type": "upload", "attributes": {"path": path}}});
    let (status, _) = app.call_job(Method::POST, "/uploads", body.clone()).await;
    assert_eq!(status, 200);
    let response = app.call(Method::POST, "/uploads", Some(body)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["data"][0]["attributes"]["details"]["code"], "VALIDATION_UNIQUENESS");
}

#[tokio::test]
async fn uploads_can_go_into_a_collection() {
    let app = TestApp::spawn().await;
    let collection = app
        .call(
            Method::POST,
            "/upload-collections",
            Some(json!({"data": {"type": "upload_collection", "attributes": {"label": "Posts"}}})),
        )
        .await;
    assert_eq!(collection.status, StatusCode::OK);
    let collection = collection.json()["data"].clone();
    assert_eq!(collection["attributes"], json!({"label": "Posts", "position": 1}));
    let id = collection["id"].as_str().unwrap();
    let shown = app.call(Method::GET, &format!("/upload-collections/{id}"), None).await;
    assert_eq!(shown.json()["data"], collection);

    let path = app.put_file("cat.png", &fixture("cat.png")).await;
    let (status, payload) = app
        .call_job(
            Method::POST,
            "/uploads",
            json!({"data": {"type": "upload", "attributes": {"path": path},
            "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": id}}}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        payload["data"]["relationships"]["upload_collection"]["data"],
        json!({"type": "upload_collection", "id": id})
    );
}
