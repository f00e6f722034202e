//! Schemas of the JSON:API resources we answer with (`views/`, handlers) and of the request
//! bodies we read, the latter built from the handlers' [`ResourceShape`]s.

use serde_json::{json, Map, Value};

use super::super::{
    collections::{CREATE_COLLECTION, REORDER_ITEM, UPDATE_COLLECTION},
    extract::ResourceShape,
    tags::CREATE_TAG,
    upload_filters::UPLOAD_FILTER,
    upload_requests::CREATE_UPLOAD_REQUEST,
    upload_tracks::{CREATE_TRACK, GENERATE_SUBTITLES},
    uploads::{BULK_DESTROY, BULK_SET_COLLECTION, BULK_TAG, CREATE_UPLOAD, MAX_BATCH, UPDATE_UPLOAD},
};
use crate::{
    app::App,
    config::MetadataShape,
    domain::{Creator, Locale},
};

/// Every request body, by component name: its shape, and the attributes and relationships a
/// request must give.
pub(super) const REQUEST_BODIES: [RequestBody; 12] = [
    RequestBody::new("CreateUploadRequestBody", CREATE_UPLOAD_REQUEST, &[], &[]),
    RequestBody::new("CreateUploadBody", CREATE_UPLOAD, &["path"], &[]),
    RequestBody::new("UpdateUploadBody", UPDATE_UPLOAD, &[], &[]),
    RequestBody::new("BulkTagBody", BULK_TAG, &["tags"], &["uploads"]),
    RequestBody::new("BulkSetUploadCollectionBody", BULK_SET_COLLECTION, &[], &["upload_collection", "uploads"]),
    RequestBody::new("BulkDestroyBody", BULK_DESTROY, &[], &["uploads"]),
    RequestBody::new("CreateUploadCollectionBody", CREATE_COLLECTION, &["label"], &[]),
    RequestBody::new("UpdateUploadCollectionBody", UPDATE_COLLECTION, &[], &[]),
    RequestBody::new("CreateUploadTagBody", CREATE_TAG, &["name"], &[]),
    RequestBody::new("UploadFilterBody", UPLOAD_FILTER, &["name", "filter"], &[]),
    RequestBody::new(
        "CreateUploadTrackBody",
        CREATE_TRACK,
        &["url_or_upload_request_id", "type", "language_code"],
        &[],
    ),
    RequestBody::new("GenerateSubtitlesBody", GENERATE_SUBTITLES, &["language_code"], &[]),
];

/// A request body component.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestBody {
    pub name: &'static str,
    pub shape: ResourceShape,
    pub attributes: &'static [&'static str],
    pub relationships: &'static [&'static str],
}

impl RequestBody {
    const fn new(
        name: &'static str,
        shape: ResourceShape,
        attributes: &'static [&'static str],
        relationships: &'static [&'static str],
    ) -> Self {
        RequestBody { name, shape, attributes, relationships }
    }
}

/// What `is_valid_entity_id` takes: a UUID v4 in base64url (22 characters: the 9th carries the
/// version nibble 4, the 11th the variant bits 10, the last only two bits) or a legacy decimal id
/// (up to 14 digits here, always below the check's 2^48 bound).
pub(super) const ENTITY_ID_PATTERN: &str =
    "^([A-Za-z0-9_-]{8}[QRST][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]|[1-9][0-9]{0,13})$";
/// Positions are stored as 64-bit integers; JSON clients are exact up to 2^53 − 1.
const MAX_POSITION: i64 = (1 << 53) - 1;

