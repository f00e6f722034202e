//! The checks every CMA request passes before its handler (spec §1.2): rate limit, `Accept`,
//! bearer token, `X-Api-Version: 3`, `X-Environment`, then the token's role. Also sets the headers every CMA response carries.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{extract::Caller, permissions, rate_limit::Decision};
use crate::{app::App, domain::CmaError};

pub(super) async fn cma_guard(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let secret_hash = bearer_secret(request.headers()).map(sha256_hex);
    let bucket = secret_hash.clone().unwrap_or_else(|| "anonymous".to_owned());
    let decision = app.rate_limiter.check(&bucket);
    let mut response = match decision {
        Decision::Limited { reset_secs, .. } => {
            let mut error = CmaError::new(429, "RATE_LIMIT_EXCEEDED", json!({}));
            error.retry_after_secs = Some(reset_secs);
            error.into_response()
        }
        Decision::Allowed { .. } => match admit(&app, Asked::of(&request), secret_hash.as_deref()).await {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
            Err(error) => error.into_response(),
        },
    };
    let headers = response.headers_mut();
    let (limit, remaining) = match decision {
        Decision::Allowed { limit, remaining } => (limit, remaining),
        Decision::Limited { limit, .. } => (limit, 0),
    };
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-api-version", HeaderValue::from_static("3"));
    if let Ok(environment) = HeaderValue::from_str(&app.config.environment) {
        headers.insert("x-environment", environment);
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("max-age=0, private, must-revalidate"));
    response
}

/// What the guard looks at (not the whole request: its body is not `Sync`).
struct Asked<'a> {
    headers: &'a HeaderMap,
    method: &'a Method,
    path: &'a str,
}

impl<'a> Asked<'a> {
    fn of(request: &'a Request) -> Self {
        Asked { headers: request.headers(), method: request.method(), path: request.uri().path() }
    }
}

async fn admit(app: &App, asked: Asked<'_>, secret_hash: Option<&str>) -> Result<Caller, CmaError> {
    let headers = asked.headers;
    if !accepts_json(headers) {
        return Err(CmaError::new(406, "INVALID_ACCEPT_HEADER", json!({ "message": "send Accept: application/json" })));
    }
    let Some(secret_hash) = secret_hash else {
        return Err(CmaError::new(401, "INVALID_SITE", json!({ "message": "missing Authorization: Bearer <token>" })));
    };
    let Some(token) = app.tokens.token(&app.db, secret_hash).await? else {
        return Err(CmaError::new(401, "INVALID_AUTHORIZATION_HEADER", json!({ "message": "unknown API token" })));
    };
    if headers.get("x-api-version").and_then(|v| v.to_str().ok()).map(str::trim) != Some("3") {
        return Err(CmaError::new(
            422,
            "INVALID_API_VERSION",
            json!({ "message": "send X-Api-Version: 3 (the only version served)" }),
        ));
    }
    if let Some(environment) = headers.get("x-environment") {
        let name = environment.to_str().unwrap_or_default().trim();
        if name != app.config.environment {
            return Err(CmaError::new(
                404,
                "INVALID_ENVIRONMENT",
                json!({ "environment": name, "message": format!("the only environment is {:?}", app.config.environment) }),
            ));
        }
    }
    if !permissions::allows(token.role, asked.method, asked.path) {
        return Err(CmaError::new(
            403,
            "INSUFFICIENT_PERMISSIONS",
            json!({ "role": token.role.as_str(), "message": format!("a {} token cannot make this request", token.role) }),
        ));
    }
    Ok(Caller { token_id: token.id })
}

/// The secret of `Authorization: Bearer <secret>`; any other form counts as present but wrong.
fn bearer_secret(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().unwrap_or("invalid");
    let secret = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value);
    Some(secret.trim())
}

pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else { return false };
    let accept = accept.to_str().unwrap_or_default().to_ascii_lowercase();
    accept.split(',').any(|range| {
        let essence = range.split(';').next().unwrap_or_default().trim();
        matches!(essence, "application/json" | "application/vnd.api+json" | "*/*" | "application/*")
    })
}
