//! SQL for the conditions of an upload listing: each typed condition becomes a bound WHERE
//! clause. Only fixed column expressions are spliced into the SQL; every value is bound.

use super::{
    search::search_expression,
    sql::{escape_like, SqlBuilder},
    upload_query::{
        Comparison, NumberField, Pattern, StringField, StringOp, TagOp, UploadCondition, RESOLUTION_LIMITS,
    },
    Dialect,
};

/// `MAX(a, b)` of two columns (`GREATEST` in PostgreSQL).
pub(super) fn greatest(dialect: Dialect, a: &str, b: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("MAX({a}, {b})"),
        Dialect::Postgres => format!("GREATEST({a}, {b})"),
    }
}

pub(super) fn string_expression(dialect: Dialect, field: &StringField) -> String {
    match field {
        StringField::Id => "uploads.id".into(),
        StringField::MediaType => "uploads.media_type".into(),
        StringField::Md5 => "uploads.md5".into(),
        StringField::Path => "LOWER(uploads.path)".into(),
        StringField::Format => "uploads.format".into(),
        StringField::MimeType => "uploads.mime_type".into(),
        StringField::Author => "uploads.author".into(),
        StringField::Copyright => "uploads.copyright".into(),
        StringField::Notes => "uploads.notes".into(),
        StringField::Basename => "uploads.basename".into(),
        StringField::Collection => "uploads.upload_collection_id".into(),
        StringField::Filename => "(uploads.basename || COALESCE('.' || uploads.extension, ''))".into(),
        StringField::Resolution => {
            let mut case = String::from("(CASE WHEN uploads.width IS NULL OR uploads.height IS NULL THEN NULL");
            let longer_side = greatest(dialect, "uploads.width", "uploads.height");
            for (name, limit) in RESOLUTION_LIMITS {
                case.push_str(&format!(" WHEN {longer_side} <= {limit} THEN '{name}'"));
            }
            case.push_str(" ELSE 'large' END)");
            case
        }
        StringField::Orientation => "(CASE WHEN uploads.width > uploads.height THEN 'landscape' \
                                      WHEN uploads.width < uploads.height THEN 'portrait' \
                                      WHEN uploads.width = uploads.height THEN 'square' END)"
            .into(),
        StringField::Alt(_) => {
            "(SELECT m.alt FROM upload_metadata m WHERE m.upload_id = uploads.id AND m.locale = ".into()
        }
        StringField::Title(_) => {
            "(SELECT m.title FROM upload_metadata m WHERE m.upload_id = uploads.id AND m.locale = ".into()
        }
    }
}

/// Pushes the value expression of `field` (binding the locale of alt/title).
fn push_string_value(query: &mut SqlBuilder, field: &StringField) {
    query.push(string_expression(query.dialect, field));
    if let StringField::Alt(locale) | StringField::Title(locale) = field {
        query.push_bind(locale.clone()).push(")");
    }
}

/// With `scan_in_order`, membership tests and comparisons are written `+column …`: the unary plus
/// keeps SQLite from driving the query by them, so it walks the order's index instead (equality on
/// the asset kind still may, through the (media_type, created_at) index). PostgreSQL plans by
/// its statistics and gets no hint.
pub(super) fn push_conditions(query: &mut SqlBuilder, conditions: &[UploadCondition], scan_in_order: bool) {
    for (i, condition) in conditions.iter().enumerate() {
        query.push(if i == 0 { " WHERE " } else { " AND " });
        query.push("(");
        let hint = scan_in_order && query.dialect == Dialect::Sqlite;
        push_condition(query, condition, if hint { "+" } else { "" });
        query.push(")");
    }
}

fn push_condition(query: &mut SqlBuilder, condition: &UploadCondition, membership: &str) {
    match condition {
        UploadCondition::String { field, op } => push_string_condition(query, field, op),
        UploadCondition::Number { field, comparison, value } => {
            let column = number_column(*field);
            let operator = match comparison {
                Comparison::Eq => "=",
                Comparison::Neq => "<>",
                Comparison::Gt => ">",
                Comparison::Gte => ">=",
                Comparison::Lt => "<",
                Comparison::Lte => "<=",
            };
            if *comparison == Comparison::Neq {
                query.push(format_args!("{column} IS NULL OR "));
            }
            query.push(format_args!("{membership}{column} {operator} ")).push_bind(*value);
        }
        UploadCondition::Between { field, start, end, negate } => {
            let column = number_column(*field);
            query.push(if *negate { "NOT (" } else { "(" });
            query.push(format_args!("{membership}{column} >= ")).push_bind(*start);
            query.push(format_args!(" AND {membership}{column} < ")).push_bind(*end).push(")");
        }
        UploadCondition::Tags(op) => push_set_condition(query, op, membership, ("upload_tag_links", "tag")),
        UploadCondition::Colors(op) => push_set_condition(query, op, membership, ("upload_color_buckets", "bucket")),
        UploadCondition::Matched { seqs_json, .. } => {
            query.push(format_args!("{membership}uploads.seq IN (SELECT value FROM json_each("));
            query.push_bind(seqs_json.clone()).push("))");
        }
        UploadCondition::Search(words) => {
            let expression = search_expression(query.dialect, words);
            match query.dialect {
                Dialect::Sqlite => {
                    query.push(format_args!(
                        "{membership}uploads.seq IN (SELECT rowid FROM uploads_fts WHERE uploads_fts MATCH "
                    ));
                    query.push_bind(expression).push(")");
                }
                Dialect::Postgres => {
                    query.push("uploads.seq IN (SELECT seq FROM uploads_search WHERE words @@ CAST(");
                    query.push_bind(expression).push(" AS tsquery))");
                }
            }
        }
        UploadCondition::Always(value) => {
            query.push(if *value { "1 = 1" } else { "1 = 0" });
        }
        UploadCondition::AnyOf(groups) if groups.is_empty() => {
            query.push("1 = 0");
        }
        UploadCondition::AnyOf(groups) => {
            for (i, group) in groups.iter().enumerate() {
                query.push(if i == 0 { "(" } else { " OR (" });
                if group.is_empty() {
                    query.push("1 = 1");
                }
                for (j, condition) in group.iter().enumerate() {
                    query.push(if j == 0 { "(" } else { " AND (" });
                    push_condition(query, condition, membership);
                    query.push(")");
                }
                query.push(")");
            }
        }
    }
}

