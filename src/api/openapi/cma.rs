//! The Content Management API operations (spec §3–§6), in the order of the route table.

use serde_json::{json, Value};

use super::{
    operation::{path_id, query, Access, Operation},
    resources::reference,
};
use crate::{
    api::{
        tags,
        uploads::{LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT},
    },
    app::App,
    domain::{COLOR_BUCKETS, MEDIA_TYPES},
};

fn op(method: &'static str, path: &str, id: &str, tag: &str) -> Operation {
    Operation::new(Access::Cma, method, path, id, tag)
}

/// 200 with a JSON document.
fn ok(operation: Operation, description: &str, schema: &str) -> Operation {
    operation.json_response(200, description, reference(schema))
}

/// 202 with a job; its result is polled at `GET /job-results/{id}`.
fn job(operation: Operation, result: &str) -> Operation {
    operation
        .json_response(202, &format!("a job; its result (GET /job-results/{{id}}) is {result}"), reference("Job"))
        .links(
            202,
            json!({ "JobResult": {
            "operationId": "show_job_result",
            "parameters": { "id": "$response.body#/data/id" },
        } }),
        )
}

/// Links from an answer holding one resource to its show, update and destroy operations.
fn resource_links(operation: Operation, status: u16, noun: &str) -> Operation {
    let by_id = json!({ "id": "$response.body#/data/id" });
    operation.links(
        status,
        json!({
            "Show": { "operationId": format!("show_{noun}"), "parameters": by_id },
            "Update": { "operationId": format!("update_{noun}"), "parameters": by_id },
            "Destroy": { "operationId": format!("destroy_{noun}"), "parameters": by_id },
        }),
    )
}

fn page_params(default_limit: i64, max_limit: i64) -> [Value; 2] {
    [
        query("page[offset]", "rows to skip", json!({ "type": "integer", "minimum": 0 })),
        query(
            "page[limit]",
            &format!("rows per page (default {default_limit}; 0 answers only meta.total_count)"),
            json!({ "type": "integer", "minimum": 0, "maximum": max_limit }),
        ),
    ]
}

pub(super) fn operations(app: &App) -> Vec<Operation> {
    let mut operations = uploads(app);
    operations.extend(upload_tracks());
    operations.extend(media_area());
    operations
}

