//! Issue 6: limits for a server facing the internet: the per-client-address budget of asset URLs
//! and the direct PUT, body limits, header and idle timeouts on real sockets, signed transform
//! URLs and presets, and pixel-flood guards at ingest.

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    helpers::{fixture, TestApp, TestResponse},
    transforms::png_claiming,
};
use assetd::{api::server::PeerAddr, app::App, config::Config};

/// GETs an asset URL as if from `peer`.
async fn fetch_from(app: &TestApp, url: &str, peer: &str) -> TestResponse {
    let path = url.split_once("://").map(|(_, rest)| &rest[rest.find('/').unwrap()..]).unwrap();
    let mut request = Request::builder().uri(path).body(Body::empty()).unwrap();
    request.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
    app.send(request).await
}

fn assert_limited(response: &TestResponse, limit: &str) -> u64 {
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.error_code(), "RATE_LIMIT_EXCEEDED");
    assert_eq!(response.header("x-ratelimit-limit"), Some(limit));
    assert_eq!(response.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = response.header("x-ratelimit-reset").expect("reset header").parse().expect("whole seconds");
    assert!(reset >= 1);
    assert_eq!(response.header("retry-after"), Some(reset.to_string().as_str()));
    reset
}

#[tokio::test]
async fn asset_urls_are_limited_per_client_address_until_the_window_resets() {
    let app = TestApp::spawn_with(|c| {
        c.public_rate_limit = 3;
        c.rate_limit_window_secs = 1;
    })
    .await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();
    for _ in 0..3 {
        let response = fetch_from(&app, url, "203.0.113.7:4000").await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("x-ratelimit-limit"), None, "cacheable answers carry no per-client counters");
    }
    let reset = assert_limited(&fetch_from(&app, url, "203.0.113.7:4001").await, "3");
    assert_eq!(
        fetch_from(&app, url, "203.0.113.8:4000").await.status,
        StatusCode::OK,
        "another client has its own budget"
    );
    // The API's budget is separate (per token).
    assert_eq!(app.call(Method::GET, "/uploads", None).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(reset) + Duration::from_millis(100)).await;
    assert_eq!(
        fetch_from(&app, url, "203.0.113.7:4000").await.status,
        StatusCode::OK,
        "the budget is back after the reset"
    );
}

#[tokio::test]
async fn the_direct_put_is_limited_per_client_and_reports_its_budget() {
    let app = TestApp::spawn_with(|c| {
        c.public_rate_limit = 2;
        c.rate_limit_window_secs = 60;
    })
    .await;
    if app.uses_s3() {
        return; // with S3, clients PUT to the bucket, not to assetd
    }
    let request = json!({"data": {"type": "upload_request", "attributes": {"filename": "a.txt"}}});
    let response = app.call(Method::POST, "/upload-requests", Some(request)).await;
    let url = response.json()["data"]["attributes"]["url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/put/").unwrap()..];
    let put = |n: usize| {
        let mut request = Request::builder()
            .method(Method::PUT)
            .uri(path)
            .header(header::CONTENT_LENGTH, n)
            .body(Body::from(vec![b'x'; n]))
            .unwrap();
        request.extensions_mut().insert(PeerAddr("198.51.100.1:1".parse().unwrap()));
        app.send(request)
    };
    let first = put(3).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!((first.header("x-ratelimit-limit"), first.header("x-ratelimit-remaining")), (Some("2"), Some("1")));
    assert_eq!(put(4).await.status, StatusCode::OK);
    let reset = assert_limited(&put(5).await, "2");
    assert!(reset <= 60);
}

#[tokio::test]
async fn json_bodies_over_the_limit_get_413() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(3 * 1024 * 1024);
    let body = json!({"data": {"type": "upload_collection", "attributes": {"label": huge}}});
    let response = app.call(Method::POST, "/upload-collections", Some(body)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.error_code(), "REQUEST_ENTITY_TOO_LARGE");
    assert_eq!(app.call(Method::GET, "/upload-collections", None).await.json()["data"], json!([]));
}

/// A real server on a loopback port, for the connection-level limits.
async fn served(configure: impl FnOnce(&mut Config)) -> (std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path().to_path_buf());
    config.workers = 0;
    configure(&mut config);
    let app = App::build(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(assetd::serve::serve_on(app, listener, std::future::pending()));
    (address, dir)
}

