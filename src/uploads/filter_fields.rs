//! The fields uploads are filtered by, with their operators (spec §3.3), parsed into the typed
//! conditions of the one upload listing: `filter[fields]` of `GET /uploads`, and the GraphQL
//! `UploadFilter` (whose operators these are, in the same spelling). Anything else is 422
//! `INVALID_FILTER_FIELDS_PARAM`, never ignored.

use serde_json::{Map, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use crate::{
    db::{Comparison, NumberField, Pattern, StringField, StringOp, TagOp, UploadCondition},
    domain::{CmaError, Locale, COLOR_BUCKETS, MEDIA_TYPES},
};

const RESOLUTIONS: [&str; 4] = ["icon", "small", "medium", "large"];
const ORIENTATIONS: [&str; 3] = ["landscape", "portrait", "square"];
const MINUTE_MS: i64 = 60_000;
/// Most values one list operator takes (SQLite binds at most 32,766 values per statement).
pub const MAX_VALUES: usize = 1000;

/// Which operators a string field takes.
#[derive(Clone, Copy)]
struct StringOps {
    equality: bool,
    matching: bool,
    exists: bool,
}

const EQUALITY: StringOps = StringOps { equality: true, matching: false, exists: false };
const MATCHING: StringOps = StringOps { equality: false, matching: true, exists: false };
const MATCHING_EXISTS: StringOps = StringOps { equality: false, matching: true, exists: true };
const ALL_STRING_OPS: StringOps = StringOps { equality: true, matching: true, exists: true };

/// Parses `filter[fields]`; `locale` is the locale alt/title filters look at.
pub fn field_conditions(fields: &Map<String, Value>, locale: &Locale) -> Result<Vec<UploadCondition>, CmaError> {
    let mut conditions = Vec::new();
    for (field, operators) in fields {
        let operators = operators.as_object().ok_or_else(|| {
            CmaError::invalid_filter(field, format!("filter[fields][{field}] needs an operator, e.g. [eq]"))
        })?;
        for (operator, value) in operators {
            conditions.push(condition(field, &canonical_operator(operator), value, locale)?);
        }
    }
    Ok(conditions)
}

/// Operators are accepted in the GraphQL spelling (`notIn`) and in snake case (`not_in`).
fn canonical_operator(operator: &str) -> String {
    match operator {
        "not_in" => "notIn".into(),
        "not_matches" => "notMatches".into(),
        "all_in" => "allIn".into(),
        "any_in" => "anyIn".into(),
        other => other.into(),
    }
}

fn condition(field: &str, op: &str, value: &Value, locale: &Locale) -> Result<UploadCondition, CmaError> {
    let string = |field_kind: StringField, ops: StringOps, allowed: Option<&[&str]>| {
        string_condition(field, field_kind, ops, op, value, allowed)
    };
    match field {
        "id" => string(StringField::Id, EQUALITY, None),
        "type" => string(StringField::MediaType, EQUALITY, Some(&MEDIA_TYPES)),
        "md5" => string(StringField::Md5, EQUALITY, None),
        "path" => string(StringField::Path, EQUALITY, None),
        "format" => string(StringField::Format, EQUALITY, None),
        "mime_type" => string(StringField::MimeType, StringOps { equality: true, matching: true, exists: false }, None),
        "alt" => string(StringField::Alt(locale.to_string()), ALL_STRING_OPS, None),
        "title" => string(StringField::Title(locale.to_string()), ALL_STRING_OPS, None),
        "author" => string(StringField::Author, MATCHING_EXISTS, None),
        "copyright" => string(StringField::Copyright, MATCHING_EXISTS, None),
        "notes" => string(StringField::Notes, MATCHING_EXISTS, None),
        "basename" => string(StringField::Basename, MATCHING, None),
        "filename" => string(StringField::Filename, MATCHING, None),
        // An assetd extension (the Media Area's collection tree): `eq`/`in` a collection id,
        // `exists=false` for the uploads at the root.
        "upload_collection" => {
            string(StringField::Collection, StringOps { equality: true, matching: false, exists: true }, None)
        }
        "resolution" => string(StringField::Resolution, EQUALITY, Some(&RESOLUTIONS)),
        "orientation" => {
            if op != "eq" && op != "neq" {
                return Err(unsupported(field, op));
            }
            string(StringField::Orientation, EQUALITY, Some(&ORIENTATIONS))
        }
        "width" => number_condition(field, NumberField::Width, op, value),
        "height" => number_condition(field, NumberField::Height, op, value),
        "size" => number_condition(field, NumberField::Size, op, value),
        "_created_at" => date_condition(field, NumberField::CreatedAt, op, value),
        "_updated_at" => date_condition(field, NumberField::UpdatedAt, op, value),
        "tags" => Ok(UploadCondition::Tags(tag_op(field, op, value)?)),
        // assetd recognises nothing in images yet: every upload has no smart tags.
        "smart_tags" => Ok(UploadCondition::Always(match tag_op(field, op, value)? {
            TagOp::AnyIn(_) => false,
            TagOp::AllIn(tags) => tags.is_empty(),
            TagOp::NotIn(_) => true,
            TagOp::Eq(tags) => tags.is_empty(),
        })),
        // assetd holds no records, so no upload is in use.
        "in_use" => match (op, value.as_str()) {
            ("eq", Some("true")) => Ok(UploadCondition::Always(false)),
            ("eq", Some("false")) => Ok(UploadCondition::Always(true)),
            ("eq", _) => Err(CmaError::invalid_filter(field, "in_use takes true or false")),
            _ => Err(unsupported(field, op)),
        },
        "colors" => {
            let op = tag_op(field, op, value)?;
            let (TagOp::AnyIn(values) | TagOp::AllIn(values) | TagOp::NotIn(values) | TagOp::Eq(values)) = &op;
            if let Some(bad) = values.iter().find(|v| !COLOR_BUCKETS.contains(&v.as_str())) {
                return Err(CmaError::invalid_filter(
                    field,
                    format!("{bad:?} is not one of {}", COLOR_BUCKETS.join(", ")),
                ));
            }
            Ok(UploadCondition::Colors(op))
        }
        other => Err(CmaError::invalid_filter(other, format!("{other} is not a field uploads can be filtered by"))),
    }
}

fn unsupported(field: &str, op: &str) -> CmaError {
    CmaError::invalid_filter(field, format!("operator {op} is not supported on {field}"))
}

fn string_condition(
    name: &str,
    field: StringField,
    ops: StringOps,
    op: &str,
    value: &Value,
    allowed: Option<&[&str]>,
) -> Result<UploadCondition, CmaError> {
    let check = |values: Vec<String>| -> Result<Vec<String>, CmaError> {
        if let Some(allowed) = allowed {
            if let Some(bad) = values.iter().find(|v| !allowed.contains(&v.as_str())) {
                return Err(CmaError::invalid_filter(name, format!("{bad:?} is not one of {}", allowed.join(", "))));
            }
        }
        Ok(values)
    };
    let op = match op {
        "eq" if ops.equality => StringOp::In(check(vec![single(name, value)?])?),
        "neq" if ops.equality => StringOp::NotIn(check(vec![single(name, value)?])?),
        "in" if ops.equality => StringOp::In(check(list(name, value)?)?),
        "notIn" if ops.equality => StringOp::NotIn(check(list(name, value)?)?),
        "matches" if ops.matching => StringOp::Matches(pattern(name, value)?),
        "notMatches" if ops.matching => StringOp::NotMatches(pattern(name, value)?),
        "exists" if ops.exists => StringOp::Exists(boolean(name, value)?),
        _ => return Err(unsupported(name, op)),
    };
    Ok(UploadCondition::String { field, op })
}

fn single(name: &str, value: &Value) -> Result<String, CmaError> {
    value.as_str().map(str::to_owned).ok_or_else(|| CmaError::invalid_filter(name, "expected a single value"))
}

/// `x[in][]=a&x[in][]=b` or `x[in]=a,b`, at most [`MAX_VALUES`] of them.
fn list(name: &str, value: &Value) -> Result<Vec<String>, CmaError> {
    let values = list_values(name, value)?;
    if values.len() > MAX_VALUES {
        return Err(CmaError::invalid_filter(name, format!("at most {MAX_VALUES} values")));
    }
    Ok(values)
}

fn list_values(name: &str, value: &Value) -> Result<Vec<String>, CmaError> {
    match value {
        Value::String(text) => Ok(text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| CmaError::invalid_filter(name, "expected a list of values")),
        _ => Err(CmaError::invalid_filter(name, "expected a list of values")),
    }
}

fn boolean(name: &str, value: &Value) -> Result<bool, CmaError> {
    match value.as_str() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(CmaError::invalid_filter(name, "expected true or false")),
    }
}

