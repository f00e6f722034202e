//! A webhook's settings as the API and the command line take them: every attribute checked once,
//! with the same 422s for both.

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

use super::EVENT_TYPES;
use crate::{db::WebhookRow, domain::CmaError};

/// The attributes of `POST /webhooks` and `PUT /webhooks/{id}`, as the official client sends them.
pub const ATTRIBUTES: [&str; 11] = [
    "name",
    "url",
    "custom_payload",
    "headers",
    "events",
    "http_basic_user",
    "http_basic_password",
    "enabled",
    "payload_api_version",
    "nested_items_in_payload",
    "auto_retry",
];

/// Longest URL and name taken.
const MAX_URL: usize = 2048;
const MAX_NAME: usize = 255;
/// Most custom headers a webhook may send.
pub const MAX_HEADERS: usize = 50;

/// Headers assetd sets itself on every delivery; a webhook's custom headers may not replace them.
const RESERVED_HEADERS: [&str; 6] =
    ["content-type", "content-length", "host", "transfer-encoding", "connection", "authorization"];

/// Everything a webhook is configured with (not its id, secret or timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    pub name: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    /// The `events` list, normalised: `[{entity_type: "upload", event_types: [...]}]`.
    pub events: Vec<Value>,
    pub http_basic_user: Option<String>,
    pub http_basic_password: Option<String>,
    pub enabled: bool,
    pub payload_api_version: String,
    pub nested_items_in_payload: bool,
    pub auto_retry: bool,
}

impl WebhookSettings {
    /// A new webhook: `name`, `url` and `events` are required; the rest default as DatoCMS does
    /// (enabled, API version 3, automatic retries on).
    pub fn from_create(attributes: &Map<String, Value>) -> Result<Self, CmaError> {
        for required in ["name", "url", "events"] {
            if !attributes.contains_key(required) {
                return Err(CmaError::invalid_field(
                    required,
                    "VALIDATION_REQUIRED",
                    format!("{required} is required"),
                ));
            }
        }
        let mut settings = WebhookSettings {
            name: String::new(),
            url: String::new(),
            headers: BTreeMap::new(),
            events: Vec::new(),
            http_basic_user: None,
            http_basic_password: None,
            enabled: true,
            payload_api_version: "3".into(),
            nested_items_in_payload: false,
            auto_retry: true,
        };
        settings.apply(attributes)?;
        Ok(settings)
    }

    /// The settings stored in a row (written by [`WebhookSettings::apply`], so they parse).
    pub fn from_row(row: &WebhookRow) -> Self {
        WebhookSettings {
            name: row.name.clone(),
            url: row.url.clone(),
            headers: serde_json::from_str(&row.headers).unwrap_or_default(),
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            http_basic_user: row.http_basic_user.clone(),
            http_basic_password: row.http_basic_password.clone(),
            enabled: row.enabled,
            payload_api_version: row.payload_api_version.clone(),
            nested_items_in_payload: row.nested_items_in_payload,
            auto_retry: row.auto_retry,
        }
    }

    /// Checks and applies every attribute present (an update changes only what it names).
    pub fn apply(&mut self, attributes: &Map<String, Value>) -> Result<(), CmaError> {
        for (name, value) in attributes {
            match name.as_str() {
                "name" => self.name = parse_name(value)?,
                "url" => self.url = parse_url(value)?,
                "headers" => self.headers = parse_headers(value)?,
                "events" => self.events = parse_events(value)?,
                "custom_payload" => parse_custom_payload(value)?,
                "http_basic_user" => self.http_basic_user = optional_text(name, value)?,
                "http_basic_password" => self.http_basic_password = optional_text(name, value)?,
                "enabled" => self.enabled = boolean(name, value)?,
                "nested_items_in_payload" => self.nested_items_in_payload = boolean(name, value)?,
                "auto_retry" => self.auto_retry = boolean(name, value)?,
                "payload_api_version" => self.payload_api_version = parse_api_version(value)?,
                other => return Err(CmaError::extraneous_attributes(vec![other.to_owned()])),
            }
        }
        Ok(())
    }

    /// Whether the webhook wants `event_type` events about `entity_type`.
    pub fn wants(&self, entity_type: &str, event_type: &str) -> bool {
        self.events.iter().any(|event| {
            event["entity_type"] == entity_type
                && event["event_types"].as_array().is_some_and(|types| types.iter().any(|t| t == event_type))
        })
    }

