//! The GraphQL edge (issue 17): DatoCMS's Content Delivery API for uploads. Root fields, filters
//! (through the CMA's own parser), ordering and paging limits, locale fallbacks, `url` and
//! `responsiveImage` (every srcset entry renders at the width it claims), the error format,
//! tokens and the ETag. The schema is checked against DatoCMS's own (the committed SDL).

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};

use crate::helpers::{fixture, TestApp, TestResponse, TOKEN};

async fn gql_with(app: &TestApp, token: &str, body: Value, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap()).await
}

/// Runs `query` with `variables`; the answer's `data` (fails on `errors`).
async fn data(app: &TestApp, query: &str, variables: Value) -> Value {
    let response = gql_with(app, TOKEN, json!({ "query": query, "variables": variables }), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", String::from_utf8_lossy(&response.bytes));
    let body = response.json();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// The messages of a query's `errors`.
async fn errors(app: &TestApp, query: &str) -> Vec<String> {
    let body = gql_with(app, TOKEN, json!({ "query": query }), &[]).await.json();
    body["errors"].as_array().unwrap_or(&Vec::new()).iter().map(|e| e["message"].as_str().unwrap().to_owned()).collect()
}

async fn upload(app: &TestApp, file: &str, attributes: Value) -> String {
    let created = app.create_upload(file, &fixture(file), attributes).await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_schema_is_datocms_s_with_this_environment_s_locales_and_the_rendered_imgix_params() {
    let app = TestApp::spawn().await;
    let introspection = data(
        &app,
        r#"{ file: __type(name: "FileField") { fields { name } interfaces { name } }
             responsive: __type(name: "ResponsiveImage") { fields { name type { kind ofType { name } } } }
             locales: __type(name: "SiteLocale") { enumValues { name } }
             imgix: __type(name: "ImgixParams") { inputFields { name } } }"#,
        json!({}),
    )
    .await;
    let names = |list: &Value, key: &str| -> Vec<String> {
        let mut names: Vec<String> =
            list[key].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    };
    let file_fields = names(&introspection["file"], "fields");
    for expected in
        ["responsiveImage", "url", "blurUpThumb", "focalPoint", "video", "colors", "customData", "_createdAt"]
    {
        assert!(file_fields.contains(&expected.to_owned()), "{expected} in {file_fields:?}");
    }
    assert_eq!(names(&introspection["file"], "interfaces"), ["FileFieldInterface"]);
    assert_eq!(
        names(&introspection["responsive"], "fields"),
        ["alt", "aspectRatio", "base64", "bgColor", "height", "sizes", "src", "srcSet", "title", "webpSrcSet", "width"]
    );
    assert_eq!(names(&introspection["locales"], "enumValues"), ["en", "it"], "the test app's locales");
    let imgix = names(&introspection["imgix"], "inputFields");
    assert_eq!(
        imgix.len(),
        assetd::imaging::RENDERED_PARAMS.len() + assetd::imaging::DELIVERY_PARAMS.len(),
        "{imgix:?}"
    );
    assert!(imgix.contains(&"fpX".to_owned()) && !imgix.contains(&"txt".to_owned()));
    // An imgix parameter assetd does not render is a validation error, not ignored.
    let refused = errors(&app, r#"{ allUploads { url(imgixParams: {txt: "hi"}) } }"#).await;
    assert!(refused.iter().any(|m| m.contains("txt")), "{refused:?}");
}

#[tokio::test]
async fn all_uploads_answers_the_documented_fields_from_one_listing() {
    let app = TestApp::spawn().await;
    let cat = upload(
        &app,
        "cat.jpg",
        json!({ "author": "Ann", "tags": ["pets", "cats"], "default_field_metadata": { "en": { "alt": "A cat", "title": "Cat", "custom_data": { "k": "v" }, "focal_point": { "x": 0.25, "y": 0.75 } } } }),
    )
    .await;
    upload(&app, "dog.jpg", json!({ "tags": ["pets"] })).await;
    let answer = data(
        &app,
        r#"query { allUploads(orderBy: [_createdAt_ASC]) { id filename basename format mimeType size width height
              alt title customData author tags smartTags md5 url blurhash _createdAt
              focalPoint { x y } colors { hex red green blue alpha } }
              _allUploadsMeta { count } }"#,
        json!({}),
    )
    .await;
    let files = answer["allUploads"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(answer["_allUploadsMeta"]["count"], 2);
    let first = &files[0];
    assert_eq!(first["id"], cat);
    assert_eq!(first["filename"], "cat.jpg");
    assert_eq!(first["format"], "jpg");
    assert_eq!(first["mimeType"], "image/jpeg");
    assert_eq!((first["alt"].as_str(), first["title"].as_str()), (Some("A cat"), Some("Cat")));
    assert_eq!(first["customData"], json!({ "k": "v" }));
    assert_eq!(first["author"], "Ann");
    assert_eq!(first["tags"], json!(["pets", "cats"]));
    assert_eq!(first["smartTags"], json!([]));
    assert_eq!(first["focalPoint"], json!({ "x": 0.25, "y": 0.75 }));
    assert!(first["url"].as_str().unwrap().starts_with("http"), "{first}");
    assert!(first["colors"][0]["hex"].as_str().unwrap().starts_with('#'));
    assert!(first["blurhash"].is_string());
    assert_eq!(files[1]["focalPoint"], Value::Null);
    assert_eq!(files[1]["alt"], Value::Null);
}

#[tokio::test]
async fn filters_ordering_paging_and_their_errors() {
    let app = TestApp::spawn().await;
    let cat = upload(&app, "cat.jpg", json!({ "tags": ["pets"], "author": "Ann" })).await;
    let dog = upload(&app, "dog.jpg", json!({ "tags": ["pets", "dogs"] })).await;
    let png = upload(&app, "cat.png", json!({ "notes": "transparent" })).await;
    let ids = |answer: &Value| -> Vec<String> {
        answer["allUploads"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };
    let run = |filter: &'static str| {
        let app = &app;
        async move {
            let query = format!("{{ allUploads(filter: {filter}, orderBy: [_createdAt_ASC]) {{ id }} }}");
            ids(&data(app, &query, json!({})).await)
        }
    };
    assert_eq!(run(r#"{ mimeType: { eq: "image/png" } }"#).await, [png.as_str()]);
    assert_eq!(run(r#"{ tags: { contains: "dogs" } }"#).await, [dog.as_str()]);
    assert_eq!(run(r#"{ tags: { anyIn: ["pets"] }, author: { exists: true } }"#).await, [cat.as_str()]);
    assert_eq!(run(r#"{ id: { in: [] } }"#).await, Vec::<String>::new());
    assert_eq!(run(r#"{ type: { eq: image } }"#).await.len(), 3);
    assert_eq!(run(r#"{ format: { neq: "png" } }"#).await, [cat.as_str(), dog.as_str()]);
    assert_eq!(run(r#"{ filename: { matches: { pattern: "^ca" } } }"#).await, [cat.as_str(), png.as_str()]);
    assert_eq!(
        run(r#"{ filename: { matches: { pattern: "CAT", caseSensitive: true } } }"#).await,
        Vec::<String>::new()
    );
    assert_eq!(run(r#"{ notes: { matches: { pattern: "trans", regexp: false } } }"#).await, [png.as_str()]);
    assert_eq!(
        run(r#"{ OR: [{ mimeType: { eq: "image/png" } }, { tags: { contains: "dogs" } }] }"#).await,
        [dog.as_str(), png.as_str()]
    );
    assert_eq!(
        run(r#"{ AND: [{ tags: { contains: "pets" } }, { OR: [{ author: { exists: true } }, { format: { eq: "png" } }] }] }"#).await,
        [cat.as_str()]
    );
    assert_eq!(run(r#"{ width: { gt: 100000 } }"#).await, Vec::<String>::new());
    assert_eq!(run(r#"{ inUse: { eq: false } }"#).await.len(), 3);
    let sizes = data(&app, "{ allUploads(orderBy: [size_DESC]) { size } }", json!({})).await;
    let sizes: Vec<i64> = sizes["allUploads"].as_array().unwrap().iter().map(|f| f["size"].as_i64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    let page = data(&app, "{ allUploads(first: 1, skip: 1, orderBy: [_createdAt_ASC]) { id } }", json!({})).await;
    assert_eq!(ids(&page), [dog.as_str()]);
    let one =
        data(&app, r#"query($id: UploadId) { upload(filter: { id: { eq: $id } }) { id } }"#, json!({ "id": png }))
            .await;
    assert_eq!(one["upload"]["id"], png);
    let meta = data(&app, r#"{ _allUploadsMeta(filter: { tags: { contains: "pets" } }) { count } }"#, json!({})).await;
    assert_eq!(meta["_allUploadsMeta"]["count"], 2);

    for (query, needle) in [
        ("{ allUploads(first: 501) { id } }", "first must be between 0 and 500"),
        ("{ allUploads(skip: -1) { id } }", "skip"),
        (r#"{ allUploads(filter: { type: { eq: hologram } }) { id } }"#, "hologram"),
        (r#"{ allUploads(filter: { orientation: { in: [square] } }) { id } }"#, "in"),
        (r#"{ allUploads(filter: { colors: { contains: mauve } }) { id } }"#, "mauve"),
        ("{ allUploads { nope } }", "nope"),
        ("{ allUploads(orderBy: [nope_ASC]) { id } }", "nope_ASC"),
        ("{ allUploads { id ", "expected"),
        (r#"{ allUploads { url(imgixParams: { w: -2 }) } }"#, "imgixParams.w"),
        // Aliases cannot multiply a query's cost.
        ("{ a: allUploads(first: 500) { id } b: allUploads(first: 500) { id } c: allUploads(first: 1) { id } }", "at most 1000 uploads"),
        (
            "{ a: _allUploadsMeta { count } b: _allUploadsMeta { count } c: _allUploadsMeta { count } d: _allUploadsMeta { count } \
               e: _allUploadsMeta { count } f: _allUploadsMeta { count } g: _allUploadsMeta { count } h: _allUploadsMeta { count } \
               i: _allUploadsMeta { count } j: _allUploadsMeta { count } k: _allUploadsMeta { count } }",
            "at most 10 times",
        ),
        (r#"{ allUploads { blurUpThumb(size: 4000) } }"#, "size must be between 1 and 64"),
    ] {
        let messages = errors(&app, query).await;
        assert!(messages.iter().any(|m| m.contains(needle)), "{query}: {messages:?}");
    }
}

/// Every operator of `UploadFilter`, each on fields it applies to; expectations come from the
/// uploads' own attributes as GraphQL answers them.
#[tokio::test]
async fn each_filter_operator_selects_what_it_says() {
    let app = TestApp::spawn().await;
    let cat = upload(&app, "cat.jpg", json!({ "tags": ["pets"], "author": "Ann", "copyright": "CC0" })).await;
    let dog = upload(&app, "dog.jpg", json!({ "tags": ["pets", "dogs"] })).await;
    let png =
        upload(&app, "cat.png", json!({ "default_field_metadata": { "en": { "alt": "A cat", "title": "Cat" } } }))
            .await;
    app.update_upload(&cat, json!({ "notes": "edited later" })).await;
    let files = data(
        &app,
        "{ allUploads(orderBy: [_createdAt_ASC]) { id size width height md5 url basename _createdAt _updatedAt } }",
        json!({}),
    )
    .await["allUploads"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(files.len(), 3);
    let [c, d, p] = [&files[0], &files[1], &files[2]];
    let path = |f: &Value| json!(f["url"].as_str().unwrap().strip_prefix(crate::helpers::PUBLIC_URL).unwrap());
    assert_eq!((c["id"].as_str(), d["id"].as_str(), p["id"].as_str()), (Some(&*cat), Some(&*dog), Some(&*png)));
    let created: Vec<&str> = files.iter().map(|f| f["_createdAt"].as_str().unwrap()).collect();
    assert!(created[0] < created[1] && created[1] < created[2], "{created:?}");

    let run = |filter: String| {
        let app = &app;
        async move {
            let query = format!("{{ allUploads(filter: {filter}, orderBy: [_createdAt_ASC]) {{ id }} }}");
            let answer = data(app, &query, json!({})).await;
            let ids: Vec<String> =
                answer["allUploads"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
            ids
        }
    };
    let by_size = {
        let mut sizes: Vec<(i64, &str)> =
            files.iter().map(|f| (f["size"].as_i64().unwrap(), f["id"].as_str().unwrap())).collect();
        sizes.sort();
        sizes
    };
    let (smallest, middle) = (by_size[0].0, by_size[1].0);
    let expect_sizes = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
        files
            .iter()
            .filter(|f| keep(f["size"].as_i64().unwrap()))
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let width = c["width"].as_i64().unwrap();
    let expect_widths = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
        files
            .iter()
            .filter(|f| keep(f["width"].as_i64().unwrap()))
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let height = c["height"].as_i64().unwrap();
    let expect_heights = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
        files
            .iter()
            .filter(|f| keep(f["height"].as_i64().unwrap()))
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = [cat.clone(), dog.clone(), png.clone()];
    // `2026-12-04T21:01:12.716Z` → `2026-12-04T21:01`.
    let minute = |at: &str| at[..16].to_owned();
    let select = |key: &str, keep: &dyn Fn(String) -> bool| -> Vec<String> {
        let at = |f: &Value| minute(f[key].as_str().unwrap());
        files.iter().filter(|f| keep(at(f))).map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };
    let by_minute = |keep: &dyn Fn(String) -> bool| select("_createdAt", keep);
    let by_update = |keep: &dyn Fn(String) -> bool| select("_updatedAt", keep);
    let cases: Vec<(String, Vec<String>)> = vec![
        // Numbers: gt, lt, gte, lte, eq, neq.
        (format!("{{ size: {{ lt: {middle} }} }}"), expect_sizes(&|s| s < middle)),
        (format!("{{ size: {{ lte: {middle} }} }}"), expect_sizes(&|s| s <= middle)),
        (format!("{{ size: {{ gte: {middle} }} }}"), expect_sizes(&|s| s >= middle)),
        (format!("{{ size: {{ gt: {smallest} }} }}"), expect_sizes(&|s| s > smallest)),
        (format!("{{ size: {{ eq: {smallest} }} }}"), expect_sizes(&|s| s == smallest)),
        (format!("{{ size: {{ neq: {smallest} }} }}"), expect_sizes(&|s| s != smallest)),
        (format!("{{ width: {{ lte: {width} }} }}"), expect_widths(&|w| w <= width)),
        (format!("{{ width: {{ eq: {width} }} }}"), expect_widths(&|w| w == width)),
        (format!("{{ height: {{ gte: {height} }} }}"), expect_heights(&|h| h >= height)),
        (format!("{{ height: {{ neq: {height} }} }}"), expect_heights(&|h| h != height)),
        // Dates compare at minute precision (the CDA's): `eq` is "in that minute".
        (format!("{{ _createdAt: {{ lt: \"{}\" }} }}", created[1]), by_minute(&|m| m < minute(created[1]))),
        (format!("{{ _createdAt: {{ lte: \"{}\" }} }}", created[1]), by_minute(&|m| m <= minute(created[1]))),
        (format!("{{ _createdAt: {{ gt: \"{}\" }} }}", created[1]), by_minute(&|m| m > minute(created[1]))),
        (format!("{{ _createdAt: {{ gte: \"{}\" }} }}", created[1]), by_minute(&|m| m >= minute(created[1]))),
        (format!("{{ _createdAt: {{ eq: \"{}\" }} }}", created[1]), by_minute(&|m| m == minute(created[1]))),
        (format!("{{ _createdAt: {{ neq: \"{}\" }} }}", created[1]), by_minute(&|m| m != minute(created[1]))),
        ("{ _createdAt: { lt: \"2000-01-01T00:00:00Z\" } }".into(), vec![]),
        ("{ _createdAt: { gt: \"2000-01-01T00:00:00+02:00\" } }".into(), all.to_vec()),
        (
            format!("{{ _updatedAt: {{ gte: \"{}\" }} }}", c["_updatedAt"].as_str().unwrap()),
            by_update(&|u| u >= minute(c["_updatedAt"].as_str().unwrap())),
        ),
        (format!("{{ _updatedAt: {{ lte: \"{}\" }} }}", created[0]), by_update(&|u| u <= minute(created[0]))),
        // Identifiers and exact strings: eq, neq, in, notIn.
        (format!("{{ id: {{ neq: \"{cat}\" }} }}"), vec![dog.clone(), png.clone()]),
        (format!("{{ id: {{ notIn: [\"{cat}\", \"{png}\"] }} }}"), vec![dog.clone()]),
        (format!("{{ md5: {{ in: [{}] }} }}", d["md5"]), vec![dog.clone()]),
        (format!("{{ md5: {{ notIn: [{}] }} }}", d["md5"]), vec![cat.clone(), png.clone()]),
        (format!("{{ path: {{ eq: {} }} }}", path(p)), vec![png.clone()]),
        (format!("{{ path: {{ in: [{}, {}] }} }}", path(c), path(p)), vec![cat.clone(), png.clone()]),
        ("{ format: { in: [\"png\", \"gif\"] } }".into(), vec![png.clone()]),
        ("{ format: { notIn: [\"png\"] } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ mimeType: { in: [\"image/jpeg\"] } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ mimeType: { notIn: [\"image/jpeg\"] } }".into(), vec![png.clone()]),
        ("{ mimeType: { matches: { pattern: \"PNG$\" } } }".into(), vec![png.clone()]),
        ("{ mimeType: { notMatches: { pattern: \"png\" } } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ type: { notIn: [image] } }".into(), vec![]),
        ("{ type: { in: [image, video] } }".into(), all.to_vec()),
        ("{ type: { neq: video } }".into(), all.to_vec()),
        // All three fixtures are under 128 px: `icon`.
        ("{ resolution: { eq: icon } }".into(), all.to_vec()),
        ("{ resolution: { in: [small, large] } }".into(), vec![]),
        ("{ resolution: { notIn: [large] } }".into(), all.to_vec()),
        ("{ resolution: { neq: icon } }".into(), vec![]),
        // Text: matches, notMatches, exists; alt and title also eq, neq, in, notIn.
        ("{ filename: { notMatches: { pattern: \"^cat\" } } }".into(), vec![dog.clone()]),
        ("{ basename: { matches: { pattern: \"^d\" } } }".into(), vec![dog.clone()]),
        ("{ basename: { notMatches: { pattern: \"cat\", regexp: false } } }".into(), vec![dog.clone()]),
        ("{ author: { notMatches: { pattern: \"ann\" } } }".into(), vec![dog.clone(), png.clone()]),
        ("{ author: { exists: false } }".into(), vec![dog.clone(), png.clone()]),
        ("{ copyright: { matches: { pattern: \"cc\" } } }".into(), vec![cat.clone()]),
        ("{ copyright: { exists: true } }".into(), vec![cat.clone()]),
        ("{ notes: { exists: true } }".into(), vec![cat.clone()]),
        ("{ notes: { notMatches: { pattern: \"later\" } } }".into(), vec![dog.clone(), png.clone()]),
        ("{ alt: { eq: \"A cat\" } }".into(), vec![png.clone()]),
        ("{ alt: { neq: \"A cat\" } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ alt: { in: [\"A cat\", \"A dog\"] } }".into(), vec![png.clone()]),
        ("{ alt: { notIn: [\"A cat\"] } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ alt: { exists: true } }".into(), vec![png.clone()]),
        ("{ title: { matches: { pattern: \"^c\" } } }".into(), vec![png.clone()]),
        ("{ title: { notMatches: { pattern: \"^c\" } } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ title: { exists: false } }".into(), vec![cat.clone(), dog.clone()]),
        // Tags: contains, allIn, anyIn, notIn, eq.
        ("{ tags: { allIn: [\"pets\", \"dogs\"] } }".into(), vec![dog.clone()]),
        ("{ tags: { allIn: [\"pets\"] } }".into(), vec![cat.clone(), dog.clone()]),
        ("{ tags: { anyIn: [\"dogs\", \"birds\"] } }".into(), vec![dog.clone()]),
        ("{ tags: { notIn: [\"dogs\"] } }".into(), vec![cat.clone(), png.clone()]),
        ("{ tags: { eq: [\"dogs\", \"pets\"] } }".into(), vec![dog.clone()]),
        ("{ smartTags: { contains: \"pets\" } }".into(), vec![]),
        ("{ inUse: { eq: true } }".into(), vec![]),
        // Orientation: eq, neq.
        ("{ orientation: { eq: landscape } }".into(), landscape(&files, true)),
        ("{ orientation: { neq: landscape } }".into(), landscape(&files, false)),
    ];
    for (filter, expected) in cases {
        assert_eq!(run(filter.clone()).await, expected, "{filter}");
    }
}

/// The ids of the uploads wider than tall (`landscape`), or of the others.
fn landscape(files: &[Value], wide: bool) -> Vec<String> {
    let is_wide = |f: &Value| f["width"].as_i64() > f["height"].as_i64();
    files.iter().filter(|f| is_wide(f) == wide).map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn texts_follow_the_locale_and_its_fallbacks() {
    let app = TestApp::spawn_with(|config| {
        config.locales = ["en", "it", "pt-BR"].map(|l| assetd::domain::Locale::parse(l).unwrap()).to_vec();
    })
    .await;
    upload(
        &app,
        "cat.jpg",
        json!({ "default_field_metadata": { "en": { "alt": "A cat", "title": "Cat" }, "it": { "alt": "Un gatto" }, "pt-BR": {} } }),
    )
    .await;
    let answer = data(
        &app,
        r#"{ it: allUploads(locale: it) { alt title }
             itFallback: allUploads(locale: it, fallbackLocales: [en]) { alt title }
             pt: allUploads(locale: pt_BR) { alt }
             field: allUploads(locale: it) { alt(locale: en) title(locale: pt_BR, fallbackLocales: [it, en]) } }"#,
        json!({}),
    )
    .await;
    assert_eq!(answer["it"][0], json!({ "alt": "Un gatto", "title": null }));
    assert_eq!(answer["itFallback"][0], json!({ "alt": "Un gatto", "title": "Cat" }));
    assert_eq!(answer["pt"][0], json!({ "alt": null }));
    assert_eq!(answer["field"][0], json!({ "alt": "A cat", "title": "Cat" }));
    let alt_filter =
        data(&app, r#"{ allUploads(locale: it, filter: { alt: { eq: "Un gatto" } }) { id } }"#, json!({})).await;
    assert_eq!(alt_filter["allUploads"].as_array().unwrap().len(), 1);
    let wrong = errors(&app, "{ allUploads(locale: fr) { id } }").await;
    assert!(!wrong.is_empty());
}

/// Width and height of an image's bytes.
fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).unwrap();
    (image.width(), image.height())
}

#[tokio::test]
async fn responsive_image_srcsets_claim_the_widths_their_urls_render() {
    let app = TestApp::spawn().await;
    // dog.jpg's size is read back through the API (the renders are checked against it).
    upload(
        &app,
        "dog.jpg",
        json!({ "default_field_metadata": { "en": { "alt": "A dog", "focal_point": { "x": 0.2, "y": 0.3 } } } }),
    )
    .await;
    let answer = data(
        &app,
        r#"{ allUploads { width height
              plain: responsiveImage { src srcSet webpSrcSet sizes width height aspectRatio alt base64 bgColor }
              crop: responsiveImage(imgixParams: { fit: crop, w: 40, h: 30, auto: format }, sizes: "50vw") { src srcSet width height aspectRatio sizes }
              ar: responsiveImage(imgixParams: { ar: "16:9", fit: crop, w: 32 }) { src width height }
              turned: responsiveImage(imgixParams: { orient: 90, flip: hv, rot: 10 }) { src width height }
              thumb: blurUpThumb } }"#,
        json!({}),
    )
    .await;
    let file = &answer["allUploads"][0];
    let (source_w, source_h) = (file["width"].as_u64().unwrap() as u32, file["height"].as_u64().unwrap() as u32);
    let plain = &file["plain"];
    assert_eq!((plain["width"].as_u64(), plain["height"].as_u64()), (Some(source_w.into()), Some(source_h.into())));
    assert!(!plain["src"].as_str().unwrap().contains('?'), "no parameters, no query: {plain}");
    assert_eq!(plain["sizes"], format!("(max-width: {source_w}px) 100vw, {source_w}px"));
    assert_eq!(plain["alt"], "A dog");
    assert!(plain["base64"].as_str().unwrap().starts_with("data:image/jpeg;base64,"));
    assert!(plain["bgColor"].as_str().unwrap().starts_with('#'));
    assert!(file["thumb"].as_str().unwrap().starts_with("data:image/jpeg;base64,"));

    let crop = &file["crop"];
    assert_eq!((crop["width"].as_u64(), crop["height"].as_u64()), (Some(40), Some(30)));
    assert_eq!(crop["sizes"], "50vw");
    // The stored focal point is where the crop centres, as DatoCMS writes it.
    assert_eq!(
        crop["src"].as_str().unwrap().split_once('?').unwrap().1,
        "auto=format&crop=focalpoint&fit=crop&fp-x=0.2&fp-y=0.3&h=30&w=40"
    );
    assert_eq!(file["ar"]["width"], 32);
    // `orient` turns the frame (the size swaps); `flip` and `rot` keep it.
    let turned = &file["turned"];
    assert_eq!((turned["width"].as_u64(), turned["height"].as_u64()), (Some(source_h.into()), Some(source_w.into())));
    assert_eq!(turned["src"].as_str().unwrap().split_once('?').unwrap().1, "flip=hv&orient=90&rot=10");
    assert_eq!(file["ar"]["height"], 18);

    // Every srcset entry answers an image of the width it claims.
    for set in [&plain["srcSet"], &plain["webpSrcSet"], &crop["srcSet"]] {
        let entries: Vec<&str> = set.as_str().unwrap().split(',').collect();
        assert!(entries.len() >= 4, "{set}");
        for entry in entries {
            let (url, descriptor) = entry.rsplit_once(' ').unwrap();
            let claimed: u32 = descriptor.trim_end_matches('w').parse().unwrap();
            let served = app.fetch_asset(url, &[("accept", "image/webp,*/*")]).await;
            assert_eq!(served.status, StatusCode::OK, "{url}");
            assert_eq!(dimensions(&served.bytes).0, claimed, "{url}");
            assert!(claimed <= source_w.max(40), "{entry}: no wider than the original");
        }
    }
    assert!(plain["webpSrcSet"].as_str().unwrap().contains("fm=webp"));
}

#[tokio::test]
async fn tokens_environment_etag_and_get() {
    let app = TestApp::spawn().await;
    upload(&app, "cat.jpg", json!({})).await;
    let query = json!({ "query": "{ _allUploadsMeta { count } }" });
    let missing = app
        .send(Request::builder().method(Method::POST).uri("/graphql").body(Body::from(query.to_string())).unwrap())
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.json()["errors"][0]["message"].is_string());
    assert_eq!(gql_with(&app, "not-a-token", query.clone(), &[]).await.status, StatusCode::UNAUTHORIZED);
    for (role, secret, status) in [
        (assetd::domain::TokenRole::ReadOnly, "reader-secret-0123456789", StatusCode::OK),
        (assetd::domain::TokenRole::UploadOnly, "uploader-secret-0123456789", StatusCode::FORBIDDEN),
    ] {
        let id = assetd::domain::new_entity_id();
        let hash = assetd::domain::token_secret_hash(secret);
        app.app.db.create_token(&id, role.as_str(), role, &hash, 1).await.unwrap();
        assert_eq!(gql_with(&app, secret, query.clone(), &[]).await.status, status, "{role:?}");
    }
    let wrong_env = gql_with(&app, TOKEN, query.clone(), &[("x-environment", "staging")]).await;
    assert_eq!(wrong_env.status, StatusCode::NOT_FOUND);
    let drafts =
        gql_with(&app, TOKEN, query.clone(), &[("x-include-drafts", "true"), ("x-exclude-invalid", "true")]).await;
    assert_eq!(drafts.status, StatusCode::OK);

    // The answer's ETag; the same answer again is a 304.
    let first = gql_with(&app, TOKEN, query.clone(), &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    assert_eq!(first.header("access-control-allow-origin"), Some("*"));
    let again = gql_with(&app, TOKEN, query.clone(), &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    upload(&app, "dog.jpg", json!({})).await;
    let changed = gql_with(&app, TOKEN, query.clone(), &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.json()["data"]["_allUploadsMeta"]["count"], 2);

    // GET with ?query= (for caches), and a body that is not a GraphQL request.
    let get = Request::builder()
        .uri("/graphql?query=%7B_allUploadsMeta%7Bcount%7D%7D")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(get).await.json()["data"]["_allUploadsMeta"]["count"], 2);
    let garbage = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/graphql")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::from("not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(garbage.json()["errors"][0]["message"].as_str().unwrap().contains("GraphQL request"));
}

/// The schema as served, against the committed snapshot (`ASSETD_UPDATE_SNAPSHOTS=1` rewrites
/// it): a change of a type, field, argument or description shows in review.
#[tokio::test]
async fn the_schema_matches_its_snapshot() {
    let app = TestApp::spawn().await;
    let schema = assetd::graphql::GraphqlSchema::build(app.app.clone()).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/graphql_schema.snapshot.graphql");
    let served = schema.sdl();
    if std::env::var_os("ASSETD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("the snapshot is committed");
    assert!(
        served == committed,
        "the schema differs from {}: run with ASSETD_UPDATE_SNAPSHOTS=1 and review",
        path.display()
    );
    for name in [
        "type FileField implements FileFieldInterface",
        "type ResponsiveImage",
        "input UploadFilter",
        "enum UploadOrderBy",
    ] {
        assert!(served.contains(name), "{name}");
    }
}
