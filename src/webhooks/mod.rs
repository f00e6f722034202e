//! Webhooks: registered URLs that receive a signed POST when an upload is created, updated or
//! deleted.
//!
//! - [`settings`]: a webhook's attributes, checked once for the API and the command line;
//! - [`outbox`]: events are recorded (a `webhook_calls` row and a [`DeliverWebhook`] job per
//!   subscribed webhook) in the transaction that commits the upload change, so neither exists
//!   without the other, across crashes;
//! - [`delivery`]: one attempt (the signed POST, a 10 s timeout, no redirects) and the retry
//!   schedule; the job in `jobs/deliver_webhook.rs` records each attempt;
//! - [`signature`] computes and checks `X-Assetd-Signature`.
//!
//! Delivery is at least once: a node dying between a receiver's answer and the commit of the
//! attempt sends it again. Receivers deduplicate by `X-Assetd-Delivery-Id` (the call id).
//!
//! Uses `db`, `queue`, `config` and `domain`; never `app` or the upload workflow, which calls
//! the outbox with what it needs ([`EventSource`]).

pub mod delivery;
pub mod outbox;
pub mod settings;
pub mod signature;

use serde::{Deserialize, Serialize};

pub use outbox::{EventSource, UploadEvent};
pub use settings::WebhookSettings;

/// The job that makes one attempt at a call (`jobs/deliver_webhook.rs` runs it): queued by the
/// outbox, by a resend, and by a failed attempt for its retry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub call_id: String,
    /// 1 for the first attempt of a send or resend, then 2, 3, … for its retries.
    pub round_attempt: u32,
}

impl crate::queue::Job for DeliverWebhook {
    const JOB_NAME: &'static str = "deliver_webhook";
}

impl DeliverWebhook {
    /// The first attempt of a send or a resend.
    pub fn first_attempt(call_id: String) -> Self {
        DeliverWebhook { call_id, round_attempt: 1 }
    }

    /// The attempt after this one (a retry).
    pub fn retry(&self) -> Self {
        DeliverWebhook { call_id: self.call_id.clone(), round_attempt: self.round_attempt + 1 }
    }
}

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
