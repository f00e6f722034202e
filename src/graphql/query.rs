//! The root fields: `allUploads`, `upload` and `_allUploadsMeta`, each one listing of the
//! upload table (plus one read of the listed uploads' metadata), whatever the number of files.

use std::collections::HashMap;

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};

use super::{
    context::{internal, GraphqlData, LocaleScope, QueryBudget},
    file_field::FileView,
    filters,
};
use crate::{app::App, db::UploadQuery};

/// Most files one `allUploads` answers (DatoCMS's limit).
pub(super) const MAX_FIRST: i64 = 500;
const DEFAULT_FIRST: i64 = 20;

pub(super) fn all_uploads(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let app = &ctx.data::<GraphqlData>()?.app;
        let first = int_arg(&ctx, "first")?.unwrap_or(DEFAULT_FIRST);
        if !(0..=MAX_FIRST).contains(&first) {
            return Err(async_graphql::Error::new(format!("first must be between 0 and {MAX_FIRST}, got {first}")));
        }
        let skip = int_arg(&ctx, "skip")?.unwrap_or(0);
        if skip < 0 {
            return Err(async_graphql::Error::new("skip must not be negative"));
        }
        ctx.data::<QueryBudget>()?.take(first)?;
        let (scope, query) = listing(&ctx, app, skip, first)?;
        let files = list(app, &query, &scope).await?;
        Ok(Some(FieldValue::list(files.into_iter().map(FieldValue::owned_any))))
    })
}

pub(super) fn upload(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let app = &ctx.data::<GraphqlData>()?.app;
        ctx.data::<QueryBudget>()?.take(1)?;
        let (scope, query) = listing(&ctx, app, 0, 1)?;
        let file = list(app, &query, &scope).await?.into_iter().next();
        Ok(file.map(FieldValue::owned_any))
    })
}

/// `_allUploadsMeta { count }`: how many files the filter matches.
pub(super) fn all_uploads_meta(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let app = &ctx.data::<GraphqlData>()?.app;
        ctx.data::<QueryBudget>()?.take(0)?;
        let (_, mut query) = listing(&ctx, app, 0, 0)?;
        query.order.clear();
        let (_, total) = app.db.list_uploads(&query).await.map_err(internal)?;
        Ok(Some(FieldValue::owned_any(CollectionMetadata { count: total })))
    })
}

/// `CollectionMetadata`.
pub(super) struct CollectionMetadata {
    pub(super) count: i64,
}

pub(super) fn count(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let meta = ctx.parent_value.try_downcast_ref::<CollectionMetadata>()?;
        Ok(Some(FieldValue::value(meta.count)))
    })
}

/// The locale scope and the listing the root field's arguments ask for.
fn listing(
    ctx: &ResolverContext<'_>,
    app: &App,
    offset: i64,
    limit: i64,
) -> async_graphql::Result<(LocaleScope, UploadQuery)> {
    let scope = LocaleScope::from_args(ctx, &LocaleScope::main(app))?;
    let conditions = filters::conditions(ctx.args.get("filter"), &scope.locale)?;
    let order = filters::order(ctx.args.get("orderBy"))?;
    Ok((scope, UploadQuery { conditions, order, offset, limit }))
}

async fn list(app: &App, query: &UploadQuery, scope: &LocaleScope) -> async_graphql::Result<Vec<FileView>> {
    let (rows, _) = app.db.list_uploads(query).await.map_err(internal)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut metadata: HashMap<String, Vec<_>> = HashMap::new();
    for (upload_id, row) in app.db.list_metadata_for(&ids).await.map_err(internal)? {
        metadata.entry(upload_id).or_default().push(row);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let metadata = metadata.remove(&row.id).unwrap_or_default();
            FileView { row, metadata, scope: scope.clone() }
        })
        .collect())
}

/// An `IntType` argument (a number, or a number written as text).
pub(super) fn int_arg(ctx: &ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<i64>> {
    let Some(value) = ctx.args.get(name) else { return Ok(None) };
    match value.as_value() {
        async_graphql::Value::Null => Ok(None),
        async_graphql::Value::Number(n) => {
            n.as_i64().map(Some).ok_or_else(|| async_graphql::Error::new(format!("{name} must be a whole number")))
        }
        async_graphql::Value::String(s) => {
            s.trim().parse().map(Some).map_err(|_| async_graphql::Error::new(format!("{name} must be a whole number")))
        }
        _ => Err(async_graphql::Error::new(format!("{name} must be a whole number"))),
    }
}
