//! A small client for a running assetd's CMA, speaking it as the official client does: a bearer
//! token, `X-Api-Version: 3`, JSON:API bodies. It waits out 429s (`X-RateLimit-Reset`), retries
//! transient failures (5xx, `transient` errors, connection errors) with backoff, polls job results,
//! and streams files up and down ([`super::file_transfer`]: never a whole file in memory).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use reqwest::{header, Method, StatusCode};
use serde_json::{json, Map, Value};

/// Attempts per request (and per file transfer) when the failure may pass (5xx, connection errors); 429s do not count.
pub(super) const ATTEMPTS: u32 = 5;
/// Longest wait for one job result before giving up on it.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for a 429 we honour; longer resets are capped.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Called with every chunk's byte count as it goes over the wire (negative: taken back after a
/// failed attempt), for progress bars.
pub type OnBytes = Arc<dyn Fn(i64) + Send + Sync>;

/// What went wrong talking to the server, phrased for a one-line message.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the server at {base}: {reason}")]
    Unreachable { base: String, reason: String },
    #[error("the server at {base} rejected the API token ({code}): check --token or ASSETD_API_TOKEN")]
    BadToken { base: String, code: String },
    #[error("the API token may not do this ({code}{details})")]
    Forbidden { code: String, details: String },
    #[error("{what}: {status} {code}{details}")]
    Api { what: String, status: u16, code: String, details: String },
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// Errors after which no other request can succeed either (the server is gone, the token is
    /// refused or lacks the role): stop the whole run.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. } | ClientError::BadToken { .. } | ClientError::Forbidden { .. })
    }
}

/// Where `POST /upload-requests` said to PUT a file.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// The upload request's id, sent as `path` when creating the upload.
    pub path: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Bytes and md5 of a file that was streamed through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub size: u64,
    pub md5: String,
}

#[derive(Clone)]
pub struct CmaClient {
    pub(super) http: reqwest::Client,
    base: String,
    token: String,
    /// How many 429s were waited out (shared by clones), for the summary.
    rate_limited: Arc<AtomicU64>,
}