/// Reads until the server closes the connection (or errors); the time it took and what was read.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), received),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
        }
    }
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let (address, _dir) = served(|c| {
        c.header_timeout_secs = 1;
        c.idle_timeout_secs = 2;
        c.api_token = Some(assetd::config::Secret::new("slow-client-token"));
    })
    .await;

    // A whole request is answered, and the kept-alive connection is closed once idle.
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (waited, answer) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert!(waited < Duration::from_secs(4), "idle keep-alive closed after the header timeout: {waited:?}");

    // Headers dripped slower than the header timeout: closed without an answer.
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let dripping = async {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), dripping).await;
    let (waited, answer) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert!(waited < Duration::from_secs(3), "{waited:?}");

    // A body that stalls (on a request that reads its body): closed after the idle timeout.
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = "POST /upload-collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer slow-client-token\r\n\
                Accept: application/json\r\nX-Api-Version: 3\r\nContent-Type: application/json\r\n\
                Content-Length: 1000\r\n\r\n{\"da";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (_, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6), "{waited:?}");
}

/// Sends `head` (a request line and headers, without the closing blank line) on a new connection;
/// the answer's first line, and whether the server then closed the connection.
async fn send_head(address: std::net::SocketAddr, head: &str) -> (String, bool) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    // The server may answer (and close) before it has read all of a large head.
    let _ = stream.write_all(format!("{head}\r\n").as_bytes()).await;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            // Kept alive: the answer is complete.
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&answer);
    (text.lines().next().unwrap_or_default().to_owned(), closed)
}

#[tokio::test]
async fn request_heads_over_64_kib_get_431() {
    let (address, _dir) = served(|c| c.header_timeout_secs = 10).await;
    let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    // hyper's read buffer cap let these through (issue 14): 70 KB in one header, and 66 KB
    // spread over 33 headers.
    let one = format!("{request}X-Big: {}\r\n", "a".repeat(70_000));
    let (status, closed) = send_head(address, &one).await;
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(closed, "the connection is closed after a 431");
    let many: String = (0..33).map(|n| format!("X-Part-{n:02}: {}\r\n", "b".repeat(2_000))).collect();
    let (status, _) = send_head(address, &format!("{request}{many}")).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    // The request line counts too: a 60 KB query and a 6 KB header.
    let long_target =
        format!("GET /healthz?{} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n", "q".repeat(60_000), "d".repeat(6_000));
    let (status, _) = send_head(address, &long_target).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    // Just under the cap is served (and the connection kept alive).
    let under = format!("{request}X-Big: {}\r\n", "c".repeat(64 * 1024 - 100));
    let (status, closed) = send_head(address, &under).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(!closed, "kept alive");
}

fn sign(secret: &str, path: &str, query: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{path}?{query}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

#[tokio::test]
async fn signed_urls_and_presets_bound_what_is_rendered() {
    const SECRET: &str = "transform-signing-secret";
    let app = TestApp::spawn_with(|c| {
        c.transform_secret = Some(assetd::config::Secret::new(SECRET));
        c.transform_presets = "thumb:w=20&h=10&fit=crop&fm=png".into();
    })
    .await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();
    let path = path_of(url);

    assert_eq!(app.fetch_asset(url, &[]).await.status, StatusCode::OK, "originals need no signature");
    let unsigned = app.fetch_asset(&format!("{url}?w=30"), &[]).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
    assert_eq!(unsigned.error_code(), "TRANSFORM_NOT_ALLOWED");

    let signed = app.fetch_asset(&format!("{url}?w=30&fm=png&s={}", sign(SECRET, path, "w=30&fm=png")), &[]).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&signed.bytes));
    assert_eq!(image::load_from_memory(&signed.bytes).unwrap().width(), 30);

    for forged in [
        format!("w=3000&fm=png&s={}", sign(SECRET, path, "w=30&fm=png")),
        format!("w=30&fm=png&s={}", sign("another-secret", path, "w=30&fm=png")),
        "w=30&s=nothex".to_owned(),
    ] {
        let response = app.fetch_asset(&format!("{url}?{forged}"), &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{forged}");
        assert_eq!(response.error_code(), "INVALID_SIGNATURE");
    }

    let preset = app.fetch_asset(&format!("{url}?preset=thumb"), &[]).await;
    assert_eq!(preset.status, StatusCode::OK);
    let image = image::load_from_memory(&preset.bytes).unwrap();
    assert_eq!((image.width(), image.height()), (20, 10));
    let unknown = app.fetch_asset(&format!("{url}?preset=huge"), &[]).await;
    assert_eq!((unknown.status, unknown.error_code()), (StatusCode::BAD_REQUEST, "INVALID_IMAGE_PARAMS".into()));
    let widened = app.fetch_asset(&format!("{url}?preset=thumb&w=4000"), &[]).await;
    assert_eq!(widened.status, StatusCode::FORBIDDEN, "unsigned URLs cannot add to a preset");
}

