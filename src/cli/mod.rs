//! Commands other than `serve`: `tokens` and `webhooks` work on the database directly, while the
//! server runs or not; `import` and `export` talk to a running server over HTTP. [`command`]
//! holds the clap tree of every command. A top layer: nothing but `main.rs` uses it.

pub mod cma_client;
pub mod command;
pub mod export;
pub mod file_transfer;
pub mod import;
pub mod manifest;
pub mod progress;
pub mod tokens;
pub mod transfer_args;
pub mod webhooks;

pub use command::{Cli, Command};
