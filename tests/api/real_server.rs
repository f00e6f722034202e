//! The real `assetd` binary on a real socket, for tests that kill it: start (waiting until
//! healthy), CMA requests, SIGKILL, and a kill on drop so a failing test leaves no process behind.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};

pub const SECRET: &str = "crash-test-token";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub http: Client,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts the binary with the configured token and waits until it is healthy.
    pub async fn start(data_dir: &Path, port: u16, workers: usize) -> Server {
        Self::spawn(data_dir, port, workers, Some(SECRET), Stdio::null()).await
    }

    pub async fn spawn(data_dir: &Path, port: u16, workers: usize, token: Option<&str>, stdout: Stdio) -> Server {
        Self::spawn_with_env(data_dir, port, workers, token, stdout, &[]).await
    }

    /// Like [`Server::spawn`] with more environment variables (later ones win).
    pub async fn spawn_with_env(
        data_dir: &Path,
        port: u16,
        workers: usize,
        token: Option<&str>,
        stdout: Stdio,
        env: &[(String, String)],
    ) -> Server {
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
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let child = command.spawn().expect("the assetd binary starts");
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), http: Client::new() };
        server.wait_healthy().await;
        server
    }

    pub async fn wait_healthy(&self) {
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

    pub fn cma(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-version", "3")
    }

    /// `POST /upload-requests`: the path and the URL to PUT to.
    pub async fn upload_request(&self, filename: &str) -> (String, String) {
        let body = json!({"data": {"type": "upload_request", "attributes": {"filename": filename}}});
        let response = self.cma(reqwest::Method::POST, "/upload-requests").json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let request: Value = response.json().await.unwrap();
        let path = request["data"]["id"].as_str().unwrap().to_owned();
        (path, request["data"]["attributes"]["url"].as_str().unwrap().to_owned())
    }

    /// Upload request + PUT + POST /uploads; returns the job id of the 202.
    pub async fn start_upload(&self, bytes: Vec<u8>) -> String {
        let (path, url) = self.upload_request("cat.png").await;
        let put = self.http.put(url).body(bytes).send().await.unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let created = self
            .cma(reqwest::Method::POST, "/uploads")
            .json(&json!({"data": {"type": "upload", "attributes": {"path": path, "tags": ["durable"]}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::ACCEPTED);
        let body: Value = created.json().await.unwrap();
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn job_result(&self, job_id: &str, timeout: Duration) -> Option<Value> {
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

    pub fn kill_9(mut self) {
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
