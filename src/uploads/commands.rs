//! The changes a client asks for, as they are queued (each is a job's stored payload: keep the
//! field names) and then applied by the steps of [`super::UploadChanges`].

use serde::{Deserialize, Serialize};

use crate::domain::{Creator, MetadataPatch, UploadPatch};

/// `POST /uploads`: a new upload of the file PUT to an upload request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUpload {
    pub upload_id: String,
    /// The upload-request path the file was PUT to; it becomes the upload's path.
    pub path: String,
    /// The request's file, taken by `POST /uploads` before the job was queued: no PUT changes
    /// it any more, so what the job inspects is what the upload stores.
    pub blob_key: String,
    pub author: Option<String>,
    pub copyright: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub metadata: MetadataPatch,
    pub upload_collection_id: Option<String>,
    pub creator: Creator,
}

/// `PUT /uploads/{id}`: metadata, a rename, and or a new version of the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateUpload {
    pub upload_id: String,
    pub patch: UploadPatch,
    /// Where the new version's bytes are, when `patch.path` is set: the request's file, taken by
    /// `PUT /uploads/{id}` before the job was queued, so no PUT changes it any more.
    pub new_blob_key: Option<String>,
}

/// `POST /uploads/bulk/…`: one action on many uploads, each a success or a failure on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkUploads {
    pub action: BulkAction,
    pub upload_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BulkAction {
    /// Adds these tags to each upload's own.
    Tag(Vec<String>),
    /// Moves each upload into this collection (None = root).
    SetCollection(Option<String>),
    Destroy,
}
