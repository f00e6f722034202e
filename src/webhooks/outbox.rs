//! Recording upload events: in the caller's transaction, one `webhook_calls` row (status
//! `pending`, the payload fixed now) and one `deliver_webhook` job per enabled webhook that wants
//! the event. The change, its calls and their jobs commit or roll back together.

use serde_json::{json, Value};

use super::{status, DeliverWebhook, WebhookSettings};
use crate::{
    config::Config,
    db::{Db, DbError, Tx, WebhookCallRow, WebhookRow},
    domain::{format_iso_millis, new_entity_id, now_millis},
    queue,
};

/// Who sends the events: the `site_id` and `environment` every payload names.
#[derive(Debug, Clone, Copy)]
pub struct EventSource<'a> {
    pub site_id: &'a str,
    pub environment: &'a str,
}

impl<'a> EventSource<'a> {
    pub fn of(config: &'a Config) -> Self {
        EventSource { site_id: &config.project_id, environment: &config.environment }
    }
}

/// What happened to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadEvent {
    Create,
    Update,
    Delete,
}

impl UploadEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadEvent::Create => "create",
            UploadEvent::Update => "update",
            UploadEvent::Delete => "delete",
        }
    }
}

/// The enabled webhooks that want `event`, read in the transaction (callers that must render a
/// previous state first ask this, and skip the rendering when nobody listens).
pub async fn subscribers(tx: &mut Tx, event: UploadEvent) -> Result<Vec<WebhookRow>, DbError> {
    let webhooks = Db::list_enabled_webhooks_in(tx).await?;
    Ok(webhooks.into_iter().filter(|w| WebhookSettings::from_row(w).wants("upload", event.as_str())).collect())
}

/// Records `event` about the upload `entity` (its resource as the API renders it; for a delete,
/// as it was) for every subscriber. `previous` is the resource before an update. Returns how many
/// calls were recorded; when it is not 0, wake the worker after the commit.
pub async fn record_for(
    tx: &mut Tx,
    source: EventSource<'_>,
    subscribers: &[WebhookRow],
    event: UploadEvent,
    entity: &Value,
    previous: Option<&Value>,
) -> Result<usize, DbError> {
    let now = now_millis();
    let entity_id = entity["id"].as_str().unwrap_or_default().to_owned();
    for webhook in subscribers {
        let call_id = new_entity_id();
        let mut payload = json!({
            "webhook_call_id": call_id,
            "event_triggered_at": format_iso_millis(now),
            "webhook_id": webhook.id,
            "site_id": source.site_id,
            "environment": source.environment,
            "is_environment_primary": true,
            "entity_type": "upload",
            "event_type": event.as_str(),
            "entity": entity,
            "related_entities": [],
        });
        if let Some(previous) = previous {
            payload["previous_entity"] = previous.clone();
        }
        let call = WebhookCallRow {
            id: call_id.clone(),
            webhook_id: webhook.id.clone(),
            entity_type: "upload".into(),
            event_type: event.as_str().into(),
            entity_id: entity_id.clone(),
            payload: payload.to_string(),
            status: status::PENDING.into(),
            attempts: 0,
            request_url: None,
            request_headers: None,
            request_payload: None,
            response_status: None,
            response_headers: None,
            response_payload: None,
            error: None,
            created_at: now,
            last_sent_at: None,
            next_retry_at: None,
        };
        Db::insert_webhook_call(tx, &call).await?;
        queue::enqueue_in(tx, &DeliverWebhook::first_attempt(call_id)).await?;
    }
    Ok(subscribers.len())
}