fn uploads(app: &App) -> Vec<Operation> {
    let locales: Vec<String> = app.config.locales.iter().map(ToString::to_string).collect();
    let [offset, limit] = page_params(LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT);
    let upload_id = || path_id("an upload id");
    vec![
        ok(
            op("post", "/upload-requests", "create_upload_request", "uploads")
                .summary("Get a path and a signed URL to PUT a file to")
                .json_body(reference("CreateUploadRequestBody")),
            "the upload request: its id is the path to give POST /uploads",
            "UploadRequestDocument",
        ),
        ok(
            op("get", "/uploads", "list_uploads", "uploads")
                .summary("List uploads (filters, full text, order, paging)")
                .param(query("filter[ids]", "comma-separated upload ids", json!({ "type": "string" })))
                .param(query(
                    "filter[query]",
                    "full text; the last word matches as a prefix",
                    json!({ "type": "string" }),
                ))
                .param(query(
                    "filter[fields][md5][eq]",
                    "one of the spec §3.3 field filters (`filter[fields][<field>][<op>]`)",
                    json!({ "type": "string" }),
                ))
                .param(query("filter[fields][type][eq]", "media type", json!({ "enum": MEDIA_TYPES })))
                .param(query("filter[fields][size][gte]", "bytes", json!({ "type": "integer" })))
                .param(query("filter[fields][colors][contains]", "a colour bucket", json!({ "enum": COLOR_BUCKETS })))
                .param(query(
                    "filter[fields][_created_at][gt]",
                    "RFC 3339, minute precision",
                    json!({ "type": "string", "format": "date-time" }),
                ))
                .param(query(
                    "filter[fields][basename][matches][pattern]",
                    "substring (or regexp with [regexp]=true)",
                    json!({ "type": "string" }),
                ))
                .param(query("locale", "a locale of the environment (default: the first)", json!({ "enum": locales })))
                .param(query(
                    "order_by",
                    "comma-separated `<field>_ASC|_DESC`: _created_at, _updated_at, basename, filename, format, id, \
                     mime_type, resolution, size, _rank (with filter[query])",
                    json!({ "type": "string" }),
                ))
                .param(offset)
                .param(limit),
            "a page of uploads and the total count",
            "UploadList",
        )
        .links(
            200,
            json!({ "ShowFirst": {
            "operationId": "show_upload",
            "parameters": { "id": "$response.body#/data/0/id" },
        } }),
        ),
        job(
            op("post", "/uploads", "create_upload", "uploads")
                .summary("Create an upload from a completed upload request")
                .json_body(reference("CreateUploadBody")),
            "{data: upload}",
        ),
        ok(
            op("get", "/uploads/{id}", "show_upload", "uploads").summary("Show an upload").param(upload_id()),
            "the upload",
            "UploadDocument",
        ),
        job(
            op("put", "/uploads/{id}", "update_upload", "uploads")
                .summary("Update metadata, rename, or replace the file")
                .param(upload_id())
                .param(query(
                    "replace_strategy",
                    "with a new path: keep the URL (same format only) or create a new one",
                    json!({ "enum": ["create_new_url", "keep_url"] }),
                ))
                .json_body(reference("UpdateUploadBody")),
            "{data: upload}",
        ),
        ok(
            op("delete", "/uploads/{id}", "destroy_upload", "uploads").summary("Destroy an upload").param(upload_id()),
            "the upload as it was",
            "UploadDocument",
        ),
        job(
            op("post", "/uploads/bulk/tag", "bulk_tag", "uploads")
                .summary("Add tags to uploads")
                .json_body(reference("BulkTagBody")),
            "{data: [], meta: {successful, failed}}",
        ),
        job(
            op("post", "/uploads/bulk/set-upload-collection", "bulk_set_collection", "uploads")
                .summary("Move uploads to a collection (or the root)")
                .json_body(reference("BulkSetUploadCollectionBody")),
            "{data: [], meta: {successful, failed}}",
        ),
        job(
            op("post", "/uploads/bulk/destroy", "bulk_destroy", "uploads")
                .summary("Destroy uploads")
                .json_body(reference("BulkDestroyBody")),
            "{data: [], meta: {successful, failed}}",
        ),
        ok(
            op("get", "/uploads/{id}/references", "list_upload_references", "uploads")
                .summary("Records using the upload (always none)")
                .param(upload_id())
                .param(query("nested", "full nested payloads", json!({ "enum": ["true", "false"] })))
                .param(query(
                    "version",
                    "record version",
                    json!({ "enum": ["current", "published", "published-or-current"] }),
                )),
            "an empty list: assetd holds no records",
            "ReferenceList",
        ),
        ok(
            op("get", "/job-results/{id}", "show_job_result", "uploads")
                .summary("The result of a job (404 NOT_FOUND while it runs)")
                .param(path_id("the id of a 202 answer's job")),
            "the finished job: the operation's status and document",
            "JobResult",
        ),
    ]
}

/// A video's text tracks (`client.uploadTracks`).
fn upload_tracks() -> Vec<Operation> {
    let upload_id = || path_id("a video upload's id");
    let track_id = json!({ "name": "track_id", "in": "path", "required": true, "description": "a track id", "schema": { "type": "string" } });
    vec![
        ok(
            op("get", "/uploads/{id}/tracks", "list_upload_tracks", "uploads")
                .summary("A video's subtitle tracks")
                .param(upload_id()),
            "the tracks, oldest first",
            "UploadTrackList",
        ),
        ok(
            op("post", "/uploads/{id}/tracks", "create_upload_track", "uploads")
                .summary("Add a subtitle track from an upload request's WebVTT or SRT file (answered at once, ready)")
                .param(upload_id())
                .json_body(reference("CreateUploadTrackBody")),
            "the track",
            "UploadTrackDocument",
        ),
        ok(
            op("post", "/uploads/{id}/tracks/generate-subtitles", "generate_upload_subtitles", "uploads")
                .summary(
                    "Make a subtitle track with the configured speech-to-text command (answered preparing, made by a \
                     job); 422 SUBTITLES_GENERATION_UNAVAILABLE when none is configured",
                )
                .param(upload_id())
                .json_body(reference("GenerateSubtitlesBody")),
            "the new track, preparing",
            "UploadTrackDocument",
        ),
        ok(
            op("delete", "/uploads/{id}/tracks/{track_id}", "destroy_upload_track", "uploads")
                .summary("Delete a track")
                .param(upload_id())
                .param(track_id),
            "the track as it was",
            "UploadTrackDocument",
        ),
    ]
}

