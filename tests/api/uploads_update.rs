//! Item 6: `PUT /uploads/{id}`: every part of the update endpoint, and its failure paths.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, md5_hex, TestApp, PUBLIC_URL};

async fn cat(app: &TestApp) -> Value {
    app.create_upload(
        "cat.jpg",
        &fixture("cat.jpg"),
        json!({"tags": ["cats"], "default_field_metadata": {"en": {"alt": "A cat"}}}),
    )
    .await
}

fn id(upload: &Value) -> String {
    upload["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn regular_attributes_are_set_and_cleared() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    // Timestamps have millisecond precision: make sure the update happens in a later one.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, payload) = app
        .update_upload(&id(&upload), json!({"author": "Mark", "copyright": "ACME", "notes": "n", "tags": ["a", "b"]}))
        .await;
    assert_eq!(status, 200);
    let a = &payload["data"]["attributes"];
    assert_eq!(
        (a["author"].clone(), a["copyright"].clone(), a["notes"].clone()),
        (json!("Mark"), json!("ACME"), json!("n"))
    );
    assert_eq!(a["tags"], json!(["a", "b"]));
    assert_ne!(a["updated_at"], upload["attributes"]["updated_at"]);

    let (status, payload) = app.update_upload(&id(&upload), json!({"author": null, "tags": []})).await;
    assert_eq!(status, 200);
    let a = &payload["data"]["attributes"];
    assert_eq!(a["author"], Value::Null);
    assert_eq!(a["copyright"], "ACME", "attributes left out keep their value");
    assert_eq!(a["tags"], json!([]));
    assert_eq!(app.get_upload(&id(&upload)).await, payload["data"]);
}

#[tokio::test]
async fn renaming_moves_the_url_and_redirects_the_old_one() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let old_url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let (status, payload) = app.update_upload(&id(&upload), json!({"basename": "digital-cats"})).await;
    assert_eq!(status, 200);
    let a = &payload["data"]["attributes"];
    assert_eq!(a["basename"], "digital-cats");
    assert_eq!(a["filename"], "digital-cats.jpg");
    let new_path = a["path"].as_str().unwrap();
    assert!(new_path.ends_with("-digital-cats.jpg"), "{new_path}");
    assert_eq!(a["url"], json!(format!("{PUBLIC_URL}{new_path}")));
    assert_eq!(a["md5"], upload["attributes"]["md5"], "renaming keeps the file");

    let served = app.fetch_asset(a["url"].as_str().unwrap(), &[]).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.bytes, fixture("cat.jpg"));
    let old = app.fetch_asset(&old_url, &[]).await;
    assert_eq!(old.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(old.header("location"), a["url"].as_str());

    // Renaming back makes the first URL current again.
    let (status, payload) = app.update_upload(&id(&upload), json!({"basename": "cat"})).await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["attributes"]["url"], json!(old_url));
    assert_eq!(app.fetch_asset(&old_url, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_basenames_are_rejected() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    for bad in [json!(""), json!("a/b"), json!("cat.png"), json!(5), json!("-x")] {
        let (status, body) = app.update_upload(&id(&upload), json!({"basename": bad})).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["data"][0]["attributes"]["details"]["field"], "basename", "{bad}");
    }
    assert_eq!(app.get_upload(&id(&upload)).await, upload);
}

#[tokio::test]
async fn a_new_path_is_a_new_version_of_the_file() {
    let app = TestApp::spawn().await;
    let collection = json!(app.create_collection("Posts").await);
    let upload = cat(&app).await;
    let (status, _) = app
        .update_upload_with(
            &id(&upload),
            "",
            json!({"data": {"type": "upload", "id": id(&upload), "attributes": {"notes": "kept"},
            "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": collection}}}}}),
        )
        .await;
    assert_eq!(status, 200);
    let old_url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let dog = fixture("dog.jpg");
    let path = app.put_file("dog.jpg", &dog).await;
    let (status, payload) = app.update_upload(&id(&upload), json!({"path": path})).await;
    assert_eq!(status, 200, "{payload}");
    let updated = &payload["data"];
    let a = &updated["attributes"];
    assert_eq!(updated["id"], upload["id"]);
    assert_eq!(a["path"], json!(path));
    assert_eq!(a["md5"], json!(md5_hex(&dog)));
    assert_eq!(a["size"], json!(dog.len()));
    assert_eq!((a["width"].clone(), a["height"].clone()), (json!(40), json!(30)));
    assert_ne!(a["blurhash"], upload["attributes"]["blurhash"]);
    assert_eq!(a["tags"], json!(["cats"]), "tags are kept");
    assert_eq!(a["notes"], "kept");
    assert_eq!(a["default_field_metadata"]["en"]["alt"], "A cat", "metadata is kept");
    assert_eq!(updated["relationships"]["upload_collection"]["data"]["id"], collection, "the collection is kept");
    assert_eq!(app.fetch_asset(a["url"].as_str().unwrap(), &[]).await.bytes, dog);
    assert_eq!(app.fetch_asset(&old_url, &[]).await.status, StatusCode::NOT_FOUND, "the old URL is purged");
}

