//! `UploadFilter` and `orderBy` as the typed query of the one upload listing: each field's
//! operators go through the same parser as `filter[fields]` of `GET /uploads`
//! ([`crate::uploads::filter_fields`]), so both APIs filter alike; `AND` adds conditions, `OR`
//! becomes one condition holding the alternatives.

use async_graphql::{dynamic::ValueAccessor, Value};
use serde_json::{Map, Value as Json};

use crate::{
    db::{OrderField, UploadCondition},
    domain::Locale,
    uploads::filter_fields::field_conditions,
};

/// Deepest nesting of `AND`/`OR` taken.
const MAX_NESTING: usize = 5;

/// The conditions of an `UploadFilter` (alt/title filters read `locale`).
pub(super) fn conditions(
    filter: Option<ValueAccessor<'_>>,
    locale: &Locale,
) -> async_graphql::Result<Vec<UploadCondition>> {
    match filter {
        None => Ok(Vec::new()),
        Some(filter) => filter_conditions(filter.as_value(), locale, 0),
    }
}

fn filter_conditions(filter: &Value, locale: &Locale, depth: usize) -> async_graphql::Result<Vec<UploadCondition>> {
    if depth > MAX_NESTING {
        return Err(async_graphql::Error::new(format!("filter: AND/OR nest at most {MAX_NESTING} deep")));
    }
    let Value::Object(fields) = filter else { return Ok(Vec::new()) };
    let mut conditions = Vec::new();
    let mut plain = Map::new();
    for (name, value) in fields {
        match (name.as_str(), value) {
            (_, Value::Null) => {}
            ("AND", Value::List(filters)) => {
                for filter in filters {
                    conditions.extend(filter_conditions(filter, locale, depth + 1)?);
                }
            }
            ("OR", Value::List(filters)) => {
                let groups =
                    filters.iter().map(|f| filter_conditions(f, locale, depth + 1)).collect::<Result<Vec<_>, _>>()?;
                conditions.push(UploadCondition::AnyOf(groups));
            }
            (field, Value::Object(operators)) => {
                let operators: Map<String, Json> =
                    operators.iter().filter_map(|(op, v)| Some((op.to_string(), operand(v)?))).collect();
                plain.insert(cma_field(field).to_owned(), Json::Object(operators));
            }
            (field, _) => return Err(async_graphql::Error::new(format!("filter.{field} needs operators"))),
        }
    }
    let parsed = field_conditions(&plain, locale).map_err(|error| {
        let message = error.details.get("message").and_then(Json::as_str).unwrap_or("invalid filter").to_owned();
        async_graphql::Error::new(format!("filter: {message}"))
    })?;
    conditions.extend(parsed);
    Ok(conditions)
}

/// The CMA's name of an `UploadFilter` field.
fn cma_field(field: &str) -> &str {
    match field {
        "mimeType" => "mime_type",
        "inUse" => "in_use",
        "smartTags" => "smart_tags",
        "_createdAt" => "_created_at",
        "_updatedAt" => "_updated_at",
        other => other,
    }
}

/// An operand as the CMA's parser takes it (its values come from a query string: text).
fn operand(value: &Value) -> Option<Json> {
    match value {
        Value::Null => None,
        Value::List(items) => Some(Json::Array(items.iter().filter_map(operand).collect())),
        // `matches`: DatoCMS's StringMatchesFilter defaults regexp to true.
        Value::Object(pattern) => {
            let mut out: Map<String, Json> =
                pattern.iter().filter_map(|(k, v)| Some((k.to_string(), operand(v)?))).collect();
            out.entry("regexp").or_insert_with(|| Json::String("true".into()));
            Some(Json::Object(out))
        }
        Value::Number(n) => Some(Json::String(n.to_string())),
        Value::String(s) => Some(Json::String(s.clone())),
        Value::Boolean(b) => Some(Json::String(b.to_string())),
        Value::Enum(name) => Some(Json::String(name.to_string())),
        Value::Binary(_) => None,
    }
}

/// `orderBy` (`[UploadOrderBy]`, default newest first) as the listing's order.
pub(super) fn order(order_by: Option<ValueAccessor<'_>>) -> async_graphql::Result<Vec<(OrderField, bool)>> {
    let Some(order_by) = order_by else { return Ok(vec![(OrderField::CreatedAt, true)]) };
    let mut order = Vec::new();
    for item in order_by.list()?.iter() {
        let name = item.enum_name()?;
        let (field, direction) = name.rsplit_once('_').ok_or_else(|| async_graphql::Error::new("bad orderBy"))?;
        let field = match field {
            "_createdAt" => OrderField::CreatedAt,
            "_updatedAt" => OrderField::UpdatedAt,
            "size" => OrderField::Size,
            "resolution" => OrderField::Resolution,
            "filename" => OrderField::Filename,
            "basename" => OrderField::Basename,
            "mimeType" => OrderField::MimeType,
            "format" => OrderField::Format,
            "id" => OrderField::Id,
            other => return Err(async_graphql::Error::new(format!("orderBy: {other} is not an order"))),
        };
        order.push((field, direction == "DESC"));
    }
    if order.is_empty() {
        order.push((OrderField::CreatedAt, true));
    }
    Ok(order)
}
