//! `/webhooks` and `/webhook_calls`: the DatoCMS CMA webhook resources, for upload events.
//! Only full-access tokens reach them (see `permissions.rs`): webhooks carry credentials (basic
//! auth, custom headers, the signing secret) and the log carries what was sent.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde_json::{json, Value};

use super::{
    error::ApiResult,
    extract::{parse_resource, CmaJson, NestedQuery, ResourceShape},
    query::{only_params, page_params},
};
use crate::{
    app::App,
    db::{Db, WebhookAttemptRow, WebhookCallQuery, WebhookCallRow, WebhookRow},
    domain::{format_iso_millis, is_valid_entity_id, new_entity_id, now_millis, CmaError},
    queue,
    views::document,
    webhooks::{new_webhook_secret, settings::ATTRIBUTES, status, DeliverWebhook, WebhookSettings, EVENT_TYPES},
};

/// The body of `POST /webhooks` and `PUT /webhooks/{id}`: the attributes the official client
/// sends (it drops any other).
pub(super) const WEBHOOK: ResourceShape =
    ResourceShape { kind: "webhook", attributes: &ATTRIBUTES, relationships: &[] };

/// Webhook call listing: default and largest page.
pub(super) const CALLS_DEFAULT_LIMIT: i64 = 30;
pub(super) const CALLS_MAX_LIMIT: i64 = 500;
/// `order_by` values of the call listing, and the column each sorts by.
pub(super) const CALL_ORDERS: [(&str, &str, bool); 8] = [
    ("created_at_asc", "created_at", true),
    ("created_at_desc", "created_at", false),
    ("last_sent_at_asc", "last_sent_at", true),
    ("last_sent_at_desc", "last_sent_at", false),
    ("next_retry_at_asc", "next_retry_at", true),
    ("next_retry_at_desc", "next_retry_at", false),
    ("webhook_id_asc", "webhook_id", true),
    ("webhook_id_desc", "webhook_id", false),
];
/// Call statuses a filter may name.
pub(super) const CALL_STATUSES: [&str; 4] = [status::PENDING, status::RESCHEDULED, status::SUCCESS, status::FAILED];

/// The `webhook` resource. `secret` (assetd's addition) signs every delivery.
fn webhook_resource(row: &WebhookRow) -> Value {
    let settings = WebhookSettings::from_row(row);
    json!({
        "type": "webhook",
        "id": row.id,
        "attributes": {
            "name": settings.name,
            "url": settings.url,
            "enabled": settings.enabled,
            "headers": settings.headers,
            "events": settings.events,
            "custom_payload": Value::Null,
            "http_basic_user": settings.http_basic_user,
            "http_basic_password": settings.http_basic_password,
            "payload_api_version": settings.payload_api_version,
            "nested_items_in_payload": settings.nested_items_in_payload,
            "auto_retry": settings.auto_retry,
            "secret": row.secret,
        },
    })
}

pub(super) async fn list_webhooks(
    State(app): State<Arc<App>>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    only_params(&query, &[])?;
    let rows = app.db.list_webhooks().await?;
    Ok(Json(json!({ "data": rows.iter().map(webhook_resource).collect::<Vec<_>>() })))
}

pub(super) async fn create_webhook(State(app): State<Arc<App>>, CmaJson(body): CmaJson) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &WEBHOOK)?;
    let id = match resource.id {
        Some(id) if !is_valid_entity_id(&id) => {
            return Err(CmaError::new(422, "INVALID_ENTITY_ID", json!({ "field": "id" })))
        }
        Some(id) => id,
        None => new_entity_id(),
    };
    let settings = WebhookSettings::from_create(&resource.attributes)?;
    let now = now_millis();
    let row = settings.to_row(&id, &new_webhook_secret(), now, now);
    match app.db.insert_webhook(&row).await {
        Ok(()) => Ok(Json(document(webhook_resource(&row)))),
        Err(error) if error.is_unique_violation() => Err(taken(&app, &row).await?),
        Err(error) => Err(error.into()),
    }
}

/// The 422 for a unique violation: the id or the name is taken.
async fn taken(app: &App, row: &WebhookRow) -> ApiResult<CmaError> {
    if app.db.find_webhook(&row.id).await?.is_some() {
        return Ok(CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "a webhook with this id exists"));
    }
    Ok(CmaError::invalid_field("name", "VALIDATION_UNIQUENESS", format!("a webhook named {:?} exists", row.name)))
}

