//! Issue 14, defects 2 and 6: transforms are admitted against a memory budget, and one that waits
//! for its turn (or computes) longer than the idle timeout ends in its image or a 503 with
//! `Retry-After`, never in a dropped connection.

use std::{
    io::Cursor,
    process::Stdio,
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    helpers::{with_prefix_segment, TestApp},
    real_server::{free_port, Server, SECRET},
};

/// A `width` × `height` PNG of a gradient (compresses well, decodes like any photo).
fn gradient_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The environment of a real server on this run's backends (PostgreSQL + S3 when configured).
fn backend_env() -> Vec<(String, String)> {
    let mut env = vec![("ASSETD_RATE_LIMIT".to_owned(), "0".to_owned())];
    if let (Ok(url), Ok(storage_url)) =
        (std::env::var("ASSETD_TEST_DATABASE_URL"), std::env::var("ASSETD_TEST_STORAGE_URL"))
    {
        let prefix = std::env::var("ASSETD_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "assetd_test_".into());
        let unique = uuid::Uuid::new_v4().simple().to_string();
        env.push(("ASSETD_DATABASE_URL".into(), url));
        env.push(("ASSETD_DATABASE_SCHEMA".into(), format!("{prefix}{unique}")));
        env.push(("ASSETD_STORAGE_URL".into(), with_prefix_segment(&storage_url, &format!("admission-{unique}"))));
    }
    env
}

/// Uploads `bytes` to the real server; the upload's public URL.
async fn upload_url(server: &Server, bytes: Vec<u8>) -> String {
    let job = server.start_upload(bytes).await;
    let result = server.job_result(&job, Duration::from_secs(60)).await.expect("the upload job finishes");
    assert_eq!(result["data"]["attributes"]["status"], 200, "{result}");
    result["data"]["attributes"]["payload"]["data"]["attributes"]["url"].as_str().unwrap().to_owned()
}

/// The status, `Retry-After` and error code of a GET, or the transport error (a dropped
/// connection) as text.
async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, Option<String>, String), String> {
    let response = client.get(url).send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.map_err(|e| format!("{e:?}"))?;
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["data"][0]["attributes"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((status, retry_after, code))
}

#[tokio::test]
async fn transforms_waiting_or_computing_past_the_idle_timeout_get_an_answer_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = backend_env();
    for (key, value) in [
        ("ASSETD_IDLE_TIMEOUT", "1"),
        ("ASSETD_TRANSFORM_CONCURRENCY", "1"),
        ("ASSETD_TRANSFORM_TIMEOUT", "4"),
        ("ASSETD_TRANSFORM_QUEUE_WAIT", "2"),
    ] {
        env.push((key.into(), value.into()));
    }
    // Made before the server starts: on a loaded machine encoding it outlasts the 1 s idle
    // timeout, which would close the client's pooled connection under its next request.
    let png = gradient_png(2000, 2000);
    let server = Server::spawn_with_env(dir.path(), free_port(), 1, Some(SECRET), Stdio::null(), &env).await;
    let url = upload_url(&server, png).await;
    let client = reqwest::Client::new();

    // Computes until the 4 s transform timeout (a blur of sigma 100 over 4 MP): 4× the idle timeout.
    let slow = format!("{url}?w=2000&h=2000&fit=scale&blur=2000&fm=png");
    // Queued behind it: waits for the only slot until the 2 s queue limit, 2× the idle timeout.
    let queued = format!("{url}?w=300&fm=png");
    let started = Instant::now();
    let (slow, queued) = tokio::join!(get(&client, &slow), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let asked = Instant::now();
        (get(&client, &queued).await, asked.elapsed())
    });
    let (queued, waited) = queued;

    let slow = slow.expect("the computing transform is answered, not dropped");
    assert!(started.elapsed() > Duration::from_secs(1), "it outlived the idle timeout");
    match slow {
        (200, _, _) => {}
        (503, Some(_), code) => assert_eq!(code, "TRANSFORM_TIMEOUT"),
        other => panic!("the slow transform answered {other:?}"),
    }
    let queued = queued.expect("the queued transform is answered, not dropped");
    match queued {
        (200, _, _) => {}
        (503, Some(retry_after), code) => {
            assert_eq!(code, "SERVICE_UNAVAILABLE");
            assert!(retry_after.parse::<u64>().unwrap() >= 1, "{retry_after}");
            assert!(waited >= Duration::from_millis(1900), "answered at the queue limit, after {waited:?}");
        }
        other => panic!("the queued transform answered {other:?}"),
    }
    assert!(waited > Duration::from_secs(1), "it waited longer than the idle timeout: {waited:?}");

    // Once the slot is free the same URL renders.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _) = get(&client, &format!("{url}?w=300&fm=png")).await.expect("answered");
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A body that stalls is still cut by the idle timeout.
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /upload-collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\nAccept: application/json\r\n\
         X-Api-Version: 3\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"da"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let stalled = Instant::now();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the stalled body's connection stayed open");
    assert!(stalled.elapsed() < Duration::from_secs(5), "{:?}", stalled.elapsed());
}

#[tokio::test]
async fn a_small_memory_budget_makes_large_transforms_wait_their_turn_while_small_ones_render() {
    // 48 MiB: a 2000 × 2000 lossless WebP is estimated far above it (it runs alone, holding the
    // whole budget); a 64 px JPEG thumbnail well below.
    let app = TestApp::spawn_with(|c| {
        c.transform_memory_mib = 48;
        c.transform_concurrency = 4;
        c.transform_queue_wait_secs = 1;
        c.transform_timeout_secs = 30;
    })
    .await;
    let upload = app.create_upload("big.png", &gradient_png(2000, 2000), json!({})).await;
    let url = upload["attributes"]["url"].as_str().unwrap().to_owned();
    let large: Vec<String> = (0..6).map(|n| format!("{url}?w={}&fm=webp&lossless=1&blur=40", 2000 - n)).collect();

    let started = Instant::now();
    let answers = futures_util::future::join_all(large.iter().map(|u| app.fetch_asset(u, &[]))).await;
    let elapsed = started.elapsed();
    let mut rendered = 0;
    for (query, answer) in large.iter().zip(&answers) {
        match answer.status {
            StatusCode::OK => rendered += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(answer.error_code(), "SERVICE_UNAVAILABLE", "{query}");
                assert!(answer.header("retry-after").is_some(), "{query}: 503 without Retry-After");
            }
            other => panic!("{query}: {other} {}", String::from_utf8_lossy(&answer.bytes)),
        }
    }
    assert!(rendered >= 1, "the first large transform renders");
    // One at a time: the answers that waited were refused at the 1 s limit, or rendered in turn.
    let each = elapsed / rendered.max(1) as u32;
    assert!(
        rendered == 6 || elapsed >= Duration::from_millis(900),
        "{rendered} rendered in {elapsed:?} ({each:?} each)"
    );

    // With the budget free, a small transform renders at once, also while a large one runs.
    let small = app.fetch_asset(&format!("{url}?w=64&fm=jpg"), &[]).await;
    assert_eq!(small.status, StatusCode::OK);
    let (large_url, small_url) = (format!("{url}?w=1990&fm=webp&lossless=1"), format!("{url}?w=63&fm=jpg"));
    let (large, small) = tokio::join!(app.fetch_asset(&large_url, &[]), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.fetch_asset(&small_url, &[]).await
    });
    assert!(matches!(large.status.as_u16(), 200 | 503), "{}", large.status);
    assert!(matches!(small.status.as_u16(), 200 | 503), "{}", small.status);
}
