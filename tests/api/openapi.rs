//! `GET /openapi.json`: a well-formed OpenAPI 3.1 document that matches the router (every route
//! documented, every documented operation served) and the answers the server really gives.

use std::collections::BTreeSet;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp, TestResponse};

async fn document(app: &TestApp) -> Value {
    let request = Request::builder().uri("/openapi.json").body(Body::empty()).unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::OK, "/openapi.json needs no token");
    assert!(response.header("content-type").unwrap_or_default().starts_with("application/json"));
    response.json()
}

/// Every `$ref` in `value`, with where it was found.
fn refs(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => found.push((at.to_owned(), target.clone())),
                    _ => refs(child, &format!("{at}/{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, target: &str) -> Option<&'a Value> {
    doc.pointer(target.strip_prefix('#')?)
}

#[tokio::test]
async fn openapi_document_is_3_1_and_every_ref_resolves() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut found = Vec::new();
    refs(&doc, "#", &mut found);
    assert!(found.len() > 50, "the document shares its parts through $ref");
    for (at, target) in found {
        assert!(resolve(&doc, &target).is_some(), "{at}: $ref {target} does not resolve");
    }
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
            for name in path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)) {
                let declared = operation["parameters"].as_array().into_iter().flatten().any(|p| {
                    let p = p.get("$ref").and_then(Value::as_str).and_then(|r| resolve(&doc, r)).unwrap_or(p);
                    p["in"] == "path" && p["name"] == name
                });
                assert!(declared, "{method} {path}: path parameter {name} is not declared");
            }
        }
    }
}

/// The paths axum routes, read from the router's `Debug` output (axum prints every route's path
/// there), so that a route added anywhere, however it is written, shows up. Only the path router
/// counts: the fallback router holds axum's own catch-all paths.
fn router_paths(app: &TestApp) -> BTreeSet<String> {
    let debug = format!("{:?}", app.router);
    let routes = debug.split_once("path_router:").and_then(|(_, rest)| rest.split_once("fallback_router:"));
    let (routes, _) = routes.unwrap_or_else(|| panic!("the router's Debug output changed shape: {debug:.2000}"));
    let pattern = regex::Regex::new(r#"RouteId\(\d+\): "([^"]+)""#).unwrap();
    let paths: BTreeSet<String> =
        pattern.captures_iter(routes).map(|c| c[1].to_owned()).filter(|path| !path.contains("__private__")).collect();
    assert!(paths.len() > 10, "could not read the routes from the router's Debug output: {debug:.2000}");
    paths
}

#[tokio::test]
async fn every_route_of_the_router_is_documented_and_nothing_else() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed = router_paths(&app);
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from /openapi.json: {undocumented:?}");
    assert!(unrouted.is_empty(), "documented paths the router does not have: {unrouted:?}");
}

/// Methods probed on every path. HEAD is left out: axum answers it on every GET route.
const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "options"];

#[tokio::test]
async fn documented_operations_answer_and_other_methods_are_unknown_endpoints() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let project = app.app.config.project_id.clone();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = path.replace("{project}", &project).replace("{id}", "x").replace("{file}", "x");
        for method in METHODS {
            let request = TestApp::cma(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), &uri)
                .body(Body::from("{}"))
                .unwrap();
            let response = app.send(request).await;
            let code = serde_json::from_slice::<Value>(&response.bytes)
                .ok()
                .and_then(|body| body["data"][0]["attributes"]["code"].as_str().map(str::to_owned));
            let unknown = code.as_deref() == Some("INVALID_ENDPOINT");
            // With S3 storage, files go straight to the bucket: assetd's own PUT answers 404
            // INVALID_ENDPOINT, as the document says.
            let put_to_bucket = app.uses_s3() && path.starts_with("/put/") && method == "put";
            if item.get(method).is_some() && !put_to_bucket {
                assert!(!unknown, "{method} {path} is documented but answers {} INVALID_ENDPOINT", response.status);
            } else {
                assert!(unknown, "{method} {path} is not documented but answers {} {code:?}", response.status);
            }
        }
    }
}

