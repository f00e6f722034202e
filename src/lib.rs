//! assetd: a self-hosted media service that speaks the DatoCMS Content Management API for uploads.
//!
//! Layers (dependencies run downwards only; `tests/architecture.rs` fails on an import cycle):
//! - wiring: [`serve`] (`assetd serve`: the server, the worker and the sweeps) and [`cli`] (the
//!   command tree and the other commands);
//! - edges: [`api`] (HTTP: routes, handlers, the HTTP-only state), [`graphql`] (DatoCMS's
//!   Content Delivery API schema for uploads and its resolvers, served by `api`) and [`jobs`] (the
//!   worker, one thin adapter per job kind);
//! - workflows: [`uploads`] (create, update, destroy and bulk, each in the caller's transaction),
//!   [`renditions`] (get or make a derived image, purge, the derived cache), [`video`] (transcode
//!   a video into its HLS ladder and MP4 renditions, the stream's outputs), [`ingest`] (hash,
//!   sniff and probe a stored file), [`webhooks`] (events recorded with the change, signed
//!   deliveries) and [`cleanup`] (the orphaned-blob sweep);
//! - capabilities: [`app`] (`App`, built once), [`queue`] (typed jobs queued in the caller's
//!   transaction), [`db`] (all SQL), [`storage`] (all blob keys and bytes), [`views`] (the JSON:API
//!   documents we answer with) and [`metrics`] (the Prometheus instruments);
//! - pure: [`imaging`] (transform parameters, geometry, the libvips pipeline), [`media`] (sniffing,
//!   probing, SVG), [`domain`] (types checked once when built) and [`config`].

// An application's docs are for the people who work on it: they link private items too
// (`cargo doc --document-private-items` renders them; scripts/test checks the docs build clean).
#![allow(rustdoc::private_intra_doc_links)]

pub mod api;
pub mod app;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod graphql;
pub mod imaging;
pub mod ingest;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod queue;
pub mod renditions;
pub mod serve;
pub mod storage;
pub mod telemetry;
pub mod uploads;
pub mod video;
pub mod views;
pub mod webhooks;
