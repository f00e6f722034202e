//! `GET /uploads`: every filter field and operator, full-text search, ordering, and the 422s.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fixture, md5_hex, TestApp};

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 20) as u8, (y * 10) as u8, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Six uploads with varied facts and metadata.
async fn library(app: &TestApp) {
    app.create_upload(
        "cat.png",
        &fixture("cat.png"),
        json!({"tags": ["cats", "pets"], "author": "Mark Smith", "notes": "Nyan",
        "default_field_metadata": {"en": {"alt": "A grey cat", "title": "Cat"}, "it": {"alt": "Un gatto"}}}),
    )
    .await;
    app.create_upload(
        "dog.jpg",
        &fixture("dog.jpg"),
        json!({"tags": ["pets"], "copyright": "2020 ACME",
        "default_field_metadata": {"en": {"alt": "A dog"}}}),
    )
    .await;
    app.create_upload("clip.mp4", &fixture("clip.mp4"), json!({"tags": ["video"]})).await;
    app.create_upload("doc.pdf", &fixture("doc.pdf"), json!({"notes": "Quarterly report"})).await;
    app.create_upload("tall.png", &png(10, 20), json!({})).await;
    app.create_upload("square.png", &png(16, 16), json!({})).await;
    app.create_upload("notes.txt", &fixture("notes.txt"), json!({})).await;
}

