//! The `upload_track` resource (DatoCMS's shape).

use serde_json::{json, Value};

use crate::db::TrackRow;

pub fn track_resource(track: &TrackRow) -> Value {
    json!({
        "type": "upload_track",
        "id": track.id,
        "attributes": {
            "type": track.kind,
            "name": track.name,
            "language_code": track.language_code,
            "closed_captions": track.closed_captions,
            "status": track.status,
            "error": track.error,
        },
        "relationships": {
            "upload": { "data": { "type": "upload", "id": track.upload_id } },
        },
    })
}
