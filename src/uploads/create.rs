//! Creating an upload from the file PUT to its upload request.

use serde_json::Value;

use super::{constraint_error, rules, CreateUpload, UploadChanges, UploadError};
use crate::{
    db::{Db, FileFacts, NewUpload},
    domain::{now_millis, CmaError, UploadPathParts},
    video,
    webhooks::UploadEvent,
};

impl UploadChanges<'_> {
    /// Creates the upload `command` asks for, of its inspected file (`facts`); returns its document.
    pub async fn create(&mut self, command: &CreateUpload, facts: &FileFacts) -> Result<Value, UploadError> {
        command.metadata.check_fits(facts.is_image, facts.mime_type.starts_with("video/"))?;
        let parts = UploadPathParts::parse(&command.path).ok_or_else(rules::not_an_upload_path)?;
        if !Db::consume_upload_request(self.tx, &command.path, &command.upload_id).await? {
            return Err(rules::already_used().into());
        }
        let new = NewUpload {
            id: &command.upload_id,
            path: &command.path,
            basename: &parts.stem,
            extension: parts.extension.as_deref(),
            facts,
            author: command.author.as_deref(),
            copyright: command.copyright.as_deref(),
            notes: command.notes.as_deref(),
            tags: &command.tags,
            metadata: &command.metadata,
            upload_collection_id: command.upload_collection_id.as_deref(),
            creator: &command.creator,
            now: now_millis(),
        };
        Db::insert_upload(self.tx, &new).await.map_err(|error| {
            let exists = CmaError::invalid_field("id", "VALIDATION_UNIQUENESS", "an upload with this id exists");
            constraint_error(error, exists, rules::collection_gone())
        })?;
        let stream = video::prepare_stream_in(self.tx, &command.upload_id, None, facts, false).await?;
        self.after.stream_changed(&command.upload_id, stream);
        let document = self.current_document(&command.upload_id).await?;
        self.record(UploadEvent::Create, &document["data"], None).await?;
        Ok(document)
    }
}
