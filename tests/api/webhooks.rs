//! Issue 7: webhooks. CRUD and validation through the API, signed deliveries of upload create,
//! update and delete events to a local receiver, retries, the delivery log, resend, disabled and
//! deleted webhooks, roles, and `assetd webhooks`.

use std::{
    collections::VecDeque,
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, Method, StatusCode},
};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{fixture, TestApp};
use assetd::{
    domain::{token_secret_hash, TokenRole},
    jobs::{RunOutcome, Worker},
};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the payload is JSON")
    }
}

/// A local HTTP server that records every request and answers the scripted statuses in turn
/// (then 200).
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (String, Receiver) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let receiver =
            Receiver { seen: Arc::default(), script: Arc::new(Mutex::new(script.iter().copied().collect())) };
        let state = receiver.clone();
        let router = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                state.seen.lock().unwrap().push(Seen { headers, body: body.to_vec() });
                let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
                (StatusCode::from_u16(status).unwrap(), [("location", "/moved")], format!("answered {status}"))
            }
        });
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://{address}/hook"), receiver)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A URL where nothing listens.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/hook")
}

/// Retries 20 ms apart (then 80 ms), 3 attempts: the schedule fits in a test.
async fn spawn_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.webhook_retry_base_ms = 20;
        config.webhook_max_attempts = 3;
    })
    .await
}

