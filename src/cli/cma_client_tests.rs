//! Tests of the CLI's HTTP client: header parsing, and retries against a scripted local server.

use super::*;

#[test]
fn rate_limit_wait_reads_the_reset_header() {
    let mut headers = header::HeaderMap::new();
    assert_eq!(rate_limit_wait(&headers), Duration::from_secs(1));
    headers.insert("retry-after", "4".parse().unwrap());
    assert_eq!(rate_limit_wait(&headers), Duration::from_secs(4));
    headers.insert("x-ratelimit-reset", "2".parse().unwrap());
    assert_eq!(rate_limit_wait(&headers), Duration::from_secs(2));
    headers.insert("x-ratelimit-reset", "100000".parse().unwrap());
    assert_eq!(rate_limit_wait(&headers), MAX_RATE_LIMIT_WAIT);
}

#[test]
fn transient_errors_are_recognised() {
    let transient = json!({"data": [{"type": "api_error", "attributes": {"code": "X", "transient": true}}]});
    let permanent = json!({"data": [{"type": "api_error", "attributes": {"code": "X"}}]});
    assert!(is_transient(&transient));
    assert!(!is_transient(&permanent));
    assert!(!is_transient(&Value::Null));
}

/// A scripted answer: status, headers, JSON body.
type Answer = (u16, Vec<(&'static str, &'static str)>, Value);

/// A server answering `/uploads` from a script of (status, headers, body), one per request.
async fn scripted(answers: Vec<Answer>) -> (String, Arc<AtomicU64>) {
    use axum::{http::StatusCode as Status, response::IntoResponse, routing::get, Router};
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let answers = Arc::new(answers);
    let app = Router::new().route(
        "/uploads",
        get(move || {
            let (counter, answers) = (counter.clone(), answers.clone());
            async move {
                let index = counter.fetch_add(1, Ordering::SeqCst) as usize;
                let (status, headers, body) = answers[index.min(answers.len() - 1)].clone();
                let mut response = (Status::from_u16(status).unwrap(), axum::Json(body)).into_response();
                for (name, value) in headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, served)
}

fn page(total: u64) -> Value {
    json!({"data": [], "meta": {"total_count": total}})
}

#[tokio::test]
async fn server_errors_and_429s_are_retried_until_an_answer_comes() {
    let transient = json!({"data": [{"type": "api_error", "attributes": {"code": "BUSY", "transient": true}}]});
    let (base, served) = scripted(vec![
        (503, vec![], Value::Null),
        (429, vec![("x-ratelimit-reset", "1")], Value::Null),
        (409, vec![], transient),
        (200, vec![], page(7)),
    ])
    .await;
    let client = CmaClient::new(&base, "secret").unwrap();
    assert_eq!(client.check_access().await.unwrap(), 7);
    assert_eq!(served.load(Ordering::SeqCst), 4, "every failure was retried");
    assert_eq!(client.rate_limit_waits(), 1);
}

#[tokio::test]
async fn a_rejected_token_and_a_lasting_failure_are_reported_not_retried_forever() {
    let invalid =
        json!({"data": [{"type": "api_error", "attributes": {"code": "INVALID_AUTHORIZATION_HEADER", "details": {}}}]});
    let (base, served) = scripted(vec![(401, vec![], invalid)]).await;
    let error = CmaClient::new(&base, "wrong").unwrap().check_access().await.unwrap_err();
    assert!(matches!(error, ClientError::BadToken { .. }) && error.is_fatal(), "{error}");
    assert_eq!(served.load(Ordering::SeqCst), 1, "a 401 is not retried");

    let (base, served) = scripted(vec![(500, vec![], Value::Null)]).await;
    let error = CmaClient::new(&base, "secret").unwrap().check_access().await.unwrap_err();
    assert!(error.to_string().contains("500"), "{error}");
    assert_eq!(served.load(Ordering::SeqCst), u64::from(ATTEMPTS));
}

#[test]
fn urls_must_be_http() {
    assert!(CmaClient::new("ftp://x", "t").is_err());
    assert!(CmaClient::new("not a url", "t").is_err());
    assert_eq!(CmaClient::new("http://127.0.0.1:3000/", "t").unwrap().base(), "http://127.0.0.1:3000");
}