pub(super) fn schemas(app: &App) -> Value {
    let locales = &app.config.locales;
    let shape = app.config.metadata_shape;
    let mut schemas = Map::new();
    let mut put = |name: &str, schema: Value| {
        schemas.insert(name.to_owned(), schema);
    };
    put("ApiError", api_error());
    put("ErrorDocument", object(json!({ "data": { "type": "array", "minItems": 1, "items": reference("ApiError") } })));
    put("Upload", upload(locales, shape));
    put("UploadCollection", upload_collection());
    put(
        "UploadFilter",
        resource(
            "upload_filter",
            attributes(json!({
                "name": { "type": "string" },
                "filter": { "type": "object" },
                "shared": { "type": "boolean" },
            })),
            None,
        ),
    );
    put("UploadTrack", upload_track());
    put("UploadTag", resource("upload_tag", attributes(json!({ "name": { "type": "string" } })), None));
    put(
        "UploadRequest",
        resource(
            "upload_request",
            attributes(json!({
                "url": { "type": "string", "format": "uri", "description": "absolute; PUT the bytes there, no token" },
                "request_headers": { "type": "object", "additionalProperties": { "type": "string" } },
            })),
            None,
        ),
    );
    put("Job", object(json!({ "data": object(json!({ "type": { "const": "job" }, "id": { "type": "string" } })) })));
    put(
        "JobResult",
        object(json!({ "data": resource("job_result", attributes(json!({
        "status": { "type": "integer", "description": "HTTP status of the operation" },
        "payload": { "description": "the document the operation would have answered (an error document on failure)" },
    })), None) })),
    );
    for (name, resource) in [
        ("Upload", "Upload"),
        ("UploadCollection", "UploadCollection"),
        ("UploadFilter", "UploadFilter"),
        ("UploadTag", "UploadTag"),
        ("UploadRequest", "UploadRequest"),
        ("UploadTrack", "UploadTrack"),
    ] {
        put(&format!("{name}Document"), object(json!({ "data": reference(resource) })));
    }
    put("UploadList", paged_list(reference("Upload")));
    put("UploadTagList", paged_list(reference("UploadTag")));
    put(
        "UploadSmartTagList",
        paged_list(resource("upload_smart_tag", attributes(json!({ "name": { "type": "string" } })), None)),
    );
    put("UploadCollectionList", object(json!({ "data": { "type": "array", "items": reference("UploadCollection") } })));
    put("UploadTrackList", object(json!({ "data": { "type": "array", "items": reference("UploadTrack") } })));
    put("UploadFilterList", object(json!({ "data": { "type": "array", "items": reference("UploadFilter") } })));
    put(
        "ReferenceList",
        object(json!({ "data": { "type": "array", "maxItems": 0, "description": "assetd holds no records" } })),
    );
    put("Metadata", metadata(locales, shape, false));
    put("MetadataPatch", metadata(locales, shape, true));
    for body in REQUEST_BODIES {
        put(body.name, object(json!({ "data": resource_object(&body, false) })));
    }
    let reorder_item = RequestBody::new("", REORDER_ITEM, &["position"], &[]);
    let items = resource_object(&reorder_item, true);
    put("ReorderUploadCollectionsBody", object(json!({ "data": { "type": "array", "items": items } })));
    super::webhooks::schemas(&mut schemas);
    Value::Object(schemas)
}

pub(super) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An object with exactly these properties, all required.
fn object(properties: Value) -> Value {
    let required: Vec<String> = properties.as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
}

fn attributes(properties: Value) -> Value {
    object(properties)
}

fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// `{type, id, attributes, relationships?}`.
fn resource(kind: &str, attributes: Value, relationships: Option<Value>) -> Value {
    let mut properties = json!({ "type": { "const": kind }, "id": { "type": "string" }, "attributes": attributes });
    if let Some(relationships) = relationships {
        properties["relationships"] = relationships;
    }
    object(properties)
}

/// `views::track_resource`.
fn upload_track() -> Value {
    resource(
        "upload_track",
        attributes(json!({
            "type": { "enum": ["subtitles", "audio"] },
            "name": { "type": "string" },
            "language_code": { "type": "string" },
            "closed_captions": nullable(json!({ "type": "boolean" })),
            "status": { "enum": ["preparing", "ready", "errored"] },
            "error": nullable(json!({ "type": "string" })),
        })),
        Some(object(json!({ "upload": object(json!({ "data": linkage(&["upload"]) })) }))),
    )
}

/// `{data: [...], meta: {total_count}}`.
fn paged_list(item: Value) -> Value {
    object(json!({
        "data": { "type": "array", "items": item },
        "meta": object(json!({ "total_count": { "type": "integer", "minimum": 0 } })),
    }))
}

/// `{type, id}` of a resource type.
fn linkage(kinds: &[&str]) -> Value {
    object(json!({ "type": { "enum": kinds }, "id": { "type": "string" } }))
}

/// A linkage in a request: the id has the entity id format.
fn request_linkage(kinds: &[&str]) -> Value {
    object(json!({ "type": { "enum": kinds }, "id": { "type": "string", "pattern": ENTITY_ID_PATTERN } }))
}

