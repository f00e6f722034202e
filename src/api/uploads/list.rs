//! `GET /uploads` (spec §3.3): `filter[ids]`, `filter[query]` (full text), `filter[fields]`,
//! `locale`, `order_by` (several keys), offset paging and `meta.total_count`. A parameter we do
//! not support answers 422, never an unfiltered list.

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
    config::Config,
    db::{locale_prefix, search_words, MetadataRow, OrderField, StringField, StringOp, UploadCondition, UploadQuery},
    domain::{CmaError, Locale},
    uploads::filter_fields::{field_conditions, MAX_VALUES},
    views::upload_resource,
};

pub(in crate::api) const DEFAULT_LIMIT: i64 = 30;
pub(in crate::api) const MAX_LIMIT: i64 = 500;

pub(crate) async fn list_uploads(
    State(app): State<Arc<App>>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    let upload_query = parse_query(&app.config, &query)?;
    let (rows, total) = app.db.list_uploads(&upload_query).await?;
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

/// The listing the parsed query string asks for. Takes the config rather than the app so the fuzz
/// target ([`crate::fuzzing::filter_params`]) can run it without a database or storage.
pub(crate) fn parse_query(config: &Config, query: &Map<String, Value>) -> ApiResult<UploadQuery> {
    only_params(query, &["filter", "page", "locale", "order_by"])?;
    let (offset, limit) = page_params(query, DEFAULT_LIMIT, MAX_LIMIT)?;
    let locale = locale(config, query)?;
    let conditions = match query.get("filter") {
        None => Vec::new(),
        Some(Value::Object(filter)) => filter_conditions(filter, &locale)?,
        Some(_) => return Err(CmaError::invalid_params("filter", "filter must be an object (filter[...])")),
    };
    let searching = conditions.iter().any(|c| matches!(c, UploadCondition::Search(_)));
    let order = order(query, searching)?;
    Ok(UploadQuery { conditions, order, offset, limit })
}

/// `locale` (default: the main locale) must be one of the environment's.
fn locale(config: &Config, query: &Map<String, Value>) -> ApiResult<Locale> {
    match query.get("locale") {
        None => Ok(config.main_locale().clone()),
        Some(Value::String(raw)) => config
            .locales
            .iter()
            .find(|l| l.as_str() == raw)
            .cloned()
            .ok_or_else(|| CmaError::invalid_params("locale", "not a locale of this environment")),
        Some(_) => Err(CmaError::invalid_params("locale", "locale must be a single value")),
    }
}

fn filter_conditions(filter: &Map<String, Value>, locale: &Locale) -> ApiResult<Vec<UploadCondition>> {
    let mut conditions = Vec::new();
    for (key, value) in filter {
        match key.as_str() {
            "ids" => {
                let ids = value
                    .as_str()
                    .ok_or_else(|| CmaError::invalid_filter("ids", "filter[ids] must be a comma-separated string"))?;
                let ids: Vec<String> =
                    ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect();
                if ids.len() > MAX_VALUES {
                    return Err(CmaError::invalid_filter("ids", format!("at most {MAX_VALUES} ids")));
                }
                conditions.push(UploadCondition::String { field: StringField::Id, op: StringOp::In(ids) });
            }
            "query" => {
                let text = value
                    .as_str()
                    .ok_or_else(|| CmaError::invalid_filter("query", "filter[query] must be a string"))?;
                if let Some(expression) = search_expression(text, locale) {
                    conditions.push(UploadCondition::Search(expression));
                }
            }
            "fields" => {
                let fields = value
                    .as_object()
                    .ok_or_else(|| CmaError::invalid_filter("fields", "filter[fields] must be an object"))?;
                conditions.extend(field_conditions(fields, locale)?);
            }
            other => return Err(CmaError::invalid_filter(other, format!("filter[{other}] is not supported"))),
        }
    }
    Ok(conditions)
}

/// Every word must match a word of the upload's document in `locale`: the last one as a prefix
/// (so results follow typing), the others whole. `None` when the text has no words (an empty
/// search filters nothing).
fn search_expression(text: &str, locale: &Locale) -> Option<Vec<String>> {
    let prefix = locale_prefix(locale.as_str());
    let words = search_words(text);
    let (last, rest) = words.split_last()?;
    let mut terms: Vec<String> = rest.iter().take(15).map(|w| format!("{prefix}{w}")).collect();
    terms.push(format!("{prefix}{last}"));
    Some(terms)
}

/// `order_by=_created_at_DESC,size_ASC`.
fn order(query: &Map<String, Value>, searching: bool) -> ApiResult<Vec<(OrderField, bool)>> {
    let raw = match query.get("order_by") {
        None => return Ok(Vec::new()),
        Some(Value::String(raw)) => raw,
        Some(_) => return Err(invalid_ordering("order_by must be a comma-separated string")),
    };
    let mut order = Vec::new();
    for key in raw.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let (name, direction) = key
            .rsplit_once('_')
            .ok_or_else(|| invalid_ordering(&format!("{key}: expected <field>_ASC or <field>_DESC")))?;
        let descending = match direction {
            "ASC" => false,
            "DESC" => true,
            _ => return Err(invalid_ordering(&format!("{key}: expected <field>_ASC or <field>_DESC"))),
        };
        let field = match name {
            "_created_at" => OrderField::CreatedAt,
            "_updated_at" => OrderField::UpdatedAt,
            "basename" => OrderField::Basename,
            "filename" => OrderField::Filename,
            "format" => OrderField::Format,
            "id" => OrderField::Id,
            "mime_type" => OrderField::MimeType,
            "resolution" => OrderField::Resolution,
            "size" => OrderField::Size,
            "_rank" if searching => OrderField::Rank,
            "_rank" => return Err(invalid_ordering("_rank needs filter[query]")),
            other => return Err(invalid_ordering(&format!("uploads cannot be ordered by {other}"))),
        };
        order.push((field, descending));
    }
    Ok(order)
}

fn invalid_ordering(message: &str) -> CmaError {
    CmaError::new(422, "INVALID_ORDERING", json!({ "message": message }))
}
