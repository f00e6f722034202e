//! What an update asks to change on an upload, already validated.

use serde::{Deserialize, Serialize};

use super::{Change, MetadataPatch};

/// Who created an upload: a JSON:API linkage to an account, user or access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    pub kind: String,
    pub id: String,
}

impl Creator {
    /// The linkage types DatoCMS allows for `creator`.
    pub const KINDS: [&'static str; 5] = ["account", "access_token", "user", "sso_user", "organization"];

    pub fn access_token(id: &str) -> Self {
        Creator { kind: "access_token".into(), id: id.to_owned() }
    }
}

/// A validated `PUT /uploads/{id}`. Each field is either kept or set; `Set(None)` clears.
///
/// It is stored as the payload of the update job, so its serialised form must stay readable by
/// later versions (add fields with `#[serde(default)]` only).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UploadPatch {
    /// A new upload-request path: the file is replaced by a new version.
    #[serde(default)]
    pub path: Change<String>,
    /// Replace the file in place (`replace_strategy=keep_url`).
    #[serde(default)]
    pub keep_url: bool,
    /// A new basename: the upload is renamed.
    #[serde(default)]
    pub basename: Change<String>,
    #[serde(default)]
    pub author: Change<Option<String>>,
    #[serde(default)]
    pub copyright: Change<Option<String>>,
    #[serde(default)]
    pub notes: Change<Option<String>>,
    /// Replaces the whole tag list.
    #[serde(default)]
    pub tags: Change<Vec<String>>,
    #[serde(default)]
    pub metadata: MetadataPatch,
    #[serde(default)]
    pub upload_collection: Change<Option<String>>,
    #[serde(default)]
    pub creator: Change<Creator>,
}

/// Trims tags, drops empty ones and duplicates, keeping the first occurrence's order.
pub fn normalize_tags(tags: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if !tag.is_empty() && !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = normalize_tags(["cats".into(), " dogs ".into(), "cats".into(), "".into(), "  ".into()]);
        assert_eq!(tags, vec!["cats".to_owned(), "dogs".to_owned()]);
    }

    #[test]
    fn a_patch_survives_a_json_round_trip() {
        let patch = UploadPatch {
            author: Change::Set(None),
            tags: Change::Set(vec!["x".into()]),
            creator: Change::Set(Creator::access_token("1")),
            ..UploadPatch::default()
        };
        let back: UploadPatch = serde_json::from_value(serde_json::to_value(&patch).unwrap()).unwrap();
        assert_eq!(back, patch);
    }
}
