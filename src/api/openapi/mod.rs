//! `GET /openapi.json`: an OpenAPI 3.1 document of the whole HTTP surface, built from the code.
//!
//! What ties the document to the code:
//! - request bodies are described from the same [`ResourceShape`](super::extract::ResourceShape)
//!   constants the handlers parse with (unknown attributes are refused by both);
//! - paging limits, bulk limits, enum values (media types, colour buckets, creator kinds, imgix
//!   `fit`/`fm`) and the metadata shape come from the constants and configuration the server uses;
//! - the operation table ([`operations`]) is checked against the router by `tests/api/openapi.rs`:
//!   every route axum knows is documented, every documented method answers, every other method
//!   answers 404 `INVALID_ENDPOINT`; and `scripts/schemathesis` checks real responses against it.
//!
//! The document depends on the configuration (project id in the asset paths, locales, public URL),
//! so it is built per request; it takes microseconds.

mod cma;
mod components;
mod graphql;
mod operation;
mod public;
mod resources;
mod video;
mod webhooks;

use std::sync::Arc;

use axum::{extract::State, Json};
use serde_json::{json, Map, Value};

use crate::app::App;
use operation::Operation;

/// `GET /openapi.json`.
pub(super) async fn serve_openapi(State(app): State<Arc<App>>) -> Json<Value> {
    Json(document(&app))
}

/// The whole document.
pub(super) fn document(app: &App) -> Value {
    let mut paths = Map::new();
    for operation in operations(app) {
        let entry = paths.entry(operation.path.clone()).or_insert_with(|| json!({}));
        if let Some(methods) = entry.as_object_mut() {
            methods.insert(operation.method.to_owned(), operation.to_json());
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "assetd",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Self-hosted media service speaking the DatoCMS Content Management API for uploads",
            "description": DESCRIPTION,
            "license": { "name": "MIT", "identifier": "MIT" },
        },
        "servers": [{ "url": app.public_url }],
        "tags": [
            { "name": "uploads", "description": "Uploads, their upload requests, bulk operations and job results" },
            { "name": "media-area", "description": "Collections, tags, smart tags and saved filters" },
            { "name": "webhooks", "description": "Signed POSTs on upload events, and their delivery log" },
            { "name": "delivery", "description": "Public asset URLs (no token), imgix-style transforms" },
            { "name": "video", "description": "Video streams at Mux-shaped URLs (no token): HLS, MP4 renditions, thumbnails" },
            { "name": "graphql", "description": "DatoCMS's Content Delivery API for uploads (GraphQL, with a token)" },
            { "name": "operations", "description": "Probes and this document" },
        ],
        "paths": paths,
        "components": components::components(app),
    })
}

/// Every documented operation: the CMA, then the public routes.
fn operations(app: &App) -> Vec<Operation> {
    let mut operations = cma::operations(app);
    operations.extend(webhooks::operations());
    operations.extend(public::operations(app));
    operations.extend(video::operations());
    operations.extend(graphql::operations());
    operations
}

const DESCRIPTION: &str = "The DatoCMS Content Management API (v3) for uploads, as assetd serves it, plus asset \
delivery. CMA calls need `Authorization: Bearer <token>`, `Accept: application/json` and `X-Api-Version: 3`; every \
CMA error is the `{\"data\": [{\"type\": \"api_error\", …}]}` envelope. Slow writes answer 202 with a job: poll \
`GET /job-results/{id}` (404 while it runs). The README's \"API notes\" record the choices where the DatoCMS \
reference is silent.";

#[cfg(test)]
mod tests;
