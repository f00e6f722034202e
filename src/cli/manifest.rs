//! The export manifest, `assetd-export.json`: what `assetd export` writes next to the files and
//! what `assetd import` reads back to restore each file's metadata and collection.

use std::{collections::HashMap, path::Path};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const MANIFEST_FILE: &str = "assetd-export.json";
const FORMAT: &str = "assetd-export";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `assetd-export`.
    pub format: String,
    /// Bumped when a reader of an older version could misread the file.
    pub version: u32,
    pub exported_at: String,
    /// The API base URL the export came from.
    pub source: String,
    /// The collection tree, every collection once.
    pub collections: Vec<ManifestCollection>,
    pub uploads: Vec<ManifestUpload>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestCollection {
    pub id: String,
    pub label: String,
    pub parent: Option<String>,
    pub position: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestUpload {
    /// Path of the file relative to the export folder, `/`-separated: `files/<id>/<filename>`.
    pub file: String,
    pub id: String,
    /// The upload's collection id (one of `collections`), or null for the root.
    pub collection: Option<String>,
    /// The upload's attributes exactly as the API answered them.
    pub attributes: Map<String, Value>,
}

impl Manifest {
    pub fn new(source: &str, exported_at: String) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            exported_at,
            source: source.into(),
            collections: Vec::new(),
            uploads: Vec::new(),
        }
    }

    /// Reads `dir/assetd-export.json` if there is one.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => anyhow::bail!("cannot read {}: {error}", path.display()),
        };
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not an export manifest: {e}", path.display()))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            anyhow::bail!(
                "{} is a {:?} manifest of version {}; this assetd reads {FORMAT:?} version {VERSION}",
                path.display(),
                manifest.format,
                manifest.version
            );
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest to `dir/assetd-export.json` through a temporary file, so that a reader
    /// never sees half of it.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(MANIFEST_FILE);
        let temporary = dir.join(format!(".{MANIFEST_FILE}.part"));
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&temporary, text + "\n")
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }

    /// The uploads by their file path.
    pub fn by_file(&self) -> HashMap<String, ManifestUpload> {
        self.uploads.iter().map(|upload| (upload.file.clone(), upload.clone())).collect()
    }
}

impl ManifestUpload {
    /// The attributes `POST /uploads` takes to recreate this upload's metadata: author,
    /// copyright, notes, tags and `default_field_metadata` without its unset values (a locale
    /// with nothing set is not sent, and a focal point or poster time only goes where it was set).
    pub fn create_attributes(&self) -> Map<String, Value> {
        let mut attributes = Map::new();
        for key in ["author", "copyright", "notes"] {
            if let Some(Value::String(text)) = self.attributes.get(key) {
                attributes.insert(key.into(), Value::String(text.clone()));
            }
        }
        if let Some(Value::Array(tags)) = self.attributes.get("tags") {
            attributes.insert("tags".into(), Value::Array(tags.clone()));
        }
        if let Some(metadata) = self.attributes.get("default_field_metadata").and_then(|m| prune_metadata(m, 1)) {
            attributes.insert("default_field_metadata".into(), metadata);
        }
        attributes
    }

    pub fn filename(&self) -> Option<&str> {
        self.attributes.get("filename").and_then(Value::as_str)
    }
}

/// Drops nulls and empty objects from the first two levels of `default_field_metadata` (locale →
/// field or field → locale, depending on the shape); values below (custom data) stay as they are.
fn prune_metadata(value: &Value, level: u8) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) if level <= 2 => {
            let pruned: Map<String, Value> =
                map.iter().filter_map(|(key, value)| Some((key.clone(), prune_metadata(value, level + 1)?))).collect();
            (!pruned.is_empty()).then_some(Value::Object(pruned))
        }
        Value::Object(map) if map.is_empty() => None,
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn upload(attributes: Value) -> ManifestUpload {
        let Value::Object(attributes) = attributes else { panic!("an object") };
        ManifestUpload { file: "files/a/cat.png".into(), id: "a".into(), collection: None, attributes }
    }

    #[test]
    fn create_attributes_keep_what_was_set() {
        let upload = upload(json!({
            "author": "Ann", "copyright": null, "notes": "n", "tags": ["x"], "size": 3, "md5": "abc",
            "default_field_metadata": {
                "en": {"alt": "A cat", "title": null, "custom_data": {"k": {"deep": null}}, "focal_point": {"x": 0.5, "y": 0.25}, "poster_time": null},
                "it": {"alt": null, "title": null, "custom_data": {}, "focal_point": {"x": 0.5, "y": 0.25}, "poster_time": null}
            }
        }));
        let attributes = Value::Object(upload.create_attributes());
        assert_eq!(
            attributes,
            json!({
                "author": "Ann", "notes": "n", "tags": ["x"],
                "default_field_metadata": {
                    "en": {"alt": "A cat", "custom_data": {"k": {"deep": null}}, "focal_point": {"x": 0.5, "y": 0.25}},
                    "it": {"focal_point": {"x": 0.5, "y": 0.25}}
                }
            })
        );
    }

    #[test]
    fn empty_metadata_is_left_out() {
        let upload = upload(json!({
            "default_field_metadata": {"alt": {"en": null}, "title": {"en": null}, "custom_data": {"en": {}}, "focal_point": null, "poster_time": null}
        }));
        assert_eq!(Value::Object(upload.create_attributes()), json!({}));
    }

    #[test]
    fn manifests_round_trip_and_check_their_version() {
        let dir = std::env::temp_dir().join(format!("assetd-manifest-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Manifest::read(&dir).unwrap().is_none());
        let mut manifest = Manifest::new("http://x", "2026-01-01T00:00:00.000Z".into());
        manifest.uploads.push(upload(json!({"filename": "cat.png"})));
        manifest.write(&dir).unwrap();
        let read = Manifest::read(&dir).unwrap().unwrap();
        assert_eq!(read.by_file()["files/a/cat.png"].filename(), Some("cat.png"));
        std::fs::write(
            dir.join(MANIFEST_FILE),
            r#"{"format":"assetd-export","version":9,"exported_at":"","source":"","collections":[],"uploads":[]}"#,
        )
        .unwrap();
        assert!(Manifest::read(&dir).unwrap_err().to_string().contains("version 9"));
        std::fs::write(dir.join(MANIFEST_FILE), "{").unwrap();
        assert!(Manifest::read(&dir).unwrap_err().to_string().contains("not an export manifest"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
