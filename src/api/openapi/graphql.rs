//! `/graphql` (`api/graphql_endpoint.rs`): DatoCMS's Content Delivery API for uploads. The
//! GraphQL schema itself is introspectable (`__schema`); this documents the transport.

use serde_json::{json, Value};

use super::operation::{query, Access, Operation};

fn op(method: &'static str, id: &str) -> Operation {
    Operation::new(Access::Public, method, "/graphql", id, "graphql")
}

/// GraphQL's answer: `data`, and `errors` when a field or the query failed.
fn answer() -> Value {
    json!({
        "description": "the GraphQL answer (query errors included, as GraphQL's `errors`)",
        "headers": { "ETag": { "description": "a hash of the answer", "schema": { "type": "string" } } },
        "content": { "application/json": { "schema": {
            "type": "object",
            "properties": {
                "data": { "type": ["object", "null"] },
                "errors": { "type": "array", "items": error_item() },
            },
        } } },
    })
}

fn error_item() -> Value {
    json!({ "type": "object", "required": ["message"], "properties": { "message": { "type": "string" } } })
}

/// A request refused before it ran, in GraphQL's error shape.
fn refused(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": {
            "type": "object", "required": ["errors"],
            "properties": { "errors": { "type": "array", "items": error_item() } },
        } } },
    })
}

fn with_refusals(operation: Operation) -> Operation {
    operation
        .response(200, answer())
        .response(304, json!({ "description": "not modified (If-None-Match)" }))
        .response(400, refused("the request is not a GraphQL request (a body that is not JSON, no query)"))
        .response(401, refused("the bearer token is missing, malformed or unknown"))
        .response(403, refused("an upload-only token"))
        .response(404, refused("`X-Environment` names another environment"))
        .response(413, refused("the body is over 256 KiB"))
        .response(429, refused("the token is over its budget for the window"))
        .response(503, refused("the token cannot be checked now"))
}

pub(super) fn operations() -> Vec<Operation> {
    let description = "`Authorization: Bearer <token>` (read-only tokens suffice; upload-only ones are refused). \
                       See the README's \"GraphQL\" section for the schema and its limits.";
    vec![
        with_refusals(
            op("post", "graphql")
                .summary("A GraphQL query of DatoCMS's Content Delivery API for uploads")
                .description(description)
                .json_body(json!({
                    "type": "object", "required": ["query"],
                    "properties": {
                        "query": { "type": "string" },
                        "variables": { "type": ["object", "null"] },
                        "operationName": { "type": ["string", "null"] },
                    },
                })),
        ),
        with_refusals(
            op("get", "graphql_get")
                .summary("The same query in the URL (for caches)")
                .description(description)
                .param(json!({ "name": "query", "in": "query", "required": true, "schema": { "type": "string" } }))
                .param(query("variables", "the variables as JSON", json!({ "type": "string" })))
                .param(query("operationName", "the operation to run", json!({ "type": "string" }))),
        ),
        op("options", "graphql_preflight").summary("CORS preflight of /graphql").response(
            204,
            json!({ "description": "GET and POST allowed from any origin, with Authorization and DatoCMS's headers" }),
        ),
    ]
}
