//! Recording upload events: in the caller's transaction, one `webhook_calls` row (status
//! `pending`, the payload fixed now) and one `deliver_webhook` job per enabled webhook that wants
//! the event. The change, its calls and their jobs commit or roll back together.

use serde_json::{json, Value};

use super::{status, WebhookSettings};
use crate::{
    app::App,
    db::{Db, DbError, Tx, WebhookCallRow, WebhookRow},
    domain::{format_iso_millis, new_entity_id, new_opaque_id, now_millis},
};

/// The job kind that sends a call (see `jobs/deliver_webhook.rs`). Never rename it.
pub const DELIVER_JOB: &str = "deliver_webhook";

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
    app: &App,
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
            "site_id": app.config.project_id,
            "environment": app.config.environment,
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
        let job = json!({ "call_id": call_id, "round_attempt": 1 }).to_string();
        Db::enqueue_job(tx, &new_opaque_id(), DELIVER_JOB, &job, now).await?;
    }
    Ok(subscribers.len())
}

/// [`subscribers`] then [`record_for`]: for events whose entity is already rendered.
pub async fn record_upload_event(
    tx: &mut Tx,
    app: &App,
    event: UploadEvent,
    entity: &Value,
    previous: Option<&Value>,
) -> Result<usize, DbError> {
    let subscribers = subscribers(tx, event).await?;
    if subscribers.is_empty() {
        return Ok(0);
    }
    record_for(tx, app, &subscribers, event, entity, previous).await
}
