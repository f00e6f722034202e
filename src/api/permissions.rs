//! Which requests each token role may make. Checked by the CMA guard after the token is known
//! and before any handler runs, so a denied request changes nothing.

use axum::http::Method;

use crate::domain::TokenRole;

/// Whether `role` may make the request `method path` (a CMA path, e.g. `/uploads/123`).
pub(super) fn allows(role: TokenRole, method: &Method, path: &str) -> bool {
    let reads = method == Method::GET || method == Method::HEAD;
    match role {
        TokenRole::FullAccess => true,
        // Webhooks hold credentials (basic auth, custom headers, the signing secret) and their
        // log holds what was sent: full access only, reads included.
        _ if is_webhooks(path) => false,
        TokenRole::ReadOnly => reads,
        TokenRole::UploadOnly => reads || (method == Method::POST && adds_a_file(path)),
    }
}

/// `/webhooks…` and `/webhook_calls…`.
fn is_webhooks(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    first == "webhooks" || first == "webhook_calls"
}

/// The two calls of the upload flow: ask for an upload URL, then create the upload from it.
fn adds_a_file(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/upload-requests" | "/uploads")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_gets_what_it_says() {
        let cases = [
            (Method::GET, "/uploads", [true, true, true]),
            (Method::GET, "/job-results/1", [true, true, true]),
            (Method::POST, "/upload-requests", [true, false, true]),
            (Method::POST, "/uploads", [true, false, true]),
            (Method::PUT, "/uploads/1", [true, false, false]),
            (Method::DELETE, "/uploads/1", [true, false, false]),
            (Method::POST, "/uploads/bulk/destroy", [true, false, false]),
            (Method::POST, "/uploads/bulk/tag", [true, false, false]),
            (Method::POST, "/upload-tags", [true, false, false]),
            (Method::POST, "/upload-collections", [true, false, false]),
            (Method::PUT, "/upload-filters/1", [true, false, false]),
            (Method::GET, "/webhooks", [true, false, false]),
            (Method::GET, "/webhooks/1", [true, false, false]),
            (Method::POST, "/webhooks", [true, false, false]),
            (Method::GET, "/webhook_calls", [true, false, false]),
            (Method::POST, "/webhook_calls/1/resend_webhook", [true, false, false]),
        ];
        for (method, path, expected) in cases {
            let got = [TokenRole::FullAccess, TokenRole::ReadOnly, TokenRole::UploadOnly]
                .map(|role| allows(role, &method, path));
            assert_eq!(got, expected, "{method} {path}");
        }
    }
}
