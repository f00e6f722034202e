//! `GET /ui`, `/ui/` and `/ui/{file}`: the browser Media Area's files, embedded from `ui/dist`,
//! served without a token, with their content types, caching headers and a strict CSP.

use std::collections::BTreeSet;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};

use crate::helpers::{TestApp, TestResponse, PUBLIC_URL};

async fn get(app: &TestApp, uri: &str) -> TestResponse {
    app.send(Request::builder().uri(uri).body(Body::empty()).unwrap()).await
}

fn assert_security_headers(response: &TestResponse, uri: &str) {
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{uri}");
    assert_eq!(response.header("referrer-policy"), Some("same-origin"), "{uri}");
    assert_eq!(response.header("x-frame-options"), Some("DENY"), "{uri}");
    let csp = response.header("content-security-policy").unwrap_or_else(|| panic!("{uri}: no CSP"));
    let directive = |name: &str| {
        csp.split(';').map(str::trim).find(|d| d.split_whitespace().next() == Some(name)).map(str::to_owned)
    };
    assert_eq!(directive("default-src").as_deref(), Some("default-src 'self'"), "{uri}: {csp}");
    assert_eq!(directive("script-src").as_deref(), Some("script-src 'self'"), "{uri}: no inline script: {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{uri}: {csp}");
    let img = directive("img-src").unwrap();
    assert!(img.contains(PUBLIC_URL.trim_end_matches('/')) && img.contains("'self'"), "{uri}: {img}");
    let connect = directive("connect-src").unwrap();
    assert!(connect.contains("'self'"), "{uri}: {connect}");
}

#[tokio::test]
async fn the_page_is_served_without_a_token_with_strict_headers() {
    let app = TestApp::spawn().await;
    for uri in ["/ui", "/ui/"] {
        let response = get(&app, uri).await;
        assert_eq!(response.status, StatusCode::OK, "{uri}");
        assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"), "{uri}");
        assert_eq!(response.header("cache-control"), Some("no-cache"), "{uri}");
        assert!(response.header("etag").is_some_and(|e| e.starts_with('"')), "{uri}");
        assert_security_headers(&response, uri);
        let html = String::from_utf8(response.bytes.clone()).unwrap();
        assert!(html.contains(r#"<script type="module" src="/ui/app.js"></script>"#), "{html}");
        assert!(!html.contains("<script>"), "no inline script: {html}");
    }
}

#[tokio::test]
async fn every_built_file_is_served_with_its_type_and_nothing_else() {
    let app = TestApp::spawn().await;
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/dist");
    let built: BTreeSet<String> =
        std::fs::read_dir(&dist).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(built.contains("app.js") && built.contains("style.css"), "{built:?}");
    for name in &built {
        let uri = format!("/ui/{name}");
        let response = get(&app, &uri).await;
        assert_eq!(response.status, StatusCode::OK, "{uri} is built but not served");
        assert_eq!(response.bytes, std::fs::read(dist.join(name)).unwrap(), "{uri}: the binary embeds another build");
        let expected = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("html") => "text/html; charset=utf-8",
            other => panic!("unexpected file type in ui/dist: {other:?}"),
        };
        assert_eq!(response.header("content-type"), Some(expected), "{uri}");
        assert!(response.header("cache-control").is_some_and(|c| c.contains("max-age")), "{uri}");
        assert_security_headers(&response, &uri);
    }
}

#[tokio::test]
async fn unknown_files_are_404_in_the_cma_envelope() {
    let app = TestApp::spawn().await;
    for uri in ["/ui/nope.js", "/ui/..%2Fsrc%2Flib.rs", "/ui/app.ts"] {
        let response = get(&app, uri).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(response.error_code(), "NOT_FOUND", "{uri}");
    }
    // A NUL is refused before any route (README, "Bodies and connections").
    let nul = get(&app, "/ui/%00").await;
    assert_eq!((nul.status, nul.error_code().as_str()), (StatusCode::BAD_REQUEST, "INVALID_REQUEST"));
    // Deeper paths (answered as CMA calls) and other methods are unknown endpoints.
    let deeper = app.call(Method::GET, "/ui/a/b.js", None).await;
    assert_eq!((deeper.status, deeper.error_code().as_str()), (StatusCode::NOT_FOUND, "INVALID_ENDPOINT"));
    let post = app.send(Request::builder().method(Method::POST).uri("/ui/app.js").body(Body::empty()).unwrap()).await;
    assert_eq!(post.error_code(), "INVALID_ENDPOINT");
}

#[tokio::test]
async fn a_matching_etag_answers_304() {
    let app = TestApp::spawn().await;
    let first = get(&app, "/ui/app.js").await;
    let etag = first.header("etag").unwrap().to_owned();
    let request =
        Request::builder().uri("/ui/app.js").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    let again = app.send(request).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.bytes.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let other =
        Request::builder().uri("/ui/app.js").header(header::IF_NONE_MATCH, "\"x\"").body(Body::empty()).unwrap();
    assert_eq!(app.send(other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_policy_lets_the_page_put_files_where_upload_requests_point() {
    let app = TestApp::spawn().await;
    let request = app
        .call(
            Method::POST,
            "/upload-requests",
            Some(serde_json::json!({
                "data": { "type": "upload_request", "attributes": { "filename": "a.png" } }
            })),
        )
        .await;
    let url = request.json()["data"]["attributes"]["url"].as_str().unwrap().to_owned();
    let (scheme, rest) = url.split_once("://").unwrap();
    let origin = format!("{scheme}://{}", rest.split('/').next().unwrap());
    let page = get(&app, "/ui").await;
    let csp = page.header("content-security-policy").unwrap();
    let connect = csp.split(';').map(str::trim).find(|d| d.starts_with("connect-src")).unwrap();
    assert!(connect.split_whitespace().any(|source| source == origin), "{origin} not in {connect}");
}