#[tokio::test]
async fn keep_url_serves_the_new_bytes_at_the_same_url() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let before = app.fetch_asset(&url, &[]).await;
    assert!(before.header("cache-control").unwrap().contains("immutable"));
    let dog = fixture("dog.jpg");
    let path = app.put_file("dog.jpg", &dog).await;
    let (status, payload) = app
        .update_upload_with(
            &id(&upload),
            "?replace_strategy=keep_url",
            json!({"data": {"type": "upload", "attributes": {"path": path}}}),
        )
        .await;
    assert_eq!(status, 200, "{payload}");
    let a = &payload["data"]["attributes"];
    assert_eq!(a["url"], json!(url));
    assert_eq!(a["path"], upload["attributes"]["path"]);
    assert_eq!(a["md5"], json!(md5_hex(&dog)));
    let after = app.fetch_asset(&url, &[]).await;
    assert_eq!(after.bytes, dog);
    assert!(!after.header("cache-control").unwrap().contains("immutable"), "a replaced URL must not be immutable");
    assert_ne!(after.header("etag"), before.header("etag"));
}

#[tokio::test]
async fn keep_url_refuses_another_format_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let png = app.put_file("other.png", &fixture("cat.png")).await;
    let (status, body) = app
        .update_upload_with(
            &id(&upload),
            "?replace_strategy=keep_url",
            json!({"data": {"type": "upload", "attributes": {"path": png, "notes": "x"}}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["data"][0]["attributes"]["details"]["code"], "VALIDATION_SAME_FORMAT");
    assert_eq!(app.get_upload(&id(&upload)).await, upload);
    assert_eq!(app.pending_jobs().await, 0);
}

#[tokio::test]
async fn echoing_the_upload_back_changes_only_what_differs() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    // What the client sends for `update(id, {...upload, notes})`: every writable attribute,
    // both relationships and the meta.
    let a = &upload["attributes"];
    let body = json!({"data": {"type": "upload", "id": id(&upload),
        "attributes": {"path": a["path"], "basename": a["basename"], "copyright": a["copyright"], "author": a["author"],
                       "notes": "changed", "tags": a["tags"], "default_field_metadata": a["default_field_metadata"]},
        "relationships": upload["relationships"], "meta": upload["meta"]}});
    let (status, payload) = app.update_upload_with(&id(&upload), "", body).await;
    assert_eq!(status, 200, "{payload}");
    let mut expected = upload.clone();
    expected["attributes"]["notes"] = json!("changed");
    expected["attributes"]["updated_at"] = payload["data"]["attributes"]["updated_at"].clone();
    assert_eq!(payload["data"], expected);
}

#[tokio::test]
async fn metadata_is_a_patch_in_either_shape() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let upload_id = id(&upload);
    let (status, payload) = app
        .update_upload(&upload_id, json!({"default_field_metadata": {"en": {"title": "T", "custom_data": {"k": "v"}, "focal_point": {"x": 0.2, "y": 0.8}}}}))
        .await;
    assert_eq!(status, 200, "{payload}");
    let (status, payload) =
        app.update_upload(&upload_id, json!({"default_field_metadata": {"alt": {"it": "Un gatto"}}})).await;
    assert_eq!(status, 200, "{payload}");
    let metadata = &payload["data"]["attributes"]["default_field_metadata"];
    assert_eq!(
        metadata["en"],
        json!({"alt": "A cat", "title": "T", "custom_data": {"k": "v"}, "focal_point": {"x": 0.2, "y": 0.8}, "poster_time": null})
    );
    assert_eq!(
        metadata["it"],
        json!({"alt": "Un gatto", "title": null, "custom_data": {}, "focal_point": {"x": 0.2, "y": 0.8}, "poster_time": null})
    );

    let (status, payload) = app
        .update_upload(&upload_id, json!({"default_field_metadata": {"focal_point": null, "title": {"en": null}}}))
        .await;
    assert_eq!(status, 200);
    let metadata = &payload["data"]["attributes"]["default_field_metadata"];
    assert_eq!(metadata["en"]["focal_point"], Value::Null);
    assert_eq!(metadata["en"]["title"], Value::Null);
    assert_eq!(metadata["en"]["alt"], "A cat");
    assert_eq!(metadata["it"]["alt"], "Un gatto");
}

