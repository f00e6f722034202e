//! Commands other than `serve`: they work on the database directly, while the server runs or not.

pub mod tokens;
pub mod webhooks;
