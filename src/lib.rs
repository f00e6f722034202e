//! assetd: a self-hosted media service that speaks the DatoCMS Content Management API for uploads.
//!
//! Layers (dependencies run downwards only):
//! - edges: [`api`] (HTTP) and [`jobs`] (the durable job queue and its worker);
//! - workflows: [`ingest`] (hash, sniff and probe a stored file), [`cleanup`] (the orphaned-blob
//!   sweep), [`webhooks`] (upload events recorded with the change, signed deliveries) and
//!   [`renditions`] (derived images: cache keys, stored blobs, single flight, render leases,
//!   purge, the derived-image cache);
//! - capabilities: [`db`] (all SQL), [`storage`] (all blob keys and bytes), [`media`] (probing),
//!   [`imaging`] (pure image transforms: parameters, geometry, libvips, rendering within bounds);
//! - [`domain`] (types checked once when built), [`views`] (the JSON:API documents we answer with)
//!   and [`metrics`] (the Prometheus instruments every layer records into).

pub mod api;
pub mod app;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod imaging;
pub mod ingest;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod renditions;
pub mod storage;
pub mod telemetry;
pub mod views;
pub mod webhooks;