async fn basenames(app: &TestApp, query: &str) -> BTreeSet<String> {
    let uri = format!("/uploads?{query}&page[limit]=500").replace(' ', "%20");
    let response = app.call(Method::GET, &uri, None).await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {}", String::from_utf8_lossy(&response.bytes));
    let body = response.json();
    let names: BTreeSet<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["attributes"]["basename"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(body["meta"]["total_count"], json!(names.len()), "{query}: total_count");
    names
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

const ALL: [&str; 7] = ["cat", "dog", "clip", "doc", "tall", "square", "notes"];

#[tokio::test]
async fn every_filter_field_and_operator() {
    let app = TestApp::spawn().await;
    library(&app).await;
    let dog_md5 = md5_hex(&fixture("dog.jpg"));
    let all_but = |except: &[&str]| set(&ALL.iter().copied().filter(|n| !except.contains(n)).collect::<Vec<_>>());
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("filter[fields][type][eq]=image".into(), set(&["cat", "dog", "tall", "square"])),
        ("filter[fields][type][in][]=video&filter[fields][type][in][]=pdfdocument".into(), set(&["clip", "doc"])),
        ("filter[fields][type][neq]=image".into(), set(&["clip", "doc", "notes"])),
        ("filter[fields][type][notIn]=image,video".into(), set(&["doc", "notes"])),
        ("filter[fields][type][eq]=richtext".into(), set(&["notes"])),
        (format!("filter[fields][md5][eq]={dog_md5}"), set(&["dog"])),
        (format!("filter[fields][md5][neq]={dog_md5}"), all_but(&["dog"])),
        ("filter[fields][format][eq]=png".into(), set(&["cat", "tall", "square"])),
        ("filter[fields][format][not_in][]=png&filter[fields][format][not_in][]=jpg".into(), set(&["clip", "doc", "notes"])),
        ("filter[fields][mime_type][matches][pattern]=IMAGE/".into(), set(&["cat", "dog", "tall", "square"])),
        ("filter[fields][mime_type][notMatches][pattern]=image/".into(), set(&["clip", "doc", "notes"])),
        ("filter[fields][mime_type][in][]=video/mp4&filter[fields][mime_type][in][]=application/pdf".into(), set(&["clip", "doc"])),
        ("filter[fields][alt][eq]=A grey cat".into(), set(&["cat"])),
        ("filter[fields][alt][neq]=A dog".into(), all_but(&["dog"])),
        ("filter[fields][alt][in][]=A dog&filter[fields][alt][in][]=A grey cat".into(), set(&["cat", "dog"])),
        ("filter[fields][alt][notIn][]=A dog".into(), all_but(&["dog"])),
        ("filter[fields][alt][matches][pattern]=CAT".into(), set(&["cat"])),
        ("filter[fields][alt][matches][pattern]=CAT&filter[fields][alt][matches][caseSensitive]=true".into(), set(&[])),
        ("filter[fields][alt][notMatches][pattern]=cat".into(), all_but(&["cat"])),
        ("filter[fields][alt][exists]=true".into(), set(&["cat", "dog"])),
        ("filter[fields][alt][exists]=false".into(), all_but(&["cat", "dog"])),
        ("locale=it&filter[fields][alt][matches][pattern]=gatto".into(), set(&["cat"])),
        ("locale=it&filter[fields][alt][exists]=true".into(), set(&["cat"])),
        ("filter[fields][title][eq]=Cat".into(), set(&["cat"])),
        ("filter[fields][author][matches][pattern]=smith".into(), set(&["cat"])),
        ("filter[fields][author][exists]=false".into(), all_but(&["cat"])),
        ("filter[fields][copyright][matches][pattern]=acme".into(), set(&["dog"])),
        ("filter[fields][notes][matches][pattern]=^Quart&filter[fields][notes][matches][regexp]=true".into(), set(&["doc"])),
        ("filter[fields][notes][matches][pattern]=^quart&filter[fields][notes][matches][regexp]=true&filter[fields][notes][matches][case_sensitive]=true".into(), set(&[])),
        ("filter[fields][notes][exists]=true".into(), set(&["cat", "doc"])),
        ("filter[fields][basename][matches][pattern]=a".into(), set(&["cat", "tall", "square"])),
        ("filter[fields][filename][matches][pattern]=.jpg".into(), set(&["dog"])),
        ("filter[fields][filename][notMatches][pattern]=.png".into(), set(&["dog", "clip", "doc", "notes"])),
        ("filter[fields][width][gt]=50".into(), set(&["cat", "clip"])),
        ("filter[fields][width][lte]=40".into(), set(&["dog", "tall", "square"])),
        ("filter[fields][width][neq]=64".into(), all_but(&["cat", "clip"])),
        ("filter[fields][height][eq]=30".into(), set(&["dog"])),
        ("filter[fields][height][gte]=20&filter[fields][height][lt]=48".into(), set(&["dog", "tall"])),
        (format!("filter[fields][size][eq]={}", fixture("dog.jpg").len()), set(&["dog"])),
        (format!("filter[fields][size][gt]={}", fixture("clip.mp4").len() - 1), set(&["clip"])),
        ("filter[fields][resolution][eq]=icon".into(), set(&["cat", "dog", "clip", "tall", "square"])),
        ("filter[fields][resolution][neq]=icon".into(), set(&["doc", "notes"])),
        ("filter[fields][resolution][in][]=large&filter[fields][resolution][in][]=medium".into(), set(&[])),
        ("filter[fields][orientation][eq]=portrait".into(), set(&["tall"])),
        ("filter[fields][orientation][eq]=square".into(), set(&["square"])),
        ("filter[fields][orientation][eq]=landscape".into(), set(&["cat", "dog", "clip"])),
        ("filter[fields][orientation][neq]=landscape".into(), set(&["tall", "square", "doc", "notes"])),
        ("filter[fields][tags][contains]=pets".into(), set(&["cat", "dog"])),
        ("filter[fields][tags][anyIn][]=cats&filter[fields][tags][anyIn][]=video".into(), set(&["cat", "clip"])),
        ("filter[fields][tags][allIn][]=cats&filter[fields][tags][allIn][]=pets".into(), set(&["cat"])),
        ("filter[fields][tags][notIn][]=pets".into(), all_but(&["cat", "dog"])),
        ("filter[fields][tags][eq][]=pets".into(), set(&["dog"])),
        ("filter[fields][tags][eq][]=pets&filter[fields][tags][eq][]=cats".into(), set(&["cat"])),
        ("filter[fields][smart_tags][contains]=cat".into(), set(&[])),
        ("filter[fields][smart_tags][notIn][]=cat".into(), set(&ALL)),
        ("filter[fields][in_use][eq]=false".into(), set(&ALL)),
        ("filter[fields][in_use][eq]=true".into(), set(&[])),
        ("filter[fields][_created_at][gte]=2000-01-01T00:00:00Z".into(), set(&ALL)),
        ("filter[fields][_created_at][lt]=2000-01-01T00:00:00Z".into(), set(&[])),
        ("filter[fields][_updated_at][gt]=2999-01-01T00:00:00%2B02:00".into(), set(&[])),
        ("filter[fields][_updated_at][neq]=2000-01-01T00:00:00Z".into(), set(&ALL)),
        ("filter[fields][type][eq]=image&filter[fields][tags][contains]=pets&filter[fields][width][lt]=50".into(), set(&["dog"])),
    ];
    for (query, expected) in cases {
        assert_eq!(basenames(&app, &query).await, expected, "{query}");
    }
    // id and path (path compares case-insensitively).
    let dog = app.call(Method::GET, &format!("/uploads?filter[fields][md5][eq]={dog_md5}"), None).await.json()["data"]
        [0]
    .clone();
    let (dog_id, dog_path) = (dog["id"].as_str().unwrap(), dog["attributes"]["path"].as_str().unwrap());
    let id_and_path_cases = [
        (format!("filter[fields][id][eq]={dog_id}"), set(&["dog"])),
        (format!("filter[fields][id][neq]={dog_id}"), all_but(&["dog"])),
        (format!("filter[fields][id][in][]={dog_id}"), set(&["dog"])),
        (format!("filter[fields][path][eq]={}", dog_path.to_uppercase()), set(&["dog"])),
        (format!("filter[fields][path][notIn][]={dog_path}"), all_but(&["dog"])),
        (format!("filter[ids]={dog_id},q0VNpiNQSkG6z0lif_O1zg"), set(&["dog"])),
    ];
    for (query, expected) in id_and_path_cases {
        assert_eq!(basenames(&app, &query).await, expected, "{query}");
    }
    // Dates compare at minute precision: eq matches uploads created in that minute.
    let cat = app.call(Method::GET, "/uploads?filter[fields][tags][allIn][]=cats", None).await.json();
    let created = cat["data"][0]["attributes"]["created_at"].as_str().unwrap().to_owned();
    let minute = format!("{}:00Z", &created[..16]);
    assert!(basenames(&app, &format!("filter[fields][_created_at][eq]={minute}")).await.contains("cat"));
}

#[tokio::test]
async fn full_text_search_in_the_requested_locale() {
    let app = TestApp::spawn().await;
    library(&app).await;
    let cases = [
        ("filter[query]=cat", set(&["cat"])),
        ("filter[query]=CA", set(&["cat"])),
        ("filter[query]=grey", set(&["cat"])),
        ("filter[query]=gatto", set(&[])),
        ("locale=it&filter[query]=gatto", set(&["cat"])),
        ("filter[query]=quarterly", set(&["doc"])),
        ("filter[query]=smith", set(&["cat"])),
        ("filter[query]=acme", set(&["dog"])),
        ("filter[query]=pets", set(&["cat", "dog"])),
        ("filter[query]=nyan cat", set(&["cat"])),
        ("filter[query]=nyan dog", set(&[])),
        ("filter[query]=grey ca", set(&["cat"])),
        ("filter[query]=ca grey", set(&[])),
        ("filter[query]=clip.mp4", set(&["clip"])),
        ("filter[query]=%22quoted%22 OR", set(&[])),
        ("filter[query]=%20", set(&ALL)),
        ("filter[query]=pets&filter[fields][format][eq]=jpg", set(&["dog"])),
    ];
    for (query, expected) in cases {
        assert_eq!(basenames(&app, query).await, expected, "{query}");
    }
    // Search follows renames and metadata edits.
    let dog = app.call(Method::GET, "/uploads?filter[query]=acme", None).await.json()["data"][0].clone();
    let id = dog["id"].as_str().unwrap();
    app.update_upload(
        id,
        json!({"basename": "puppy", "default_field_metadata": {"en": {"title": "Golden retriever"}}}),
    )
    .await;
    assert_eq!(basenames(&app, "filter[query]=puppy retriever").await, set(&["puppy"]));
    assert_eq!(basenames(&app, "filter[query]=dog").await, set(&["puppy"]), "alt still says A dog");
    app.call(Method::DELETE, &format!("/uploads/{id}"), None).await;
    assert_eq!(basenames(&app, "filter[query]=puppy").await, set(&[]));
}

async fn ordered(app: &TestApp, query: &str) -> Vec<String> {
    let body = app.call(Method::GET, &format!("/uploads?{query}"), None).await.json();
    body["data"].as_array().unwrap().iter().map(|u| u["attributes"]["basename"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn ordering_and_paging() {
    let app = TestApp::spawn().await;
    library(&app).await;
    assert_eq!(ordered(&app, "").await, ["notes", "square", "tall", "doc", "clip", "dog", "cat"], "newest first");
    assert_eq!(ordered(&app, "order_by=_created_at_ASC&page[limit]=2").await, ["cat", "dog"]);
    assert_eq!(ordered(&app, "order_by=basename_ASC").await, ["cat", "clip", "doc", "dog", "notes", "square", "tall"]);
    assert_eq!(ordered(&app, "order_by=filename_DESC&page[limit]=2").await, ["tall", "square"]);
    assert_eq!(
        ordered(&app, "order_by=format_ASC,basename_DESC").await,
        ["dog", "clip", "doc", "tall", "square", "cat", "notes"]
    );
    let by_size = ordered(&app, "order_by=size_ASC").await;
    assert_eq!(by_size.len(), 7);
    let sizes: Vec<i64> = {
        let body = app.call(Method::GET, "/uploads?order_by=size_ASC", None).await.json();
        body["data"].as_array().unwrap().iter().map(|u| u["attributes"]["size"].as_i64().unwrap()).collect()
    };
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    assert_eq!(ordered(&app, "order_by=resolution_DESC,basename_ASC&page[limit]=2").await, ["cat", "clip"]);
    assert_eq!(ordered(&app, "order_by=mime_type_ASC,basename_ASC&page[limit]=2").await, ["doc", "dog"]);
    assert_eq!(ordered(&app, "order_by=_updated_at_DESC&page[limit]=1").await, ["notes"]);
    assert_eq!(ordered(&app, "filter[query]=pets&order_by=_rank_DESC").await.len(), 2);
    let by_id: Vec<String> = {
        let body = app.call(Method::GET, "/uploads?order_by=id_DESC", None).await.json();
        body["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
    };
    let mut sorted = by_id.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(by_id, sorted, "order_by=id_DESC");

    // Paging edges.
    assert_eq!(ordered(&app, "page[offset]=6&page[limit]=5").await, ["cat"]);
    assert_eq!(ordered(&app, "page[offset]=7").await, Vec::<String>::new());
    let count = app.call(Method::GET, "/uploads?page[limit]=0&filter[fields][type][eq]=image", None).await.json();
    assert_eq!(count, json!({"data": [], "meta": {"total_count": 4}}));
    let pages: Vec<Vec<String>> = futures_util::future::join_all(
        (0..4)
            .map(|page| ordered(&app, Box::leak(format!("page[offset]={}&page[limit]=2", page * 2).into_boxed_str()))),
    )
    .await;
    let flattened: Vec<String> = pages.into_iter().flatten().collect();
    assert_eq!(flattened, ordered(&app, "").await, "pages tile the default order");
}

#[tokio::test]
async fn unsupported_fields_operators_and_values_are_422() {
    let app = TestApp::spawn().await;
    library(&app).await;
    let cases = [
        ("filter[fields][colors][contains]=chartreuse", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][colors][gt]=red", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][orientation][in][]=square", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][author][eq]=Mark", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][basename][eq]=cat", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][width][matches][pattern]=1", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][width][eq]=wide", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][_created_at][eq]=yesterday", "INVALID_FILTER_FIELDS_PARAM"),
        (
            "filter[fields][notes][matches][pattern]=(&filter[fields][notes][matches][regexp]=true",
            "INVALID_FILTER_FIELDS_PARAM",
        ),
        ("filter[fields][notes][matches][colour]=x", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][type][eq]=banana", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][resolution][eq]=huge", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][tags][gt]=a", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][in_use][eq]=maybe", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[fields][alt][exists]=yes", "INVALID_FILTER_FIELDS_PARAM"),
        ("filter[query][x]=1", "INVALID_FILTER_FIELDS_PARAM"),
        ("order_by=_rank_DESC", "INVALID_ORDERING"),
        ("order_by=size_UP", "INVALID_ORDERING"),
        ("order_by=author_ASC", "INVALID_ORDERING"),
        ("order_by[]=size_ASC", "INVALID_ORDERING"),
        ("locale[]=en", "INVALID_PARAMS"),
        ("page[offset]=-1", "INVALID_PARAMS"),
    ];
    let many_tags = (0..1001).map(|i| format!("filter[fields][tags][anyIn][]=t{i}")).collect::<Vec<_>>().join("&");
    let many_ids = format!("filter[ids]={}", (0..1001).map(|i| format!("id{i}")).collect::<Vec<_>>().join(","));
    let long_lists =
        [(many_tags.as_str(), "INVALID_FILTER_FIELDS_PARAM"), (many_ids.as_str(), "INVALID_FILTER_FIELDS_PARAM")];
    for (query, code) in cases.into_iter().chain(long_lists) {
        let response = app.call(Method::GET, &format!("/uploads?{query}"), None).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            String::from_utf8_lossy(&response.bytes)
        );
        assert_eq!(response.error_code(), code, "{query}");
    }
    let _: Value = json!(null);
}

