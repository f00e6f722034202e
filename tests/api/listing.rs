//! Item 9: what the client's helpers need from listing, and upload tags.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, md5_hex, TestApp};

fn ids(body: &Value) -> Vec<String> {
    body["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn md5_ids_and_paging_really_filter() {
    let app = TestApp::spawn().await;
    let cat = app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let dog = app.create_upload("dog.jpg", &fixture("dog.jpg"), json!({})).await;
    let pdf = app.create_upload("doc.pdf", &fixture("doc.pdf"), json!({})).await;
    let id = |u: &Value| u["id"].as_str().unwrap().to_owned();

    let by_md5 = app
        .call(
            Method::GET,
            &format!("/uploads?filter%5Bfields%5D%5Bmd5%5D%5Beq%5D={}", md5_hex(&fixture("dog.jpg"))),
            None,
        )
        .await;
    assert_eq!(by_md5.status, StatusCode::OK);
    let body = by_md5.json();
    assert_eq!(ids(&body), vec![id(&dog)]);
    assert_eq!(body["meta"]["total_count"], 1);
    assert_eq!(body["data"][0], dog);

    let none =
        app.call(Method::GET, "/uploads?filter[fields][md5][eq]=00000000000000000000000000000000", None).await.json();
    assert_eq!(none, json!({"data": [], "meta": {"total_count": 0}}));

    let by_ids = app.call(Method::GET, &format!("/uploads?filter[ids]={},{}", id(&cat), id(&pdf)), None).await.json();
    assert_eq!(ids(&by_ids), vec![id(&pdf), id(&cat)], "newest first");

    let not_in =
        app.call(Method::GET, &format!("/uploads?filter[fields][id][notIn][]={}", id(&cat)), None).await.json();
    assert_eq!(not_in["meta"]["total_count"], 2);

    let page = app.call(Method::GET, "/uploads?page[offset]=1&page[limit]=1", None).await.json();
    assert_eq!(ids(&page), vec![id(&dog)]);
    assert_eq!(page["meta"]["total_count"], 3);
    let count_only = app.call(Method::GET, "/uploads?page[limit]=0", None).await.json();
    assert_eq!(count_only, json!({"data": [], "meta": {"total_count": 3}}));
    let past_end = app.call(Method::GET, "/uploads?page[offset]=10", None).await.json();
    assert_eq!(past_end, json!({"data": [], "meta": {"total_count": 3}}));
}

#[tokio::test]
async fn unsupported_filters_are_422_never_an_unfiltered_list() {
    let app = TestApp::spawn().await;
    app.create_upload("cat.png", &fixture("cat.png"), json!({})).await;
    let cases = [
        ("/uploads?filter[type]=image", "INVALID_FILTER_FIELDS_PARAM"),
        ("/uploads?filter[fields][colors][contains]=chartreuse", "INVALID_FILTER_FIELDS_PARAM"),
        ("/uploads?filter[fields][made_up][eq]=x", "INVALID_FILTER_FIELDS_PARAM"),
        ("/uploads?filter[fields][md5][matches][pattern]=x", "INVALID_FILTER_FIELDS_PARAM"),
        ("/uploads?filter[fields][md5]=x", "INVALID_FILTER_FIELDS_PARAM"),
        ("/uploads?order_by=size", "INVALID_ORDERING"),
        ("/uploads?locale=fr", "INVALID_PARAMS"),
        ("/uploads?sort=x", "INVALID_PARAMS"),
    ];
    for (uri, code) in cases {
        let response = app.call(Method::GET, uri, None).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(response.error_code(), code, "{uri}");
    }
}

#[tokio::test]
async fn upload_tags_list_the_tags_in_use() {
    let app = TestApp::spawn().await;
    let upload = app.create_upload("cat.png", &fixture("cat.png"), json!({"tags": ["pets", "cats"]})).await;
    let created = app
        .call(
            Method::POST,
            "/upload-tags",
            Some(json!({"data": {"type": "upload_tag", "attributes": {"name": "archive"}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(
        created.json()["data"],
        json!({"type": "upload_tag", "id": "archive", "attributes": {"name": "archive"}})
    );

    let tags = app.call(Method::GET, "/upload-tags", None).await.json();
    let names: Vec<&str> =
        tags["data"].as_array().unwrap().iter().map(|t| t["attributes"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["archive", "cats", "pets"]);
    assert_eq!(tags["meta"]["total_count"], 3);
    let filtered = app.call(Method::GET, "/upload-tags?filter[query]=CAT&page[limit]=1", None).await.json();
    assert_eq!(filtered["data"][0]["id"], "cats");
    assert_eq!(filtered["meta"]["total_count"], 1);

    // Tags no longer used on any upload leave the list (unless created explicitly).
    app.update_upload(upload["id"].as_str().unwrap(), json!({"tags": ["cats"]})).await;
    let tags = app.call(Method::GET, "/upload-tags", None).await.json();
    assert_eq!(tags["meta"]["total_count"], 2);
    let bad = app.call(Method::GET, "/upload-tags?filter[name]=x", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
