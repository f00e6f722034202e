//! `/upload-tags` (spec §6.3): tags in use on uploads plus explicitly created ones; id = name.

use std::sync::Arc;

use axum::{extract::State, Json};
use serde_json::{json, Map, Value};

use super::{
    error::ApiResult,
    extract::{parse_resource, CmaJson, NestedQuery, ResourceShape},
    query::{only_params, page_params},
};
use crate::{
    app::App,
    domain::{now_millis, CmaError},
};

pub(super) const DEFAULT_LIMIT: i64 = 50;
pub(super) const MAX_LIMIT: i64 = 500;

/// The body of `POST /upload-tags`.
pub(super) const CREATE_TAG: ResourceShape =
    ResourceShape { kind: "upload_tag", attributes: &["name"], relationships: &[] };

fn tag_resource(name: &str) -> Value {
    json!({ "type": "upload_tag", "id": name, "attributes": { "name": name } })
}

pub(super) async fn list_tags(State(app): State<Arc<App>>, NestedQuery(query): NestedQuery) -> ApiResult<Json<Value>> {
    let (text, offset, limit) = list_params(&query)?;
    let page = app.db.list_tags(text.as_deref(), offset, limit).await?;
    let data: Vec<Value> = page.names.iter().map(|name| tag_resource(name)).collect();
    Ok(Json(json!({ "data": data, "meta": { "total_count": page.total_count } })))
}

/// `GET /upload-smart-tags`: tags recognised in images. assetd has no recogniser yet, so the
/// honest answer is an empty list (the parameters are still checked).
pub(super) async fn list_smart_tags(NestedQuery(query): NestedQuery) -> ApiResult<Json<Value>> {
    list_params(&query)?;
    Ok(Json(json!({ "data": [], "meta": { "total_count": 0 } })))
}

/// `filter[query]`, `page[offset]`, `page[limit]`.
fn list_params(query: &Map<String, Value>) -> ApiResult<(Option<String>, i64, i64)> {
    only_params(query, &["filter", "page"])?;
    let (offset, limit) = page_params(query, DEFAULT_LIMIT, MAX_LIMIT)?;
    let text = match query.get("filter") {
        None => None,
        Some(Value::Object(filter)) => {
            if let Some(unknown) = filter.keys().find(|k| *k != "query") {
                return Err(CmaError::invalid_filter(unknown, "tags can only be filtered by filter[query]"));
            }
            match filter.get("query") {
                None => None,
                Some(Value::String(text)) => Some(text.clone()),
                Some(_) => return Err(CmaError::invalid_filter("query", "filter[query] must be a string")),
            }
        }
        Some(_) => return Err(CmaError::invalid_params("filter", "filter must be filter[query]")),
    };
    Ok((text, offset, limit))
}

pub(super) async fn create_tag(State(app): State<Arc<App>>, CmaJson(body): CmaJson) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &CREATE_TAG)?;
    let name = match resource.attributes.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => return Err(CmaError::invalid_field("name", "VALIDATION_REQUIRED", "name must be a non-empty string")),
    };
    app.db.insert_tag(&name, now_millis()).await?;
    Ok(Json(json!({ "data": tag_resource(&name) })))
}