impl CmaClient {
    pub fn new(base: &str, token: &str) -> Result<CmaClient, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        let parsed =
            reqwest::Url::parse(&base).map_err(|e| ClientError::Other(format!("invalid --url {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::Other(format!("invalid --url {base:?}: it must start with http:// or https://")));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("assetd-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(CmaClient { http, base, token: token.to_owned(), rate_limited: Arc::default() })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// How many times a 429 made this client wait.
    pub fn rate_limit_waits(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    pub(super) async fn wait_out_rate_limit(&self, headers: &header::HeaderMap) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(rate_limit_wait(headers)).await;
    }

    /// One CMA call with the retries described in the module doc; answers every status that is
    /// not worth retrying, with its JSON body (`null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("X-Api-Version", "3")
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, "application/vnd.api+json")
                .timeout(Duration::from_secs(60))
                .query(query);
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) if attempt < ATTEMPTS => {
                    tracing::debug!(%error, path, attempt, "retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(error) => return Err(self.unreachable(&error)),
            };
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                // Like the official client: wait as long as the server says, without a limit on tries.
                attempt -= 1;
                self.wait_out_rate_limit(response.headers()).await;
                continue;
            }
            let text = match response.text().await {
                Ok(text) => text,
                Err(error) if attempt < ATTEMPTS => {
                    tracing::debug!(%error, path, attempt, "retrying after a broken answer");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(error) => return Err(self.unreachable(&error)),
            };
            let value =
                if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
            if (status.is_server_error() || is_transient(&value)) && attempt < ATTEMPTS {
                tracing::debug!(%status, path, attempt, "retrying");
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Ok((status, value));
        }
    }

    /// A call that must answer 2xx; anything else becomes a [`ClientError`] naming `what`.
    async fn call_ok(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let (status, value) = self.call(method, path, query, body).await?;
        if status.is_success() {
            Ok((status, value))
        } else {
            Err(self.api_error(what, status.as_u16(), &value))
        }
    }

    pub(super) fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            reason = inner.to_string();
            source = inner.source();
        }
        ClientError::Unreachable { base: self.base.clone(), reason }
    }

    /// The CMA error envelope (spec §1.8) as one of our errors.
    pub(super) fn api_error(&self, what: &str, status: u16, body: &Value) -> ClientError {
        let attributes = &body["data"][0]["attributes"];
        let code = attributes["code"].as_str().unwrap_or("(no error code)").to_owned();
        let details = match &attributes["details"] {
            Value::Object(map) if !map.is_empty() => format!(" {}", Value::Object(map.clone())),
            _ => String::new(),
        };
        match status {
            401 => ClientError::BadToken { base: self.base.clone(), code },
            403 if code == "INSUFFICIENT_PERMISSIONS" => ClientError::Forbidden { code, details },
            _ => ClientError::Api { what: what.to_owned(), status, code, details },
        }
    }

    /// Checks the address and the token with the cheapest authenticated call; answers how many
    /// uploads the server holds.
    pub async fn check_access(&self) -> Result<u64, ClientError> {
        let (_, page) = self.list_uploads_page(&[], 0, 0).await?;
        Ok(page)
    }

    /// One page of `GET /uploads` (oldest first, so that uploads added meanwhile come last) and
    /// `meta.total_count`.
    pub async fn list_uploads_page(
        &self,
        filter: &[(&str, String)],
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64), ClientError> {
        let mut query: Vec<(&str, String)> = filter.to_vec();
        query.push(("order_by", "_created_at_ASC".into()));
        query.push(("page[offset]", offset.to_string()));
        query.push(("page[limit]", limit.to_string()));
        let (_, body) = self.call_ok("listing uploads", Method::GET, "/uploads", &query, None).await?;
        let total = body["meta"]["total_count"].as_u64().unwrap_or(0);
        let data = body["data"].as_array().cloned().unwrap_or_default();
        Ok((data, total))
    }

    /// An upload with exactly these bytes, if the server has one (`filter[fields][md5][eq]`).
    pub async fn find_by_md5(&self, md5: &str) -> Result<Option<Value>, ClientError> {
        let (mut data, _) = self.list_uploads_page(&[("filter[fields][md5][eq]", md5.to_owned())], 0, 1).await?;
        Ok(data.pop())
    }

    pub async fn list_collections(&self) -> Result<Vec<Value>, ClientError> {
        let (_, body) = self.call_ok("listing collections", Method::GET, "/upload-collections", &[], None).await?;
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }

    pub async fn find_collection(&self, id: &str) -> Result<Option<Value>, ClientError> {
        let (status, body) = self.call(Method::GET, &format!("/upload-collections/{id}"), &[], None).await?;
        match status {
            StatusCode::OK => Ok(Some(body["data"].clone())),
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => Ok(None),
            other => Err(self.api_error("reading the collection", other.as_u16(), &body)),
        }
    }

    /// Creates a collection under `parent` (appended last); answers its id.
    pub async fn create_collection(&self, label: &str, parent: Option<&str>) -> Result<String, ClientError> {
        let parent = parent.map_or(Value::Null, |id| json!({ "type": "upload_collection", "id": id }));
        let body = json!({ "data": { "type": "upload_collection", "attributes": { "label": label },
                                     "relationships": { "parent": { "data": parent } } } });
        let (_, answer) =
            self.call_ok("creating a collection", Method::POST, "/upload-collections", &[], Some(&body)).await?;
        answer["data"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Other("the collection answer has no id".into()))
    }

    /// `POST /upload-requests`: where to PUT a file named `filename`.
    pub async fn request_upload(&self, filename: &str) -> Result<UploadTarget, ClientError> {
        let body = json!({ "data": { "type": "upload_request", "attributes": { "filename": filename } } });
        let (_, answer) =
            self.call_ok("requesting an upload URL", Method::POST, "/upload-requests", &[], Some(&body)).await?;
        let data = &answer["data"];
        let (Some(path), Some(url)) = (data["id"].as_str(), data["attributes"]["url"].as_str()) else {
            return Err(ClientError::Other("the upload request answer has no id or url".into()));
        };
        let headers = data["attributes"]["request_headers"]
            .as_object()
            .map(|map| map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();
        Ok(UploadTarget { path: path.to_owned(), url: url.to_owned(), headers })
    }

    /// `POST /uploads` and, when it answers a job (202), its result: the created upload.
    pub async fn create_upload(
        &self,
        attributes: Map<String, Value>,
        relationships: Map<String, Value>,
    ) -> Result<Value, ClientError> {
        let mut data = json!({ "type": "upload", "attributes": attributes });
        if !relationships.is_empty() {
            data["relationships"] = Value::Object(relationships);
        }
        let body = json!({ "data": data });
        let (status, answer) = self.call_ok("creating the upload", Method::POST, "/uploads", &[], Some(&body)).await?;
        if status == StatusCode::ACCEPTED {
            let job = answer["data"]["id"]
                .as_str()
                .ok_or_else(|| ClientError::Other("the 202 answer names no job".into()))?;
            self.job_result("creating the upload", job).await
        } else {
            Ok(answer)
        }
    }

    /// Polls `GET /job-results/{id}` (404 while it runs) and answers the job's payload, or the
    /// error it finished with.
    pub async fn job_result(&self, what: &str, job: &str) -> Result<Value, ClientError> {
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(50);
        loop {
            let (status, body) = self.call(Method::GET, &format!("/job-results/{job}"), &[], None).await?;
            match status {
                StatusCode::OK => {
                    let attributes = &body["data"]["attributes"];
                    let job_status = attributes["status"].as_u64().unwrap_or(0) as u16;
                    let payload = attributes["payload"].clone();
                    return if (200..300).contains(&job_status) {
                        Ok(payload)
                    } else {
                        Err(self.api_error(what, job_status, &payload))
                    };
                }
                StatusCode::NOT_FOUND if started.elapsed() < JOB_TIMEOUT => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 3 / 2).min(Duration::from_secs(2));
                }
                StatusCode::NOT_FOUND => {
                    return Err(ClientError::Other(format!("{what}: job {job} did not finish within {JOB_TIMEOUT:?}")))
                }
                other => return Err(self.api_error(what, other.as_u16(), &body)),
            }
        }
    }
}

pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(6))
}

/// How long a 429 says to wait: `X-RateLimit-Reset` (seconds), else `Retry-After`, else 1 s.
pub(super) fn rate_limit_wait(headers: &header::HeaderMap) -> Duration {
    let seconds = ["x-ratelimit-reset", "retry-after"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok()?.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    Duration::from_secs(seconds).min(MAX_RATE_LIMIT_WAIT)
}

/// Whether a CMA error document says the client may simply retry (spec §1.9).
fn is_transient(body: &Value) -> bool {
    body["data"].as_array().is_some_and(|errors| errors.iter().any(|e| e["attributes"]["transient"] == json!(true)))
}

#[cfg(test)]
#[path = "cma_client_tests.rs"]
mod tests;
