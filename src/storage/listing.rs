//! What the orphaned-blob sweep (`crate::cleanup`) needs from the store: a listing of the keys
//! assetd writes, what each key belongs to, and the leftovers of writes a crash interrupted.

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

use futures_util::{stream::BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;

use super::{Storage, StorageError, StorageKey};

/// The key prefixes assetd writes. The sweep lists nothing else, so a bucket that also holds
/// other data loses none of it.
pub const SWEPT_PREFIXES: [&str; 4] = ["originals/", "derived/", "incoming/", "video/"];

/// One blob as the store lists it.
#[derive(Debug, Clone)]
pub struct ListedBlob {
    pub key: StorageKey,
    pub size: u64,
    /// When it was last written, in milliseconds since the epoch (the store's clock).
    pub last_modified_ms: i64,
}

/// What a listed key is, which decides what in the database keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// An original file (`originals/…`): kept by an upload or an upload request holding the key.
    Original(String),
    /// What a client PUT to a presigned URL (`incoming/<original key>`): kept while an upload
    /// request holds the original key, that is until its file is taken (the take copies it to a
    /// fresh key and records that one).
    Incoming(String),
    /// A derived image (`derived/<upload id>/…`): kept while the upload exists.
    Derived(String),
    /// A file of a video's stream outputs (`video/<upload id>/<generation>/…`): kept while the
    /// upload serves that generation.
    Video { upload_id: String, generation: String },
    /// A video's text track (`video/<upload id>/track-<track id>/…`): kept while the track exists.
    Track { track_id: String },
    /// Not a key assetd writes.
    Unknown,
}

impl StorageKey {
    /// What this key belongs to (see [`KeyOwner`]).
    pub fn owner(&self) -> KeyOwner {
        let key = self.as_str();
        if key.starts_with("originals/") {
            KeyOwner::Original(key.to_owned())
        } else if let Some(original) = key.strip_prefix("incoming/").filter(|k| k.starts_with("originals/")) {
            KeyOwner::Incoming(original.to_owned())
        } else if let Some((upload_id, _)) = key.strip_prefix("derived/").and_then(|rest| rest.split_once('/')) {
            KeyOwner::Derived(upload_id.to_owned())
        } else if let Some((upload_id, generation)) = key
            .strip_prefix("video/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(upload_id, rest)| Some((upload_id, rest.split_once('/')?.0)))
        {
            match generation.strip_prefix(super::TRACK_FOLDER_PREFIX) {
                Some(track_id) => KeyOwner::Track { track_id: track_id.to_owned() },
                None => KeyOwner::Video { upload_id: upload_id.to_owned(), generation: generation.to_owned() },
            }
        } else {
            KeyOwner::Unknown
        }
    }
}

impl Storage {
    /// Every blob whose key starts with `prefix`, in no particular order. Files still being
    /// written to local disk are not blobs yet and are not listed.
    pub fn list_blobs(&self, prefix: &str) -> BoxStream<'static, Result<ListedBlob, StorageError>> {
        let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
        self.store
            .list(Some(&prefix))
            .map_ok(|meta| ListedBlob {
                key: StorageKey(meta.location.to_string()),
                size: meta.size,
                last_modified_ms: meta.last_modified.timestamp_millis(),
            })
            .map_err(StorageError::from)
            .boxed()
    }

    /// Local disk only: removes the staging files of writes that never finished (object_store
    /// writes `<key>#<n>` and renames it into place, so a SIGKILL mid-write leaves one behind)
    /// last modified before `modified_before` (all with `None`), and empty directories under
    /// `derived/`. Returns what it removed. S3 keeps unfinished multipart uploads out of sight; a
    /// lifecycle rule aborts them.
    pub async fn remove_staging_files(
        &self,
        modified_before: Option<SystemTime>,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(Vec::new());
        };
        let removed = tokio::task::spawn_blocking(move || {
            let mut removed = Vec::new();
            remove_stale(&root, modified_before, &mut removed)?;
            let derived = root.join("derived");
            if derived.is_dir() {
                for entry in std::fs::read_dir(&derived)?.flatten() {
                    // Fails while the directory holds files, which is what we want.
                    if is_older(&entry.path(), modified_before) && std::fs::remove_dir(entry.path()).is_ok() {
                        removed.push(entry.path());
                    }
                }
            }
            Ok::<_, std::io::Error>(removed)
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))??;
        Ok(removed)
    }
}