fn media_area() -> Vec<Operation> {
    let collection_id = || path_id("an upload collection id");
    let filter_id = || path_id("an upload filter id");
    let [tag_offset, tag_limit] = page_params(tags::DEFAULT_LIMIT, tags::MAX_LIMIT);
    let tag_query = || query("filter[query]", "case-insensitive substring of the name", json!({ "type": "string" }));
    vec![
        ok(
            op("get", "/upload-collections", "list_collections", "media-area")
                .summary("List upload collections (not paged)")
                .param(query("filter[ids]", "comma-separated collection ids", json!({ "type": "string" }))),
            "every collection",
            "UploadCollectionList",
        ),
        resource_links(
            ok(
                op("post", "/upload-collections", "create_collection", "media-area")
                    .summary("Create an upload collection")
                    .json_body(reference("CreateUploadCollectionBody")),
                "the new collection",
                "UploadCollectionDocument",
            ),
            200,
            "collection",
        ),
        job(
            op("post", "/upload-collections/reorder", "reorder_collections", "media-area")
                .summary("Move several collections at once")
                .json_body(reference("ReorderUploadCollectionsBody")),
            "{data: [collections]}",
        ),
        ok(
            op("get", "/upload-collections/{id}", "show_collection", "media-area")
                .summary("Show an upload collection")
                .param(collection_id()),
            "the collection",
            "UploadCollectionDocument",
        ),
        ok(
            op("put", "/upload-collections/{id}", "update_collection", "media-area")
                .summary("Rename, move or reorder the children of a collection")
                .param(collection_id())
                .json_body(reference("UpdateUploadCollectionBody")),
            "the collection",
            "UploadCollectionDocument",
        ),
        ok(
            op("delete", "/upload-collections/{id}", "destroy_collection", "media-area")
                .summary("Destroy a collection and its sub-collections (their uploads move to the root)")
                .param(collection_id()),
            "the collection as it was",
            "UploadCollectionDocument",
        ),
        ok(
            op("get", "/upload-tags", "list_tags", "media-area")
                .summary("List tags (created and in use), by name")
                .param(tag_query())
                .param(tag_offset.clone())
                .param(tag_limit.clone()),
            "a page of tags",
            "UploadTagList",
        ),
        ok(
            op("post", "/upload-tags", "create_tag", "media-area")
                .summary("Create a tag (an existing name returns it)")
                .json_body(reference("CreateUploadTagBody")),
            "the tag",
            "UploadTagDocument",
        ),
        ok(
            op("get", "/upload-smart-tags", "list_smart_tags", "media-area")
                .summary("List smart tags (always none: no recogniser yet)")
                .param(tag_query())
                .param(tag_offset)
                .param(tag_limit),
            "an empty page",
            "UploadSmartTagList",
        ),
        ok(
            op("get", "/upload-filters", "list_upload_filters", "media-area").summary("List saved filters"),
            "every saved filter",
            "UploadFilterList",
        ),
        resource_links(
            ok(
                op("post", "/upload-filters", "create_upload_filter", "media-area")
                    .summary("Save a filter")
                    .json_body(reference("UploadFilterBody")),
                "the new filter",
                "UploadFilterDocument",
            ),
            200,
            "upload_filter",
        ),
        ok(
            op("get", "/upload-filters/{id}", "show_upload_filter", "media-area")
                .summary("Show a saved filter")
                .param(filter_id()),
            "the filter",
            "UploadFilterDocument",
        ),
        ok(
            op("put", "/upload-filters/{id}", "update_upload_filter", "media-area")
                .summary("Update a saved filter")
                .param(filter_id())
                .json_body(reference("UploadFilterBody")),
            "the filter",
            "UploadFilterDocument",
        ),
        ok(
            op("delete", "/upload-filters/{id}", "destroy_upload_filter", "media-area")
                .summary("Destroy a saved filter")
                .param(filter_id()),
            "the filter as it was",
            "UploadFilterDocument",
        ),
    ]
}
