//! What one GraphQL answer costs the database (issue 17): a bounded number of SQL statements
//! whatever the number of files in it, never a statement per file. Counted from sqlx's own
//! statement log (target `sqlx::query`, one event per statement executed). A binary of its own:
//! that log is process-wide, so no other test may run beside this one.

// The API tests' helpers, shared as source; this binary uses a few of them.
#![allow(unreachable_pub, dead_code)]

#[path = "api/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use tracing::{
    field::{Field, Visit},
    Event, Subscriber,
};
use tracing_subscriber::{layer::Context, prelude::*, Layer};

use helpers::{fixture, TestApp, TOKEN};

/// The statements sqlx executed since the last [`StatementLog::take`].
#[derive(Clone, Default)]
struct StatementLog(Arc<Mutex<Vec<String>>>);

impl StatementLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl<S: Subscriber> Layer<S> for StatementLog {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        struct Summary(String);
        impl Visit for Summary {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "summary" {
                    self.0 = format!("{value:?}");
                }
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "summary" {
                    self.0 = value.to_owned();
                }
            }
        }
        let mut summary = Summary(String::new());
        event.record(&mut summary);
        self.0.lock().unwrap().push(summary.0);
    }
}

/// DatoCMS's documented image query, with every per-file field that has data behind it; `FILTER`
/// is replaced by the listing's arguments.
const QUERY: &str = r#"{
  allUploads(first: 500 FILTER) {
    id filename basename size width height format mimeType md5 alt title customData
    focalPoint { x y } tags smartTags author copyright notes _createdAt _updatedAt
    blurhash thumbhash blurUpThumb colors { hex red green blue alpha } exifInfo
    url(imgixParams: { w: 100 })
    responsiveImage(imgixParams: { w: 300, h: 200, fit: crop }) {
      src srcSet webpSrcSet sizes width height aspectRatio alt title base64 bgColor
    }
    video { muxPlaybackId streamingUrl mp4Url thumbnailUrl duration framerate width height }
  }
  _allUploadsMeta { count }
}"#;

/// Runs [`QUERY`] with `filter`; how many files it answered and the statements it took.
async fn answer(app: &TestApp, log: &StatementLog, filter: &str) -> (usize, Vec<String>) {
    let query = QUERY.replace("FILTER", filter);
    log.take();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap();
    let response = app.send(request).await;
    // Root fields resolve concurrently (any order); a pool opening a connection runs its set-up
    // PRAGMAs, which are not the answer's.
    let mut statements: Vec<String> = log.take().into_iter().filter(|s| !s.starts_with("PRAGMA")).collect();
    statements.sort();
    assert_eq!(response.status, StatusCode::OK);
    let body: Value = response.json();
    assert!(body.get("errors").is_none(), "{body}");
    let files = body["data"]["allUploads"].as_array().unwrap();
    assert_eq!(body["data"]["_allUploadsMeta"]["count"], files.len());
    assert!(files.iter().all(|f| f["responsiveImage"]["srcSet"].is_string()), "{body}");
    (files.len(), statements)
}

#[tokio::test]
async fn an_answer_costs_the_same_statements_for_one_file_as_for_a_hundred() {
    let log = StatementLog::default();
    tracing_subscriber::registry().with(log.clone()).init();
    let app = TestApp::spawn().await;
    let create = |n: usize| {
        let app = &app;
        async move {
            let tags = json!([format!("tag-{n}"), "all"]);
            let metadata = json!({ "en": { "alt": format!("alt {n}"), "focal_point": { "x": 0.2, "y": 0.8 } } });
            app.create_upload(
                "cat.jpg",
                &fixture("cat.jpg"),
                json!({ "tags": tags, "default_field_metadata": metadata }),
            )
            .await;
        }
    };
    create(0).await;
    let filtered = r#", filter: { tags: { anyIn: ["all"] }, alt: { matches: { pattern: "^alt" } } }"#;
    // The first answer warms what is cached per process (the token, the environment's settings).
    answer(&app, &log, "").await;
    let (files, one) = answer(&app, &log, "").await;
    let (_, one_filtered) = answer(&app, &log, filtered).await;
    assert_eq!(files, 1);
    for n in 1..100 {
        create(n).await;
    }
    let (files, hundred) = answer(&app, &log, "").await;
    let (files_filtered, hundred_filtered) = answer(&app, &log, filtered).await;
    assert_eq!((files, files_filtered), (100, 100));
    assert_eq!(hundred, one, "the statements of an answer with 100 files and of one with 1");
    assert_eq!(hundred_filtered, one_filtered, "the same, filtered");
    // `_allUploadsMeta`: a count. `allUploads`: the planner's count, the page, the page's texts.
    assert_eq!(one.len(), 4, "{one:?}");
    // A filter adds at most the planner's look at the table's size.
    assert_eq!(one_filtered.len(), 5, "{one_filtered:?}");
}
