//! `/upload-collections` (spec §6.1): folders with nesting and positions among siblings.
//! Deleting a collection deletes its sub-collections; their uploads move to the root.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde_json::{json, Value};

use super::{
    error::ApiResult,
    extract::{parse_resource, CmaJson, NestedQuery, ResourceBody, ResourceShape},
    query::only_params,
};
use crate::{
    app::App,
    db::{collection_tree, CollectionRow, Db},
    domain::{is_valid_entity_id, new_entity_id, now_millis, CmaError, CollectionMove, CollectionTree},
    jobs::ReorderCollections,
    views::{collection_resource, document, job_document},
};

/// The body of `POST /upload-collections`.
pub(super) const CREATE_COLLECTION: ResourceShape =
    ResourceShape { kind: "upload_collection", attributes: &["label", "position"], relationships: &["parent"] };
/// The body of `PUT /upload-collections/{id}`.
pub(super) const UPDATE_COLLECTION: ResourceShape = ResourceShape {
    kind: "upload_collection",
    attributes: &["label", "position"],
    relationships: &["parent", "children"],
};
/// One item of `POST /upload-collections/reorder`.
pub(super) const REORDER_ITEM: ResourceShape =
    ResourceShape { kind: "upload_collection", attributes: &["position"], relationships: &["parent"] };

pub(super) async fn list_collections(
    State(app): State<Arc<App>>,
    NestedQuery(query): NestedQuery,
) -> ApiResult<Json<Value>> {
    only_params(&query, &["filter"])?;
    let ids: Option<Vec<String>> = match query.get("filter") {
        None => None,
        Some(Value::Object(filter)) => match (filter.len(), filter.get("ids")) {
            (1, Some(Value::String(ids))) => Some(ids.split(',').map(|s| s.trim().to_owned()).collect()),
            _ => {
                return Err(CmaError::invalid_filter(
                    "filter",
                    "upload collections can only be filtered by filter[ids]",
                ))
            }
        },
        Some(_) => return Err(CmaError::invalid_params("filter", "filter must be filter[ids]")),
    };
    let rows = app.db.list_collections().await?;
    let tree = collection_tree(&rows);
    let data: Vec<Value> = rows
        .iter()
        .filter(|row| ids.as_ref().is_none_or(|ids| ids.contains(&row.id)))
        .map(|row| collection_resource(row, &tree.children_of(Some(&row.id))))
        .collect();
    Ok(Json(json!({ "data": data })))
}

pub(super) async fn show_collection(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let rows = app.db.list_collections().await?;
    render(&rows, &id).map(Json)
}

pub(super) async fn create_collection(State(app): State<Arc<App>>, CmaJson(body): CmaJson) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &CREATE_COLLECTION)?;
    let id = match resource.id.clone() {
        Some(id) if !is_valid_entity_id(&id) => {
            return Err(CmaError::new(422, "INVALID_ENTITY_ID", json!({ "field": "id" })));
        }
        Some(id) => id,
        None => new_entity_id(),
    };
    let label = label(&resource)?
        .ok_or_else(|| CmaError::invalid_field("label", "VALIDATION_REQUIRED", "label is required"))?;
    let position = position(&resource)?;
    let parent = parent(&resource)?.flatten();
    let now = now_millis();
    let mut tx = app.db.begin_write().await?;
    let before = Db::list_collections_in(&mut tx).await?;
    if before.iter().any(|row| row.id == id) {
        return Err(CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "a collection with this id exists"));
    }
    let mut tree = collection_tree(&before);
    tree.insert(&id, parent.as_deref(), position)?;
    Db::insert_collection(&mut tx, &id, &label, parent.as_deref(), now).await?;
    Db::write_collection_tree(&mut tx, &before, &tree, now).await?;
    let after = Db::list_collections_in(&mut tx).await?;
    tx.commit().await?;
    render(&after, &id).map(Json)
}

pub(super) async fn update_collection(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    CmaJson(body): CmaJson,
) -> ApiResult<Json<Value>> {
    let resource = parse_resource(&body, &UPDATE_COLLECTION)?;
    if resource.id.as_deref().is_some_and(|body_id| body_id != id) {
        return Err(CmaError::invalid_field("id", "VALIDATION_MISMATCH", "data.id must be the id in the URL"));
    }
    let label = label(&resource)?;
    let position = position(&resource)?;
    let parent = parent(&resource)?;
    let children = children(&resource)?;
    let now = now_millis();
    let mut tx = app.db.begin_write().await?;
    let before = Db::list_collections_in(&mut tx).await?;
    let current = before.iter().find(|row| row.id == id).ok_or_else(CmaError::not_found)?;
    let mut tree = collection_tree(&before);
    if parent.is_some() || position.is_some() {
        let new_parent = parent.unwrap_or_else(|| current.parent_id.clone());
        tree.move_to(&id, new_parent.as_deref(), position)?;
    }
    if let Some(children) = children {
        tree.order_children(&id, &children)?;
    }
    if let Some(label) = label {
        Db::set_collection_label(&mut tx, &id, &label, now).await?;
    }
    Db::write_collection_tree(&mut tx, &before, &tree, now).await?;
    let after = Db::list_collections_in(&mut tx).await?;
    tx.commit().await?;
    render(&after, &id).map(Json)
}

