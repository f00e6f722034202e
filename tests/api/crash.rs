//! The real binary on a real socket: start-up, the generated token, SIGKILL between the 202 and
//! the job's end, restart, and graceful shutdown.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{fixture, md5_hex},
    real_server::{free_port, Server},
};

#[tokio::test]
async fn a_job_answered_202_completes_after_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bytes = fixture("cat.png");
    // No worker: the job cannot run before the kill.
    let server = Server::start(dir.path(), port, 0).await;
    let job_id = server.start_upload(bytes.clone()).await;
    assert!(server.job_result(&job_id, Duration::from_millis(300)).await.is_none(), "no worker ran it");
    server.kill_9();

    let server = Server::start(dir.path(), port, 2).await;
    let result = server.job_result(&job_id, Duration::from_secs(20)).await.expect("the job finishes after restart");
    assert_eq!(result["data"]["attributes"]["status"], 200);
    let upload = &result["data"]["attributes"]["payload"]["data"];
    assert_eq!(upload["attributes"]["md5"], json!(md5_hex(&bytes)));
    assert_eq!(upload["attributes"]["tags"], json!(["durable"]));
    let served = server.http.get(upload["attributes"]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes, "the upload is whole");
}

#[tokio::test]
async fn a_kill_9_right_after_the_202_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bytes = fixture("cat.jpg");
    let server = Server::start(dir.path(), port, 4).await;
    let job_id = server.start_upload(bytes.clone()).await;
    server.kill_9();
    let server = Server::start(dir.path(), port, 4).await;
    // Either the job finished before the kill, or it runs now (a lease cut short waits out its 30 s).
    let result = server.job_result(&job_id, Duration::from_secs(45)).await.expect("the job finishes");
    assert_eq!(result["data"]["attributes"]["status"], 200);
    let upload = &result["data"]["attributes"]["payload"]["data"];
    let list: Value = server.cma(reqwest::Method::GET, "/uploads").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["meta"]["total_count"], 1, "exactly one upload");
    let served = server.http.get(upload["attributes"]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn first_start_without_a_token_prints_one_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::spawn(dir.path(), port, 1, None, Stdio::piped()).await;
    let pid = server.child.id();
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "assetd did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "graceful exit, got {exit:?}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(server.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let secret = stdout.rsplit(": ").next().unwrap().trim().to_owned();
    assert!(stdout.contains("API token") && secret.len() >= 32, "{stdout}");

    // The printed token works after a restart, and is not printed again.
    let server = Server::spawn(dir.path(), port, 1, None, Stdio::null()).await;
    let response = server
        .http
        .get(format!("{}/uploads", server.base))
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::ACCEPT, "application/json")
        .header("x-api-version", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
