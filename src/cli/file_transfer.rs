//! The file-moving half of [`CmaClient`]: the PUT to an upload URL streamed from disk, the
//! download of an asset URL streamed to disk with its md5, and the md5 of a local file. Never a
//! whole file in memory.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use futures_util::TryStreamExt;
use md5::{Digest, Md5};
use reqwest::{header, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::domain::encode_hex;

use super::cma_client::{backoff, ClientError, CmaClient, OnBytes, Streamed, UploadTarget, ATTEMPTS};

impl CmaClient {
    /// PUTs the file to the upload URL, streamed from disk with a fixed `Content-Length` (as the
    /// official client does; presigned S3 URLs need it). `on_bytes` sees every chunk sent; after a
    /// failed attempt it is called with the negative count to take them back.
    pub async fn put_file(
        &self,
        target: &UploadTarget,
        file: &Path,
        size: u64,
        on_bytes: &OnBytes,
    ) -> Result<(), ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let opened = tokio::fs::File::open(file)
                .await
                .map_err(|e| ClientError::Other(format!("cannot read {}: {e}", file.display())))?;
            let sent = Arc::new(AtomicI64::new(0));
            let (counter, report) = (sent.clone(), on_bytes.clone());
            let stream = ReaderStream::with_capacity(opened, 64 * 1024).inspect_ok(move |chunk| {
                counter.fetch_add(chunk.len() as i64, Ordering::Relaxed);
                report(chunk.len() as i64);
            });
            let mut request = self
                .http
                .put(&target.url)
                .header(header::CONTENT_LENGTH, size)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(reqwest::Body::wrap_stream(stream));
            for (name, value) in &target.headers {
                if !name.eq_ignore_ascii_case("content-type") && !name.eq_ignore_ascii_case("content-length") {
                    request = request.header(name, value);
                }
            }
            let outcome = request.send().await;
            let retry = match &outcome {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    response.status().is_server_error() || response.status() == StatusCode::TOO_MANY_REQUESTS
                }
                Err(_) => true,
            };
            on_bytes(-sent.load(Ordering::Relaxed));
            if retry && attempt < ATTEMPTS {
                match &outcome {
                    Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                        attempt -= 1;
                        self.wait_out_rate_limit(response.headers()).await;
                    }
                    _ => tokio::time::sleep(backoff(attempt)).await,
                }
                continue;
            }
            return Err(match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    self.api_error("sending the file", status, &body)
                }
                Err(error) => self.unreachable(&error),
            });
        }
    }

    /// Downloads `url` (an asset URL: no token) into `dest`, hashing while it streams; retries
    /// transient failures from the start.
    pub async fn download(&self, url: &str, dest: &Path, on_bytes: &OnBytes) -> Result<Streamed, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut written: i64 = 0;
            let outcome = self.download_once(url, dest, &mut written, on_bytes).await;
            match outcome {
                Ok(streamed) => return Ok(streamed),
                Err(DownloadError::RateLimited) => attempt -= 1,
                Err(DownloadError::Retry(reason)) if attempt < ATTEMPTS => {
                    tracing::debug!(url, %reason, attempt, "retrying the download");
                    on_bytes(-written);
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(DownloadError::Retry(reason)) => {
                    on_bytes(-written);
                    return Err(ClientError::Other(format!("downloading {url}: {reason}")));
                }
                Err(DownloadError::Fail(error)) => {
                    on_bytes(-written);
                    return Err(error);
                }
            }
        }
    }

    async fn download_once(
        &self,
        url: &str,
        dest: &Path,
        written: &mut i64,
        on_bytes: &OnBytes,
    ) -> Result<Streamed, DownloadError> {
        let response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(error) => return Err(DownloadError::Retry(error.to_string())),
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.wait_out_rate_limit(response.headers()).await;
            return Err(DownloadError::RateLimited);
        }
        if status.is_server_error() {
            return Err(DownloadError::Retry(format!("status {status}")));
        }
        if !status.is_success() {
            return Err(DownloadError::Fail(ClientError::Other(format!("downloading {url}: status {status}"))));
        }
        let local =
            |e: std::io::Error| DownloadError::Fail(ClientError::Other(format!("writing {}: {e}", dest.display())));
        let mut file = tokio::fs::File::create(dest).await.map_err(local)?;
        let mut hasher = Md5::new();
        let mut size = 0u64;
        let mut stream = response.bytes_stream();
        loop {
            let chunk = match stream.try_next().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(error) => return Err(DownloadError::Retry(error.to_string())),
            };
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(local)?;
            size += chunk.len() as u64;
            *written += chunk.len() as i64;
            on_bytes(chunk.len() as i64);
        }
        file.flush().await.map_err(local)?;
        file.sync_all().await.map_err(local)?;
        Ok(Streamed { size, md5: encode_hex(&hasher.finalize()) })
    }
}

enum DownloadError {
    /// Waited out; try again without counting an attempt.
    RateLimited,
    Retry(String),
    Fail(ClientError),
}

/// The md5 of a file, read in chunks on a blocking thread.
pub async fn file_md5(path: &Path) -> std::io::Result<Streamed> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Md5::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        Ok(Streamed { size, md5: encode_hex(&hasher.finalize()) })
    })
    .await
    .map_err(std::io::Error::other)?
}
