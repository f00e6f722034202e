//! Issue 14, defect 5, against the real binary on a raw socket: a client that sends its whole body
//! before it reads (as Node's fetch does) gets the 413 (or 401) the server answered early, not a
//! broken pipe, because the server reads and discards the rest of the body before it answers and
//! closes. Bodies declared larger than the drain reads are still cut off, at once.

use std::{process::Stdio, time::Duration};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::real_server::{free_port, Server, SECRET};

/// 3 MB of JSON: over the 2 MiB limit of JSON bodies.
fn oversized_json() -> Vec<u8> {
    let notes = "x".repeat(3_000_000);
    serde_json::to_vec(&json!({"data": {"type": "upload", "id": "1", "attributes": {"notes": notes}}})).unwrap()
}

/// How the body goes on the wire.
#[derive(Clone, Copy)]
enum Framing {
    Length,
    Chunked,
}

/// Sends a whole request (head, then the body in 64 KiB writes) before reading anything, then
/// reads the answer to the end of the connection. A write the server refused (EPIPE, a reset)
/// is the defect, and fails the test.
async fn send_then_read(port: u16, head: &str, body: &[u8], framing: Framing) -> (u16, Value, String) {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let framing_header = match framing {
        Framing::Length => format!("content-length: {}\r\n", body.len()),
        Framing::Chunked => "transfer-encoding: chunked\r\n".to_owned(),
    };
    socket.write_all(format!("{head}host: 127.0.0.1\r\n{framing_header}\r\n").as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        let written = match framing {
            Framing::Length => socket.write_all(chunk).await,
            Framing::Chunked => {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(chunk);
                framed.extend_from_slice(b"\r\n");
                socket.write_all(&framed).await
            }
        };
        written.expect("the server takes the whole body before it closes");
    }
    if let Framing::Chunked = framing {
        socket.write_all(b"0\r\n\r\n").await.expect("the server takes the last chunk");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .expect("the answer arrives without a reset");
    parse(&answer)
}

/// Status, JSON body and the head of an HTTP/1.1 answer (not chunked: error envelopes have a length).
fn parse(answer: &[u8]) -> (u16, Value, String) {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, body, head.to_ascii_lowercase())
}

fn error_code(body: &Value) -> &str {
    body["data"][0]["attributes"]["code"].as_str().unwrap_or_default()
}

fn cma_head(method: &str, path: &str, authorization: Option<&str>) -> String {
    let authorization = authorization.map(|a| format!("authorization: {a}\r\n")).unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\n{authorization}accept: application/json\r\ncontent-type: application/json\r\nx-api-version: 3\r\n"
    )
}

async fn start(env: &[(&str, &str)]) -> (tempfile::TempDir, Server, u16) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let server = Server::spawn_with_env(dir.path(), port, 1, Some(SECRET), Stdio::null(), &env).await;
    (dir, server, port)
}

#[tokio::test]
async fn twenty_oversized_json_bodies_sent_whole_all_get_the_413_envelope() {
    let (_dir, _server, port) = start(&[]).await;
    let body = oversized_json();
    let head = cma_head("PUT", "/uploads/1", Some(&format!("Bearer {SECRET}")));
    for round in 0..20 {
        let framing = if round % 2 == 0 { Framing::Length } else { Framing::Chunked };
        let (status, answer, head) = send_then_read(port, &head, &body, framing).await;
        assert_eq!(status, 413, "round {round}: {answer}");
        assert_eq!(error_code(&answer), "REQUEST_ENTITY_TOO_LARGE", "round {round}");
        assert!(head.contains("connection: close"), "round {round}: {head}");
    }
}

#[tokio::test]
async fn a_refused_token_with_a_large_body_gets_its_401() {
    let (_dir, _server, port) = start(&[]).await;
    let body = oversized_json();
    for authorization in [None, Some(SECRET), Some("Bearer wrong")] {
        let (status, answer, _) =
            send_then_read(port, &cma_head("PUT", "/uploads/1", authorization), &body, Framing::Length).await;
        assert_eq!(status, 401, "{authorization:?}: {answer}");
    }
}

#[tokio::test]
async fn a_direct_put_over_the_size_limit_gets_413_whether_declared_or_chunked() {
    let (_dir, server, port) = start(&[("ASSETD_MAX_UPLOAD_SIZE", "1048576")]).await;
    let file = vec![7u8; 3 * 1024 * 1024];
    for framing in [Framing::Length, Framing::Chunked] {
        let (path, url) = server.upload_request("big.bin").await;
        let url = reqwest::Url::parse(&url).unwrap();
        let target = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let head = format!("PUT {target} HTTP/1.1\r\ncontent-type: application/octet-stream\r\n");
        let (status, answer, _) = send_then_read(port, &head, &file, framing).await;
        assert_eq!(status, 413, "{answer}");
        assert_eq!(error_code(&answer), "FILE_TOO_LARGE");
        // Nothing was kept: the path cannot make an upload.
        let created = server
            .cma(Method::POST, "/uploads")
            .json(&json!({"data": {"type": "upload", "attributes": {"path": path}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status().as_u16(), 422, "{}", created.text().await.unwrap());
    }
}

#[tokio::test]
async fn a_body_declared_beyond_what_the_drain_reads_is_answered_without_waiting_for_it() {
    let (_dir, _server, port) = start(&[]).await;
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = cma_head("PUT", "/uploads/1", Some(&format!("Bearer {SECRET}")));
    // 100 MB declared, 3 MB sent (past the 2 MiB the JSON limit reads), then the client reads:
    // the answer comes at once (no drain of the 97 MB left), and the connection closes. Writes
    // may fail once the server closed: this client reads anyway.
    socket.write_all(format!("{head}host: 127.0.0.1\r\ncontent-length: 100000000\r\n\r\n").as_bytes()).await.unwrap();
    for _ in 0..48 {
        if socket.write_all(&[b' '; 64 * 1024]).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server neither answered nor closed within 5 s");
    if !answer.is_empty() {
        let (status, body, _) = parse(&answer);
        assert_eq!(status, 413, "{body}");
    }
}