/// Small pages take the other plans (walking the order's index, or counting from the far end):
/// every plan must give the same order.
#[tokio::test]
async fn every_page_plan_gives_the_same_order() {
    let app = TestApp::spawn().await;
    library(&app).await;
    for filter in [
        "filter[fields][type][eq]=image",
        "filter[fields][tags][anyIn][]=pets&filter[fields][tags][anyIn][]=video",
        "filter[query]=a",
        "filter[fields][size][gte]=100",
        "filter[fields][type][eq]=image&filter[fields][width][lt]=100",
        "filter[query]=pets&filter[fields][type][eq]=image",
    ] {
        for order in ["", "&order_by=size_ASC", "&order_by=basename_DESC,_created_at_ASC"] {
            let whole = ordered(&app, &format!("{filter}{order}&page[limit]=500")).await;
            assert!(!whole.is_empty(), "{filter}{order}");
            let mut paged = Vec::new();
            for offset in 0..whole.len() {
                paged.extend(ordered(&app, &format!("{filter}{order}&page[limit]=1&page[offset]={offset}")).await);
            }
            assert_eq!(paged, whole, "{filter}{order}");
        }
    }
}

/// Colour buckets: the expected sets are computed from the colours each upload reports.
#[tokio::test]
async fn colors_filter_by_bucket() {
    let app = TestApp::spawn().await;
    library(&app).await;
    let all = app.call(Method::GET, "/uploads?page[limit]=500", None).await.json();
    let buckets: Vec<(String, BTreeSet<String>)> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let colours = u["attributes"]["colors"].as_array().unwrap();
            let set = colours
                .iter()
                .map(|c| {
                    let channel = |name: &str| c[name].as_u64().unwrap() as u8;
                    assetd::domain::color_bucket(channel("red"), channel("green"), channel("blue")).to_owned()
                })
                .collect();
            (u["attributes"]["basename"].as_str().unwrap().to_owned(), set)
        })
        .collect();
    let cat = &buckets.iter().find(|(name, _)| name == "cat").unwrap().1;
    assert_eq!(*cat, set(&["blue", "green", "orange", "white"]), "cat.png's palette");
    let expect = |keep: &dyn Fn(&BTreeSet<String>) -> bool| -> BTreeSet<String> {
        buckets.iter().filter(|(_, b)| keep(b)).map(|(name, _)| name.clone()).collect()
    };
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("filter[fields][colors][contains]=orange", expect(&|b| b.contains("orange"))),
        ("filter[fields][colors][anyIn][]=blue&filter[fields][colors][anyIn][]=white", expect(&|b| b.contains("blue") || b.contains("white"))),
        ("filter[fields][colors][allIn][]=orange&filter[fields][colors][allIn][]=green", expect(&|b| b.contains("orange") && b.contains("green"))),
        ("filter[fields][colors][notIn][]=orange", expect(&|b| !b.contains("orange"))),
        ("filter[fields][colors][eq][]=orange&filter[fields][colors][eq][]=blue&filter[fields][colors][eq][]=green&filter[fields][colors][eq][]=white", expect(&|b| *b == set(&["blue", "green", "orange", "white"]))),
    ];
    for (query, expected) in cases {
        assert!(!expected.is_empty() || query.contains("eq"), "{query}: the library should exercise this");
        assert_eq!(basenames(&app, query).await, expected, "{query}");
    }
}

