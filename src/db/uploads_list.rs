//! Listing uploads (spec §3.3): typed conditions turned into SQL, ordering, offset paging and the
//! total count. Every value is bound; only fixed column expressions are spliced into the SQL.

use super::{
    search::search_expression,
    sql::{read_built, SqlBuilder},
    upload_conditions::{greatest, push_conditions, string_expression},
    upload_query::{OrderField, StringField, TagOp, UploadCondition, UploadQuery},
    uploads::UploadRow,
    Backend, Db, DbError, Dialect,
};

impl Db {
    /// One page of uploads matching every condition, in order, and the total count.
    pub async fn list_uploads(&self, query: &UploadQuery) -> Result<(Vec<UploadRow>, i64), DbError> {
        let plan = self.plan_page(query).await?;
        let Some(page) = &plan.page else { return Ok((Vec::new(), plan.total)) };
        let page = page_query(self.dialect(), page, "", plan.scan_in_order);
        let mut rows: Vec<UploadRow> = read_built!(self, rows page, fetch_all);
        if plan.reversed {
            rows.reverse();
        }
        Ok((rows, plan.total))
    }

    /// Counts, then chooses how to read the page (shared by the listing and its explanation).
    async fn plan_page(&self, query: &UploadQuery) -> Result<PagePlan, DbError> {
        let query = self.evaluate_search(query).await?;
        let total = self.count_uploads(&query).await?;
        if query.limit == 0 || total == 0 || query.offset >= total {
            return Ok(PagePlan { query, total, scan_in_order: false, reversed: false, page: None });
        }
        let scan_in_order = self.should_scan_in_order(&query, total).await?;
        // Past the middle, walk from the other end of the order (the count says where that is).
        let reversed = query.offset * 2 > total && rank_search(&query).is_none();
        let page = if reversed { reversed_page(&query, total) } else { query.clone() };
        Ok(PagePlan { query, total, scan_in_order, reversed, page: Some(page) })
    }

    /// On SQLite, runs a full-text search once and keeps its matches (unless ordering by
    /// relevance, which needs the search inside the page query). PostgreSQL plans the search
    /// inside the count and page queries well by itself.
    async fn evaluate_search(&self, query: &UploadQuery) -> Result<UploadQuery, DbError> {
        let mut query = query.clone();
        let Backend::Sqlite { pool, .. } = &self.backend else { return Ok(query) };
        if rank_search(&query).is_some() {
            return Ok(query);
        }
        for condition in &mut query.conditions {
            if let UploadCondition::Search(words) = condition {
                // One row: aggregating in SQLite is far cheaper than streaming thousands of rows out.
                let (count, seqs_json): (i64, String) = sqlx::query_as(
                    "SELECT COUNT(*), json_group_array(rowid) FROM uploads_fts WHERE uploads_fts MATCH $1",
                )
                .bind(search_expression(Dialect::Sqlite, words))
                .fetch_one(pool)
                .await?;
                *condition = UploadCondition::Matched { seqs_json, count };
            }
        }
        Ok(query)
    }

    /// The total count; a lone search or tag filter is counted from its own index.
    async fn count_uploads(&self, query: &UploadQuery) -> Result<i64, DbError> {
        match query.conditions.as_slice() {
            [UploadCondition::Matched { count, .. }] => Ok(*count),
            [UploadCondition::Tags(TagOp::AnyIn(tags))] => {
                let mut count = SqlBuilder::new(
                    self.dialect(),
                    "SELECT COUNT(DISTINCT upload_seq) FROM upload_tag_links WHERE tag IN ",
                );
                count.push_list(tags);
                Ok(read_built!(self, scalar count, fetch_one))
            }
            _ => {
                let count = count_query(self.dialect(), query, "");
                Ok(read_built!(self, scalar count, fetch_one))
            }
        }
    }

    /// Picks the page plan from the count: when the filters match many uploads, walking the
    /// order's index and testing each row stops after one page, where looking the matches up and
    /// sorting them would sort them all; when they match few, the reverse holds.
    async fn should_scan_in_order(&self, query: &UploadQuery, total: i64) -> Result<bool, DbError> {
        if query.conditions.is_empty() || rank_search(query).is_some() {
            return Ok(false);
        }
        let rows: i64 = on_read!(self, |pool| sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM uploads")
            .fetch_one(pool)
            .await)?;
        let wanted = (query.offset + query.limit) as f64;
        // Rows walked ≈ wanted × rows / total; rows sorted ≈ total (a sort costs a few walks per row).
        Ok((total as f64) * (total as f64) * 4.0 > wanted * rows as f64)
    }

