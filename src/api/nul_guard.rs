//! NUL characters are refused at the edge, on every backend alike: PostgreSQL's `text` cannot hold
//! them (a lookup of `/uploads/a%00b` failed there with a database error, a 500), and no id,
//! path, filename or metadata assetd keeps has a use for one. A path that decodes to a NUL answers
//! 400 `INVALID_REQUEST`, as a path that does not decode at all; query strings and JSON bodies
//! are checked where they are parsed ([`super::query`], [`super::extract`]).

use axum::{extract::Request, middleware::Next, response::Response};
use serde_json::{json, Value};

use crate::domain::CmaError;

/// Answers 400 for a request whose path holds an encoded NUL (`%00`), before any route sees it.
pub(super) async fn refuse_nul_in_path(request: Request, next: Next) -> Response {
    if has_encoded_nul(request.uri().path()) {
        return axum::response::IntoResponse::into_response(CmaError::new(
            400,
            "INVALID_REQUEST",
            json!({ "message": "the path holds a NUL character (%00)" }),
        ));
    }
    next.run(request).await
}

/// Whether a raw (still percent-encoded) path decodes to a NUL. A raw NUL cannot reach here:
/// the HTTP parser refuses it.
fn has_encoded_nul(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Whether any string (or object key) inside a JSON value holds a NUL.
pub(super) fn json_has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map.iter().any(|(key, value)| key.contains('\0') || json_has_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_nuls_are_found_in_paths_and_nothing_else() {
        assert!(has_encoded_nul("/uploads/a%00b"));
        assert!(has_encoded_nul("/p/%00"));
        assert!(!has_encoded_nul("/uploads/a%0b"));
        assert!(!has_encoded_nul("/uploads/100%25"));
        assert!(!has_encoded_nul("/p/cat-2000.png"));
    }

    #[test]
    fn nuls_are_found_in_json_strings_and_keys() {
        assert!(json_has_nul(&json!({"data": {"attributes": {"notes": "a\u{0}b"}}})));
        assert!(json_has_nul(&json!({"data": [{"a\u{0}": 1}]})));
        assert!(json_has_nul(&json!(["x", ["\u{0}"]])));
        assert!(!json_has_nul(&json!({"data": {"attributes": {"notes": "a\\u0000b", "n": 0, "t": null}}})));
    }
}
