//! `GET /uploads` (spec §3.3), the part the client's helpers need: `filter[ids]`, exact
//! `filter[fields]` on id/md5/format/mime_type/path, `locale`, paging and `meta.total_count`.
//! Every other filter answers 422 `INVALID_FILTER_FIELDS_PARAM`, never an unfiltered list.

use std::{collections::HashMap, sync::Arc};

use axum::{extract::State, Json};
use serde_json::{json, Map, Value};

use crate::{
    api::{
        error::ApiResult,
        extract::NestedQuery,
        query::{only_params, page_params},
    },
    app::App,
    db::{ExactColumn, MetadataRow, UploadCondition, UploadQuery},
    domain::CmaError,
    views::upload_resource,
};

const DEFAULT_LIMIT: i64 = 30;
const MAX_LIMIT: i64 = 500;

pub(crate) async fn list_uploads(
    State(app): State<Arc<App>>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    only_params(&query, &["filter", "page", "locale", "order_by"])?;
    let (offset, limit) = page_params(&query, DEFAULT_LIMIT, MAX_LIMIT)?;
    check_locale(&app, &query)?;
    check_order(&query)?;
    let conditions = match query.get("filter") {
        None => Vec::new(),
        Some(Value::Object(filter)) => conditions(filter)?,
        Some(_) => return Err(CmaError::invalid_params("filter", "filter must be an object (filter[...])")),
    };
    let (rows, total) = app.db.list_uploads(&UploadQuery { conditions, offset, limit }).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut metadata: HashMap<String, Vec<MetadataRow>> = HashMap::new();
    for (upload_id, row) in app.db.list_metadata_for(&ids).await? {
        metadata.entry(upload_id).or_default().push(row);
    }
    let data: Vec<Value> = rows
        .iter()
        .map(|row| upload_resource(row, metadata.get(&row.id).map_or(&[], Vec::as_slice), &app.views))
        .collect();
    Ok(Json(json!({ "data": data, "meta": { "total_count": total } })))
}

fn check_locale(app: &App, query: &Map<String, Value>) -> ApiResult<()> {
    match query.get("locale") {
        None => Ok(()),
        Some(Value::String(locale)) if app.config.locales.iter().any(|l| l.as_str() == locale) => Ok(()),
        Some(_) => Err(CmaError::invalid_params("locale", "not a locale of this environment")),
    }
}

/// Only the default order (newest first) is served so far.
fn check_order(query: &Map<String, Value>) -> ApiResult<()> {
    match query.get("order_by") {
        None => Ok(()),
        Some(Value::String(order)) if order == "_created_at_DESC" => Ok(()),
        Some(_) => Err(CmaError::new(
            422,
            "INVALID_ORDERING",
            json!({ "message": "order_by supports only _created_at_DESC for now" }),
        )),
    }
}

fn conditions(filter: &Map<String, Value>) -> ApiResult<Vec<UploadCondition>> {
    let mut conditions = Vec::new();
    for (key, value) in filter {
        match key.as_str() {
            "ids" => {
                let ids = value
                    .as_str()
                    .ok_or_else(|| CmaError::invalid_filter("ids", "filter[ids] must be a comma-separated string"))?;
                let ids = ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect();
                conditions.push(UploadCondition::Exact { column: ExactColumn::Id, values: ids, negate: false });
            }
            "fields" => {
                let fields = value
                    .as_object()
                    .ok_or_else(|| CmaError::invalid_filter("fields", "filter[fields] must be an object"))?;
                for (field, operators) in fields {
                    conditions.extend(field_conditions(field, operators)?);
                }
            }
            other => return Err(CmaError::invalid_filter(other, format!("filter[{other}] is not supported"))),
        }
    }
    Ok(conditions)
}

fn field_conditions(field: &str, operators: &Value) -> ApiResult<Vec<UploadCondition>> {
    let column = match field {
        "id" => ExactColumn::Id,
        "md5" => ExactColumn::Md5,
        "format" => ExactColumn::Format,
        "mime_type" => ExactColumn::MimeType,
        "path" => ExactColumn::Path,
        other => return Err(CmaError::invalid_filter(other, format!("filtering on {other} is not supported yet"))),
    };
    let operators = operators.as_object().ok_or_else(|| {
        CmaError::invalid_filter(field, format!("filter[fields][{field}] needs an operator, e.g. [eq]"))
    })?;
    let mut conditions = Vec::new();
    for (operator, value) in operators {
        let negate = matches!(operator.as_str(), "neq" | "notIn" | "not_in");
        let values = match (operator.as_str(), value) {
            ("eq" | "neq", Value::String(single)) => vec![single.clone()],
            ("in" | "notIn" | "not_in", Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| CmaError::invalid_filter(field, "values must be strings"))?,
            ("in" | "notIn" | "not_in", Value::String(list)) => list.split(',').map(|s| s.trim().to_owned()).collect(),
            ("eq" | "neq" | "in" | "notIn" | "not_in", _) => {
                return Err(CmaError::invalid_filter(field, format!("bad value for {field} {operator}")))
            }
            _ => {
                return Err(CmaError::invalid_filter(field, format!("operator {operator} is not supported on {field}")))
            }
        };
        conditions.push(UploadCondition::Exact { column, values, negate });
    }
    Ok(conditions)
}
