//! Which requests each token role may make. Checked by the CMA guard after the token is known
//! and before any handler runs, so a denied request changes nothing.

use axum::http::Method;

use crate::domain::TokenRole;

/// Whether `role` may make the request `method path` (a CMA path, e.g. `/uploads/123`).
pub(super) fn allows(role: TokenRole, method: &Method, path: &str) -> bool {
    let reads = method == Method::GET || method == Method::HEAD;
    match role {
        TokenRole::FullAccess => true,
        TokenRole::ReadOnly => reads,
        TokenRole::UploadOnly => reads || (method == Method::POST && adds_a_file(path)),
    }
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
        ];
        for (method, path, expected) in cases {
            let got = [TokenRole::FullAccess, TokenRole::ReadOnly, TokenRole::UploadOnly]
                .map(|role| allows(role, &method, path));
            assert_eq!(got, expected, "{method} {path}");
        }
    }
}
