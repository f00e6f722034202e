//! The rules of an upload change, each written once: handlers call them early (a fast 422,
//! nothing queued) and the steps call them again when the change applies (a concurrent change
//! may have made it invalid since).

use crate::{domain::CmaError, media};

/// `replace_strategy=keep_url` serves the new bytes at the old URL: its format must not change.
pub fn check_same_format(current_mime: &str, new_mime: &str) -> Result<(), CmaError> {
    if media::same_format(current_mime, new_mime) {
        return Ok(());
    }
    Err(CmaError::invalid_field(
        "path",
        "VALIDATION_SAME_FORMAT",
        format!(
            "replace_strategy=keep_url needs a file of the same format: the upload is {current_mime}, the new file is {new_mime}"
        ),
    ))
}

/// The upload request's file was taken by another upload.
pub fn already_used() -> CmaError {
    CmaError::invalid_field("path", "VALIDATION_UNIQUENESS", "this file already belongs to another upload")
}

/// Nothing was PUT to the upload request's URL yet.
pub fn file_not_uploaded() -> CmaError {
    CmaError::invalid_field("path", "FILE_NOT_UPLOADED", "the file was not PUT to the upload URL yet")
}

/// The path is not one of an upload request.
pub fn not_an_upload_path() -> CmaError {
    CmaError::invalid_field("path", "INVALID_FORMAT", "not an upload path")
}

/// The upload collection named was deleted after the request was accepted.
pub fn collection_gone() -> CmaError {
    CmaError::invalid_field("upload_collection", "NOT_FOUND", "the upload collection was deleted")
}
