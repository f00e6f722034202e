//! Item 3: the CMA transport. Tokens, headers, the error envelope for every failure, rate limits.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;

use crate::helpers::{TestApp, TOKEN};

fn list_request() -> axum::http::request::Builder {
    TestApp::cma(Method::GET, "/uploads")
}

/// `GET /uploads` with the client's headers but this `Authorization` value.
fn list_request_as(authorization: &str) -> axum::http::request::Builder {
    Request::get("/uploads")
        .header(header::AUTHORIZATION, authorization)
        .header(header::ACCEPT, "application/json")
        .header("x-api-version", "3")
}

#[tokio::test]
async fn a_valid_request_gets_json_and_rate_limit_headers() {
    let app = TestApp::spawn().await;
    let response = app.send(list_request().body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(response.header("x-ratelimit-limit"), Some("6000"));
    assert_eq!(response.header("x-ratelimit-remaining"), Some("5999"));
    assert_eq!(response.header("x-api-version"), Some("3"));
    assert_eq!(response.json(), json!({"data": [], "meta": {"total_count": 0}}));
}

#[tokio::test]
async fn header_and_token_failures_answer_the_envelope() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "no Authorization",
            Request::get("/uploads")
                .header("accept", "application/json")
                .header("x-api-version", "3")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_SITE",
        ),
        (
            "unknown token",
            list_request_as("Bearer nope-nope-nope").body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHORIZATION_HEADER",
        ),
        (
            "not a bearer token",
            list_request_as("Basic Zm9vOmJhcg==").body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHORIZATION_HEADER",
        ),
        (
            "the secret without its scheme",
            list_request_as(TOKEN).body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHORIZATION_HEADER",
        ),
        (
            "the scheme without a secret",
            list_request_as("Bearer").body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHORIZATION_HEADER",
        ),
        (
            "the secret after another scheme",
            list_request_as(&format!("Token {TOKEN}")).body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHORIZATION_HEADER",
        ),
        (
            "no X-Api-Version",
            Request::get("/uploads")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header("accept", "application/json")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_API_VERSION",
        ),
        (
            "X-Api-Version 2",
            Request::get("/uploads")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header("accept", "application/json")
                .header("x-api-version", "2")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_API_VERSION",
        ),
        (
            "no Accept",
            Request::get("/uploads")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header("x-api-version", "3")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_ACCEPTABLE,
            "INVALID_ACCEPT_HEADER",
        ),
        (
            "unknown environment",
            list_request().header("x-environment", "sandbox-1").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "INVALID_ENVIRONMENT",
        ),
        (
            "unknown route",
            TestApp::cma(Method::GET, "/nothing-here").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "INVALID_ENDPOINT",
        ),
        (
            "unknown method",
            TestApp::cma(Method::PATCH, "/uploads").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "INVALID_ENDPOINT",
        ),
        (
            "malformed JSON",
            TestApp::cma(Method::POST, "/upload-requests").body(Body::from("{\"data\": ")).unwrap(),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON_BODY",
        ),
        (
            "form body",
            Request::post("/upload-requests")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::ACCEPT, "application/json")
                .header("x-api-version", "3")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("a=b"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_CONTENT_TYPE_HEADER",
        ),
        (
            "wrong data.type",
            TestApp::cma(Method::POST, "/upload-requests")
                .body(Body::from(json!({"data": {"type": "item", "attributes": {}}}).to_string()))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_TYPE",
        ),
        (
            "no data",
            TestApp::cma(Method::POST, "/upload-requests")
                .body(Body::from(json!({"type": "upload_request"}).to_string()))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_FORMAT",
        ),
        (
            "extraneous attribute",
            TestApp::cma(Method::POST, "/upload-requests")
                .body(Body::from(
                    json!({"data": {"type": "upload_request", "attributes": {"filename": "a.png", "size": 3}}})
                        .to_string(),
                ))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_ATTRIBUTES",
        ),
        (
            "bad paging",
            TestApp::cma(Method::GET, "/uploads?page%5Blimit%5D=501").body(Body::empty()).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_PARAMS",
        ),
        (
            "path that does not decode",
            TestApp::cma(Method::GET, "/uploads/%FF%FE").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "unknown job",
            TestApp::cma(Method::GET, "/job-results/nope").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ];
    for (description, request, status, code) in cases {
        let response = app.send(request).await;
        assert_eq!(response.status, status, "{description}: {}", String::from_utf8_lossy(&response.bytes));
        assert_eq!(response.error_code(), code, "{description}");
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app.send(list_request_as(&format!("{scheme} {TOKEN}")).body(Body::empty()).unwrap()).await;
        assert_eq!(response.status, StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn cma_errors_still_carry_rate_limit_headers() {
    let app = TestApp::spawn().await;
    for uri in ["/nothing-here", "/uploads/x/y"] {
        let response = app.call(Method::GET, uri, None).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(response.error_code(), "INVALID_ENDPOINT", "{uri}");
        assert!(response.header("x-ratelimit-remaining").is_some(), "{uri}");
    }
    let response = app.call(Method::POST, "/healthz", None).await;
    assert_eq!(response.error_code(), "INVALID_ENDPOINT", "a public route with another method");
    let response = app.send(list_request_as("Bearer wrong-token").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert!(response.header("x-ratelimit-limit").is_some());
    assert!(response.header("x-ratelimit-remaining").is_some());
}

#[tokio::test]
async fn the_primary_environment_and_the_json_api_content_type_are_accepted() {
    let app = TestApp::spawn().await;
    let response = app.send(list_request().header("x-environment", "main").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, StatusCode::OK);
    let response = app
        .send(
            Request::post("/upload-requests")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header("x-api-version", "3")
                .header(header::CONTENT_TYPE, "application/vnd.api+json")
                .header(header::ACCEPT, "application/vnd.api+json")
                .body(Body::from(
                    json!({"data": {"type": "upload_request", "attributes": {"filename": "a.png"}}}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.header("content-type").unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn over_budget_tokens_get_429_with_a_reset() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limit = 3;
        config.rate_limit_window_secs = 60;
    })
    .await;
    for remaining in ["2", "1", "0"] {
        let response = app.send(list_request().body(Body::empty()).unwrap()).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("x-ratelimit-remaining"), Some(remaining));
    }
    let response = app.send(list_request().body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.error_code(), "RATE_LIMIT_EXCEEDED");
    let reset: u64 = response.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset), "reset {reset}");
    assert_eq!(response.header("x-ratelimit-remaining"), Some("0"));
    // Another credential has its own budget.
    let other = app.send(list_request_as("Bearer someone-else").body(Body::empty()).unwrap()).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_are_stored_hashed() {
    let app = TestApp::spawn().await;
    let rows = app.raw_text_rows("SELECT name, secret_sha256 FROM access_tokens").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], assetd::domain::token_secret_hash(TOKEN));
    assert_ne!(rows[0][1], TOKEN);
}

#[tokio::test]
async fn liveness_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn().await;
    let get = |uri: &'static str| Request::get(uri).body(Body::empty()).unwrap();
    let response = app.send(get("/healthz")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["status"], "ok");
    let response = app.send(get("/readyz")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["checks"], json!({"database": "ok", "storage": "ok"}));

    // Without its database the process is alive but not ready.
    app.app.db.close().await;
    assert_eq!(app.send(get("/healthz")).await.status, StatusCode::OK);
    let response = app.send(get("/readyz")).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.json()["status"], "unavailable");
    assert_eq!(response.json()["checks"], json!({"database": "unavailable", "storage": "ok"}));
}

#[tokio::test]
async fn the_database_is_migrated_and_sqlite_is_in_wal_mode() {
    let app = TestApp::spawn().await;
    let migrations = app.raw_text_rows("SELECT CAST(version AS TEXT) FROM _sqlx_migrations WHERE success").await;
    assert!(!migrations.is_empty(), "{migrations:?}");
    if app.app.db.dialect() == assetd::db::Dialect::Sqlite {
        assert_eq!(app.raw_text_rows("PRAGMA journal_mode").await, [["wal"]]);
    }
}