/// `filter[fields][upload_collection]` (an assetd extension, for the Media Area's tree): `eq` and
/// `in` by collection id, `neq` (also the root's), `exists=false` for the root.
#[tokio::test]
async fn upload_collection_filter() {
    let app = TestApp::spawn().await;
    let posts = app.create_collection("Posts").await;
    let press = app.create_collection("Press").await;
    let coll = |id: &str| json!({ "data": { "type": "upload_collection", "id": id } });
    for (name, collection) in [("a", Some(&posts)), ("b", Some(&posts)), ("c", Some(&press)), ("d", None)] {
        let body = json!({ "data": { "type": "upload", "attributes": { "path": app.put_file(&format!("{name}.txt"), name.as_bytes()).await },
            "relationships": { "upload_collection": collection.map_or(json!({ "data": null }), |id| coll(id)) } } });
        let (status, _) = app.call_job(Method::POST, "/uploads", body).await;
        assert_eq!(status, 200);
    }
    let f = "filter[fields][upload_collection]";
    assert_eq!(basenames(&app, &format!("{f}[eq]={posts}")).await, set(&["a", "b"]));
    assert_eq!(basenames(&app, &format!("{f}[in]={posts},{press}")).await, set(&["a", "b", "c"]));
    assert_eq!(basenames(&app, &format!("{f}[neq]={posts}")).await, set(&["c", "d"]));
    assert_eq!(basenames(&app, &format!("{f}[exists]=false")).await, set(&["d"]));
    assert_eq!(basenames(&app, &format!("{f}[eq]=unknown")).await, set(&[]));
    let response = app.call(Method::GET, &format!("/uploads?{f}[matches][pattern]=x"), None).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.error_code(), "INVALID_FILTER_FIELDS_PARAM");
}