fn number_column(field: NumberField) -> &'static str {
    match field {
        NumberField::Width => "uploads.width",
        NumberField::Height => "uploads.height",
        NumberField::Size => "uploads.size",
        NumberField::CreatedAt => "uploads.created_at",
        NumberField::UpdatedAt => "uploads.updated_at",
    }
}

fn push_string_condition(query: &mut SqlBuilder, field: &StringField, op: &StringOp) {
    match op {
        StringOp::In(values) => {
            push_string_value(query, field);
            push_in_list(query, field, values);
        }
        StringOp::NotIn(values) => {
            push_string_value(query, field);
            query.push(" IS NULL OR ");
            push_string_value(query, field);
            query.push(" NOT");
            push_in_list(query, field, values);
        }
        StringOp::Matches(pattern) => push_match(query, field, pattern),
        StringOp::NotMatches(pattern) => {
            push_string_value(query, field);
            query.push(" IS NULL OR NOT (");
            push_match(query, field, pattern);
            query.push(")");
        }
        StringOp::Exists(true) => {
            push_string_value(query, field);
            query.push(" IS NOT NULL AND ");
            push_string_value(query, field);
            query.push(" <> ''");
        }
        StringOp::Exists(false) => {
            push_string_value(query, field);
            query.push(" IS NULL OR ");
            push_string_value(query, field);
            query.push(" = ''");
        }
    }
}

fn push_in_list(query: &mut SqlBuilder, field: &StringField, values: &[String]) {
    query.push(" IN ");
    if *field == StringField::Path {
        query.push_list(&values.iter().map(|v| v.to_lowercase()).collect::<Vec<_>>());
    } else {
        query.push_list(values);
    }
}

fn push_match(query: &mut SqlBuilder, field: &StringField, pattern: &Pattern) {
    if pattern.regexp {
        push_string_value(query, field);
        match query.dialect {
            Dialect::Sqlite => {
                let regex = if pattern.case_sensitive { pattern.text.clone() } else { format!("(?i){}", pattern.text) };
                query.push(" REGEXP ").push_bind(regex);
            }
            Dialect::Postgres => {
                query.push(if pattern.case_sensitive { " ~ " } else { " ~* " }).push_bind(pattern.text.clone());
            }
        }
    } else if pattern.case_sensitive {
        query.push(if query.dialect == Dialect::Sqlite { "instr(" } else { "strpos(" });
        push_string_value(query, field);
        query.push(", ").push_bind(pattern.text.clone()).push(") > 0");
    } else {
        query.push("LOWER(");
        push_string_value(query, field);
        query.push(") LIKE ").push_bind(format!("%{}%", escape_like(&pattern.text.to_lowercase())));
        query.push(" ESCAPE '\\'");
    }
}

/// Set operators over a `(upload_seq, value)` table: tags, or colour buckets.
fn push_set_condition(
    query: &mut SqlBuilder,
    op: &TagOp,
    membership: &str,
    (table, column): (&'static str, &'static str),
) {
    let matching = format!("SELECT upload_seq FROM {table} WHERE {column} IN ");
    match op {
        TagOp::AnyIn(tags) => {
            query.push(format_args!("{membership}uploads.seq IN ({matching}"));
            query.push_list(tags);
            query.push(")");
        }
        TagOp::NotIn(tags) => {
            query.push(format_args!("{membership}uploads.seq NOT IN ({matching}"));
            query.push_list(tags);
            query.push(")");
        }
        TagOp::AllIn(tags) | TagOp::Eq(tags) => {
            let mut distinct = tags.clone();
            distinct.sort();
            distinct.dedup();
            query.push(format_args!(
                "(SELECT COUNT(*) FROM {table} t WHERE t.upload_seq = uploads.seq AND t.{column} IN "
            ));
            query.push_list(&distinct);
            query.push(") = ").push_bind(distinct.len() as i64);
            if matches!(op, TagOp::Eq(_)) {
                query.push(format_args!(" AND (SELECT COUNT(*) FROM {table} t WHERE t.upload_seq = uploads.seq) = "));
                query.push_bind(distinct.len() as i64);
            }
        }
    }
}
