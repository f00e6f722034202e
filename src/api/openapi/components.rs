//! The shared parts of the document: security scheme, CMA headers and parameters, the error
//! envelope and the error answers of every status.

use serde_json::{json, Map, Value};

use super::resources;
use crate::app::App;

/// Headers the CMA guard puts on every CMA answer: (header name, component name).
pub(super) const CMA_HEADERS: [(&str, &str); 3] = [
    ("X-RateLimit-Limit", "RateLimitLimit"),
    ("X-RateLimit-Remaining", "RateLimitRemaining"),
    ("X-Api-Version", "ApiVersion"),
];

/// Every status a CMA error is answered with, and the codes each one carries.
const CMA_ERROR_STATUSES: [(u16, &str); 11] = [
    (400, "`INVALID_JSON_BODY` (the body is not JSON), `INVALID_REQUEST` (a path that does not decode)"),
    (401, "`INVALID_SITE` (no token), `INVALID_AUTHORIZATION_HEADER` (unknown token, or not `Bearer <token>`)"),
    (403, "`INSUFFICIENT_PERMISSIONS`: the token's role does not allow this call"),
    (404, "`NOT_FOUND` (no such resource, or a job still running), `INVALID_ENDPOINT` (no such route or method), \
           `INVALID_ENVIRONMENT` (`X-Environment` is not the primary environment)"),
    (406, "`INVALID_ACCEPT_HEADER`: `Accept` does not allow `application/json`"),
    (413, "`REQUEST_ENTITY_TOO_LARGE`: the JSON body is over the limit"),
    (415, "`INVALID_CONTENT_TYPE_HEADER`: the body is neither `application/json` nor `application/vnd.api+json`"),
    (422, "`INVALID_API_VERSION`, `INVALID_TYPE`, `INVALID_ATTRIBUTES`, `INVALID_RELATIONSHIP`, `INVALID_FIELD`, \
           `INVALID_FORMAT`, `INVALID_PARAMS`, `INVALID_FILTER_FIELDS_PARAM`, `INVALID_ORDERING`, `INVALID_ENTITY_ID`, \
           `INVALID_PARENT`, `INVALID_PARENT_ID`, `INVALID_POSITION`, `DUPLICATE_POSITIONS_FOUND`, `MISSING_UPLOAD_IDS`"),
    (429, "`RATE_LIMIT_EXCEEDED`: wait `X-RateLimit-Reset` seconds"),
    (500, "`EXCEPTION`: something broke on the server (details are logged, never sent)"),
    (503, "`SERVICE_UNAVAILABLE` (transient: retry)"),
];

pub(super) fn components(app: &App) -> Value {
    json!({
        "securitySchemes": {
            "apiToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token: `ASSETD_API_TOKEN`, or the one printed on first start",
            }
        },
        "parameters": {
            "ApiVersion": {
                "name": "X-Api-Version", "in": "header", "required": true,
                "description": "The only API version served",
                "schema": { "type": "string", "const": "3" },
            },
            "Environment": {
                "name": "X-Environment", "in": "header", "required": false,
                "description": "Absent, or the primary environment (`ASSETD_ENVIRONMENT`)",
                "schema": { "type": "string", "const": app.config.environment },
            },
        },
        "headers": headers(),
        "responses": error_responses(),
        "schemas": resources::schemas(app),
    })
}

fn headers() -> Value {
    let integer = |description: &str, required: bool| json!({ "description": description, "required": required, "schema": { "type": "integer", "minimum": 0 } });
    json!({
        "RateLimitLimit": integer("Requests per window for this credential, on this node", true),
        "RateLimitRemaining": integer("Requests left in the current window", true),
        "RateLimitReset": integer("On 429: whole seconds (≥ 1) until a request is accepted again", true),
        "RetryAfter": integer("Seconds to wait before retrying", true),
        "ApiVersion": { "description": "Always 3", "required": true, "schema": { "type": "string", "const": "3" } },
    })
}

/// `Error400` … `Error503`: the CMA envelope, with the guard's headers.
fn error_responses() -> Value {
    let mut responses = Map::new();
    for (status, codes) in CMA_ERROR_STATUSES {
        let mut response = error_response(codes);
        if status != 500 {
            // A panic is answered outside the guard, without its headers.
            let mut headers = Map::new();
            for (name, component) in CMA_HEADERS {
                headers.insert(name.into(), json!({ "$ref": format!("#/components/headers/{component}") }));
            }
            if status == 429 {
                headers.insert("X-RateLimit-Reset".into(), json!({ "$ref": "#/components/headers/RateLimitReset" }));
                headers.insert("Retry-After".into(), json!({ "$ref": "#/components/headers/RetryAfter" }));
            }
            response["headers"] = Value::Object(headers);
        }
        responses.insert(format!("Error{status}"), response);
    }
    Value::Object(responses)
}

/// An error answer in the CMA envelope; `codes` says which codes it carries.
pub(super) fn error_response(codes: &str) -> Value {
    json!({
        "description": codes,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorDocument" } } },
    })
}