fn relationship(data: Value) -> Value {
    object(json!({ "data": data }))
}

fn api_error() -> Value {
    let mut attributes = object(json!({
        "code": { "type": "string", "pattern": "^[A-Z][A-Z0-9_]*$" },
        "doc_url": { "type": "string", "format": "uri" },
        "details": { "type": "object" },
        "transient": { "const": true, "description": "present only when the client may simply retry" },
    }));
    attributes["required"] = json!(["code", "doc_url", "details"]);
    resource("api_error", attributes, None)
}

/// The `upload` resource of `views/upload.rs`: every attribute, always present.
fn upload(locales: &[Locale], shape: MetadataShape) -> Value {
    let text = || nullable(json!({ "type": "string" }));
    let number = || nullable(json!({ "type": "number" }));
    let attributes = attributes(json!({
        "size": { "type": "integer", "minimum": 0 },
        "width": nullable(json!({ "type": "integer", "minimum": 0 })),
        "height": nullable(json!({ "type": "integer", "minimum": 0 })),
        "path": { "type": "string" },
        "basename": { "type": "string" },
        "filename": { "type": "string" },
        "url": { "type": "string", "format": "uri" },
        "format": text(),
        "author": text(),
        "copyright": text(),
        "notes": text(),
        "md5": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
        "duration": number(),
        "frame_rate": number(),
        "blurhash": text(),
        "thumbhash": text(),
        "mux_playback_id": text(),
        "mux_mp4_highest_res": nullable(json!({ "enum": ["high", "medium", "low"] })),
        "default_field_metadata": metadata(locales, shape, false),
        "is_image": { "type": "boolean" },
        "created_at": { "type": "string", "format": "date-time" },
        "updated_at": { "type": "string", "format": "date-time" },
        "mime_type": { "type": "string" },
        "tags": { "type": "array", "items": { "type": "string" } },
        "smart_tags": { "type": "array", "items": { "type": "string" } },
        "exif_info": { "type": "object" },
        "colors": { "type": "array", "items": object(json!({
            "red": byte(), "green": byte(), "blue": byte(), "alpha": byte(),
        })) },
    }));
    let relationships = object(json!({
        "upload_collection": relationship(nullable(linkage(&["upload_collection"]))),
        "creator": relationship(linkage(&Creator::KINDS)),
    }));
    let mut upload = resource("upload", attributes, Some(relationships));
    upload["properties"]["meta"] = object(json!({ "antivirus": object(json!({
        "status": { "enum": ["pending", "clean", "infected", "failed", "skipped"] },
        "checked_at": text(),
        "threat_name": text(),
    })) }));
    // assetd's own, on videos only: where the stream stands.
    upload["properties"]["meta"]["properties"]["video"] = object(json!({
        "status": { "enum": ["preparing", "ready", "errored"] },
        "error": text(),
    }));
    upload["required"] = json!(["type", "id", "attributes", "relationships", "meta"]);
    upload
}

fn byte() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": 255 })
}

fn upload_collection() -> Value {
    let relationships = object(json!({
        "parent": relationship(nullable(linkage(&["upload_collection"]))),
        "children": relationship(json!({ "type": "array", "items": linkage(&["upload_collection"]) })),
    }));
    resource(
        "upload_collection",
        attributes(json!({ "label": { "type": "string" }, "position": { "type": "integer", "minimum": 1 } })),
        Some(relationships),
    )
}

/// `default_field_metadata` in the configured wire shape (answers always use it). As a patch
/// (`patch`), keys are optional; answers carry every locale and key.
fn metadata(locales: &[Locale], shape: MetadataShape, patch: bool) -> Value {
    let focal_point = nullable(object(json!({
        "x": { "type": "number", "minimum": 0, "maximum": 1 },
        "y": { "type": "number", "minimum": 0, "maximum": 1 },
    })));
    let poster_time = nullable(json!({ "type": "number", "minimum": 0 }));
    let text = nullable(json!({ "type": "string" }));
    let custom_data = if patch { nullable(json!({ "type": "object" })) } else { json!({ "type": "object" }) };
    let per_locale = |value: &Value| {
        let properties: Map<String, Value> = locales.iter().map(|l| (l.to_string(), value.clone())).collect();
        optional_if(patch, object(Value::Object(properties)))
    };
    let metadata = match shape {
        MetadataShape::LocaleKeyed => {
            let cells = optional_if(
                patch,
                object(json!({
                    "alt": text, "title": text, "custom_data": custom_data,
                    "focal_point": focal_point, "poster_time": poster_time,
                })),
            );
            per_locale(&cells)
        }
        MetadataShape::FieldKeyed => optional_if(
            patch,
            object(json!({
                "alt": per_locale(&text),
                "title": per_locale(&text),
                "custom_data": per_locale(&custom_data),
                "focal_point": focal_point,
                "poster_time": poster_time,
            })),
        ),
    };
    let mut metadata = metadata;
    metadata["description"] = json!(match shape {
        MetadataShape::LocaleKeyed => "locale-keyed (`ASSETD_METADATA_SHAPE`); writes also take the field-keyed shape",
        MetadataShape::FieldKeyed => "field-keyed (`ASSETD_METADATA_SHAPE`); writes also take the locale-keyed shape",
    });
    metadata
}