/// `matches[pattern]=…&matches[caseSensitive]=true&matches[regexp]=false` (a bare string is a pattern).
fn pattern(name: &str, value: &Value) -> Result<Pattern, CmaError> {
    let object = match value {
        Value::String(text) => return Ok(Pattern { text: text.clone(), case_sensitive: false, regexp: false }),
        Value::Object(object) => object,
        _ => return Err(CmaError::invalid_filter(name, "matches takes [pattern], [caseSensitive], [regexp]")),
    };
    let mut pattern = Pattern { text: String::new(), case_sensitive: false, regexp: false };
    let mut has_pattern = false;
    for (key, value) in object {
        match key.as_str() {
            "pattern" => {
                pattern.text = single(name, value)?;
                has_pattern = true;
            }
            "caseSensitive" | "case_sensitive" => pattern.case_sensitive = boolean(name, value)?,
            "regexp" => pattern.regexp = boolean(name, value)?,
            other => return Err(CmaError::invalid_filter(name, format!("matches has no [{other}]"))),
        }
    }
    if !has_pattern {
        return Err(CmaError::invalid_filter(name, "matches needs [pattern]"));
    }
    if pattern.regexp {
        if let Err(error) = regex_syntax_check(&pattern.text) {
            return Err(CmaError::invalid_filter(name, format!("invalid regular expression: {error}")));
        }
    }
    Ok(pattern)
}

