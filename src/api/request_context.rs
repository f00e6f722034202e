//! The outermost layer of every request: a request id (the caller's `X-Request-Id` when it is a
//! sane one, else a new one), answered in `X-Request-Id` and carried by every log line of the
//! request; one access-log line per request; and the HTTP figures of `/metrics`.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};
use prometheus_client::metrics::gauge::Gauge;
use tracing::Instrument;

use crate::{
    app::App,
    metrics::{ResponseLabels, RouteLabels},
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The longest caller-supplied request id we keep.
const MAX_REQUEST_ID_LEN: usize = 128;
/// The route label of requests no route matched.
const UNMATCHED_ROUTE: &str = "unmatched";

/// The request's id, for handlers that want to mention it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn request_context(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = caller_request_id(request.headers()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED_ROUTE, |path| path.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let in_flight = InFlight::enter(&app.metrics.http.in_flight);
    let mut response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);
    let took = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let http = &app.metrics.http;
    http.duration
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(took.as_secs_f64());
    http.requests.get_or_create(&ResponseLabels { method, route, status }).inc();
    span.in_scope(|| {
        let latency_ms = took.as_secs_f64() * 1000.0;
        if response.status().is_server_error() {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
    });
    response
}

/// The caller's id when it is 1–128 visible ASCII characters (a proxy's or a client's), so that
/// logs across services line up; anything else is replaced.
fn caller_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty() && value.len() <= MAX_REQUEST_ID_LEN && value.bytes().all(|b| b.is_ascii_graphic());
    sane.then(|| value.to_owned())
}

/// Counts a request in flight until dropped, also when the client goes away mid-request.
struct InFlight(Gauge);

impl InFlight {
    fn enter(gauge: &Gauge) -> Self {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn keeps_sane_caller_ids_and_replaces_the_rest() {
        assert_eq!(caller_request_id(&with_id("abc-123_XYZ.9")).as_deref(), Some("abc-123_XYZ.9"));
        assert_eq!(caller_request_id(&with_id("has space")), None);
        assert_eq!(caller_request_id(&with_id(&"x".repeat(129))), None);
        assert_eq!(caller_request_id(&with_id(&"x".repeat(128))).map(|id| id.len()), Some(128));
        assert_eq!(caller_request_id(&HeaderMap::new()), None);
    }

    #[test]
    fn the_in_flight_gauge_drops_back_when_a_request_is_abandoned() {
        let gauge = Gauge::default();
        let first = InFlight::enter(&gauge);
        let second = InFlight::enter(&gauge);
        assert_eq!(gauge.get(), 2);
        drop(first);
        drop(second);
        assert_eq!(gauge.get(), 0);
    }
}