    /// The database's plan for the count and the page of `query` (for benchmarks and operators).
    pub async fn explain_list_uploads(&self, query: &UploadQuery) -> Result<Vec<String>, DbError> {
        let dialect = self.dialect();
        let explain = match dialect {
            Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
            Dialect::Postgres => "EXPLAIN ",
        };
        let PagePlan { query, total, scan_in_order, reversed, page } = self.plan_page(query).await?;
        let mut plan = vec![format!("total: {total}, scan in order: {scan_in_order}, from the other end: {reversed}")];
        let page = page.unwrap_or_else(|| query.clone());
        let mut builders = vec![("page", page_query(dialect, &page, explain, scan_in_order))];
        match query.conditions.as_slice() {
            [UploadCondition::Matched { .. }] => plan.push("count: from the search itself".into()),
            [UploadCondition::Tags(TagOp::AnyIn(_))] => {
                plan.push("count: COUNT(DISTINCT upload_seq) of the tag links".into())
            }
            _ => builders.insert(0, ("count", count_query(dialect, &query, explain))),
        }
        for (label, builder) in builders {
            let details: Vec<String> = match dialect {
                Dialect::Sqlite => {
                    let rows: Vec<(i64, i64, i64, String)> = read_built!(self, rows builder, fetch_all);
                    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
                }
                Dialect::Postgres => read_built!(self, scalar builder, fetch_all),
            };
            plan.extend(details.into_iter().map(|detail| format!("{label}: {detail}")));
        }
        Ok(plan)
    }
}

/// How one listing is read: the query with its search evaluated, the count, and the page query
/// (`None` when the page is empty).
struct PagePlan {
    query: UploadQuery,
    total: i64,
    scan_in_order: bool,
    /// The page is read from the far end and its rows come back reversed.
    reversed: bool,
    page: Option<UploadQuery>,
}

/// The same page counted from the end in the opposite order (its rows come back reversed).
fn reversed_page(query: &UploadQuery, total: i64) -> UploadQuery {
    let end = (query.offset + query.limit).min(total);
    UploadQuery {
        conditions: query.conditions.clone(),
        order: effective_order(&query.order).into_iter().map(|(field, descending)| (field, !descending)).collect(),
        offset: total - end,
        limit: end - query.offset,
    }
}

fn count_query(dialect: Dialect, query: &UploadQuery, prefix: &str) -> SqlBuilder {
    let mut count = SqlBuilder::new(dialect, format!("{prefix}SELECT COUNT(*) FROM uploads"));
    push_conditions(&mut count, &query.conditions, false);
    count
}

/// Pages through the ids first (an index can answer that), then reads the full rows.
fn page_query(dialect: Dialect, query: &UploadQuery, prefix: &str, scan_in_order: bool) -> SqlBuilder {
    let columns = super::uploads::UPLOAD_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
    let mut page = SqlBuilder::new(
        dialect,
        format!("{prefix}SELECT {columns} FROM uploads u JOIN (SELECT uploads.seq AS page_seq, "),
    );
    page.push(order_keys(dialect, &query.order));
    page.push(" FROM uploads");
    if let Some(words) = rank_search(query) {
        // Lower ranks are better matches on both backends (bm25 is negative, ts_rank is negated).
        let expression = search_expression(dialect, words);
        match dialect {
            Dialect::Sqlite => {
                page.push(
                    " JOIN (SELECT rowid AS fts_seq, bm25(uploads_fts) AS rank FROM uploads_fts \
                     WHERE uploads_fts MATCH ",
                );
                page.push_bind(expression);
            }
            Dialect::Postgres => {
                page.push(" JOIN (SELECT seq AS fts_seq, -ts_rank(words, CAST(");
                page.push_bind(expression.clone());
                page.push(" AS tsquery)) AS rank FROM uploads_search WHERE words @@ CAST(");
                page.push_bind(expression).push(" AS tsquery)");
            }
        }
        page.push(") fts ON fts.fts_seq = uploads.seq");
    }
    push_conditions(&mut page, &query.conditions, scan_in_order);
    page.push(" ORDER BY ").push(order_clause(dialect, &query.order, ""));
    page.push(" LIMIT ").push_bind(query.limit).push(" OFFSET ").push_bind(query.offset);
    page.push(") p ON p.page_seq = u.seq ORDER BY ").push(order_clause(dialect, &query.order, "p."));
    page
}