/// The schema of the JSON answer `status` of `method path`.
fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let mut response = &doc["paths"][path][method]["responses"][status.to_string()];
    if let Some(target) = response.get("$ref").and_then(Value::as_str) {
        response = resolve(doc, target).unwrap();
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON answer {status}");
    schema
}

/// Checks `value` against `schema`: the JSON Schema keywords the document uses.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        return validate(doc, resolve(doc, target).unwrap(), value, at, errors);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        let fits = |t: &&str| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(fits) {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(expected) = schema.get("const") {
        if expected != value {
            errors.push(format!("{at}: {value} is not {expected}"));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.contains(value) {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    if let Some(Value::Array(options)) = schema.get("anyOf") {
        let fits = options.iter().any(|option| {
            let mut inner = Vec::new();
            validate(doc, option, value, at, &mut inner);
            inner.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {value} matches none of anyOf"));
        }
    }
    if let (Some(minimum), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64()) {
        if n < minimum {
            errors.push(format!("{at}: {n} < {minimum}"));
        }
    }
    if let (Some(maximum), Some(n)) = (schema.get("maximum").and_then(Value::as_f64), value.as_f64()) {
        if n > maximum {
            errors.push(format!("{at}: {n} > {maximum}"));
        }
    }
    if let (Some(pattern), Some(text)) = (schema.get("pattern").and_then(Value::as_str), value.as_str()) {
        if !regex::Regex::new(pattern).unwrap().is_match(text) {
            errors.push(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    if let Value::Object(object) = value {
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !object.contains_key(name.as_str().unwrap_or_default()) {
                errors.push(format!("{at}: {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, child) in object {
            match (properties.and_then(|p| p.get(key)), schema.get("additionalProperties")) {
                (Some(property), _) => validate(doc, property, child, &format!("{at}/{key}"), errors),
                (None, Some(Value::Bool(false))) => errors.push(format!("{at}: {key} is not documented")),
                (None, Some(additional @ Value::Object(_))) => {
                    validate(doc, additional, child, &format!("{at}/{key}"), errors)
                }
                (None, _) => {}
            }
        }
    }
    if let Value::Array(items) = value {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(doc, item_schema, item, &format!("{at}/{i}"), errors);
            }
        }
        if schema.get("minItems").and_then(Value::as_u64).is_some_and(|min| (items.len() as u64) < min) {
            errors.push(format!("{at}: fewer items than minItems"));
        }
        if schema.get("maxItems").and_then(Value::as_u64).is_some_and(|max| (items.len() as u64) > max) {
            errors.push(format!("{at}: more items than maxItems"));
        }
    }
}

fn assert_conforms(doc: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let mut errors = Vec::new();
    validate(doc, response_schema(doc, path, method, status), body, "", &mut errors);
    assert!(errors.is_empty(), "{method} {path} {status} breaks the document: {errors:#?}\n{body:#}");
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    // A webhook to a closed port: the upload below leaves a (failed) call in the delivery log.
    let webhook = json!({ "data": { "type": "webhook", "attributes": { "name": "Closed", "url": "http://127.0.0.1:9/x",
        "auto_retry": false, "events": [{ "entity_type": "upload", "event_types": ["create"] }] } } });
    let webhook = app.call(Method::POST, "/webhooks", Some(webhook)).await;
    assert_conforms(&doc, "/webhooks", "post", webhook.status.as_u16(), &webhook.json());
    let collection = app.create_collection("Cats").await;
    let upload = app
        .create_upload(
            "cat.jpg",
            &fixture("cat.jpg"),
            json!({ "tags": ["cat"], "default_field_metadata": { "en": { "alt": "A cat", "focal_point": { "x": 0.5, "y": 0.5 } } } }),
        )
        .await;
    let id = upload["id"].as_str().unwrap();
    let update = json!({ "data": { "type": "upload", "id": id, "relationships": {
        "upload_collection": { "data": { "type": "upload_collection", "id": collection } } } } });
    let (status, _) = app.update_upload_with(id, "", update).await;
    assert_eq!(status, 200);

    let get = |uri: &'static str| app.call(Method::GET, uri, None);
    let cases: Vec<(&str, &str, TestResponse)> = vec![
        ("/uploads/{id}", "get", app.call(Method::GET, &format!("/uploads/{id}"), None).await),
        ("/uploads", "get", get("/uploads").await),
        ("/uploads/{id}/references", "get", app.call(Method::GET, &format!("/uploads/{id}/references"), None).await),
        ("/upload-collections", "get", get("/upload-collections").await),
        ("/upload-collections/{id}", "get", app.call(Method::GET, &format!("/upload-collections/{collection}"), None).await),
        ("/upload-tags", "get", get("/upload-tags").await),
        ("/upload-smart-tags", "get", get("/upload-smart-tags").await),
        ("/upload-filters", "post", app.call(Method::POST, "/upload-filters", Some(json!({ "data": {
            "type": "upload_filter", "attributes": { "name": "Cats", "filter": { "type": "image" }, "shared": true } } }))).await),
        ("/upload-tags", "post", app.call(Method::POST, "/upload-tags", Some(json!({ "data": {
            "type": "upload_tag", "attributes": { "name": "dogs" } } }))).await),
        ("/upload-requests", "post", app.call(Method::POST, "/upload-requests", Some(json!({ "data": {
            "type": "upload_request", "attributes": { "filename": "x.png" } } }))).await),
        ("/uploads/bulk/tag", "post", app.call(Method::POST, "/uploads/bulk/tag", Some(json!({ "data": {
            "type": "upload_bulk_tag_operation", "attributes": { "tags": ["x"] },
            "relationships": { "uploads": { "data": [{ "type": "upload", "id": id }] } } } }))).await),
        ("/uploads/{id}", "get", get("/uploads/nope").await),
        ("/uploads", "get", get("/uploads?page[limit]=9999").await),
        ("/uploads", "post", app.call(Method::POST, "/uploads", Some(json!({ "data": { "type": "nope" } }))).await),
        ("/webhooks", "get", get("/webhooks").await),
        ("/webhook_calls", "get", get("/webhook_calls").await),
        ("/webhook_calls", "get", get("/webhook_calls?order_by=sideways").await),
        ("/healthz", "get", get("/healthz").await),
        ("/readyz", "get", get("/readyz").await),
    ];
    for (path, method, response) in cases {
        let body = response.json();
        assert_conforms(&doc, path, method, response.status.as_u16(), &body);
        if body["data"]["type"] == "job" {
            let job_id = body["data"]["id"].as_str().unwrap();
            app.run_pending_jobs().await;
            let result = app.call(Method::GET, &format!("/job-results/{job_id}"), None).await;
            assert_conforms(&doc, "/job-results/{id}", "get", result.status.as_u16(), &result.json());
        }
    }
}

#[tokio::test]
async fn cma_answers_carry_the_documented_headers() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let response = app.call(Method::GET, "/uploads", None).await;
    let headers = doc["paths"]["/uploads"]["get"]["responses"]["200"]["headers"].as_object().unwrap();
    for (name, header) in headers {
        let header = resolve(&doc, header["$ref"].as_str().unwrap()).unwrap();
        if header["required"] == true {
            assert!(response.header(name).is_some(), "GET /uploads 200 lacks the documented header {name}");
        }
    }
    let unauthenticated = app
        .send(
            Request::builder().uri("/uploads").header(header::ACCEPT, "application/json").body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_conforms(&doc, "/uploads", "get", 401, &unauthenticated.json());
}