/// Runs jobs, retries included, until none is left.
async fn drain(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        app.run_pending_jobs().await;
        if app.pending_jobs().await == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs still pending after 20 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn webhook_body(attributes: Value) -> Value {
    json!({ "data": { "type": "webhook", "attributes": attributes } })
}

fn all_events() -> Value {
    json!([{ "entity_type": "upload", "event_types": ["create", "update", "delete"] }])
}

/// Creates a webhook; returns its resource.
async fn create_webhook(app: &TestApp, attributes: Value) -> Value {
    let response = app.call(Method::POST, "/webhooks", Some(webhook_body(attributes))).await;
    assert_eq!(response.status, StatusCode::OK, "create webhook: {}", String::from_utf8_lossy(&response.bytes));
    response.json()["data"].clone()
}

async fn calls(app: &TestApp, query: &str) -> Value {
    let response = app.call(Method::GET, &format!("/webhook_calls{query}"), None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", String::from_utf8_lossy(&response.bytes));
    response.json()
}

/// The receiver's check, written independently of assetd's code: HMAC-SHA256 of `<t>.<body>`.
fn signature_verifies(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header.split_once(",v1=") else { return false };
    let Some(t) = t.strip_prefix("t=") else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}

#[tokio::test]
async fn webhooks_are_created_read_updated_and_deleted_with_checked_attributes() {
    let app = spawn_app().await;
    let created = create_webhook(
        &app,
        json!({ "name": "Indexer", "url": "https://hooks.example.com/assetd", "events": all_events(),
                "headers": { "X-Team": "media" }, "custom_payload": null, "http_basic_user": null,
                "http_basic_password": null }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let attributes = &created["attributes"];
    assert_eq!(attributes["name"], "Indexer");
    assert_eq!(attributes["enabled"], true, "enabled by default");
    assert_eq!(attributes["auto_retry"], true, "retries by default");
    assert_eq!(attributes["payload_api_version"], "3");
    assert_eq!(attributes["headers"], json!({ "X-Team": "media" }));
    assert_eq!(attributes["events"], all_events());
    let secret = attributes["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");

    let listed = app.call(Method::GET, "/webhooks", None).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let shown = app.call(Method::GET, &format!("/webhooks/{id}"), None).await.json();
    assert_eq!(shown["data"], created);

    let update =
        json!({ "data": { "type": "webhook", "id": id, "attributes": { "name": "Indexer 2", "enabled": false } } });
    let updated = app.call(Method::PUT, &format!("/webhooks/{id}"), Some(update)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", String::from_utf8_lossy(&updated.bytes));
    let updated = updated.json()["data"]["attributes"].clone();
    assert_eq!((updated["name"].as_str(), updated["enabled"].as_bool()), (Some("Indexer 2"), Some(false)));
    assert_eq!(updated["url"], "https://hooks.example.com/assetd", "untouched attributes stay");
    assert_eq!(updated["secret"], secret, "the secret stays");

    // Bad input: a clear 422 naming the field, and nothing changes.
    let base = || json!({ "name": "Other", "url": "https://example.com/h", "events": all_events() });
    let mut cases = Vec::new();
    for (field, value, code) in [
        ("events", json!([{ "entity_type": "item", "event_types": ["create"] }]), "UNSUPPORTED_ENTITY_TYPE"),
        ("events", json!([{ "entity_type": "upload", "event_types": ["publish"] }]), "UNSUPPORTED_EVENT_TYPE"),
        ("url", json!("ftp://example.com/x"), "INVALID_FORMAT"),
        ("custom_payload", json!("{{event_type}}"), "NOT_SUPPORTED"),
        ("headers", json!({ "X-Assetd-Signature": "forged" }), "INVALID_FORMAT"),
        ("name", json!("Indexer 2"), "VALIDATION_UNIQUENESS"),
    ] {
        let mut attributes = base();
        attributes[field] = value;
        cases.push((field, code, app.call(Method::POST, "/webhooks", Some(webhook_body(attributes))).await));
    }
    for (field, code, response) in cases {
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(response.error_code(), "INVALID_FIELD", "{field}");
        let details = &response.json()["data"][0]["attributes"]["details"];
        assert_eq!((details["field"].as_str(), details["code"].as_str()), (Some(field), Some(code)));
    }
    let extraneous =
        app.call(Method::POST, "/webhooks", Some(webhook_body(json!({ "name": "x", "secret": "mine" })))).await;
    assert_eq!(extraneous.error_code(), "INVALID_ATTRIBUTES");
    let missing = app.call(Method::POST, "/webhooks", Some(webhook_body(json!({ "name": "x" })))).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_update = json!({ "data": { "type": "webhook", "attributes": { "url": "not a url" } } });
    let response = app.call(Method::PUT, &format!("/webhooks/{id}"), Some(bad_update)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app.call(Method::GET, "/webhooks", None).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "no webhook was created by a bad request");
    assert_eq!(listed["data"][0]["attributes"]["url"], "https://hooks.example.com/assetd");

    let destroyed = app.call(Method::DELETE, &format!("/webhooks/{id}"), None).await;
    assert_eq!(destroyed.status, StatusCode::OK);
    assert_eq!(destroyed.json()["data"]["id"], id.as_str());
    assert_eq!(app.call(Method::GET, &format!("/webhooks/{id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, "/webhook_calls/nope", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_full_access_tokens_reach_webhooks_and_their_log() {
    let app = spawn_app().await;
    let hook =
        create_webhook(&app, json!({ "name": "h", "url": "https://example.com/h", "events": all_events() })).await;
    for role in [TokenRole::ReadOnly, TokenRole::UploadOnly] {
        let secret = format!("{}-secret-0123456789", role.as_str());
        let id = assetd::domain::new_entity_id();
        app.app.db.create_token(&id, role.as_str(), role, &token_secret_hash(&secret), 1).await.unwrap();
        let body = webhook_body(json!({ "name": "mine", "url": "https://example.com/x", "events": all_events() }));
        for (method, uri, body) in [
            (Method::GET, "/webhooks".to_owned(), None),
            (Method::GET, format!("/webhooks/{}", hook["id"].as_str().unwrap()), None),
            (Method::POST, "/webhooks".to_owned(), Some(body)),
            (Method::GET, "/webhook_calls".to_owned(), None),
        ] {
            let response = app.call_as(&secret, method.clone(), &uri, body).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{role:?} {method} {uri}");
            assert_eq!(response.error_code(), "INSUFFICIENT_PERMISSIONS");
        }
    }
    assert_eq!(app.call(Method::GET, "/webhooks", None).await.json()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn create_update_and_delete_are_delivered_signed_with_the_documented_payload() {
    let app = spawn_app().await;
    let (url, receiver) = Receiver::start(&[]).await;
    let hook = create_webhook(
        &app,
        json!({ "name": "All", "url": url, "events": all_events(), "headers": { "X-Team": "media" },
                "http_basic_user": "user", "http_basic_password": "pass" }),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    let secret = hook["attributes"]["secret"].as_str().unwrap();

    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({ "tags": ["cat"] })).await;
    let upload_id = upload["id"].as_str().unwrap();
    drain(&app).await;
    let (status, updated) = app.update_upload(upload_id, json!({ "tags": ["cat", "grey"] })).await;
    assert_eq!(status, 200);
    drain(&app).await;
    let destroyed = app.call(Method::DELETE, &format!("/uploads/{upload_id}"), None).await;
    assert_eq!(destroyed.status, StatusCode::OK);
    drain(&app).await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 3, "one delivery per event");
    for (delivery, event) in seen.iter().zip(["create", "update", "delete"]) {
        assert_eq!(delivery.header("content-type"), "application/json");
        assert_eq!(delivery.header("x-assetd-event"), format!("upload.{event}"));
        assert_eq!(delivery.header("x-assetd-webhook-id"), hook_id);
        assert_eq!(delivery.header("x-team"), "media", "custom headers are sent");
        assert_eq!(delivery.header("authorization"), "Basic dXNlcjpwYXNz", "HTTP basic auth");
        let signature = delivery.header("x-assetd-signature");
        assert!(signature_verifies(secret, signature, &delivery.body), "{event}: {signature}");
        assert!(!signature_verifies("whsec_wrong", signature, &delivery.body), "a wrong secret fails");
        assert!(!signature_verifies(secret, signature, b"{\"tampered\":true}"), "a changed body fails");
        let t: i64 = signature.trim_start_matches("t=").split(',').next().unwrap().parse().unwrap();
        assert!((assetd::domain::now_millis() / 1000 - t).abs() < 60, "the timestamp is now");
        assert!(assetd::webhooks::signature::verify(secret, signature, &delivery.body, t, 300));

        let payload = delivery.json();
        assert_eq!(payload["webhook_call_id"], delivery.header("x-assetd-delivery-id"));
        assert_eq!(payload["webhook_id"], hook_id);
        assert_eq!(payload["environment"], "main");
        assert_eq!(payload["entity_type"], "upload");
        assert_eq!(payload["event_type"], event);
        assert_eq!(payload["entity"]["type"], "upload");
        assert_eq!(payload["entity"]["id"], upload_id);
        assert_eq!(payload["related_entities"], json!([]));
        assert_eq!(payload["attempted_auto_retries_count"], 0);
    }
    assert_eq!(seen[0].json()["entity"], upload, "create: the upload as the API renders it");
    assert!(seen[0].json().get("previous_entity").is_none());
    assert_eq!(seen[1].json()["entity"], updated["data"], "update: the upload after");
    assert_eq!(seen[1].json()["previous_entity"]["attributes"]["tags"], json!(["cat"]), "and before");
    assert_eq!(seen[2].json()["entity"]["attributes"]["tags"], json!(["cat", "grey"]), "delete: as it was");

    let log = calls(&app, "").await;
    assert_eq!(log["meta"]["total_count"], 3);
    let events: Vec<&str> =
        log["data"].as_array().unwrap().iter().map(|c| c["attributes"]["event_type"].as_str().unwrap()).collect();
    assert_eq!(events, ["delete", "update", "create"], "newest first");
    for call in log["data"].as_array().unwrap() {
        let attributes = &call["attributes"];
        assert_eq!(attributes["status"], "success");
        assert_eq!(attributes["response_status"], 200);
        assert_eq!(attributes["response_payload"], "answered 200");
        assert_eq!(attributes["request_url"], url.as_str());
        assert_eq!(attributes["delivery_attempts"].as_array().unwrap().len(), 1);
        assert_eq!(call["relationships"]["webhook"]["data"]["id"], hook_id);
    }
    let filtered = calls(&app, "?filter[fields][event_type][eq]=update&order_by=created_at_asc").await;
    assert_eq!(filtered["meta"]["total_count"], 1);
    let bad = app.call(Method::GET, "/webhook_calls?filter[fields][color][eq]=red", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_every_attempt_is_logged() {
    let app = spawn_app().await;
    let (url, receiver) = Receiver::start(&[500, 500]).await;
    create_webhook(&app, json!({ "name": "flaky", "url": url, "events": all_events() })).await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    drain(&app).await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 3, "500, 500, then 200");
    let ids: Vec<&str> = seen.iter().map(|s| s.header("x-assetd-delivery-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "retries keep the delivery id: {ids:?}");
    let counts: Vec<Value> = seen.iter().map(|s| s.json()["attempted_auto_retries_count"].clone()).collect();
    assert_eq!(counts, [json!(0), json!(1), json!(2)]);
    assert!(seen.iter().all(|s| s.json()["entity"]["id"] == upload["id"]));

    let log = calls(&app, "").await;
    let call = &log["data"][0]["attributes"];
    assert_eq!(call["status"], "success");
    assert_eq!(call["attempted_auto_retries_count"], 2);
    assert_eq!(call["next_retry_at"], Value::Null);
    let statuses: Vec<Value> =
        call["delivery_attempts"].as_array().unwrap().iter().map(|a| a["response_status"].clone()).collect();
    assert_eq!(statuses, [json!(500), json!(500), json!(200)]);

    // And /metrics counts the attempts by outcome.
    let metrics = app.app.metrics.render(None);
    assert!(metrics.contains("assetd_webhook_deliveries_total{outcome=\"rescheduled\"} 2\n"), "{metrics}");
    assert!(metrics.contains("assetd_webhook_deliveries_total{outcome=\"success\"} 1\n"), "{metrics}");
}

#[tokio::test]
async fn a_receiver_that_is_down_fails_the_call_and_resend_delivers_it() {
    let app = spawn_app().await;
    let hook = create_webhook(&app, json!({ "name": "down", "url": dead_url().await, "events": all_events() })).await;
    app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    drain(&app).await;

    let log = calls(&app, "").await;
    let call_id = log["data"][0]["id"].as_str().unwrap().to_owned();
    let call = &log["data"][0]["attributes"];
    assert_eq!(call["status"], "failed", "given up after the last attempt: {call:#}");
    assert_eq!(call["response_status"], Value::Null);
    assert!(call["error"].as_str().unwrap().contains("connect"), "{}", call["error"]);
    let attempts = call["delivery_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "ASSETD_WEBHOOK_MAX_ATTEMPTS");
    assert!(attempts.iter().all(|a| a["response_status"].is_null() && a["error"].is_string()));

    // The receiver is back (at a new address): resend delivers the same call.
    let (url, receiver) = Receiver::start(&[]).await;
    let id = hook["id"].as_str().unwrap();
    let update = json!({ "data": { "type": "webhook", "id": id, "attributes": { "url": url } } });
    assert_eq!(app.call(Method::PUT, &format!("/webhooks/{id}"), Some(update)).await.status, StatusCode::OK);
    let resent = app.call(Method::POST, &format!("/webhook_calls/{call_id}/resend_webhook"), None).await;
    assert_eq!(resent.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&resent.bytes));
    drain(&app).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-assetd-delivery-id"), call_id);
    let call = app.call(Method::GET, &format!("/webhook_calls/{call_id}"), None).await.json();
    assert_eq!(call["data"]["attributes"]["status"], "success");
    assert_eq!(call["data"]["attributes"]["delivery_attempts"].as_array().unwrap().len(), 4);
    let missing = app.call(Method::POST, "/webhook_calls/nope/resend_webhook", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_auto_retry_one_failure_is_final_and_redirects_are_not_followed() {
    let app = spawn_app().await;
    let (url, receiver) = Receiver::start(&[302]).await;
    create_webhook(&app, json!({ "name": "once", "url": url, "events": all_events(), "auto_retry": false })).await;
    app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    drain(&app).await;
    assert_eq!(receiver.seen().len(), 1, "the redirect was not followed, and nothing was retried");
    let call = &calls(&app, "").await["data"][0]["attributes"];
    assert_eq!((call["status"].as_str(), call["response_status"].as_i64()), (Some("failed"), Some(302)));
}

#[tokio::test]
async fn disabled_and_deleted_webhooks_get_nothing() {
    let app = spawn_app().await;
    let (url, receiver) = Receiver::start(&[]).await;
    create_webhook(&app, json!({ "name": "off", "url": url, "events": all_events(), "enabled": false })).await;
    let only_deletes = json!([{ "entity_type": "upload", "event_types": ["delete"] }]);
    create_webhook(&app, json!({ "name": "deletes", "url": url, "events": only_deletes })).await;
    app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    drain(&app).await;
    assert!(receiver.seen().is_empty(), "disabled, or not subscribed to create");
    assert_eq!(calls(&app, "").await["meta"]["total_count"], 0, "no call was recorded");

    // Queued, then the webhook is disabled (or deleted) before the delivery runs.
    let hook = create_webhook(&app, json!({ "name": "later", "url": url, "events": all_events() })).await;
    let doomed = create_webhook(&app, json!({ "name": "doomed", "url": url, "events": all_events() })).await;
    let path = app.put_file("dog.jpg", &fixture("cat.jpg")).await;
    let body = json!({ "data": { "type": "upload", "attributes": { "path": path } } });
    assert_eq!(app.call(Method::POST, "/uploads", Some(body)).await.status, StatusCode::ACCEPTED);
    let worker = Worker::new(app.app.clone());
    assert_eq!(worker.run_one().await.unwrap(), RunOutcome::Executed, "the create job");
    assert_eq!(app.pending_jobs().await, 2, "two deliveries queued with the upload");
    let id = hook["id"].as_str().unwrap();
    let pending = calls(&app, &format!("?filter[fields][webhook_id][eq]={id}")).await["data"][0]["id"].clone();
    let busy =
        app.call(Method::POST, &format!("/webhook_calls/{}/resend_webhook", pending.as_str().unwrap()), None).await;
    assert_eq!(busy.status, StatusCode::UNPROCESSABLE_ENTITY, "a call being delivered is not resent");
    assert_eq!(busy.error_code(), "WEBHOOK_CALL_IN_PROGRESS");
    let disable = json!({ "data": { "type": "webhook", "id": id, "attributes": { "enabled": false } } });
    assert_eq!(app.call(Method::PUT, &format!("/webhooks/{id}"), Some(disable)).await.status, StatusCode::OK);
    let doomed_id = doomed["id"].as_str().unwrap();
    assert_eq!(app.call(Method::DELETE, &format!("/webhooks/{doomed_id}"), None).await.status, StatusCode::OK);
    drain(&app).await;
    assert!(receiver.seen().is_empty(), "nothing was sent to a disabled or deleted webhook");
    let log = calls(&app, "").await;
    assert_eq!(log["meta"]["total_count"], 1, "the deleted webhook's calls went with it");
    assert_eq!(log["data"][0]["attributes"]["status"], "failed");
    assert_eq!(log["data"][0]["attributes"]["delivery_attempts"], json!([]));
}

/// True when this node's worker was woken since the last look (the wake-up is a stored permit).
async fn worker_was_woken(app: &TestApp) -> bool {
    tokio::time::timeout(Duration::from_millis(20), app.app.jobs.woken()).await.is_ok()
}

#[tokio::test]
async fn a_job_that_records_webhook_calls_wakes_the_worker_for_their_delivery() {
    let app = spawn_app().await;
    let (url, _receiver) = Receiver::start(&[]).await;
    create_webhook(&app, json!({ "name": "all", "url": url, "events": all_events() })).await;
    let path = app.put_file("cat.jpg", &fixture("cat.jpg")).await;
    let body = json!({ "data": { "type": "upload", "attributes": { "path": path } } });
    assert_eq!(app.call(Method::POST, "/uploads", Some(body)).await.status, StatusCode::ACCEPTED);
    assert!(worker_was_woken(&app).await, "queueing the create job wakes the worker");
    assert!(!worker_was_woken(&app).await, "one wake-up per commit");
    let worker = Worker::new(app.app.clone());
    assert_eq!(worker.run_one().await.unwrap(), RunOutcome::Executed, "the create job");
    assert_eq!(app.pending_jobs().await, 1, "its delivery is queued");
    assert!(worker_was_woken(&app).await, "the create job's commit woke the worker for the delivery");
    drain(&app).await;

    // Without a listener, a change queues nothing and wakes nobody.
    let hooks = app.call(Method::GET, "/webhooks", None).await.json();
    let id = hooks["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.call(Method::DELETE, &format!("/webhooks/{id}"), None).await.status, StatusCode::OK);
    let upload = app.call(Method::GET, "/uploads", None).await.json()["data"][0]["id"].as_str().unwrap().to_owned();
    let rename = json!({ "data": { "type": "upload", "attributes": { "notes": "quiet" } } });
    assert_eq!(app.call(Method::PUT, &format!("/uploads/{upload}"), Some(rename)).await.status, StatusCode::ACCEPTED);
    assert!(worker_was_woken(&app).await, "queueing the update job wakes the worker");
    assert_eq!(worker.run_one().await.unwrap(), RunOutcome::Executed, "the update job");
    assert_eq!(app.pending_jobs().await, 0);
    assert!(!worker_was_woken(&app).await, "nothing was queued, so nothing woke the worker");
}

#[tokio::test]
async fn bulk_operations_send_one_event_per_upload() {
    let app = spawn_app().await;
    let (url, receiver) = Receiver::start(&[]).await;
    let a = app.create_upload("a.jpg", &fixture("cat.jpg"), json!({})).await;
    let b = app.create_upload("b.jpg", &fixture("cat.jpg"), json!({})).await;
    create_webhook(&app, json!({ "name": "bulk", "url": url, "events": all_events() })).await;
    let uploads = json!([{ "type": "upload", "id": a["id"] }, { "type": "upload", "id": b["id"] }]);
    let tag = json!({ "data": { "type": "upload_bulk_tag_operation", "attributes": { "tags": ["x"] },
                                "relationships": { "uploads": { "data": uploads } } } });
    let (status, _) = app.call_job(Method::POST, "/uploads/bulk/tag", tag).await;
    assert_eq!(status, 200);
    let destroy = json!({ "data": { "type": "upload_bulk_destroy_operation",
                                    "relationships": { "uploads": { "data": uploads } } } });
    let (status, _) = app.call_job(Method::POST, "/uploads/bulk/destroy", destroy).await;
    assert_eq!(status, 200);
    drain(&app).await;
    let mut events: Vec<String> = receiver
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.header("x-assetd-event"), s.json()["entity"]["id"].as_str().unwrap()))
        .collect();
    events.sort();
    let mut expected = Vec::new();
    for kind in ["upload.delete", "upload.update"] {
        for upload in [&a, &b] {
            expected.push(format!("{kind} {}", upload["id"].as_str().unwrap()));
        }
    }
    expected.sort();
    assert_eq!(events, expected);
    let update = receiver.seen().into_iter().find(|s| s.header("x-assetd-event") == "upload.update").unwrap().json();
    assert_eq!(
        (update["previous_entity"]["attributes"]["tags"].clone(), update["entity"]["attributes"]["tags"].clone()),
        (json!([]), json!(["x"]))
    );
}

#[tokio::test]
async fn a_change_that_rolls_back_sends_no_event() {
    let app = spawn_app().await;
    let (url, receiver) = Receiver::start(&[]).await;
    let (a, b) = two_uploads_with_one_path_prefix(&app).await;
    let updates = json!([{ "entity_type": "upload", "event_types": ["update"] }]);
    create_webhook(&app, json!({ "name": "updates", "url": url, "events": updates })).await;
    // Both renames are accepted (the name is free when each is asked for); the second job finds it
    // taken and is rejected: its transaction, events included, rolls back.
    let mut jobs = Vec::new();
    for upload in [&a, &b] {
        let id = upload["id"].as_str().unwrap();
        let body = json!({ "data": { "type": "upload", "id": id, "attributes": { "basename": "same-name" } } });
        let response = app.call(Method::PUT, &format!("/uploads/{id}"), Some(body)).await;
        assert_eq!(response.status, StatusCode::ACCEPTED);
        jobs.push(response.json()["data"]["id"].as_str().unwrap().to_owned());
    }
    let (first, _) = app.job_result(&jobs[0]).await;
    let (second, error) = app.job_result(&jobs[1]).await;
    assert_eq!((first, second), (200, 422), "{error}");
    drain(&app).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "only the committed rename is an event");
    assert_eq!(seen[0].json()["entity"]["id"], a["id"]);
    assert_eq!(calls(&app, "").await["meta"]["total_count"], 1);
}

/// Two uploads whose paths share the `/<site>/<seconds>-` prefix, so renaming both to one basename
/// collides (a pair made across a second boundary is made again).
async fn two_uploads_with_one_path_prefix(app: &TestApp) -> (Value, Value) {
    let prefix = |upload: &Value| {
        let path = upload["attributes"]["path"].as_str().unwrap();
        path[..path.find('-').unwrap()].to_owned()
    };
    for _ in 0..5 {
        let a = app.create_upload("a.jpg", &fixture("cat.jpg"), json!({})).await;
        let b = app.create_upload("b.jpg", &fixture("cat.jpg"), json!({})).await;
        if prefix(&a) == prefix(&b) {
            return (a, b);
        }
    }
    panic!("five pairs of uploads each straddled a second boundary");
}

#[tokio::test]
async fn old_finished_calls_are_forgotten_and_calls_in_flight_are_kept() {
    let app = spawn_app().await;
    create_webhook(
        &app,
        json!({ "name": "gone", "url": dead_url().await, "events": all_events(), "auto_retry": false }),
    )
    .await;
    app.create_upload("a.jpg", &fixture("cat.jpg"), json!({})).await;
    drain(&app).await;
    // A second event whose delivery has not run yet.
    let path = app.put_file("b.jpg", &fixture("cat.jpg")).await;
    let body = json!({ "data": { "type": "upload", "attributes": { "path": path } } });
    assert_eq!(app.call(Method::POST, "/uploads", Some(body)).await.status, StatusCode::ACCEPTED);
    assert_eq!(Worker::new(app.app.clone()).run_one().await.unwrap(), RunOutcome::Executed);
    assert_eq!(calls(&app, "?filter[fields][status][eq]=failed").await["meta"]["total_count"], 1);
    assert_eq!(calls(&app, "?filter[fields][status][eq]=pending").await["meta"]["total_count"], 1);

    let deleted = app.app.db.delete_finished_webhook_calls_before(assetd::domain::now_millis() + 1).await.unwrap();
    assert_eq!(deleted, 1, "only the failed call");
    let log = calls(&app, "").await;
    assert_eq!(log["meta"]["total_count"], 1);
    assert_eq!(log["data"][0]["attributes"]["status"], "pending");
    drain(&app).await;
    assert_eq!(calls(&app, "").await["data"][0]["attributes"]["status"], "failed", "and it is still delivered");
}

fn assetd(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_assetd"))
        .arg("webhooks")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("ASSETD_DATABASE_URL")
        .env_remove("ASSETD_LOCALES")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the assetd binary runs")
}

#[tokio::test]
async fn the_webhooks_command_creates_lists_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let created = assetd(
        dir.path(),
        &[
            "create",
            "--name",
            "ci",
            "--url",
            "https://example.com/hook",
            "--events",
            "upload:create,upload:delete",
            "--header",
            "X-Team: media",
        ],
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8(created.stdout).unwrap();
    let secret = stdout.lines().find_map(|l| l.strip_prefix("signing secret: ")).expect("secret printed");
    assert!(secret.starts_with("whsec_"), "{stdout}");

    let again = assetd(dir.path(), &["create", "--name", "ci", "--url", "https://example.com/2"]);
    assert!(!again.status.success(), "names are unique");
    let bad =
        assetd(dir.path(), &["create", "--name", "x", "--url", "https://example.com/2", "--events", "item:create"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("events"), "{}", String::from_utf8_lossy(&bad.stderr));

    let listed = assetd(dir.path(), &["list", "--json"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let lines: Vec<Value> =
        String::from_utf8(listed.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "the failed creates left nothing");
    assert_eq!(lines[0]["name"], "ci");
    assert_eq!(lines[0]["events"], json!(["upload:create", "upload:delete"]));
    assert_eq!(lines[0]["secret"], secret);
    let table = assetd(dir.path(), &["list"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("https://example.com/hook"));

    let log = assetd(dir.path(), &["calls", "--json"]);
    assert!(log.status.success(), "{}", String::from_utf8_lossy(&log.stderr));
    assert!(log.stdout.is_empty(), "no calls yet");

    let deleted = assetd(dir.path(), &["delete", "ci"]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    let twice = assetd(dir.path(), &["delete", "ci"]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("no webhook"));
    let listed = assetd(dir.path(), &["list", "--json"]);
    assert!(listed.stdout.is_empty());
}

#[tokio::test]
async fn the_calls_command_reads_the_delivery_log_of_a_running_deployment() {
    let app = spawn_app().await;
    let (url, _receiver) = Receiver::start(&[]).await;
    let hook = create_webhook(&app, json!({ "name": "logged", "url": url, "events": all_events() })).await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    drain(&app).await;

    let config = &app.app.config;
    let mut command = Command::new(env!("CARGO_BIN_EXE_assetd"));
    command.args(["webhooks", "calls", "--webhook", "logged", "--json", "--data-dir"]).arg(&config.data_dir);
    command.env_remove("ASSETD_DATABASE_URL").env_remove("ASSETD_LOCALES").env("RUST_LOG", "warn");
    if let Some(database_url) = &config.database_url {
        command.args(["--database-url", database_url, "--database-schema", &config.database_schema]);
    }
    let output = command.output().expect("the assetd binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["webhook_id"], hook["id"]);
    assert_eq!(lines[0]["entity_id"], upload["id"]);
    assert_eq!(lines[0]["event"], "upload.create");
    assert_eq!((lines[0]["status"].as_str(), lines[0]["response_status"].as_i64()), (Some("success"), Some(200)));
}
