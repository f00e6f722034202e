//! The CMA error (spec §1.8): an HTTP status, a fixed machine-readable code and a details object.
//! Handlers answer it directly; jobs store it as their result payload.

use serde_json::{json, Value};

/// One `api_error`. Build it with the named constructors so codes and statuses stay consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct CmaError {
    pub status: u16,
    pub code: &'static str,
    pub details: Value,
    /// When true the official client retries the request by itself.
    pub transient: bool,
    /// Seconds until a retry may succeed (only for 429).
    pub retry_after_secs: Option<u64>,
}

impl CmaError {
    pub fn new(status: u16, code: &'static str, details: Value) -> Self {
        CmaError { status, code, details, transient: false, retry_after_secs: None }
    }

    /// 404 `NOT_FOUND`: an unknown upload, collection, job (or a job that is still running).
    pub fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", json!({}))
    }

    /// 404 `INVALID_ENDPOINT`: no such route or method.
    pub fn invalid_endpoint() -> Self {
        Self::new(404, "INVALID_ENDPOINT", json!({}))
    }

    /// 422 `INVALID_FIELD` on one attribute, with a sub-code and a human message.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::new(422, "INVALID_FIELD", json!({ "field": field, "code": code, "message": message.into() }))
    }

    /// 422 `INVALID_TYPE`: `data.type` is not the one this endpoint takes.
    pub fn invalid_type(expected: &str, got: &Value) -> Self {
        Self::new(422, "INVALID_TYPE", json!({ "expected": expected, "got": got }))
    }

    /// 422 `INVALID_ATTRIBUTES`: attribute names this endpoint does not take.
    pub fn extraneous_attributes(names: Vec<String>) -> Self {
        Self::new(422, "INVALID_ATTRIBUTES", json!({ "extraneous_attributes": names }))
    }

    /// 422 `INVALID_FORMAT`: the document does not have the shape this endpoint takes.
    pub fn invalid_format(message: impl Into<String>) -> Self {
        Self::new(422, "INVALID_FORMAT", json!({ "message": message.into() }))
    }

    /// 422 `INVALID_PARAMS`: a query parameter is malformed.
    pub fn invalid_params(param: &str, message: impl Into<String>) -> Self {
        Self::new(422, "INVALID_PARAMS", json!({ "param": param, "message": message.into() }))
    }

    /// 422 `INVALID_FILTER_FIELDS_PARAM`: a filter we do not support (never silently ignored).
    pub fn invalid_filter(field: &str, message: impl Into<String>) -> Self {
        Self::new(422, "INVALID_FILTER_FIELDS_PARAM", json!({ "field": field, "message": message.into() }))
    }

    /// 500 `EXCEPTION`: something broke on our side. Internals are logged, never sent.
    pub fn internal() -> Self {
        Self::new(500, "EXCEPTION", json!({}))
    }

    /// 503 `SERVICE_UNAVAILABLE`, marked transient so the client retries.
    pub fn unavailable() -> Self {
        CmaError { transient: true, ..Self::new(503, "SERVICE_UNAVAILABLE", json!({})) }
    }

    /// The `{"data":[{id,type:"api_error",attributes}]}` document.
    pub fn to_document(&self) -> Value {
        let mut attributes = json!({
            "code": self.code,
            "doc_url": format!("https://www.datocms.com/docs/content-management-api/errors#{}", self.code),
            "details": self.details,
        });
        if self.transient {
            attributes["transient"] = Value::Bool(true);
        }
        json!({ "data": [{ "id": stable_error_id(self.code), "type": "api_error", "attributes": attributes }] })
    }
}

impl std::fmt::Display for CmaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.status, self.code, self.details)
    }
}

impl std::error::Error for CmaError {}

/// Six hex characters stable per code, like DatoCMS's error ids (FNV-1a).
fn stable_error_id(code: &str) -> String {
    let hash = code.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:06x}", hash & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_the_cma_envelope() {
        let doc = CmaError::invalid_field("basename", "VALIDATION_FORMAT", "bad").to_document();
        let error = &doc["data"][0];
        assert_eq!(error["type"], "api_error");
        assert_eq!(error["attributes"]["code"], "INVALID_FIELD");
        assert_eq!(error["attributes"]["details"]["field"], "basename");
        assert_eq!(error["id"].as_str().map(str::len), Some(6));
        assert!(error["attributes"].get("transient").is_none());
    }

    #[test]
    fn transient_errors_say_so() {
        let doc = CmaError::unavailable().to_document();
        assert_eq!(doc["data"][0]["attributes"]["transient"], true);
    }
}
