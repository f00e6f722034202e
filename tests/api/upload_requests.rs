//! Item 4: upload requests and the signed direct PUT. With S3 storage (`ASSETD_TEST_STORAGE_URL`)
//! the URL is a presigned bucket URL: the same scenarios check what the bucket and assetd must
//! guarantee then (no PUT without the signature, the size limit, files that cannot change).

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp, PUBLIC_URL};

async fn request_upload(app: &TestApp, filename: Value) -> Value {
    let response = app
        .call(
            Method::POST,
            "/upload-requests",
            Some(json!({"data": {"type": "upload_request", "attributes": {"filename": filename}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", String::from_utf8_lossy(&response.bytes));
    response.json()["data"].clone()
}

#[tokio::test]
async fn upload_requests_answer_200_with_an_absolute_signed_url() {
    let app = TestApp::spawn().await;
    let request = request_upload(&app, json!("Cat Photo.PNG")).await;
    assert_eq!(request["type"], "upload_request");
    let path = request["id"].as_str().unwrap();
    let (seconds, name) = path.strip_prefix("/1/").unwrap().split_once('-').unwrap();
    assert!(seconds.chars().all(|c| c.is_ascii_digit()), "{path}");
    assert_eq!(name, "Cat-Photo.png");
    let url = request["attributes"]["url"].as_str().unwrap();
    if app.uses_s3() {
        let storage_url = app.app.config.storage_url.as_deref().unwrap();
        let endpoint = storage_url.split("endpoint=").nth(1).unwrap().split('&').next().unwrap();
        assert!(url.starts_with(&format!("{endpoint}/")), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
    } else {
        assert!(url.starts_with(&format!("{PUBLIC_URL}/put{path}?expires=")), "{url}");
        assert!(url.contains("&sig="), "{url}");
    }
    assert_eq!(request["attributes"]["request_headers"], json!({}));
}

#[tokio::test]
async fn filenames_are_sanitised() {
    let app = TestApp::spawn().await;
    // A name already taken in the same second gets a random suffix on its stem.
    let cases = [
        (json!("../../etc/passwd"), "passwd", ""),
        (json!("dir\\evil name.JPG"), "evil-name", ".jpg"),
        (json!("new\nline\u{7}.txt"), "new-line", ".txt"),
        (json!(".."), "file", ""),
        (Value::Null, "file", ""),
    ];
    for (filename, stem, extension) in cases {
        let request = request_upload(&app, filename.clone()).await;
        let path = request["id"].as_str().unwrap();
        let (_, name) = path.strip_prefix("/1/").unwrap().split_once('-').unwrap();
        assert!(name.starts_with(stem) && name.ends_with(extension), "{filename} → {path}");
        assert_eq!(path.matches('/').count(), 2, "{filename} → {path}");
        assert!(!path.contains(".."), "{filename} → {path}");
    }
}

#[tokio::test]
async fn the_same_filename_twice_gets_two_paths() {
    let app = TestApp::spawn().await;
    let first = request_upload(&app, json!("cat.png")).await;
    let second = request_upload(&app, json!("cat.png")).await;
    assert_ne!(first["id"], second["id"]);
    assert!(second["id"].as_str().unwrap().ends_with(".png"));
}

#[tokio::test]
async fn a_bad_filename_type_is_rejected() {
    let app = TestApp::spawn().await;
    let response = app
        .call(
            Method::POST,
            "/upload-requests",
            Some(json!({"data": {"type": "upload_request", "attributes": {"filename": 42}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.error_code(), "INVALID_FIELD");
}

#[tokio::test]
async fn the_put_needs_an_untampered_signature_for_that_path() {
    let app = TestApp::spawn().await;
    let request = request_upload(&app, json!("cat.png")).await;
    let url = request["attributes"]["url"].as_str().unwrap().to_owned();
    if app.uses_s3() {
        return bucket_put_needs_an_untampered_signature(&app, &request, &url).await;
    }
    let other = request_upload(&app, json!("dog.png")).await;
    let other_url = other["attributes"]["url"].as_str().unwrap();
    let other_sig = other_url.split("&sig=").nth(1).unwrap();
    let (base, _) = url.split_once("?").unwrap();
    let expires = url.split("expires=").nth(1).unwrap().split('&').next().unwrap();
    let cases = [
        ("no query", base.to_owned()),
        ("tampered signature", url.replace("&sig=", "&sig=00")),
        ("another path's signature", format!("{base}?expires={expires}&sig={other_sig}")),
        (
            "extended expiry",
            url.replace(&format!("expires={expires}"), &format!("expires={}", expires.parse::<i64>().unwrap() + 1)),
        ),
    ];
    for (description, bad_url) in cases {
        let response = app.put_to_url(&bad_url, b"bytes".to_vec()).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{description}");
        assert_eq!(response.error_code(), "INVALID_SIGNATURE", "{description}");
    }
    // Nothing was stored: creating an upload from the path says the file is missing.
    let response = app
        .call(
            Method::POST,
            "/uploads",
            Some(json!({"data": {"type": "upload", "attributes": {"path": request["id"]}}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["data"][0]["attributes"]["details"]["code"], "FILE_NOT_UPLOADED");
    // The genuine URL works.
    assert_eq!(app.put_to_url(&url, b"bytes".to_vec()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn expired_upload_urls_are_refused() {
    let app = TestApp::spawn_with(|config| config.upload_url_ttl_secs = 0).await;
    let request = request_upload(&app, json!("cat.png")).await;
    // A presigned URL lives at least a second; its timestamp is cut to the second.
    let wait = if app.uses_s3() { 2100 } else { 1100 };
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    let response = app.put_to_url(request["attributes"]["url"].as_str().unwrap(), fixture("cat.png")).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn files_over_the_limit_get_413_and_are_not_stored() {
    let app = TestApp::spawn_with(|config| config.max_upload_size = 10).await;
    let request = request_upload(&app, json!("big.bin")).await;
    let url = request["attributes"]["url"].as_str().unwrap();
    if app.uses_s3() {
        return bucket_files_over_the_limit_are_refused_on_use(&app, &request, url).await;
    }
    let response = app.put_to_url(url, vec![7u8; 11]).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.error_code(), "FILE_TOO_LARGE");

    // Without a Content-Length the limit is enforced while streaming.
    let path = url.strip_prefix(PUBLIC_URL).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![1u8; 6]), Ok(vec![2u8; 6])];
    let streamed = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = app.send(streamed).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);

    let create = app
        .call(
            Method::POST,
            "/uploads",
            Some(json!({"data": {"type": "upload", "attributes": {"path": request["id"]}}})),
        )
        .await;
    assert_eq!(create.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.put_to_url(url, vec![7u8; 10]).await.status, StatusCode::OK, "exactly the limit is fine");
}

#[tokio::test]
async fn a_file_that_belongs_to_an_upload_cannot_be_overwritten() {
    let app = TestApp::spawn().await;
    let request = request_upload(&app, json!("cat.png")).await;
    let url = request["attributes"]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.put_to_url(&url, fixture("cat.png")).await.status, StatusCode::OK);
    let (status, upload) = app
        .call_job(Method::POST, "/uploads", json!({"data": {"type": "upload", "attributes": {"path": request["id"]}}}))
        .await;
    assert_eq!(status, 200);
    let response = app.put_to_url(&url, fixture("dog.jpg")).await;
    if !app.uses_s3() {
        assert_eq!(response.status, StatusCode::CONFLICT);
        return;
    }
    // The bucket takes the PUT, but on a staging key: the upload's file stays the same.
    assert!(response.status.is_success(), "{}", response.status);
    let served = app.fetch_asset(upload["data"]["attributes"]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(served.bytes, fixture("cat.png"));
}

async fn create_from(app: &TestApp, request: &Value) -> crate::helpers::TestResponse {
    let body = json!({"data": {"type": "upload", "attributes": {"path": request["id"]}}});
    app.call(Method::POST, "/uploads", Some(body)).await
}

/// S3: the bucket refuses PUTs without the presigned signature; nothing is stored then.
async fn bucket_put_needs_an_untampered_signature(app: &TestApp, request: &Value, url: &str) {
    let (base, _) = url.split_once('?').unwrap();
    let marker = "X-Amz-Signature=";
    let at = url.find(marker).unwrap() + marker.len();
    let tampered = format!("{}{}{}", &url[..at], if &url[at..at + 1] == "0" { "1" } else { "0" }, &url[at + 1..]);
    for (description, bad_url) in [("no query", base.to_owned()), ("tampered signature", tampered)] {
        let response = app.put_to_url(&bad_url, b"bytes".to_vec()).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{description}");
    }
    let response = create_from(app, request).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["data"][0]["attributes"]["details"]["code"], "FILE_NOT_UPLOADED");
    assert_eq!(app.put_to_url(url, b"bytes".to_vec()).await.status, StatusCode::OK);
    // assetd's own direct PUT is off: it answers a clear 404, not a 500.
    let own = request_path_put(app, request).await;
    assert_eq!(own.status, StatusCode::NOT_FOUND);
    assert_eq!(own.error_code(), "INVALID_ENDPOINT");
}

async fn request_path_put(app: &TestApp, request: &Value) -> crate::helpers::TestResponse {
    let path = request["id"].as_str().unwrap();
    let put = Request::builder()
        .method(Method::PUT)
        .uri(format!("/put{path}?expires=9999999999&sig=x"))
        .body(Body::from("bytes"))
        .unwrap();
    app.send(put).await
}

/// S3: the bucket cannot enforce the limit on a PUT; assetd does when the path is used (422),
/// deleting the file so the client can PUT a smaller one to the same URL.
async fn bucket_files_over_the_limit_are_refused_on_use(app: &TestApp, request: &Value, url: &str) {
    assert_eq!(app.put_to_url(url, vec![7u8; 11]).await.status, StatusCode::OK);
    let create = create_from(app, request).await;
    assert_eq!(create.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(create.json()["data"][0]["attributes"]["details"]["code"], "FILE_TOO_LARGE");
    let again = create_from(app, request).await;
    assert_eq!(again.json()["data"][0]["attributes"]["details"]["code"], "FILE_NOT_UPLOADED", "the file was deleted");
    assert_eq!(app.put_to_url(url, vec![7u8; 10]).await.status, StatusCode::OK, "exactly the limit is fine");
    assert_eq!(create_from(app, request).await.status, StatusCode::ACCEPTED);
}