#[tokio::test]
async fn presets_only_mode_refuses_ad_hoc_transforms() {
    let app = TestApp::spawn_with(|c| {
        c.transform_presets = "small:w=16".into();
        c.transform_presets_only = true;
    })
    .await;
    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap();
    let response = app.fetch_asset(&format!("{url}?w=17"), &[]).await;
    assert_eq!((response.status, response.error_code()), (StatusCode::FORBIDDEN, "TRANSFORM_NOT_ALLOWED".into()));
    let small = app.fetch_asset(&format!("{url}?preset=small"), &[]).await;
    assert_eq!(small.status, StatusCode::OK);
    assert_eq!(image::load_from_memory(&small.bytes).unwrap().width(), 16);
    let s = app.fetch_asset(&format!("{url}?w=17&s=00"), &[]).await;
    assert_eq!(s.error_code(), "INVALID_SIGNATURE", "no secret: no signature is valid");
}

#[tokio::test]
async fn pixel_floods_are_stored_but_never_decoded() {
    let app = TestApp::spawn().await;
    // 30 000 × 30 000 claimed in a few hundred bytes: 900 megapixels, 2.7 GB decoded.
    let bomb = app.create_upload("bomb.png", &png_claiming(30_000, 30_000), json!({})).await;
    let a = &bomb["attributes"];
    assert_eq!((a["width"].clone(), a["height"].clone()), (json!(30_000), json!(30_000)));
    assert_eq!(a["blurhash"], json!(null), "placeholders are skipped, not computed");
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="200000" height="200000"><rect width="10" height="10"/></svg>"#;
    let huge_svg = app.create_upload("huge.svg", svg, json!({})).await;
    assert_eq!(huge_svg["attributes"]["thumbhash"], json!(null));
    let transform = app.fetch_asset(&format!("{}?w=10", bomb["attributes"]["url"].as_str().unwrap()), &[]).await;
    assert_eq!(transform.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(transform.error_code(), "IMAGE_TOO_LARGE");
}

/// The lead's probe (issue 14): a NUL character (which PostgreSQL's text cannot hold: a 500
/// there) and a query name nested thousands deep (a stack overflow that aborted the process,
/// no token needed on the direct PUT) get client errors on every backend and change nothing.
#[tokio::test]
async fn nul_characters_and_deeply_nested_query_names_get_client_errors() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({"notes": "kept"})).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();

    for (method, uri) in [(Method::GET, "/uploads/a%00b".to_owned()), (Method::DELETE, "/uploads/a%00b".to_owned())] {
        let response = app.call(method.clone(), &uri, None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{method} {uri}");
        assert_eq!(response.error_code(), "INVALID_REQUEST");
    }
    let asset = app.fetch_asset(&format!("{url}%00"), &[]).await;
    assert_eq!(asset.status, StatusCode::BAD_REQUEST);

    let listed = app.call(Method::GET, "/uploads?filter[fields][filename][matches]=a%00", None).await;
    assert_eq!(listed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(listed.error_code(), "INVALID_PARAMS");
    let deep = format!("/uploads?a{}=1", "[b]".repeat(5000));
    let listed = app.call(Method::GET, &deep, None).await;
    assert_eq!(listed.error_code(), "INVALID_PARAMS");

    let body = json!({"data": {"type": "upload", "id": id, "attributes": {"notes": "a\u{0}b"}}});
    let updated = app.call(Method::PUT, &format!("/uploads/{id}"), Some(body)).await;
    assert_eq!(updated.status, StatusCode::BAD_REQUEST);
    assert_eq!(updated.error_code(), "INVALID_JSON_BODY");
    assert_eq!(app.get_upload(&id).await["attributes"]["notes"], "kept");

    // The unauthenticated direct PUT parses its query too.
    let put = Request::builder()
        .method(Method::PUT)
        .uri(format!("/put/1/x.png?a{}=1", "[b]".repeat(5000)))
        .body(Body::from("x"))
        .unwrap();
    let put = app.send(put).await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(put.error_code(), "INVALID_PARAMS");
}