fn optional_if(patch: bool, mut schema: Value) -> Value {
    if patch {
        if let Some(schema) = schema.as_object_mut() {
            schema.remove("required");
        }
    }
    schema
}

/// `{type, id?, attributes, relationships?, meta?}` from the handler's shape.
fn resource_object(body: &RequestBody, id_required: bool) -> Value {
    let shape = &body.shape;
    let attributes: Map<String, Value> =
        shape.attributes.iter().map(|name| ((*name).to_owned(), attribute_schema(name))).collect();
    let relationships: Map<String, Value> =
        shape.relationships.iter().map(|name| ((*name).to_owned(), relationship_schema(name))).collect();
    let mut properties = json!({
        "type": { "const": shape.kind },
        "id": { "type": "string", "pattern": ENTITY_ID_PATTERN },
        "attributes": {
            "type": "object", "properties": attributes, "required": body.attributes, "additionalProperties": false,
        },
        "meta": { "type": "object", "description": "ignored (clients echo it back)" },
    });
    if !shape.relationships.is_empty() {
        properties["relationships"] = json!({
            "type": "object", "properties": relationships, "required": body.relationships,
            "additionalProperties": false,
        });
    }
    let mut required = vec!["type"];
    if !body.attributes.is_empty() {
        required.push("attributes");
    }
    if !body.relationships.is_empty() {
        required.push("relationships");
    }
    if id_required {
        required.push("id");
    }
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
}

/// The schema of a writable attribute, by name (names mean the same on every resource).
pub(super) fn attribute_schema(name: &str) -> Value {
    let text = || nullable(json!({ "type": "string" }));
    match name {
        "path" => json!({ "type": "string", "description": "the id of a completed upload request" }),
        "copyright" | "author" | "notes" => text(),
        "filename" => text(),
        "default_field_metadata" => reference("MetadataPatch"),
        "tags" => json!({ "type": "array", "items": { "type": "string" } }),
        "basename" => json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$" }),
        "label" | "name" => json!({ "type": "string", "minLength": 1 }),
        "position" => nullable(json!({ "type": "integer", "minimum": 1, "maximum": MAX_POSITION })),
        "filter" => json!({ "type": "object" }),
        "shared" => json!({ "type": "boolean" }),
        "url_or_upload_request_id" => {
            json!({ "type": "string", "description": "the id of a completed upload request (URLs are not fetched)" })
        }
        "type" => json!({ "enum": ["subtitles", "audio"], "description": "only subtitles are taken" }),
        "language_code" => json!({ "type": "string", "description": "a BCP 47 language tag", "maxLength": 35 }),
        "closed_captions" => nullable(json!({ "type": "boolean" })),
        other => unknown(other),
    }
}

/// The schema of a writable relationship, by name.
pub(super) fn relationship_schema(name: &str) -> Value {
    let collection = || request_linkage(&["upload_collection"]);
    match name {
        "upload_collection" | "parent" => relationship(nullable(collection())),
        "children" => relationship(json!({ "type": "array", "items": collection() })),
        "creator" => relationship(request_linkage(&Creator::KINDS)),
        "uploads" => relationship(json!({
            "type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": request_linkage(&["upload"]),
        })),
        other => unknown(other),
    }
}

/// A name a handler takes that this module has no schema for; the unit tests refuse it.
fn unknown(name: &str) -> Value {
    json!({ "description": format!("UNDOCUMENTED: {name}") })
}
