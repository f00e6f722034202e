//! The real binary on a real socket: start-up, the generated token, SIGKILL between the 202 and
//! the job's end, restart, and graceful shutdown.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, md5_hex};

const SECRET: &str = "crash-test-token";

struct Server {
    child: Child,
    base: String,
    http: Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts the binary with the configured token and waits until it is healthy.
    async fn start(data_dir: &Path, port: u16, workers: usize) -> Server {
        Self::spawn(data_dir, port, workers, Some(SECRET), Stdio::null()).await
    }

    async fn spawn(data_dir: &Path, port: u16, workers: usize, token: Option<&str>, stdout: Stdio) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_assetd"));
        command
            .arg("serve")
            .env("ASSETD_LISTEN", format!("127.0.0.1:{port}"))
            .env("ASSETD_DATA_DIR", data_dir)
            .env("ASSETD_WORKERS", workers.to_string())
            .env("RUST_LOG", "warn")
            .stdout(stdout);
        match token {
            Some(token) => command.env("ASSETD_API_TOKEN", token),
            None => command.env_remove("ASSETD_API_TOKEN"),
        };
        let child = command.spawn().expect("the assetd binary starts");
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), http: Client::new() };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(response) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("assetd did not become healthy");
    }

    fn cma(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-version", "3")
    }

    /// Upload request + PUT + POST /uploads; returns the job id of the 202.
    async fn start_upload(&self, bytes: Vec<u8>) -> String {
        let request: Value = self
            .cma(reqwest::Method::POST, "/upload-requests")
            .json(&json!({"data": {"type": "upload_request", "attributes": {"filename": "cat.png"}}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = request["data"]["attributes"]["url"].as_str().unwrap();
        let put = self.http.put(url).body(bytes).send().await.unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let created = self
            .cma(reqwest::Method::POST, "/uploads")
            .json(&json!({"data": {"type": "upload", "attributes": {"path": request["data"]["id"], "tags": ["durable"]}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::ACCEPTED);
        let body: Value = created.json().await.unwrap();
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn job_result(&self, job_id: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let response = self.cma(reqwest::Method::GET, &format!("/job-results/{job_id}")).send().await.unwrap();
            if response.status() == StatusCode::OK {
                return Some(response.json().await.unwrap());
            }
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
