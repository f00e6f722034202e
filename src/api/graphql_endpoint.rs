//! `POST /graphql` (and `GET /graphql?query=…`): DatoCMS's Content Delivery API for uploads
//! ([`crate::graphql`]). A bearer token is needed (read-only ones suffice; upload-only ones are
//! refused), counted against the same per-token budget as the CMA. `X-Environment` must name this
//! environment; `X-Include-Drafts` and `X-Exclude-Invalid` are accepted (uploads have neither).
//! The body is read as JSON whatever its content type (`@datocms/cda-client` sends none). Every
//! answer is GraphQL's `{data, errors}`, with an ETag that `If-None-Match` is honoured against,
//! and CORS for browsers.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{RawQuery, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{guard::Credential, rate_limit::Decision, state::HttpEdge};
use crate::{
    app::App,
    domain::{token_secret_hash, TokenRole},
};

/// Largest request body (a query with its variables).
const MAX_BODY_BYTES: usize = 256 * 1024;

pub(super) async fn serve(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let method = request.method().clone();
    let mut response = match answer(&app, &http, &method, &headers, query.as_deref(), request.into_body()).await {
        Ok(response) => response,
        Err((status, message)) => error(status, &message),
    };
    cors(response.headers_mut());
    response
}

/// `OPTIONS /graphql`: browsers' preflight.
pub(super) async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors(headers);
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Authorization, Content-Type, Accept, X-Environment, X-Include-Drafts, X-Exclude-Invalid, \
             X-Visual-Editing, X-Base-Editing-Url, X-Cache-Tags, If-None-Match",
        ),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

type Refusal = (StatusCode, String);

async fn answer(
    app: &App,
    http: &HttpEdge,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> Result<Response, Refusal> {
    authorize(app, http, headers).await?;
    if let Some(environment) = headers.get("x-environment") {
        let name = environment.to_str().unwrap_or_default().trim();
        if name != app.config.environment {
            return Err((StatusCode::NOT_FOUND, format!("the only environment is {:?}", app.config.environment)));
        }
    }
    let request = match *method {
        Method::GET => request_from_query(query.unwrap_or_default())?,
        _ => {
            let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("the request body may have at most {MAX_BODY_BYTES} bytes"))
            })?;
            serde_json::from_slice::<async_graphql::Request>(&bytes)
                .map_err(|e| (StatusCode::BAD_REQUEST, format!("the body is not a GraphQL request: {e}")))?
        }
    };
    let answered = http.graphql.execute(request).await;
    let body = serde_json::to_vec(&answered).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let etag = format!("\"{}\"", hex_prefix(&Sha256::digest(&body)));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|c| c.trim() == etag || c.trim() == "*"));
    let mut response = if matches { StatusCode::NOT_MODIFIED.into_response() } else { Response::new(Body::from(body)) };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=0, must-revalidate"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Authorization, X-Environment"));
    Ok(response)
}

/// A bearer token of a role that reads (upload-only tokens add files and read nothing else
/// here), within the token's budget.
async fn authorize(app: &App, http: &HttpEdge, headers: &HeaderMap) -> Result<(), Refusal> {
    let secret = match Credential::of(headers) {
        Credential::Bearer(secret) => secret,
        Credential::Missing => return Err((StatusCode::UNAUTHORIZED, "missing Authorization: Bearer <token>".into())),
        Credential::Malformed => {
            return Err((StatusCode::UNAUTHORIZED, "the Authorization header must be Bearer <token>".into()))
        }
    };
    let hash = token_secret_hash(secret);
    if let Decision::Limited { reset_secs, .. } = http.rate_limiter.check(&hash) {
        return Err((StatusCode::TOO_MANY_REQUESTS, format!("too many requests: retry in {reset_secs} s")));
    }
    let token = http
        .tokens
        .token(&app.db, &hash)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, format!("cannot check the token: {e}")))?
        .ok_or_else(|| (StatusCode::UNAUTHORIZED, "unknown API token".to_owned()))?;
    if token.role == TokenRole::UploadOnly {
        return Err((StatusCode::FORBIDDEN, "an upload-only token cannot read through GraphQL".into()));
    }
    Ok(())
}

/// `?query=…&variables=…&operationName=…`.
fn request_from_query(query: &str) -> Result<async_graphql::Request, Refusal> {
    let (mut text, mut variables, mut operation) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "query" => text = Some(value.into_owned()),
            "variables" if !value.is_empty() => {
                let parsed: serde_json::Value = serde_json::from_str(&value)
                    .map_err(|e| (StatusCode::BAD_REQUEST, format!("variables is not JSON: {e}")))?;
                variables = Some(async_graphql::Variables::from_json(parsed));
            }
            "operationName" => operation = Some(value.into_owned()),
            _ => {}
        }
    }
    let text = text.ok_or_else(|| (StatusCode::BAD_REQUEST, "give the query as ?query=…".to_owned()))?;
    let mut request = async_graphql::Request::new(text);
    if let Some(variables) = variables {
        request = request.variables(variables);
    }
    if let Some(operation) = operation {
        request = request.operation_name(operation);
    }
    Ok(request)
}

/// A refusal in GraphQL's own shape.
fn error(status: StatusCode, message: &str) -> Response {
    let mut response = (status, axum::Json(json!({ "errors": [{ "message": message }] }))).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn cors(headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("ETag"));
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