pub(super) async fn destroy_collection(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let now = now_millis();
    let mut tx = app.db.begin_write().await?;
    let before = Db::list_collections_in(&mut tx).await?;
    let deleted = render(&before, &id)?;
    let mut tree = collection_tree(&before);
    let removed = tree.remove(&id)?;
    Db::delete_collections(&mut tx, &removed).await?;
    Db::write_collection_tree(&mut tx, &before, &tree, now).await?;
    tx.commit().await?;
    Ok(Json(deleted))
}

/// `POST /upload-collections/reorder`: several moves at once, as a job.
pub(super) async fn reorder_collections(
    State(app): State<Arc<App>>,
    CmaJson(body): CmaJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let items = body.get("data").and_then(Value::as_array).ok_or_else(|| {
        CmaError::invalid_format("the body must be {\"data\": [{\"type\": \"upload_collection\", \"id\", …}, …]}")
    })?;
    let mut moves = Vec::with_capacity(items.len());
    for item in items {
        let resource = parse_resource(&json!({ "data": item }), &REORDER_ITEM)?;
        let id = resource
            .id
            .clone()
            .ok_or_else(|| CmaError::invalid_field("id", "VALIDATION_REQUIRED", "every item needs an id"))?;
        let position = position(&resource)?.ok_or_else(|| {
            CmaError::new(422, "INVALID_POSITION", json!({ "id": id, "message": "position is required" }))
        })?;
        let parent = parent(&resource)?.flatten();
        moves.push(CollectionMove { id, parent, position });
    }
    // Refuse at once what the job would refuse.
    let mut tree = collection_tree(&app.db.list_collections().await?);
    tree.apply_moves(&moves)?;
    let job_id = app.enqueue(&ReorderCollections { moves: moves.into_iter().map(Into::into).collect() }).await?;
    Ok((StatusCode::ACCEPTED, Json(job_document(&job_id))))
}

/// `{data: collection}` with its children, from a full list of rows.
fn render(rows: &[CollectionRow], id: &str) -> ApiResult<Value> {
    let row = rows.iter().find(|row| row.id == id).ok_or_else(CmaError::not_found)?;
    let tree: CollectionTree = collection_tree(rows);
    Ok(document(collection_resource(row, &tree.children_of(Some(id)))))
}

fn label(resource: &ResourceBody) -> ApiResult<Option<String>> {
    match resource.attributes.get("label") {
        None => Ok(None),
        Some(Value::String(label)) if !label.trim().is_empty() => Ok(Some(label.trim().to_owned())),
        Some(_) => Err(CmaError::invalid_field("label", "INVALID_FORMAT", "label must be a non-empty string")),
    }
}

fn position(resource: &ResourceBody) -> ApiResult<Option<i64>> {
    match resource.attributes.get("position") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_i64().filter(|p| *p >= 1).map(Some).ok_or_else(|| {
            CmaError::new(422, "INVALID_POSITION", json!({ "message": "position must be an integer ≥ 1" }))
        }),
    }
}

/// `parent`: absent → None; `{data: null}` → Some(None); a collection → Some(Some(id)).
fn parent(resource: &ResourceBody) -> ApiResult<Option<Option<String>>> {
    match resource.linkage("parent")? {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some((kind, id))) if kind == "upload_collection" => Ok(Some(Some(id))),
        Some(Some(_)) => {
            Err(CmaError::new(422, "INVALID_PARENT_ID", json!({ "message": "parent must be an upload_collection" })))
        }
    }
}

fn children(resource: &ResourceBody) -> ApiResult<Option<Vec<String>>> {
    let Some(value) = resource.relationships.get("children") else { return Ok(None) };
    let bad = || CmaError::invalid_field("children", "INVALID_FORMAT", "children must be {\"data\": [{type, id}, …]}");
    let items = value.get("data").and_then(Value::as_array).ok_or_else(bad)?;
    items
        .iter()
        .map(|item| match (item.get("type").and_then(Value::as_str), item.get("id").and_then(Value::as_str)) {
            (Some("upload_collection"), Some(id)) => Ok(id.to_owned()),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
