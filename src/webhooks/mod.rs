//! Webhooks: registered URLs that receive a signed POST when an upload is created, updated or
//! deleted.
//!
//! - [`settings`]: a webhook's attributes, checked once for the API and the command line;
//! - [`outbox`]: events are recorded (a `webhook_calls` row and a `deliver_webhook` job per
//!   subscribed webhook) in the transaction that commits the upload change, so neither exists
//!   without the other, across crashes;
//! - [`delivery`]: one attempt (the signed POST, a 10 s timeout, no redirects) and the retry
//!   schedule; the job in `jobs/deliver_webhook.rs` records each attempt;
//! - [`signature`] computes and checks `X-Assetd-Signature`.
//!
//! Delivery is at least once: a node dying between a receiver's answer and the commit of the
//! attempt sends it again. Receivers deduplicate by `X-Assetd-Delivery-Id` (the call id).

pub mod delivery;
pub mod outbox;
pub mod settings;
pub mod signature;

pub use outbox::{record_upload_event, UploadEvent};
pub use settings::WebhookSettings;

/// The upload event types a webhook may subscribe to.
pub const EVENT_TYPES: [&str; 3] = ["create", "update", "delete"];

/// Call statuses, as DatoCMS names them.
pub mod status {
    /// Recorded, not sent yet.
    pub const PENDING: &str = "pending";
    /// An attempt failed; a retry is queued (`next_retry_at`).
    pub const RESCHEDULED: &str = "rescheduled";
    /// The receiver answered 2xx.
    pub const SUCCESS: &str = "success";
    /// Given up: attempts exhausted, retries off, or the webhook disabled before it was sent.
    pub const FAILED: &str = "failed";
}

/// A new signing secret: `whsec_` and 244 random bits.
pub fn new_webhook_secret() -> String {
    format!("whsec_{}", crate::domain::new_secret())
}
