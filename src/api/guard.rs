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

use super::{extract::Caller, permissions, rate_limit::Decision, state::HttpEdge};
use crate::{
    app::App,
    domain::{token_secret_hash, CmaError},
};

pub(super) async fn cma_guard(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    mut request: Request,
    next: Next,
) -> Response {
    let credential = Credential::of(request.headers());
    // Rate limits count per credential; requests without one (only ever answered 401) share one.
    let bucket = match credential {
        Credential::Bearer(secret) => token_secret_hash(secret),
        Credential::Missing | Credential::Malformed => "anonymous".to_owned(),
    };
    let decision = http.rate_limiter.check(&bucket);
    let mut response = match decision {
        Decision::Limited { reset_secs, .. } => {
            let mut error = CmaError::new(429, "RATE_LIMIT_EXCEEDED", json!({}));
            error.retry_after_secs = Some(reset_secs);
            error.into_response()
        }
        Decision::Allowed { .. } => match admit(&app, &http, Asked::of(&request), credential).await {
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

async fn admit(app: &App, http: &HttpEdge, asked: Asked<'_>, credential: Credential<'_>) -> Result<Caller, CmaError> {
    let headers = asked.headers;
    if !accepts_json(headers) {
        return Err(CmaError::new(406, "INVALID_ACCEPT_HEADER", json!({ "message": "send Accept: application/json" })));
    }
    let secret = match credential {
        Credential::Bearer(secret) => secret,
        Credential::Malformed => return Err(malformed_authorization()),
        Credential::Missing => {
            return Err(CmaError::new(
                401,
                "INVALID_SITE",
                json!({ "message": "missing Authorization: Bearer <token>" }),
            ))
        }
    };
    let Some(token) = http.tokens.token(&app.db, &token_secret_hash(secret)).await? else {
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

/// What a request's `Authorization` header holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Credential<'a> {
    /// No `Authorization` header.
    Missing,
    /// `Bearer <secret>`.
    Bearer(&'a str),
    /// Any other value (another scheme, a bare secret, no secret, bytes that are not text).
    Malformed,
}

impl<'a> Credential<'a> {
    /// The one reading of `Authorization` (the CMA guard and `/metrics` both use it): the scheme
    /// `Bearer`, case-insensitive (RFC 9110 §11.1), one or more spaces, then a secret without
    /// spaces. Surrounding whitespace is ignored.
    pub(super) fn of(headers: &'a HeaderMap) -> Self {
        let Some(value) = headers.get(header::AUTHORIZATION) else { return Credential::Missing };
        let Ok(value) = value.to_str() else { return Credential::Malformed };
        let Some((scheme, secret)) = value.trim().split_once(' ') else { return Credential::Malformed };
        let secret = secret.trim_start_matches(' ');
        if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() || secret.contains(char::is_whitespace) {
            return Credential::Malformed;
        }
        Credential::Bearer(secret)
    }
}

/// The error for an `Authorization` value that is not `Bearer <secret>`.
pub(super) fn malformed_authorization() -> CmaError {
    CmaError::new(
        401,
        "INVALID_AUTHORIZATION_HEADER",
        json!({ "message": "the Authorization header must be Bearer <token>" }),
    )
}

fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else { return false };
    let accept = accept.to_str().unwrap_or_default().to_ascii_lowercase();
    accept.split(',').any(|range| {
        let essence = range.split(';').next().unwrap_or_default().trim();
        matches!(essence, "application/json" | "application/vnd.api+json" | "*/*" | "application/*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn only_bearer_secrets_count_as_credentials() {
        assert_eq!(Credential::of(&HeaderMap::new()), Credential::Missing);
        for (value, secret) in [
            ("Bearer abc", "abc"),
            ("bearer abc", "abc"),
            ("BEARER abc", "abc"),
            ("Bearer   abc  ", "abc"),
            (" Bearer a.b-c_d~e+f/g==", "a.b-c_d~e+f/g=="),
        ] {
            assert_eq!(Credential::of(&with_authorization(value.as_bytes())), Credential::Bearer(secret), "{value:?}");
        }
        for value in ["abc", "Bearer", "Bearer ", "Bearerabc", "Basic Zm9vOmJhcg==", "Bearer a b", "Token abc", ""] {
            assert_eq!(Credential::of(&with_authorization(value.as_bytes())), Credential::Malformed, "{value:?}");
        }
        assert_eq!(Credential::of(&with_authorization(b"Bearer \xff\xfe")), Credential::Malformed, "not text");
    }
}
