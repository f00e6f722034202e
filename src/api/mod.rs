//! The HTTP edge: the route table and its layers. Handlers live in one file per resource; they
//! parse and check a request, then call the workflows (`uploads`, `renditions`) or `db` directly
//! for plain reads, and queue jobs. The only module that imports axum; no SQL, no storage keys.

mod asset_delivery;
mod asset_transforms;
mod client_limit;
mod collections;
mod direct_put;
pub mod error;
mod extract;
mod graphql_endpoint;
mod guard;
mod health;
mod job_results;
mod metrics_endpoint;
mod nul_guard;
mod openapi;
mod permissions;
mod query;
pub mod rate_limit;
pub mod request_context;
pub mod server;
pub mod signing;
pub mod state;
mod tags;
pub mod token_cache;
pub mod transform_policy;
mod ui;
mod unread_body;
mod upload_filters;
mod upload_requests;
mod upload_tracks;
mod uploads;
mod video_delivery;
mod webhooks;

use axum::{
    extract::DefaultBodyLimit,
    middleware,
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
    Router,
};
use tower_http::catch_panic::CatchPanicLayer;

/// The `GET /uploads` query-string parsers, for [`crate::fuzzing`] (which has no router to go through).
pub(crate) use {query::parse_nested_query, uploads::parse_query as parse_uploads_query};

use crate::domain::CmaError;
use state::ApiState;

/// The whole route table.
pub fn router(state: ApiState) -> Router {
    // The Content Management API: authenticated, rate limited, JSON in and out.
    let cma = Router::new()
        .route("/upload-requests", post(upload_requests::create_upload_request))
        .route("/uploads", get(uploads::list_uploads).post(uploads::create_upload))
        .route("/uploads/{id}", get(uploads::show_upload).put(uploads::update_upload).delete(uploads::destroy_upload))
        .route("/uploads/bulk/tag", post(uploads::bulk_tag))
        .route("/uploads/bulk/set-upload-collection", post(uploads::bulk_set_collection))
        .route("/uploads/bulk/destroy", post(uploads::bulk_destroy))
        .route("/uploads/{id}/references", get(uploads::list_upload_references))
        .route("/uploads/{id}/tracks", get(upload_tracks::list_tracks).post(upload_tracks::create_track))
        .route("/uploads/{id}/tracks/generate-subtitles", post(upload_tracks::generate_subtitles))
        .route("/uploads/{id}/tracks/{track_id}", delete(upload_tracks::destroy_track))
        .route("/job-results/{id}", get(job_results::show_job_result))
        .route("/upload-collections", get(collections::list_collections).post(collections::create_collection))
        .route("/upload-collections/reorder", post(collections::reorder_collections))
        .route(
            "/upload-collections/{id}",
            get(collections::show_collection)
                .put(collections::update_collection)
                .delete(collections::destroy_collection),
        )
        .route("/upload-tags", get(tags::list_tags).post(tags::create_tag))
        .route("/upload-smart-tags", get(tags::list_smart_tags))
        .route("/upload-filters", get(upload_filters::list_upload_filters).post(upload_filters::create_upload_filter))
        .route(
            "/upload-filters/{id}",
            get(upload_filters::show_upload_filter)
                .put(upload_filters::update_upload_filter)
                .delete(upload_filters::destroy_upload_filter),
        )
        .route("/webhooks", get(webhooks::list_webhooks).post(webhooks::create_webhook))
        .route(
            "/webhooks/{id}",
            get(webhooks::show_webhook).put(webhooks::update_webhook).delete(webhooks::destroy_webhook),
        )
        .route("/webhook_calls", get(webhooks::list_webhook_calls))
        .route("/webhook_calls/{id}", get(webhooks::show_webhook_call))
        .route("/webhook_calls/{id}/resend_webhook", post(webhooks::resend_webhook_call))
        // Unknown routes are answered as CMA calls too (404 INVALID_ENDPOINT, with rate-limit headers).
        .fallback(error::unknown_endpoint)
        .method_not_allowed_fallback(error::unknown_endpoint)
        .layer(middleware::from_fn_with_state(state.clone(), guard::cma_guard))
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY));

    // Public delivery and the signed direct upload: no token, streamed bodies.
    let project = &state.app.config.project_id;
    let limited_per_client = Router::new()
        .route(&format!("/{project}/{{file}}"), get(asset_delivery::serve_asset))
        .route("/put/{project}/{file}", put(direct_put::put_file).options(direct_put::preflight))
        // Video streams, shaped as Mux's.
        .route("/video/{file}", get(video_delivery::serve_master).options(video_delivery::preflight))
        .route("/video/{playback_id}/{file}", get(video_delivery::serve_video_file).options(video_delivery::preflight))
        .route(
            "/video/{playback_id}/tracks/{file}",
            get(video_delivery::serve_track_file).options(video_delivery::preflight),
        )
        .route(
            "/video/{playback_id}/{generation}/{rung}/{file}",
            get(video_delivery::serve_rung_file).options(video_delivery::preflight),
        )
        .layer(middleware::from_fn_with_state(state.clone(), client_limit::limit_by_client))
        .layer(DefaultBodyLimit::disable());
    let operations = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::serve_openapi))
        .route("/metrics", get(metrics_endpoint::serve_metrics))
        // The browser Media Area: static files, no token (the page asks for one).
        .route("/ui", get(ui::index))
        .route("/ui/", get(ui::index))
        .route("/ui/{file}", get(ui::asset))
        // DatoCMS's Content Delivery API for uploads: its own token check, answers and CORS.
        .route(
            "/graphql",
            get(graphql_endpoint::serve).post(graphql_endpoint::serve).options(graphql_endpoint::preflight),
        );

    let video_domain = state.app.config.video_domain.clone();
    let router = operations
        .merge(limited_per_client)
        .merge(cma)
        .with_state(state.clone())
        .layer(middleware::map_response(error::envelope_framework_errors))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| -> Response {
            tracing::error!("a request handler panicked");
            CmaError::internal().into_response()
        }))
        .layer(middleware::from_fn(nul_guard::refuse_nul_in_path))
        // A body left unread (a 413, a refused token) is drained before the answer goes out.
        .layer(middleware::from_fn(unread_body::drain_unread_body))
        // Outermost: the request id, the access log and the HTTP metrics see every answer,
        // framework errors and panics included.
        .layer(middleware::from_fn_with_state(state, request_context::request_context));
    match video_domain {
        // Mux's hosts: their paths are rewritten before routing (a layer on the router runs after).
        Some(domain) => Router::new()
            .fallback_service(tower::ServiceExt::map_request(router, move |request: axum::extract::Request| {
                video_delivery::route_mux_hosts(&domain, request)
            })),
        None => router,
    }
}
