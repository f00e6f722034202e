//! The upload workflow: what creating, updating and destroying an upload does, written once.
//!
//! Each step runs in the caller's write transaction ([`UploadChanges`]): it loads the upload
//! once, checks the rules at apply time ([`rules`]; handlers call the same checks early for a fast
//! 422), writes the change, refreshes the search document once, records the webhook event with
//! it (the transactional outbox), and returns the upload's document. What may only happen after
//! the commit (deleting a replaced file, purging renditions, waking the worker) accumulates in an
//! [`AfterCommit`]. The HTTP handlers and the jobs are thin adapters around these steps.
//!
//! Uses the capabilities ([`crate::app::App`], `db`, `storage`, `renditions`, `ingest`, `views`,
//! `webhooks`, `queue`); never HTTP, never the jobs' runner.

mod after_commit;
mod bulk;
mod commands;
mod create;
mod destroy;
pub mod filter_fields;
pub mod rules;
mod take_file;
mod update;

use serde_json::Value;

pub use after_commit::AfterCommit;
pub use bulk::BulkOutcome;
pub use commands::{BulkAction, BulkUploads, CreateUpload, UpdateUpload};
pub use take_file::{sniff_request_file, take_upload_request};

use crate::{
    app::App,
    db::{Db, DbError, Tx, UploadRow, WebhookRow},
    domain::CmaError,
    ingest::IngestError,
    storage::StorageError,
    views::{document, upload_resource},
    webhooks::{outbox, UploadEvent},
};

/// Why a step did not apply.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The client's mistake, or a conflict with a concurrent change: a 4xx, nothing written.
    #[error("rejected: {0}")]
    Rejected(CmaError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<CmaError> for UploadError {
    fn from(error: CmaError) -> Self {
        UploadError::Rejected(error)
    }
}

impl From<IngestError> for UploadError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Rejected(error) => UploadError::Rejected(error),
            IngestError::Storage(error) => UploadError::Storage(error),
            IngestError::Internal(error) => UploadError::Internal(error),
        }
    }
}

/// Changes to uploads inside one write transaction. Finish with [`UploadChanges::after_commit`],
/// commit, then run what it returns.
pub struct UploadChanges<'t> {
    tx: &'t mut Tx,
    app: &'t App,
    /// The webhooks listening to each event, read once per transaction.
    listeners: Vec<(UploadEvent, Vec<WebhookRow>)>,
    after: AfterCommit,
}

impl<'t> UploadChanges<'t> {
    pub fn new(tx: &'t mut Tx, app: &'t App) -> Self {
        UploadChanges { tx, app, listeners: Vec::new(), after: AfterCommit::default() }
    }

    /// What to do once the transaction committed.
    pub fn after_commit(self) -> AfterCommit {
        self.after
    }

    /// Whether any webhook listens to `event` (then the previous state is worth rendering).
    async fn anyone_listens(&mut self, event: UploadEvent) -> Result<bool, DbError> {
        let index = self.listeners_of(event).await?;
        Ok(!self.listeners[index].1.is_empty())
    }

    /// Where the listeners of `event` are in `self.listeners`, read on first use.
    async fn listeners_of(&mut self, event: UploadEvent) -> Result<usize, DbError> {
        if let Some(index) = self.listeners.iter().position(|(known, _)| *known == event) {
            return Ok(index);
        }
        let rows = outbox::subscribers(self.tx, event).await?;
        self.listeners.push((event, rows));
        Ok(self.listeners.len() - 1)
    }

    /// Records `event` about `entity` (and `previous`) for its listeners, in the transaction.
    async fn record(&mut self, event: UploadEvent, entity: &Value, previous: Option<&Value>) -> Result<(), DbError> {
        let index = self.listeners_of(event).await?;
        let subscribers = &self.listeners[index].1;
        if subscribers.is_empty() {
            return Ok(());
        }
        let source = self.app.event_source();
        self.after.webhook_calls += outbox::record_for(self.tx, source, subscribers, event, entity, previous).await?;
        Ok(())
    }

    /// The upload's resource (`data` of its document) as the API renders it, from `row`.
    async fn resource_of(&mut self, row: &UploadRow) -> Result<Value, DbError> {
        let metadata = Db::list_metadata_in(self.tx, &row.id).await?;
        Ok(upload_resource(row, &metadata, &self.app.views))
    }

    /// The upload's document as it stands in the transaction (after this step's writes).
    async fn current_document(&mut self, upload_id: &str) -> Result<Value, UploadError> {
        let row = Db::find_upload_in(self.tx, upload_id).await?.ok_or_else(CmaError::not_found)?;
        Ok(document(self.resource_of(&row).await?))
    }
}

/// Maps the constraint failures a concurrent client action can cause to their 422s.
fn constraint_error(error: DbError, unique: CmaError, foreign_key: CmaError) -> UploadError {
    if error.is_unique_violation() {
        UploadError::Rejected(unique)
    } else if error.is_foreign_key_violation() {
        UploadError::Rejected(foreign_key)
    } else {
        error.into()
    }
}