#[tokio::test]
async fn the_field_keyed_shape_can_be_configured_for_answers() {
    let app = TestApp::spawn_with(|config| config.metadata_shape = assetd::config::MetadataShape::FieldKeyed).await;
    let upload = cat(&app).await;
    let (status, payload) =
        app.update_upload(&id(&upload), json!({"default_field_metadata": {"it": {"alt": "Gatto"}}})).await;
    assert_eq!(status, 200);
    assert_eq!(
        payload["data"]["attributes"]["default_field_metadata"],
        json!({"alt": {"en": "A cat", "it": "Gatto"}, "title": {"en": null, "it": null}, "custom_data": {"en": {}, "it": {}},
               "focal_point": null, "poster_time": null})
    );
}

#[tokio::test]
async fn focal_points_and_poster_times_fit_their_kind_of_file() {
    let app = TestApp::spawn().await;
    let image = cat(&app).await;
    let video = app.create_upload("clip.mp4", &fixture("clip.mp4"), json!({})).await;
    let pdf = app.create_upload("doc.pdf", &fixture("doc.pdf"), json!({})).await;

    let (status, payload) =
        app.update_upload(&id(&video), json!({"default_field_metadata": {"poster_time": 0.5}})).await;
    assert_eq!(status, 200, "{payload}");
    assert_eq!(payload["data"]["attributes"]["default_field_metadata"]["en"]["poster_time"], json!(0.5));
    let (status, _) =
        app.update_upload(&id(&image), json!({"default_field_metadata": {"focal_point": {"x": 0, "y": 1}}})).await;
    assert_eq!(status, 200);

    let cases = [
        (&image, json!({"focal_point": {"x": 1.5, "y": 0.5}}), "default_field_metadata.focal_point"),
        (&image, json!({"focal_point": {"x": -0.1, "y": 0.5}}), "default_field_metadata.focal_point"),
        (&image, json!({"focal_point": "center"}), "default_field_metadata.focal_point"),
        (&pdf, json!({"focal_point": {"x": 0.5, "y": 0.5}}), "default_field_metadata.focal_point"),
        (&video, json!({"focal_point": {"x": 0.5, "y": 0.5}}), "default_field_metadata.focal_point"),
        (&image, json!({"poster_time": 1}), "default_field_metadata.poster_time"),
        (&video, json!({"poster_time": -1}), "default_field_metadata.poster_time"),
        (&video, json!({"poster_time": "1"}), "default_field_metadata.poster_time"),
    ];
    for (upload, metadata, field) in cases {
        let before = app.get_upload(&id(upload)).await;
        let (status, body) = app.update_upload(&id(upload), json!({"default_field_metadata": metadata})).await;
        assert_eq!(status, 422, "{metadata}: {body}");
        assert_eq!(body["data"][0]["attributes"]["code"], "INVALID_FIELD", "{metadata}");
        assert_eq!(body["data"][0]["attributes"]["details"]["field"], field, "{metadata}");
        assert_eq!(app.get_upload(&id(upload)).await, before, "{metadata}: nothing changed");
    }
}

