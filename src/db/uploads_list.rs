//! Listing uploads: the filters the client's helpers need (ids, md5 and other exact columns),
//! newest first, with offset paging and a total count.

use sqlx::{QueryBuilder, Sqlite};

use super::{uploads::UploadRow, Db, DbError};

/// Columns that can be compared exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactColumn {
    Id,
    Md5,
    Format,
    MimeType,
    /// Compared case-insensitively, as DatoCMS does since Nov 2025.
    Path,
}

impl ExactColumn {
    fn sql(self) -> &'static str {
        match self {
            ExactColumn::Id => "id",
            ExactColumn::Md5 => "md5",
            ExactColumn::Format => "format",
            ExactColumn::MimeType => "mime_type",
            ExactColumn::Path => "LOWER(path)",
        }
    }
}

/// One condition; all conditions of a query must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadCondition {
    /// `column IN values` (or `NOT IN` / IS NULL when `negate`).
    Exact { column: ExactColumn, values: Vec<String>, negate: bool },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadQuery {
    pub conditions: Vec<UploadCondition>,
    pub offset: i64,
    pub limit: i64,
}

impl Db {
    /// One page of uploads matching every condition, newest first, and the total count.
    pub async fn list_uploads(&self, query: &UploadQuery) -> Result<(Vec<UploadRow>, i64), DbError> {
        let mut count: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM uploads");
        push_conditions(&mut count, &query.conditions);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        if query.limit == 0 || total == 0 {
            return Ok((Vec::new(), total));
        }
        let mut page: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {} FROM uploads", super::uploads::UPLOAD_COLUMNS));
        push_conditions(&mut page, &query.conditions);
        page.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(query.limit);
        page.push(" OFFSET ").push_bind(query.offset);
        let rows = page.build_query_as().fetch_all(&self.pool).await?;
        Ok((rows, total))
    }
}

fn push_conditions(query: &mut QueryBuilder<'_, Sqlite>, conditions: &[UploadCondition]) {
    for (i, condition) in conditions.iter().enumerate() {
        query.push(if i == 0 { " WHERE " } else { " AND " });
        match condition {
            UploadCondition::Exact { column, values, negate } => {
                let column_sql = column.sql();
                if *negate {
                    // Negations also match NULLs, as in the CDA.
                    query.push(format_args!("({column_sql} IS NULL OR {column_sql} NOT IN ("));
                } else {
                    query.push(format_args!("{column_sql} IN ("));
                }
                if values.is_empty() {
                    query.push("NULL");
                }
                let mut separated = query.separated(", ");
                for value in values {
                    let value = if *column == ExactColumn::Path { value.to_lowercase() } else { value.clone() };
                    separated.push_bind(value);
                }
                query.push(if *negate { "))" } else { ")" });
            }
        }
    }
}
