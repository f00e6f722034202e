//! The `upload_collection` resource.

use serde_json::{json, Value};

use crate::db::CollectionRow;

pub fn collection_resource(row: &CollectionRow, children: &[String]) -> Value {
    let parent = match &row.parent_id {
        Some(id) => json!({ "type": "upload_collection", "id": id }),
        None => Value::Null,
    };
    let children: Vec<Value> = children.iter().map(|id| json!({ "type": "upload_collection", "id": id })).collect();
    json!({
        "type": "upload_collection",
        "id": row.id,
        "attributes": { "label": row.label, "position": row.position },
        "relationships": { "parent": { "data": parent }, "children": { "data": children } },
    })
}