/// The statements a listing runs, built for both backends without a database: each one's SQL and
/// how many values it binds. [`crate::fuzzing::filter_params`] uses it to check that every query
/// the API accepts builds and encodes its values.
pub(crate) fn listing_statements(query: &UploadQuery) -> Result<Vec<(String, usize)>, DbError> {
    use sqlx::Arguments as _;
    // A page past the middle is read from the far end (see `plan_page`, where `offset` is below
    // a real row count, so `offset + limit` cannot overflow there).
    let reversed = query.offset.checked_add(query.limit).map(|end| reversed_page(query, end));
    let mut statements = Vec::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        for scan_in_order in [false, true] {
            let mut built = vec![count_query(dialect, query, ""), page_query(dialect, query, "", scan_in_order)];
            built.extend(reversed.as_ref().map(|page| page_query(dialect, page, "", scan_in_order)));
            for built in built {
                let binds = match dialect {
                    Dialect::Sqlite => built.sqlite_arguments()?.len(),
                    Dialect::Postgres => built.postgres_arguments()?.len(),
                };
                statements.push((built.sql().to_owned(), binds));
            }
        }
    }
    Ok(statements)
}

/// The search words when ordering by relevance.
fn rank_search(query: &UploadQuery) -> Option<&[String]> {
    if !query.order.iter().any(|(field, _)| *field == OrderField::Rank) {
        return None;
    }
    query.conditions.iter().find_map(|c| match c {
        UploadCondition::Search(words) => Some(words.as_slice()),
        _ => None,
    })
}

fn order_expression(dialect: Dialect, field: OrderField) -> String {
    match field {
        OrderField::CreatedAt => "uploads.created_at".into(),
        OrderField::UpdatedAt => "uploads.updated_at".into(),
        OrderField::Basename => "uploads.basename".into(),
        OrderField::Filename => string_expression(dialect, &StringField::Filename),
        OrderField::Format => "uploads.format".into(),
        OrderField::Id => "uploads.id".into(),
        OrderField::MimeType => "uploads.mime_type".into(),
        OrderField::Resolution => format!(
            "(CASE WHEN uploads.width IS NULL OR uploads.height IS NULL THEN NULL ELSE {} END)",
            greatest(dialect, "uploads.width", "uploads.height")
        ),
        OrderField::Size => "uploads.size".into(),
        OrderField::Rank => "fts.rank".into(),
    }
}

/// `expr AS k0, expr AS k1, …, uploads.seq AS k_id` for the inner page query. The seq (SQLite's
/// rowid) makes the order total and is in every index, so ordered scans stay index-only.
fn order_keys(dialect: Dialect, order: &[(OrderField, bool)]) -> String {
    let mut keys: Vec<String> = effective_order(order)
        .iter()
        .enumerate()
        .map(|(i, (f, _))| format!("{} AS k{i}", order_expression(dialect, *f)))
        .collect();
    keys.push("uploads.seq AS k_id".into());
    keys.join(", ")
}

/// `k0 DESC, …, k_id DESC`, prefixed for the outer query; the id makes the order total.
/// PostgreSQL sorts NULLs as larger than any value, SQLite as smaller: the nullable keys say
/// where their NULLs go, so both backends answer the same order.
fn order_clause(dialect: Dialect, order: &[(OrderField, bool)], prefix: &str) -> String {
    let order = effective_order(order);
    let mut parts: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, (field, descending))| {
            // bm25 is lower for better matches: "_rank_DESC" (most relevant first) sorts it ascending.
            let descending = if *field == OrderField::Rank { !descending } else { *descending };
            let nullable = matches!(field, OrderField::Resolution | OrderField::Format);
            let nulls = match (dialect, nullable, descending) {
                (Dialect::Postgres, true, false) => " NULLS FIRST",
                (Dialect::Postgres, true, true) => " NULLS LAST",
                _ => "",
            };
            format!("{prefix}k{i} {}{nulls}", if descending { "DESC" } else { "ASC" })
        })
        .collect();
    let last_descending = order.last().is_none_or(|(_, d)| *d);
    parts.push(format!("{prefix}k_id {}", if last_descending { "DESC" } else { "ASC" }));
    parts.join(", ")
}

fn effective_order(order: &[(OrderField, bool)]) -> Vec<(OrderField, bool)> {
    if order.is_empty() {
        vec![(OrderField::CreatedAt, true)]
    } else {
        order.to_vec()
    }
}
