//! Parallel updates of one upload, each changing a different attribute or locale: none is lost.

use std::time::Duration;

use assetd::jobs::Worker;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_different_parts_never_lose_each_other() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.jpg", &fixture("cat.jpg"), json!({})).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.app.clone()).run_until_stopped(8, stopped));

    let patches = vec![
        json!({"author": "Ann"}),
        json!({"copyright": "2026 ACME"}),
        json!({"notes": "from a race"}),
        json!({"tags": ["raced"]}),
        json!({"default_field_metadata": {"en": {"alt": "alt en"}}}),
        json!({"default_field_metadata": {"it": {"alt": "alt it"}}}),
        json!({"default_field_metadata": {"title": {"en": "title en"}}}),
        json!({"default_field_metadata": {"title": {"it": "title it"}}}),
        json!({"default_field_metadata": {"custom_data": {"en": {"k": "en"}}}}),
        json!({"default_field_metadata": {"it": {"custom_data": {"k": "it"}}}}),
        json!({"default_field_metadata": {"focal_point": {"x": 0.25, "y": 0.75}}}),
    ];
    let uri = format!("/uploads/{id}");
    for round in 0..3 {
        let requests = patches.iter().map(|attributes| {
            let body = json!({"data": {"type": "upload", "id": id, "attributes": attributes}});
            app.call(Method::PUT, &uri, Some(body))
        });
        let responses = futures_util::future::join_all(requests).await;
        let job_ids: Vec<String> = responses
            .iter()
            .map(|r| {
                assert_eq!(r.status, StatusCode::ACCEPTED, "round {round}");
                r.json()["data"]["id"].as_str().unwrap().to_owned()
            })
            .collect();
        for job_id in job_ids {
            let status = wait_for_job(&app, &job_id).await;
            assert_eq!(status, 200, "round {round}: job {job_id}");
        }
    }
    let _ = stop.send(true);
    worker.await.unwrap();

    let a = app.get_upload(&id).await["attributes"].clone();
    assert_eq!(a["author"], "Ann");
    assert_eq!(a["copyright"], "2026 ACME");
    assert_eq!(a["notes"], "from a race");
    assert_eq!(a["tags"], json!(["raced"]));
    let m = &a["default_field_metadata"];
    assert_eq!(
        m["en"],
        json!({"alt": "alt en", "title": "title en", "custom_data": {"k": "en"}, "focal_point": {"x": 0.25, "y": 0.75}, "poster_time": null})
    );
    assert_eq!(
        m["it"],
        json!({"alt": "alt it", "title": "title it", "custom_data": {"k": "it"}, "focal_point": {"x": 0.25, "y": 0.75}, "poster_time": null})
    );
}

async fn wait_for_job(app: &TestApp, job_id: &str) -> u64 {
    for _ in 0..400 {
        let response = app.call(Method::GET, &format!("/job-results/{job_id}"), None).await;
        if response.status == StatusCode::OK {
            let body: Value = response.json();
            return body["data"]["attributes"]["status"].as_u64().unwrap();
        }
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {job_id} did not finish");
}
