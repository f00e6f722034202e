//! The JSON:API documents we answer with, shared by handlers and jobs (a job's result payload is
//! the document the operation would have returned). Renders rows read by `db`; reads nothing
//! itself and knows no HTTP.

mod collection;
mod upload;
mod upload_track;

pub use collection::collection_resource;
pub use upload::{upload_resource, ViewContext};
pub use upload_track::track_resource;

use serde_json::{json, Value};

/// `{"data": resource}`.
pub fn document(resource: Value) -> Value {
    json!({ "data": resource })
}

/// The body of a 202 answer: `{"data": {"type": "job", "id": …}}`.
pub fn job_document(job_id: &str) -> Value {
    json!({ "data": { "type": "job", "id": job_id } })
}

/// A number as JSON: an integer when it has no fractional part (DatoCMS documents integers).
pub(crate) fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}
