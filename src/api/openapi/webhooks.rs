//! The webhook operations (`/webhooks`, `/webhook_calls`) and their schemas.

use serde_json::{json, Map, Value};

use super::{
    operation::{path_id, query, Access, Operation},
    resources::reference,
};
use crate::{
    api::webhooks::{CALLS_DEFAULT_LIMIT, CALLS_MAX_LIMIT, CALL_ORDERS, CALL_STATUSES},
    webhooks::{settings::MAX_HEADERS, EVENT_TYPES},
};

fn op(method: &'static str, path: &str, id: &str) -> Operation {
    Operation::new(Access::Cma, method, path, id, "webhooks")
}

fn ok(operation: Operation, description: &str, schema: &str) -> Operation {
    operation.json_response(200, description, reference(schema))
}

pub(super) fn operations() -> Vec<Operation> {
    let webhook_id = || path_id("a webhook id");
    let call_id = || path_id("a webhook call id");
    let by_id = json!({ "id": "$response.body#/data/id" });
    vec![
        ok(
            op("get", "/webhooks", "list_webhooks").summary("List webhooks (full-access tokens only)"),
            "every webhook",
            "WebhookList",
        ),
        ok(
            op("post", "/webhooks", "create_webhook")
                .summary("Register a webhook for upload events")
                .description("The answer carries `secret`, which signs every delivery (`X-Assetd-Signature`).")
                .json_body(reference("CreateWebhookBody")),
            "the new webhook, with its signing secret",
            "WebhookDocument",
        )
        .links(
            200,
            json!({
                "Show": { "operationId": "show_webhook", "parameters": by_id },
                "Update": { "operationId": "update_webhook", "parameters": by_id },
                "Destroy": { "operationId": "destroy_webhook", "parameters": by_id },
            }),
        ),
        ok(
            op("get", "/webhooks/{id}", "show_webhook").summary("Show a webhook").param(webhook_id()),
            "the webhook",
            "WebhookDocument",
        ),
        ok(
            op("put", "/webhooks/{id}", "update_webhook")
                .summary("Update a webhook (only the attributes given change)")
                .param(webhook_id())
                .json_body(reference("UpdateWebhookBody")),
            "the webhook",
            "WebhookDocument",
        ),
        ok(
            op("delete", "/webhooks/{id}", "destroy_webhook")
                .summary("Delete a webhook, its delivery log and its queued deliveries")
                .param(webhook_id()),
            "the webhook as it was",
            "WebhookDocument",
        ),
        ok(
            op("get", "/webhook_calls", "list_webhook_calls")
                .summary("The delivery log, newest first")
                .param(query("filter[ids]", "comma-separated call ids", json!({ "type": "string" })))
                .param(query("filter[fields][webhook_id][eq]", "one webhook's calls", json!({ "type": "string" })))
                .param(query("filter[fields][status][eq]", "calls with this status", json!({ "enum": CALL_STATUSES })))
                .param(query("filter[fields][entity_type][eq]", "always upload", json!({ "type": "string" })))
                .param(query("filter[fields][event_type][eq]", "the event", json!({ "enum": EVENT_TYPES })))
                .param(query(
                    "order_by",
                    "sort order (default created_at_desc)",
                    json!({ "enum": CALL_ORDERS.map(|o| o.0) }),
                ))
                .param(query("page[offset]", "rows to skip", json!({ "type": "integer", "minimum": 0 })))
                .param(query(
                    "page[limit]",
                    &format!("rows per page (default {CALLS_DEFAULT_LIMIT})"),
                    json!({ "type": "integer", "minimum": 0, "maximum": CALLS_MAX_LIMIT }),
                )),
            "a page of calls and the total count",
            "WebhookCallList",
        ),
        ok(
            op("get", "/webhook_calls/{id}", "show_webhook_call").summary("Show a webhook call").param(call_id()),
            "the call",
            "WebhookCallDocument",
        ),
        op("post", "/webhook_calls/{id}/resend_webhook", "resend_webhook_call")
            .summary("Send a finished call again (422 WEBHOOK_CALL_IN_PROGRESS while it is being delivered)")
            .param(call_id())
            .response(204, json!({ "description": "queued; the attempt shows up in the call's log" })),
    ]
}

fn object(properties: Value) -> Value {
    let required: Vec<String> = properties.as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
}

fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// The writable attributes, by name.
fn writable() -> Value {
    let text = || nullable(json!({ "type": "string", "maxLength": 1024, "pattern": "^[^\\r\\n]*$" }));
    json!({
        "name": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "\\S" },
        "url": { "type": "string", "format": "uri", "pattern": "^https?://[^/\\s]+", "description": "absolute http(s) URL" },
        "headers": {
            "type": "object", "maxProperties": MAX_HEADERS,
            "description": "sent with every delivery; not Content-Type, Authorization, Host or X-Assetd-*",
            "propertyNames": { "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
            "additionalProperties": { "type": "string", "pattern": "^[\\x20-\\x7e]*$" },
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object", "required": ["entity_type", "event_types"], "additionalProperties": false,
                "properties": {
                    "entity_type": { "const": "upload" },
                    "event_types": { "type": "array", "minItems": 1, "items": { "enum": EVENT_TYPES } },
                    "filters": { "anyOf": [{ "type": "null" }, { "type": "array", "maxItems": 0 }] },
                },
            },
        },
        "custom_payload": { "type": "null", "description": "templates are not supported: assetd sends the standard payload" },
        "http_basic_user": text(),
        "http_basic_password": text(),
        "enabled": { "type": "boolean" },
        "payload_api_version": { "const": "3" },
        "nested_items_in_payload": { "type": "boolean" },
        "auto_retry": { "type": "boolean" },
    })
}

fn body(required: &[&str], id_pattern: bool) -> Value {
    let mut data = json!({
        "type": "object",
        "required": ["type", "attributes"],
        "additionalProperties": false,
        "properties": {
            "type": { "const": "webhook" },
            "attributes": { "type": "object", "required": required, "properties": writable(), "additionalProperties": false },
            "meta": { "type": "object" },
        },
    });
    if id_pattern {
        data["properties"]["id"] = json!({ "type": "string", "pattern": super::resources::ENTITY_ID_PATTERN });
    }
    object(json!({ "data": data }))
}

/// Adds the webhook schemas to the document's.
pub(super) fn schemas(schemas: &mut Map<String, Value>) {
    let mut attributes = writable();
    attributes["custom_payload"] = json!({ "type": "null" });
    attributes["url"] = json!({ "type": "string" });
    attributes["headers"] = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    attributes["events"] = json!({ "type": "array", "items": { "type": "object" } });
    attributes["http_basic_user"] = nullable(json!({ "type": "string" }));
    attributes["http_basic_password"] = nullable(json!({ "type": "string" }));
    attributes["name"] = json!({ "type": "string" });
    attributes["secret"] = json!({ "type": "string", "description": "signs every delivery (X-Assetd-Signature)" });
    let webhook =
        object(json!({ "type": { "const": "webhook" }, "id": { "type": "string" }, "attributes": object(attributes) }));
    let timestamp = || json!({ "type": "string", "format": "date-time" });
    let call_attributes = object(json!({
        "entity_type": { "const": "upload" },
        "event_type": { "enum": EVENT_TYPES },
        "entity_id": { "type": "string" },
        "created_at": timestamp(),
        "request_url": nullable(json!({ "type": "string" })),
        "request_headers": { "type": "object" },
        "request_payload": { "type": "string", "description": "JSON text" },
        "response_status": nullable(json!({ "type": "integer" })),
        "response_headers": nullable(json!({ "type": "object" })),
        "response_payload": nullable(json!({ "type": "string", "description": "the first 4 KiB" })),
        "attempted_auto_retries_count": { "type": "integer", "minimum": 0 },
        "last_sent_at": nullable(timestamp()),
        "next_retry_at": nullable(timestamp()),
        "status": { "enum": CALL_STATUSES },
        "error": nullable(json!({ "type": "string", "description": "why the last attempt got no answer" })),
        "delivery_attempts": { "type": "array", "items": object(json!({
            "number": { "type": "integer", "minimum": 1 },
            "sent_at": timestamp(),
            "duration_ms": { "type": "integer", "minimum": 0 },
            "response_status": nullable(json!({ "type": "integer" })),
            "error": nullable(json!({ "type": "string" })),
        })) },
    }));
    let call = object(json!({
        "type": { "const": "webhook_call" },
        "id": { "type": "string" },
        "attributes": call_attributes,
        "relationships": object(json!({ "webhook": object(json!({ "data": object(json!({
            "type": { "const": "webhook" }, "id": { "type": "string" },
        })) })) })),
    }));
    schemas.insert("Webhook".into(), webhook);
    schemas.insert("WebhookDocument".into(), object(json!({ "data": reference("Webhook") })));
    schemas.insert("WebhookList".into(), object(json!({ "data": { "type": "array", "items": reference("Webhook") } })));
    schemas.insert("WebhookCall".into(), call);
    schemas.insert("WebhookCallDocument".into(), object(json!({ "data": reference("WebhookCall") })));
    schemas.insert(
        "WebhookCallList".into(),
        object(json!({
            "data": { "type": "array", "items": reference("WebhookCall") },
            "meta": object(json!({ "total_count": { "type": "integer", "minimum": 0 } })),
        })),
    );
    schemas.insert("CreateWebhookBody".into(), body(&["name", "url", "events"], true));
    schemas.insert("UpdateWebhookBody".into(), body(&[], true));
}
