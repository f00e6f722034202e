//! Taking the file of an upload request for an upload (`POST /uploads`, a new version by
//! `PUT /uploads/{id}`): from then on no PUT changes it, so what the job inspects is what the
//! upload keeps. Handlers call these before queueing the job.

use super::rules;
use crate::{
    app::App,
    db::UploadRequestRow,
    domain::{now_millis, CmaError},
    ingest,
    media::Sniffed,
    storage::{StorageError, StorageKey},
};

/// Sniffs the file of an upload request; a file that vanished is the client's reference gone bad.
pub async fn sniff_request_file(app: &App, request: &UploadRequestRow) -> Result<Sniffed, CmaError> {
    match ingest::sniff_blob(&app.storage, &StorageKey::from_stored(&request.blob_key)).await {
        Ok(sniffed) => Ok(sniffed),
        Err(error) if error.is_not_found() => {
            Err(CmaError::invalid_field("path", "FILE_NOT_FOUND", "the file of this upload request is gone"))
        }
        Err(error) => Err(error.into()),
    }
}

/// Takes the file of the upload request behind `path` for `upload_id`: from now on no PUT changes
/// it (a direct PUT answers 409, a presigned one only lands on the staging key), so the request's
/// `blob_key` is the file the job inspects and the upload keeps. Call it once every check that
/// needs no file passed; repeating it (a retried or concurrent create) takes the same file.
pub async fn take_upload_request(app: &App, path: &str, upload_id: &str) -> Result<UploadRequestRow, CmaError> {
    let request = app.db.find_upload_request(path).await?.ok_or_else(|| {
        CmaError::invalid_field("path", "NOT_FOUND", "path must be the id of an upload request (POST /upload-requests)")
    })?;
    if request.consumed_by.as_ref().is_some_and(|owner| owner != upload_id) {
        return Err(rules::already_used());
    }
    let request = match app.db.take_upload_request(path, now_millis()).await? {
        Some(taken) => taken,
        None if app.storage.takes_direct_uploads() => take_presigned_upload(app, &request).await?,
        None => return Err(rules::file_not_uploaded()),
    };
    match &request.consumed_by {
        Some(owner) if owner != upload_id => Err(rules::already_used()),
        _ => Ok(request),
    }
}

/// S3: a file PUT straight to the bucket is noticed on first use of its path: copied to a key no
/// client can write, checked against the size limit, and recorded as the request's taken file.
/// Of concurrent calls, the first to record its copy wins; the others use that one.
async fn take_presigned_upload(app: &App, request: &UploadRequestRow) -> Result<UploadRequestRow, CmaError> {
    let staged = StorageKey::from_stored(&request.blob_key);
    let taken_elsewhere = || async {
        app.db.take_upload_request(&request.path, now_millis()).await?.ok_or_else(rules::file_not_uploaded)
    };
    match app.storage.take_presigned_upload(&staged, app.config.max_upload_size).await {
        Ok((copy, size)) => {
            let (size, now) = (i64::try_from(size).unwrap_or(i64::MAX), now_millis());
            if !app.db.record_presigned_take(&request.path, copy.as_str(), size, now).await? {
                app.storage.delete(&copy).await?;
                return taken_elsewhere().await;
            }
            if let Err(error) = app.storage.discard_presigned_upload(&staged).await {
                // The copy is the request's file; the staging copy is only wasted space (swept).
                tracing::warn!(%error, path = %request.path, "could not delete a taken upload's staging copy");
            }
            let blob_key = copy.as_str().to_owned();
            Ok(UploadRequestRow {
                blob_key,
                size: Some(size),
                completed_at: Some(now),
                taken_at: Some(now),
                ..request.clone()
            })
        }
        // Nothing PUT, or a concurrent take recorded its copy and dropped the staging copy.
        Err(error) if error.is_not_found() => taken_elsewhere().await,
        Err(StorageError::TooLarge { limit }) => Err(CmaError::invalid_field(
            "path",
            "FILE_TOO_LARGE",
            format!("the uploaded file is larger than the limit of {limit} bytes and was deleted; PUT a smaller one"),
        )),
        Err(error) => Err(error.into()),
    }
}