    /// The row for these settings.
    pub fn to_row(&self, id: &str, secret: &str, created_at: i64, updated_at: i64) -> WebhookRow {
        WebhookRow {
            id: id.to_owned(),
            name: self.name.clone(),
            url: self.url.clone(),
            headers: json!(self.headers).to_string(),
            events: Value::Array(self.events.clone()).to_string(),
            custom_payload: None,
            http_basic_user: self.http_basic_user.clone(),
            http_basic_password: self.http_basic_password.clone(),
            enabled: self.enabled,
            payload_api_version: self.payload_api_version.clone(),
            nested_items_in_payload: self.nested_items_in_payload,
            auto_retry: self.auto_retry,
            secret: secret.to_owned(),
            created_at,
            updated_at,
        }
    }
}

fn parse_name(value: &Value) -> Result<String, CmaError> {
    match value.as_str().map(str::trim) {
        Some(name) if !name.is_empty() && name.chars().count() <= MAX_NAME => Ok(name.to_owned()),
        _ => Err(CmaError::invalid_field("name", "INVALID_FORMAT", format!("name must be 1-{MAX_NAME} characters"))),
    }
}

/// An absolute `http` or `https` URL with a host.
pub fn parse_url(value: &Value) -> Result<String, CmaError> {
    let invalid = |message: &str| CmaError::invalid_field("url", "INVALID_FORMAT", message);
    let text = value.as_str().ok_or_else(|| invalid("url must be a string"))?.trim();
    if text.len() > MAX_URL {
        return Err(invalid("url is too long"));
    }
    let url = reqwest::Url::parse(text).map_err(|_| invalid("url must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url must be an absolute http or https URL"));
    }
    Ok(url.to_string())
}

/// An object of header names to string values; names and values must be valid HTTP, and the
/// headers assetd sets itself cannot be replaced.
pub fn parse_headers(value: &Value) -> Result<BTreeMap<String, String>, CmaError> {
    let invalid = |message: String| CmaError::invalid_field("headers", "INVALID_FORMAT", message);
    let object = match value {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(object) => object,
        _ => return Err(invalid("headers must be an object of strings".into())),
    };
    if object.len() > MAX_HEADERS {
        return Err(invalid(format!("at most {MAX_HEADERS} headers")));
    }
    let mut headers = BTreeMap::new();
    for (name, value) in object {
        let Some(text) = value.as_str() else { return Err(invalid(format!("header {name:?} must be a string"))) };
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(format!("{name:?} is not a header name")));
        }
        if HeaderValue::from_str(text).is_err() {
            return Err(invalid(format!("the value of {name:?} is not a valid header value")));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-assetd-") {
            return Err(invalid(format!(
                "{name} is set by assetd (use http_basic_user/http_basic_password for Authorization)"
            )));
        }
        headers.insert(name.clone(), text.to_owned());
    }
    Ok(headers)
}

/// `[{entity_type, event_types, filters?}]`: assetd has uploads only, so `entity_type` must be
/// `upload` and `event_types` among create, update, delete; `filters` (which DatoCMS defines for
/// records and models) must be absent, null or empty.
pub fn parse_events(value: &Value) -> Result<Vec<Value>, CmaError> {
    let invalid = |code: &str, message: String| CmaError::invalid_field("events", code, message);
    let items = value.as_array().ok_or_else(|| invalid("INVALID_FORMAT", "events must be an array".into()))?;
    let mut events = Vec::new();
    for item in items {
        let object =
            item.as_object().ok_or_else(|| invalid("INVALID_FORMAT", "each event must be an object".into()))?;
        if let Some(unknown) = object.keys().find(|k| !["entity_type", "event_types", "filters"].contains(&k.as_str()))
        {
            return Err(invalid("INVALID_FORMAT", format!("unknown event key {unknown:?}")));
        }
        match object.get("entity_type").and_then(Value::as_str) {
            Some("upload") => {}
            Some(other) => {
                return Err(invalid(
                    "UNSUPPORTED_ENTITY_TYPE",
                    format!("entity_type {other:?} is not available: assetd sends upload events only"),
                ))
            }
            None => return Err(invalid("INVALID_FORMAT", "entity_type must be \"upload\"".into())),
        }
        let types = object
            .get("event_types")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("INVALID_FORMAT", "event_types must be an array".into()))?;
        let mut event_types: Vec<&str> = Vec::new();
        for event_type in types {
            match event_type.as_str() {
                Some(name) if EVENT_TYPES.contains(&name) => {
                    if !event_types.contains(&name) {
                        event_types.push(name);
                    }
                }
                _ => {
                    return Err(invalid(
                        "UNSUPPORTED_EVENT_TYPE",
                        format!("upload event types are {}; got {event_type}", EVENT_TYPES.join(", ")),
                    ))
                }
            }
        }
        if event_types.is_empty() {
            return Err(invalid("INVALID_FORMAT", "event_types must name at least one event".into()));
        }
        match object.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(filters)) if filters.is_empty() => {}
            Some(_) => {
                return Err(invalid(
                    "UNSUPPORTED_FILTERS",
                    "filters select records, models or environments, which assetd does not have: send null".into(),
                ))
            }
        }
        events.push(json!({ "entity_type": "upload", "event_types": event_types }));
    }
    Ok(events)
}

