//! One delivery attempt: the signed POST, and what it got back. Never fails: a connection error
//! or a timeout is an attempt without a response status.

use std::{sync::OnceLock, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{Map, Value};

use super::{signature, WebhookSettings};
use crate::db::{WebhookCallRow, WebhookRow};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body the log keeps.
pub const RESPONSE_EXCERPT: usize = 4096;

/// The retry schedule: attempt `n` (1-based, within one send or resend) that failed is retried
/// after `base × 4^(n−1)` while `n < max_attempts`. With the defaults (45 s, 5 attempts) the
/// retries come after 45 s, 3 min, 12 min and 48 min: about an hour in all.
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub base_ms: u64,
    pub max_attempts: u32,
}

impl RetrySchedule {
    /// The delay before the attempt after attempt `attempt`, or `None` when it was the last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 4u64.saturating_pow(attempt.saturating_sub(1));
        Some(Duration::from_millis(self.base_ms.saturating_mul(factor)))
    }
}

/// What an attempt sent and got.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub request_headers: Map<String, Value>,
    pub body: String,
    pub response_status: Option<u16>,
    pub response_headers: Option<Map<String, Value>>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.response_status.is_some_and(|status| (200..300).contains(&status))
    }
}

/// One client for every delivery: no redirects (a 3xx is a failed attempt), the timeout above.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
                .user_agent(concat!("assetd-webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|error| format!("cannot build the HTTP client: {error}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The body sent for `call`: its recorded payload plus how many attempts were made before.
pub fn body_for(call: &WebhookCallRow) -> String {
    let mut payload: Value = serde_json::from_str(&call.payload).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Some(object) = payload.as_object_mut() {
        object.insert("attempted_auto_retries_count".into(), Value::from(call.attempts));
    }
    payload.to_string()
}

/// The headers of a delivery: custom headers first, then basic auth and assetd's own.
pub fn headers_for(webhook: &WebhookRow, call: &WebhookCallRow, body: &str, now_secs: i64) -> Map<String, Value> {
    let settings = WebhookSettings::from_row(webhook);
    let mut headers = Map::new();
    for (name, value) in &settings.headers {
        headers.insert(name.clone(), Value::from(value.as_str()));
    }
    if let Some(user) = &settings.http_basic_user {
        let password = settings.http_basic_password.as_deref().unwrap_or_default();
        let credentials = STANDARD.encode(format!("{user}:{password}"));
        headers.insert("Authorization".into(), Value::from(format!("Basic {credentials}")));
    }
    headers.insert("Content-Type".into(), Value::from("application/json"));
    headers.insert("X-Assetd-Webhook-Id".into(), Value::from(webhook.id.as_str()));
    headers.insert("X-Assetd-Delivery-Id".into(), Value::from(call.id.as_str()));
    headers.insert("X-Assetd-Event".into(), Value::from(format!("{}.{}", call.entity_type, call.event_type)));
    headers
        .insert("X-Assetd-Signature".into(), Value::from(signature::sign(&webhook.secret, now_secs, body.as_bytes())));
    headers
}

/// Sends `call` to `webhook` once.
pub async fn attempt(webhook: &WebhookRow, call: &WebhookCallRow, now_secs: i64) -> AttemptOutcome {
    let body = body_for(call);
    let request_headers = headers_for(webhook, call, &body, now_secs);
    let started = std::time::Instant::now();
    let mut outcome = AttemptOutcome {
        request_headers,
        body,
        response_status: None,
        response_headers: None,
        response_excerpt: None,
        error: None,
        duration_ms: 0,
    };
    match send(webhook, &outcome).await {
        Ok((status, headers, excerpt)) => {
            outcome.response_status = Some(status);
            outcome.response_headers = Some(headers);
            outcome.response_excerpt = Some(excerpt);
        }
        Err(error) => outcome.error = Some(error),
    }
    outcome.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    outcome
}

async fn send(webhook: &WebhookRow, outcome: &AttemptOutcome) -> Result<(u16, Map<String, Value>, String), String> {
    let mut request = client()?.post(&webhook.url).body(outcome.body.clone());
    for (name, value) in &outcome.request_headers {
        request = request.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let mut response = request.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.to_string(), Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned())))
        .collect();
    // Only the first few KiB are kept: read no more than that.
    let mut excerpt = Vec::new();
    while excerpt.len() < RESPONSE_EXCERPT {
        match tokio::time::timeout(TIMEOUT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                excerpt.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_EXCERPT - excerpt.len())])
            }
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        }
    }
    Ok((status, headers, String::from_utf8_lossy(&excerpt).into_owned()))
}

fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // The source chain names the cause (connection refused, DNS, TLS).
    let mut message = format!("{kind}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_about_an_hour() {
        let schedule = RetrySchedule { base_ms: 45_000, max_attempts: 5 };
        let delays: Vec<u64> = (1..=5).filter_map(|n| schedule.delay_after(n)).map(|d| d.as_secs()).collect();
        assert_eq!(delays, vec![45, 180, 720, 2880]);
        assert_eq!(delays.iter().sum::<u64>(), 3825);
        assert!(RetrySchedule { base_ms: 1, max_attempts: 1 }.delay_after(1).is_none());
    }
}
