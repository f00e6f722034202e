//! `assetd webhooks create|list|delete|calls`: webhooks managed on the database directly, with
//! the API's checks.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::{
    config::DatabaseArgs,
    db::{Db, WebhookCallQuery},
    domain::{format_iso_millis, new_entity_id, now_millis, CmaError},
    webhooks::{new_webhook_secret, WebhookSettings},
};

/// `assetd webhooks …`: the database to work on, and what to do.
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub action: WebhookAction,
}

#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Register a webhook; prints its id and signing secret.
    Create {
        /// A unique name.
        #[arg(long)]
        name: String,
        /// The http(s) URL that receives the POSTs.
        #[arg(long)]
        url: String,
        /// Events, comma separated: upload:create, upload:update, upload:delete.
        #[arg(long, default_value = "upload:create,upload:update,upload:delete", value_delimiter = ',')]
        events: Vec<String>,
        /// A custom header sent with every delivery, `Name: value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// HTTP basic auth user (and `--basic-password`).
        #[arg(long)]
        basic_user: Option<String>,
        #[arg(long)]
        basic_password: Option<String>,
        /// Create it disabled (it gets no events until enabled through the API).
        #[arg(long)]
        disabled: bool,
        /// Do not retry failed deliveries.
        #[arg(long)]
        no_retry: bool,
    },
    /// List the webhooks.
    List {
        /// One JSON object per line (with the signing secret) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a webhook (by id or name) and its delivery log; queued deliveries are dropped.
    Delete {
        /// The webhook's id or name.
        webhook: String,
    },
    /// The delivery log, newest first.
    Calls {
        /// Only this webhook's calls (id or name).
        #[arg(long)]
        webhook: Option<String>,
        /// Only calls with this status: pending, rescheduled, success, failed.
        #[arg(long)]
        status: Option<String>,
        /// How many calls.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: WebhooksArgs) -> anyhow::Result<()> {
    let db = Db::open_configured(&args.database).await?;
    let outcome = run_on(&db, args.action).await;
    db.close().await;
    outcome
}

async fn run_on(db: &Db, action: WebhookAction) -> anyhow::Result<()> {
    match action {
        WebhookAction::Create { name, url, events, headers, basic_user, basic_password, disabled, no_retry } => {
            let attributes = json!({
                "name": name,
                "url": url,
                "events": events_json(&events)?,
                "headers": headers_json(&headers)?,
                "http_basic_user": basic_user,
                "http_basic_password": basic_password,
                "enabled": !disabled,
                "auto_retry": !no_retry,
            });
            let attributes = attributes.as_object().cloned().unwrap_or_default();
            let settings = WebhookSettings::from_create(&attributes).map_err(explain)?;
            let (id, secret, now) = (new_entity_id(), new_webhook_secret(), now_millis());
            match db.insert_webhook(&settings.to_row(&id, &secret, now, now)).await {
                Ok(()) => {}
                Err(error) if error.is_unique_violation() => {
                    bail!("a webhook named {:?} already exists", settings.name)
                }
                Err(error) => return Err(error).context("creating the webhook"),
            }
            println!("created webhook {id} ({}) -> {}", settings.name, settings.url);
            println!("signing secret: {secret}");
            Ok(())
        }
        WebhookAction::List { json } => {
            let webhooks = db.list_webhooks().await.context("listing webhooks")?;
            if !json {
                println!("{:<24} {:<8} {:<40} {:<30} NAME", "ID", "ENABLED", "EVENTS", "URL");
            }
            for webhook in webhooks {
                let settings = WebhookSettings::from_row(&webhook);
                let events = event_list(&settings);
                if json {
                    let line = json!({
                        "id": webhook.id, "name": webhook.name, "url": webhook.url, "enabled": webhook.enabled,
                        "events": events, "auto_retry": webhook.auto_retry, "secret": webhook.secret,
                        "created_at": format_iso_millis(webhook.created_at),
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{:<24} {:<8} {:<40} {:<30} {}",
                        webhook.id,
                        webhook.enabled,
                        events.join(","),
                        webhook.url,
                        webhook.name
                    );
                }
            }
            Ok(())
        }
        WebhookAction::Delete { webhook } => {
            let Some(found) = db.find_webhook_by_id_or_name(&webhook).await? else {
                bail!("no webhook has the id or name {webhook:?}")
            };
            db.delete_webhook(&found.id).await.context("deleting the webhook")?;
            println!("deleted webhook {} ({})", found.id, found.name);
            Ok(())
        }
        WebhookAction::Calls { webhook, status, limit, json } => {
            let webhook_id = match webhook {
                Some(webhook) => match db.find_webhook_by_id_or_name(&webhook).await? {
                    Some(found) => Some(found.id),
                    None => bail!("no webhook has the id or name {webhook:?}"),
                },
                None => None,
            };
            let query = WebhookCallQuery {
                webhook_id,
                status,
                order: ("created_at", false),
                limit: limit.clamp(0, 10_000),
                ..WebhookCallQuery::default()
            };
            let (calls, total) = db.list_webhook_calls(&query).await.context("reading the delivery log")?;
            if !json {
                println!(
                    "{:<24} {:<24} {:<14} {:<12} {:>8} {:>6} CREATED",
                    "ID", "WEBHOOK", "EVENT", "STATUS", "ATTEMPTS", "HTTP"
                );
            }
            for call in &calls {
                let event = format!("{}.{}", call.entity_type, call.event_type);
                if json {
                    let line = json!({
                        "id": call.id, "webhook_id": call.webhook_id, "event": event, "entity_id": call.entity_id,
                        "status": call.status, "attempts": call.attempts, "response_status": call.response_status,
                        "error": call.error, "created_at": format_iso_millis(call.created_at),
                        "last_sent_at": call.last_sent_at.map(format_iso_millis),
                        "next_retry_at": call.next_retry_at.map(format_iso_millis),
                    });
                    println!("{line}");
                } else {
                    let http = call.response_status.map_or_else(|| "-".to_owned(), |s| s.to_string());
                    println!(
                        "{:<24} {:<24} {:<14} {:<12} {:>8} {:>6} {}",
                        call.id,
                        call.webhook_id,
                        event,
                        call.status,
                        call.attempts,
                        http,
                        format_iso_millis(call.created_at)
                    );
                }
            }
            if !json && total > calls.len() as i64 {
                println!("({} of {total} calls; --limit shows more)", calls.len());
            }
            Ok(())
        }
    }
}

/// `upload:create,upload:delete` → `[{entity_type: "upload", event_types: ["create", "delete"]}]`.
fn events_json(events: &[String]) -> anyhow::Result<Value> {
    let mut by_entity: Map<String, Value> = Map::new();
    for event in events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let Some((entity, kind)) = event.split_once(':') else {
            bail!("an event is <entity>:<event>, e.g. upload:create; got {event:?}")
        };
        let types = by_entity.entry(entity.to_owned()).or_insert_with(|| json!([]));
        if let Some(types) = types.as_array_mut() {
            types.push(Value::from(kind));
        }
    }
    Ok(Value::Array(
        by_entity.into_iter().map(|(entity, types)| json!({ "entity_type": entity, "event_types": types })).collect(),
    ))
}

/// `Name: value` lines → a header object.
fn headers_json(headers: &[String]) -> anyhow::Result<Value> {
    let mut object = Map::new();
    for header in headers {
        let Some((name, value)) = header.split_once(':') else { bail!("a header is `Name: value`; got {header:?}") };
        object.insert(name.trim().to_owned(), Value::from(value.trim()));
    }
    Ok(Value::Object(object))
}

fn event_list(settings: &WebhookSettings) -> Vec<String> {
    let mut list = Vec::new();
    for event in &settings.events {
        let entity = event["entity_type"].as_str().unwrap_or_default();
        for kind in event["event_types"].as_array().into_iter().flatten() {
            list.push(format!("{entity}:{}", kind.as_str().unwrap_or_default()));
        }
    }
    list
}

/// The API's 422 as a command-line message.
fn explain(error: CmaError) -> anyhow::Error {
    let field = error.details["field"].as_str().unwrap_or("webhook");
    let message = error.details["message"].as_str().map_or_else(|| error.details.to_string(), str::to_owned);
    anyhow::anyhow!("{field}: {message}")
}
