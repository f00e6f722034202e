//! Integration tests: one binary, one module per area.

// Test helpers are `pub` for the sibling modules; nothing is exported from a test binary.
#![allow(unreachable_pub)]

mod abuse_limits;
mod bulk;
mod cleanup;
mod collections;
mod concurrency;
mod crash;
mod crash_load;
mod damaged_images;
mod delivery;
mod derived_cache;
mod graphql;
mod helpers;
mod image_facts;
mod imgix_animation;
mod imgix_params;
mod imgix_rendering;
mod jobs;
mod listing;
mod listing_filters;
mod metrics;
mod openapi;
mod privacy;
mod real_server;
mod roles;
mod svg_delivery;
mod transfer;
mod transform_admission;
mod transforms;
mod transport;
mod ui;
mod unread_bodies;
mod upload_filters;
mod upload_race;
mod upload_requests;
mod uploads_create;
mod uploads_destroy;
mod uploads_update;
mod upscale;
mod video;
mod video_abuse;
mod video_subtitle_generation;
mod video_tracks;
mod webhooks;