pub(super) async fn show_webhook(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let row = app.db.find_webhook(&id).await?.ok_or_else(CmaError::not_found)?;
    Ok(Json(document(webhook_resource(&row))))
}

pub(super) async fn update_webhook(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &WEBHOOK)?;
    if resource.id.as_deref().is_some_and(|body_id| body_id != id) {
        return Err(CmaError::invalid_field("id", "VALIDATION_MISMATCH", "data.id must be the id in the URL"));
    }
    let current = app.db.find_webhook(&id).await?.ok_or_else(CmaError::not_found)?;
    let mut settings = WebhookSettings::from_row(&current);
    settings.apply(&resource.attributes)?;
    let row = settings.to_row(&id, &current.secret, current.created_at, now_millis());
    match app.db.update_webhook(&row).await {
        Ok(true) => Ok(Json(document(webhook_resource(&row)))),
        Ok(false) => Err(CmaError::not_found()),
        Err(error) if error.is_unique_violation() => Err(CmaError::invalid_field(
            "name",
            "VALIDATION_UNIQUENESS",
            format!("a webhook named {:?} exists", row.name),
        )),
        Err(error) => Err(error.into()),
    }
}

/// Deletes the webhook and its log; queued deliveries find nothing to send.
pub(super) async fn destroy_webhook(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let row = app.db.find_webhook(&id).await?.ok_or_else(CmaError::not_found)?;
    app.db.delete_webhook(&id).await?;
    Ok(Json(document(webhook_resource(&row))))
}

/// The `webhook_call` resource: the event, its latest request and response, and (assetd's
/// addition) `delivery_attempts`, every attempt in order.
fn call_resource(call: &WebhookCallRow, attempts: &[&WebhookAttemptRow]) -> Value {
    let parse = |text: &Option<String>| text.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok());
    let attempts: Vec<Value> = attempts
        .iter()
        .map(|a| {
            json!({
                "number": a.number,
                "sent_at": format_iso_millis(a.sent_at),
                "duration_ms": a.duration_ms,
                "response_status": a.response_status,
                "error": a.error,
            })
        })
        .collect();
    json!({
        "type": "webhook_call",
        "id": call.id,
        "attributes": {
            "entity_type": call.entity_type,
            "event_type": call.event_type,
            "entity_id": call.entity_id,
            "created_at": format_iso_millis(call.created_at),
            "request_url": call.request_url,
            "request_headers": parse(&call.request_headers).unwrap_or_else(|| json!({})),
            "request_payload": call.request_payload.clone().unwrap_or_else(|| call.payload.clone()),
            "response_status": call.response_status,
            "response_headers": parse(&call.response_headers),
            "response_payload": call.response_payload,
            "attempted_auto_retries_count": (call.attempts - 1).max(0),
            "last_sent_at": call.last_sent_at.map(format_iso_millis),
            "next_retry_at": call.next_retry_at.map(format_iso_millis),
            "status": call.status,
            "error": call.error,
            "delivery_attempts": attempts,
        },
        "relationships": { "webhook": { "data": { "type": "webhook", "id": call.webhook_id } } },
    })
}

async fn call_resources(app: &App, calls: &[WebhookCallRow]) -> ApiResult<Vec<Value>> {
    let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
    let attempts = app.db.list_webhook_attempts(&ids).await?;
    let mut by_call: HashMap<&str, Vec<&WebhookAttemptRow>> = HashMap::new();
    for attempt in &attempts {
        by_call.entry(attempt.call_id.as_str()).or_default().push(attempt);
    }
    Ok(calls.iter().map(|c| call_resource(c, by_call.get(c.id.as_str()).map_or(&[][..], Vec::as_slice))).collect())
}