/// DatoCMS renders `custom_payload` as a Mustache template; assetd always sends the standard
/// payload, so only null (or an empty string) is taken.
fn parse_custom_payload(value: &Value) -> Result<(), CmaError> {
    match value {
        Value::Null => Ok(()),
        Value::String(text) if text.trim().is_empty() => Ok(()),
        _ => Err(CmaError::invalid_field(
            "custom_payload",
            "NOT_SUPPORTED",
            "custom payloads (Mustache templates) are not supported: assetd sends the standard payload; send null",
        )),
    }
}

fn parse_api_version(value: &Value) -> Result<String, CmaError> {
    match value.as_str() {
        Some("3") => Ok("3".into()),
        _ => Err(CmaError::invalid_field(
            "payload_api_version",
            "INVALID_FORMAT",
            "the only payload API version is \"3\"",
        )),
    }
}

fn optional_text(name: &str, value: &Value) -> Result<Option<String>, CmaError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) if text.len() <= 1024 && !text.contains(['\r', '\n']) => Ok(Some(text.clone())),
        _ => Err(CmaError::invalid_field(
            name,
            "INVALID_FORMAT",
            format!("{name} must be a short single-line string or null"),
        )),
    }
}

fn boolean(name: &str, value: &Value) -> Result<bool, CmaError> {
    value.as_bool().ok_or_else(|| CmaError::invalid_field(name, "INVALID_FORMAT", format!("{name} must be a boolean")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(attributes: Value) -> Result<WebhookSettings, CmaError> {
        WebhookSettings::from_create(attributes.as_object().unwrap())
    }

    #[test]
    fn a_minimal_webhook_gets_the_defaults() {
        let settings = create(json!({
            "name": " hook ", "url": "http://127.0.0.1:9/x",
            "events": [{ "entity_type": "upload", "event_types": ["create", "delete", "create"], "filters": null }],
        }))
        .unwrap();
        assert_eq!(settings.name, "hook");
        assert!(settings.enabled && settings.auto_retry);
        assert_eq!(settings.events, vec![json!({ "entity_type": "upload", "event_types": ["create", "delete"] })]);
        assert!(settings.wants("upload", "create") && !settings.wants("upload", "update"));
    }

    #[test]
    fn bad_attributes_name_their_field() {
        let base = || json!({ "name": "h", "url": "https://example.com/h", "events": [] });
        let cases = [
            ("url", json!("ftp://example.com"), "INVALID_FORMAT"),
            ("url", json!("/relative"), "INVALID_FORMAT"),
            ("events", json!([{ "entity_type": "item", "event_types": ["create"] }]), "UNSUPPORTED_ENTITY_TYPE"),
            ("events", json!([{ "entity_type": "upload", "event_types": ["publish"] }]), "UNSUPPORTED_EVENT_TYPE"),
            ("events", json!([{ "entity_type": "upload", "event_types": [] }]), "INVALID_FORMAT"),
            (
                "events",
                json!([{ "entity_type": "upload", "event_types": ["create"], "filters": [{ "entity_type": "item", "entity_ids": ["1"] }] }]),
                "UNSUPPORTED_FILTERS",
            ),
            ("headers", json!({ "X-Assetd-Signature": "forged" }), "INVALID_FORMAT"),
            ("headers", json!({ "Content-Type": "text/plain" }), "INVALID_FORMAT"),
            ("headers", json!({ "bad header": "x" }), "INVALID_FORMAT"),
            ("headers", json!({ "X-Ok": 3 }), "INVALID_FORMAT"),
            ("custom_payload", json!("{{event_type}}"), "NOT_SUPPORTED"),
            ("payload_api_version", json!("2"), "INVALID_FORMAT"),
            ("enabled", json!("yes"), "INVALID_FORMAT"),
            ("http_basic_user", json!("a\nb"), "INVALID_FORMAT"),
        ];
        for (field, value, code) in cases {
            let mut attributes = base();
            attributes[field] = value.clone();
            let Err(error) = create(attributes) else { panic!("{field} = {value} was accepted") };
            assert_eq!(
                (error.status, error.details["field"].as_str(), error.details["code"].as_str()),
                (422, Some(field), Some(code)),
                "{field} = {value}"
            );
        }
        let error = create(json!({ "name": "h", "url": "https://example.com" })).unwrap_err();
        assert_eq!(error.details["code"], "VALIDATION_REQUIRED");
    }
}