#[tokio::test]
async fn a_new_version_that_is_not_an_image_drops_the_focal_point() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    app.update_upload(&id(&upload), json!({"default_field_metadata": {"focal_point": {"x": 0.1, "y": 0.1}}})).await;
    let pdf = app.put_file("doc.pdf", &fixture("doc.pdf")).await;
    let (status, payload) = app.update_upload(&id(&upload), json!({"path": pdf})).await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["attributes"]["default_field_metadata"]["en"]["focal_point"], Value::Null);
    assert_eq!(payload["data"]["attributes"]["is_image"], false);
    // ...and a focal point sent together with a non-image new version is refused.
    let image = cat(&app).await;
    let pdf = app.put_file("doc.pdf", &fixture("doc.pdf")).await;
    let (status, _) = app
        .update_upload(
            &id(&image),
            json!({"path": pdf, "default_field_metadata": {"focal_point": {"x": 0.1, "y": 0.1}}}),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn relationships_collection_and_creator() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let collection = json!(app.create_collection("A").await);
    let with =
        |relationships: Value| json!({"data": {"type": "upload", "id": id(&upload), "relationships": relationships}});
    let (status, payload) = app
        .update_upload_with(
            &id(&upload),
            "",
            with(json!({"upload_collection": {"data": {"type": "upload_collection", "id": collection}}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["relationships"]["upload_collection"]["data"]["id"], collection);
    let (status, payload) =
        app.update_upload_with(&id(&upload), "", with(json!({"upload_collection": {"data": null}}))).await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["relationships"]["upload_collection"]["data"], Value::Null);

    let creator = upload["relationships"]["creator"]["data"].clone();
    let (status, payload) = app.update_upload_with(&id(&upload), "", with(json!({"creator": {"data": creator}}))).await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["relationships"]["creator"]["data"], creator);

    let cases = [
        json!({"upload_collection": {"data": {"type": "upload_collection", "id": "uinr2zfqQLeCo_1O0-ao-Q"}}}),
        json!({"upload_collection": {"data": {"type": "item", "id": collection}}}),
        json!({"upload_collection": "x"}),
        json!({"creator": {"data": {"type": "access_token", "id": "999"}}}),
        json!({"creator": {"data": {"type": "robot", "id": "1"}}}),
        json!({"creator": {"data": null}}),
        json!({"owner": {"data": null}}),
    ];
    for relationships in cases {
        let (status, body) = app.update_upload_with(&id(&upload), "", with(relationships.clone())).await;
        assert_eq!(status, 422, "{relationships}: {body}");
    }
}

#[tokio::test]
async fn malformed_updates_are_refused_before_any_job() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let upload_id = id(&upload);
    let cases = [
        ("wrong type", "", json!({"data": {"type": "item", "attributes": {"notes": "x"}}}), "INVALID_TYPE"),
        (
            "id mismatch",
            "",
            json!({"data": {"type": "upload", "id": "q0VNpiNQSkG6z0lif_O1zg", "attributes": {"notes": "x"}}}),
            "INVALID_FIELD",
        ),
        (
            "read-only attribute",
            "",
            json!({"data": {"type": "upload", "attributes": {"size": 1}}}),
            "INVALID_ATTRIBUTES",
        ),
        (
            "unknown strategy",
            "?replace_strategy=overwrite",
            json!({"data": {"type": "upload", "attributes": {"notes": "x"}}}),
            "INVALID_PARAMS",
        ),
        (
            "unknown query",
            "?foo=1",
            json!({"data": {"type": "upload", "attributes": {"notes": "x"}}}),
            "INVALID_PARAMS",
        ),
        (
            "unknown path",
            "",
            json!({"data": {"type": "upload", "attributes": {"path": "/1/1-nothing.jpg"}}}),
            "INVALID_FIELD",
        ),
        ("tags not an array", "", json!({"data": {"type": "upload", "attributes": {"tags": "cats"}}}), "INVALID_FIELD"),
        (
            "mixed metadata shapes",
            "",
            json!({"data": {"type": "upload", "attributes": {"default_field_metadata": {"alt": {"en": "x"}, "it": {}}}}}),
            "INVALID_FORMAT",
        ),
    ];
    for (description, query, body, code) in cases {
        let response = app.call(Method::PUT, &format!("/uploads/{upload_id}{query}"), Some(body)).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{description}: {}",
            String::from_utf8_lossy(&response.bytes)
        );
        assert_eq!(response.error_code(), code, "{description}");
    }
    assert_eq!(app.pending_jobs().await, 0);
    assert_eq!(app.get_upload(&upload_id).await, upload);
    let missing = app
        .call(
            Method::PUT,
            "/uploads/q0VNpiNQSkG6z0lif_O1zg",
            Some(json!({"data": {"type": "upload", "attributes": {}}})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_same_path_is_a_no_op() {
    let app = TestApp::spawn().await;
    let upload = cat(&app).await;
    let (status, payload) = app.update_upload(&id(&upload), json!({"path": upload["attributes"]["path"]})).await;
    assert_eq!(status, 200);
    assert_eq!(payload["data"]["attributes"]["md5"], upload["attributes"]["md5"]);
    assert_eq!(payload["data"]["attributes"]["url"], upload["attributes"]["url"]);
    let served = app.fetch_asset(upload["attributes"]["url"].as_str().unwrap(), &[]).await;
    assert!(served.header("cache-control").unwrap().contains("immutable"));
}