/// `GET /webhook_calls`: `filter[ids]`, `filter[fields][webhook_id|status|entity_type|event_type][eq]`,
/// `order_by` (default `created_at_desc`), `page[offset]`, `page[limit]`.
pub(super) async fn list_webhook_calls(
    State(app): State<Arc<App>>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    only_params(&query, &["filter", "order_by", "page"])?;
    let (offset, limit) = page_params(&query, CALLS_DEFAULT_LIMIT, CALLS_MAX_LIMIT)?;
    let mut calls_query =
        WebhookCallQuery { offset, limit, order: ("created_at", false), ..WebhookCallQuery::default() };
    if let Some(order) = query.get("order_by") {
        let name = order.as_str().unwrap_or_default();
        let (_, column, ascending) = CALL_ORDERS.iter().find(|(n, _, _)| *n == name).ok_or_else(|| {
            CmaError::new(
                422,
                "INVALID_ORDERING",
                json!({ "message": format!("order_by takes {}", CALL_ORDERS.map(|o| o.0).join(", ")) }),
            )
        })?;
        calls_query.order = (*column, *ascending);
    }
    if let Some(filter) = query.get("filter") {
        apply_filter(filter, &mut calls_query)?;
    }
    let (calls, total) = app.db.list_webhook_calls(&calls_query).await?;
    Ok(Json(json!({ "data": call_resources(&app, &calls).await?, "meta": { "total_count": total } })))
}

fn apply_filter(filter: &Value, query: &mut WebhookCallQuery) -> ApiResult<()> {
    let bad = |field: &str, message: &str| CmaError::invalid_filter(field, message);
    let filter = filter.as_object().ok_or_else(|| bad("filter", "filter takes [ids] and [fields]"))?;
    for (key, value) in filter {
        match key.as_str() {
            "ids" => {
                let ids = value.as_str().ok_or_else(|| bad("ids", "comma-separated ids"))?;
                query.ids = Some(ids.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect());
            }
            "fields" => {
                let fields = value.as_object().ok_or_else(|| bad("fields", "filter[fields][<field>][eq]"))?;
                for (field, condition) in fields {
                    let eq = eq_value(field, condition)?;
                    match field.as_str() {
                        "webhook_id" => query.webhook_id = Some(eq),
                        "status" if CALL_STATUSES.contains(&eq.as_str()) => query.status = Some(eq),
                        "status" => return Err(bad("status", "pending, rescheduled, success or failed")),
                        "entity_type" => query.entity_type = Some(eq),
                        "event_type" if EVENT_TYPES.contains(&eq.as_str()) => query.event_type = Some(eq),
                        "event_type" => return Err(bad("event_type", "create, update or delete")),
                        other => {
                            return Err(bad(other, "filterable fields: webhook_id, status, entity_type, event_type"))
                        }
                    }
                }
            }
            other => return Err(bad(other, "filter takes [ids] and [fields]")),
        }
    }
    Ok(())
}

/// `{eq: "<value>"}`, the only operator taken.
fn eq_value(field: &str, condition: &Value) -> ApiResult<String> {
    let object = condition.as_object().filter(|o| o.len() == 1);
    match object.and_then(|o| o.get("eq")).and_then(Value::as_str) {
        Some(value) => Ok(value.to_owned()),
        None => Err(CmaError::invalid_filter(field, "the only operator is [eq]")),
    }
}

pub(super) async fn show_webhook_call(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let call = app.db.find_webhook_call(&id).await?.ok_or_else(CmaError::not_found)?;
    let mut resources = call_resources(&app, std::slice::from_ref(&call)).await?;
    Ok(Json(json!({ "data": resources.pop() })))
}

/// `POST /webhook_calls/{id}/resend_webhook`: sends a finished call again (a new round of
/// attempts, with retries when the webhook has them on). 204; the attempt lands in the log.
pub(super) async fn resend_webhook_call(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let mut tx = app.db.begin_write().await?;
    let call = Db::find_webhook_call_in(&mut tx, &id).await?.ok_or_else(CmaError::not_found)?;
    if call.status == status::PENDING || call.status == status::RESCHEDULED {
        return Err(CmaError::new(
            422,
            "WEBHOOK_CALL_IN_PROGRESS",
            json!({ "message": "this call is still being delivered; resend it once it succeeded or failed" }),
        ));
    }
    Db::set_webhook_call_status(&mut tx, &id, status::PENDING, None).await?;
    queue::enqueue_in(&mut tx, &DeliverWebhook::first_attempt(id)).await?;
    tx.commit().await?;
    app.jobs.wake();
    Ok(StatusCode::NO_CONTENT)
}