/// True for object_store's staging names: `<name>#<digits>`. Keys never contain `#`.
fn is_staging_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.rsplit_once('#').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_older(path: &Path, cutoff: Option<SystemTime>) -> bool {
    let Some(cutoff) = cutoff else { return true };
    std::fs::symlink_metadata(path).and_then(|m| m.modified()).is_ok_and(|modified| modified < cutoff)
}

fn remove_stale(dir: &Path, cutoff: Option<SystemTime>, removed: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_stale(&path, cutoff, removed)?;
        } else if is_staging_file(&path) && is_older(&path, cutoff) {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                // Renamed into place or removed meanwhile: not ours to count.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_know_their_owner() {
        let owner = |key: &str| StorageKey::from_stored(key).owner();
        assert_eq!(owner("originals/abc"), KeyOwner::Original("originals/abc".into()));
        assert_eq!(owner("incoming/originals/abc"), KeyOwner::Incoming("originals/abc".into()));
        assert_eq!(owner("derived/up1/0123"), KeyOwner::Derived("up1".into()));
        assert_eq!(
            owner("video/up1/gen1/720p/seg_00001.m4s"),
            KeyOwner::Video { upload_id: "up1".into(), generation: "gen1".into() }
        );
        assert_eq!(
            owner(StorageKey::video_file("up1", "g2", "high.mp4").as_str()),
            KeyOwner::Video { upload_id: "up1".into(), generation: "g2".into() }
        );
        assert_eq!(owner(StorageKey::video_track("up1", "t9").as_str()), KeyOwner::Track { track_id: "t9".into() });
        for unknown in
            ["readiness-probe", "incoming/other", "derived/no-slash", "other/originals/x", "video/up1", "video/up1/gen"]
        {
            assert_eq!(owner(unknown), KeyOwner::Unknown, "{unknown}");
        }
    }

    #[test]
    fn staging_names_are_recognised() {
        assert!(is_staging_file(Path::new("/d/originals/abc#1")));
        assert!(is_staging_file(Path::new("/d/originals/abc#42")));
        assert!(!is_staging_file(Path::new("/d/originals/abc")));
        assert!(!is_staging_file(Path::new("/d/originals/abc#")));
        assert!(!is_staging_file(Path::new("/d/originals/abc#x1")));
    }

    #[tokio::test]
    async fn interrupted_local_writes_are_found_and_listing_skips_them() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path().to_path_buf()).unwrap();
        let key = StorageKey::new_original();
        storage.put_bytes(&key, bytes::Bytes::from_static(b"whole")).await.unwrap();
        let staging = dir.path().join("originals").join("half#1");
        std::fs::write(&staging, b"ha").unwrap();
        std::fs::create_dir_all(dir.path().join("derived/gone")).unwrap();

        let listed: Vec<ListedBlob> = storage.list_blobs("originals/").try_collect().await.unwrap();
        assert_eq!(listed.iter().map(|b| b.key.as_str()).collect::<Vec<_>>(), [key.as_str()]);
        assert_eq!(listed[0].size, 5);

        let past = SystemTime::now() - std::time::Duration::from_secs(60);
        assert!(storage.remove_staging_files(Some(past)).await.unwrap().is_empty(), "young files stay");
        let removed = storage.remove_staging_files(None).await.unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!staging.exists() && !dir.path().join("derived/gone").exists());
        assert!(storage.size(&key).await.is_ok(), "whole blobs are not staging files");
    }
}