/// The database compiles the pattern with the same engine; reject what would fail there (or is
/// too big) so the client gets a 422.
fn regex_syntax_check(pattern: &str) -> Result<(), String> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().map(|_| ()).map_err(|e| e.to_string())
}

fn comparison(op: &str) -> Option<Comparison> {
    Some(match op {
        "eq" => Comparison::Eq,
        "neq" => Comparison::Neq,
        "gt" => Comparison::Gt,
        "gte" => Comparison::Gte,
        "lt" => Comparison::Lt,
        "lte" => Comparison::Lte,
        _ => return None,
    })
}

fn number_condition(name: &str, field: NumberField, op: &str, value: &Value) -> Result<UploadCondition, CmaError> {
    let comparison = comparison(op).ok_or_else(|| unsupported(name, op))?;
    let value = value
        .as_str()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or_else(|| CmaError::invalid_filter(name, "expected an integer"))?;
    Ok(UploadCondition::Number { field, comparison, value })
}

/// Dates compare at minute precision, as the CDA does: `eq` means "in that minute".
fn date_condition(name: &str, field: NumberField, op: &str, value: &Value) -> Result<UploadCondition, CmaError> {
    let comparison = comparison(op).ok_or_else(|| unsupported(name, op))?;
    let text = value.as_str().ok_or_else(|| CmaError::invalid_filter(name, "expected an ISO 8601 date-time"))?;
    let parsed = OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|_| CmaError::invalid_filter(name, format!("{text:?} is not an ISO 8601 date-time")))?;
    let millis = i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let minute = millis.div_euclid(MINUTE_MS) * MINUTE_MS;
    let next = minute + MINUTE_MS;
    Ok(match comparison {
        Comparison::Eq => UploadCondition::Between { field, start: minute, end: next, negate: false },
        Comparison::Neq => UploadCondition::Between { field, start: minute, end: next, negate: true },
        Comparison::Gt => UploadCondition::Number { field, comparison: Comparison::Gte, value: next },
        Comparison::Gte => UploadCondition::Number { field, comparison: Comparison::Gte, value: minute },
        Comparison::Lt => UploadCondition::Number { field, comparison: Comparison::Lt, value: minute },
        Comparison::Lte => UploadCondition::Number { field, comparison: Comparison::Lt, value: next },
    })
}

fn tag_op(name: &str, op: &str, value: &Value) -> Result<TagOp, CmaError> {
    Ok(match op {
        "contains" => TagOp::AnyIn(vec![single(name, value)?]),
        "anyIn" => TagOp::AnyIn(list(name, value)?),
        "allIn" => TagOp::AllIn(list(name, value)?),
        "notIn" => TagOp::NotIn(list(name, value)?),
        "eq" => TagOp::Eq(list(name, value)?),
        _ => return Err(unsupported(name, op)),
    })
}
