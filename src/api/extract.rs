//! Request extractors whose rejections use the CMA envelope: the authenticated caller, the JSON
//! body, the raw query, and the JSON:API resource inside a body.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use crate::domain::CmaError;

/// Largest JSON body a CMA endpoint reads.
pub(super) const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// The token a request was authenticated with (put in the request by the CMA guard).
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub token_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!("a CMA handler ran without the CMA guard");
            CmaError::internal()
        })
    }
}

/// The raw query string, parsed by [`super::query::parse_nested_query`].
#[derive(Debug, Clone)]
pub(super) struct NestedQuery(pub Map<String, Value>);

impl<S: Send + Sync> FromRequestParts<S> for NestedQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        super::query::parse_nested_query(parts.uri.query()).map(NestedQuery)
    }
}

/// A JSON body sent as `application/json` or `application/vnd.api+json`.
#[derive(Debug, Clone)]
pub(super) struct CmaJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for CmaJson {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
            let content_type = content_type.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && essence != "application/vnd.api+json" {
                return Err(CmaError::new(
                    415,
                    "INVALID_CONTENT_TYPE_HEADER",
                    json!({ "message": "send the body as application/json or application/vnd.api+json" }),
                ));
            }
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                CmaError::new(413, "REQUEST_ENTITY_TOO_LARGE", json!({ "limit": MAX_JSON_BODY }))
            } else {
                CmaError::new(400, "INVALID_JSON_BODY", json!({ "message": rejection.body_text() }))
            }
        })?;
        let value = serde_json::from_slice(&bytes).map_err(|error| {
            CmaError::new(
                400,
                "INVALID_JSON_BODY",
                json!({ "message": format!("the body is not valid JSON: {error}") }),
            )
        })?;
        if super::nul_guard::json_has_nul(&value) {
            return Err(CmaError::new(
                400,
                "INVALID_JSON_BODY",
                json!({ "message": "strings in the body may not hold a NUL character (\\u0000)" }),
            ));
        }
        Ok(CmaJson(value))
    }
}

/// The `data` resource of a create/update body, checked against what the endpoint takes.
#[derive(Debug, Clone, Default)]
pub(super) struct ResourceBody {
    pub id: Option<String>,
    pub attributes: Map<String, Value>,
    pub relationships: Map<String, Value>,
}

/// What one endpoint's request body may hold: its `data.type` and the attribute and relationship
/// names it takes. The handler parses with it and the OpenAPI document describes the body from it,
/// so the two cannot drift apart.
#[derive(Debug, Clone, Copy)]
pub(super) struct ResourceShape {
    pub kind: &'static str,
    pub attributes: &'static [&'static str],
    pub relationships: &'static [&'static str],
}

/// Checks `data.type`, refuses attributes and relationships outside the endpoint's lists and
/// ignores `data.meta` (clients echo it back).
pub(super) fn parse_resource(body: &Value, shape: &ResourceShape) -> Result<ResourceBody, CmaError> {
    let ResourceShape { kind: resource_type, attributes, relationships } = *shape;
    let data = body
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| CmaError::invalid_format("the body must be a JSON:API document: {\"data\": {\"type\": …}}"))?;
    match data.get("type") {
        Some(Value::String(t)) if t == resource_type => {}
        other => return Err(CmaError::invalid_type(resource_type, other.unwrap_or(&Value::Null))),
    }
    let id = match data.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(CmaError::invalid_field("id", "INVALID_FORMAT", "id must be a string")),
    };
    let object = |key: &str| -> Result<Map<String, Value>, CmaError> {
        match data.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(_) => Err(CmaError::invalid_format(format!("data.{key} must be an object"))),
        }
    };
    let attrs = object("attributes")?;
    let extraneous: Vec<String> = attrs.keys().filter(|k| !attributes.contains(&k.as_str())).cloned().collect();
    if !extraneous.is_empty() {
        return Err(CmaError::extraneous_attributes(extraneous));
    }
    let rels = object("relationships")?;
    if let Some(unknown) = rels.keys().find(|k| !relationships.contains(&k.as_str())) {
        return Err(CmaError::new(
            422,
            "INVALID_RELATIONSHIP",
            json!({ "relationship": unknown, "message": "unknown relationship" }),
        ));
    }
    Ok(ResourceBody { id, attributes: attrs, relationships: rels })
}

impl ResourceBody {
    /// `relationships.<name>`: absent → `None`; `{data: null}` → `Some(None)`; `{data: {type, id}}`
    /// → `Some(Some((type, id)))`. Other shapes are refused.
    pub(super) fn linkage(&self, name: &str) -> Result<Option<Option<(String, String)>>, CmaError> {
        let Some(value) = self.relationships.get(name) else { return Ok(None) };
        let bad = || {
            CmaError::new(
                422,
                "INVALID_RELATIONSHIP",
                json!({ "relationship": name, "message": "expected {\"data\": null} or {\"data\": {\"type\", \"id\"}}" }),
            )
        };
        let data = value.as_object().and_then(|o| o.get("data")).ok_or_else(bad)?;
        match data {
            Value::Null => Ok(Some(None)),
            Value::Object(link) => match (link.get("type"), link.get("id")) {
                (Some(Value::String(kind)), Some(Value::String(id))) => Ok(Some(Some((kind.clone(), id.clone())))),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// An optional text attribute: absent → `None`; null → `Some(None)`.
    pub(super) fn optional_text(&self, name: &str) -> Result<Option<Option<String>>, CmaError> {
        match self.attributes.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
            Some(_) => Err(CmaError::invalid_field(name, "INVALID_FORMAT", format!("{name} must be a string or null"))),
        }
    }

    /// A tag list: absent → `None`; otherwise an array of strings, normalised.
    pub(super) fn tags(&self) -> Result<Option<Vec<String>>, CmaError> {
        let Some(value) = self.attributes.get("tags") else { return Ok(None) };
        let bad = || CmaError::invalid_field("tags", "INVALID_FORMAT", "tags must be an array of strings");
        let items = value.as_array().ok_or_else(bad)?;
        let tags =
            items.iter().map(|t| t.as_str().map(str::to_owned).ok_or_else(bad)).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(crate::domain::normalize_tags(tags)))
    }
}
