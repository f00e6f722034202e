//! `assetd import DIR`: uploads a folder to a running server through the API, as the official
//! client's `createFromLocalFile` does (upload request → PUT → `POST /uploads` → job result), a few
//! files at a time. Files whose bytes the server already has (same md5) are skipped, so running it
//! again after an interruption sends only what is missing. An export manifest in DIR restores
//! each exported file's metadata and collection.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use anyhow::{anyhow, bail};
use futures_util::{stream, StreamExt};
use indicatif::HumanBytes;
use serde_json::{json, Map, Value};

use super::{
    cma_client::{ClientError, CmaClient},
    file_transfer::file_md5,
    manifest::{Manifest, ManifestUpload, MANIFEST_FILE},
    progress::{exit_on_error, interrupted, print_summary, Progress},
    transfer_args::ImportArgs,
};

/// A file found under DIR.
#[derive(Debug, Clone)]
struct LocalFile {
    path: PathBuf,
    /// Relative to DIR, `/`-separated (the key into an export manifest).
    relative: String,
    /// The names of the folders between DIR and the file.
    folders: Vec<String>,
    size: u64,
}

enum Outcome {
    Uploaded(u64),
    Present,
    /// The same bytes as a file this run already took: stored once.
    Duplicate,
    Failed(String),
    /// The server is gone or refuses the token: nothing else will work.
    Fatal(String),
}

struct Context {
    client: CmaClient,
    progress: Arc<Progress>,
    manifest: HashMap<String, ManifestUpload>,
    /// Manifest collection id → collection id on this server.
    collections: HashMap<String, String>,
    /// `--collection`: every file goes there.
    collection: Option<String>,
    tags_from_folders: bool,
    /// The md5s this run has taken (so identical files in DIR are stored once, even at once).
    claimed: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Runs the import; an error ends the process with one line on stderr and exit code 1.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    exit_on_error(import(args).await)
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let token =
        args.remote.token.as_ref().ok_or_else(|| anyhow!("no API token: pass --token or set ASSETD_API_TOKEN"))?;
    check_dir(&args.dir)?;
    let client = CmaClient::new(&args.remote.url, token.expose())?;
    client.check_access().await?;
    let manifest = Manifest::read(&args.dir)?;
    let collections = match (&args.collection, &manifest) {
        (Some(id), _) => {
            if client.find_collection(id).await?.is_none() {
                bail!("no upload collection has the id {id:?} on {}", client.base());
            }
            HashMap::new()
        }
        (None, Some(manifest)) => restore_collections(&client, manifest).await?,
        (None, None) => HashMap::new(),
    };
    let dir = args.dir.clone();
    let (files, unreadable) = tokio::task::spawn_blocking(move || walk(&dir)).await?;
    let total_bytes = files.iter().map(|f| f.size).sum();
    let progress = Progress::new(files.len() as u64, total_bytes);
    let context = Arc::new(Context {
        client,
        progress: progress.clone(),
        manifest: manifest.as_ref().map(Manifest::by_file).unwrap_or_default(),
        collections,
        collection: args.collection.clone(),
        tags_from_folders: args.tags_from_folders,
        claimed: Default::default(),
    });

    let mut summary = Summary { unreadable: unreadable.len(), failed: unreadable, ..Summary::default() };
    for (path, reason) in &summary.failed {
        progress.file_failed(&format!("failed {path}: {reason}"));
    }
    let mut results = stream::iter(files.iter().cloned())
        .map(|file| {
            let context = context.clone();
            async move {
                let outcome = import_file(&context, &file).await;
                (file, outcome)
            }
        })
        .buffer_unordered(usize::from(args.remote.concurrency));
    let shutdown = interrupted();
    tokio::pin!(shutdown);
    let mut stopped = None;
    loop {
        let (file, outcome) = tokio::select! {
            next = results.next() => match next { Some(next) => next, None => break },
            () = &mut shutdown => { stopped = Some("interrupted".to_owned()); break }
        };
        match outcome {
            Outcome::Uploaded(bytes) => {
                summary.uploaded += 1;
                summary.bytes += bytes;
                progress.file_done(&format!("uploaded {} ({})", file.relative, HumanBytes(bytes)));
            }
            Outcome::Present | Outcome::Duplicate => {
                summary.present += 1;
                progress.add_bytes(file.size as i64);
                let how = if matches!(outcome, Outcome::Duplicate) {
                    "same bytes as another file"
                } else {
                    "already present"
                };
                progress.file_done(&format!("{how} {}", file.relative));
            }
            Outcome::Failed(reason) => {
                progress.file_failed(&format!("failed {}: {reason}", file.relative));
                summary.failed.push((file.relative, reason));
            }
            Outcome::Fatal(reason) => {
                stopped = Some(reason);
                break;
            }
        }
    }
    // Dropping the stream cancels the transfers still running; their upload requests are never
    // used, and the server's cleanup sweeps their files.
    drop(results);
    progress.finish();
    let finished = summary.uploaded + summary.present + summary.failed.len() - summary.unreadable;
    summary.print(started, files.len().saturating_sub(finished), context.client.rate_limit_waits());
    if let Some(reason) = stopped {
        bail!("import stopped ({reason}); run the same command again to resume");
    }
    if !summary.failed.is_empty() {
        bail!("{} file(s) failed", summary.failed.len());
    }
    Ok(())
}

fn check_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => bail!("{} is not a folder", dir.display()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!("{} does not exist", dir.display()),
        Err(error) => bail!("cannot read {}: {error}", dir.display()),
    }
}

async fn import_file(context: &Context, file: &LocalFile) -> Outcome {
    match try_import_file(context, file).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_fatal() => Outcome::Fatal(error.to_string()),
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

async fn try_import_file(context: &Context, file: &LocalFile) -> Result<Outcome, ClientError> {
    let client = &context.client;
    let local = file_md5(&file.path).await.map_err(|e| ClientError::Other(format!("cannot read the file: {e}")))?;
    if !context.claimed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(local.md5.clone()) {
        return Ok(Outcome::Duplicate);
    }
    if client.find_by_md5(&local.md5).await?.is_some() {
        return Ok(Outcome::Present);
    }
    let exported = context.manifest.get(&file.relative);
    let filename = match exported.and_then(ManifestUpload::filename) {
        Some(name) => name.to_owned(),
        None => file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into()),
    };
    let target = client.request_upload(&filename).await?;
    client.put_file(&target, &file.path, local.size, &context.progress.on_bytes()).await?;

    let mut attributes = exported.map(ManifestUpload::create_attributes).unwrap_or_default();
    attributes.insert("path".into(), Value::String(target.path.clone()));
    if context.tags_from_folders && exported.is_none() && !file.folders.is_empty() {
        attributes.insert("tags".into(), json!(file.folders));
    }
    let collection = match (&context.collection, exported) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(upload)) => upload.collection.as_ref().and_then(|id| context.collections.get(id)).cloned(),
        (None, None) => None,
    };
    let mut relationships = Map::new();
    if let Some(id) = collection {
        relationships.insert("upload_collection".into(), json!({ "data": { "type": "upload_collection", "id": id } }));
    }
    client.create_upload(attributes, relationships).await?;
    Ok(Outcome::Uploaded(local.size))
}

/// Finds or creates the manifest's collections on this server, parents first, matching by label
/// under the same parent (so a second import reuses them); answers manifest id → server id.
async fn restore_collections(client: &CmaClient, manifest: &Manifest) -> Result<HashMap<String, String>, ClientError> {
    if manifest.collections.is_empty() {
        return Ok(HashMap::new());
    }
    let mut existing: HashMap<(Option<String>, String), String> = HashMap::new();
    for collection in client.list_collections().await? {
        let (Some(id), Some(label)) = (collection["id"].as_str(), collection["attributes"]["label"].as_str()) else {
            continue;
        };
        let parent = collection["relationships"]["parent"]["data"]["id"].as_str().map(str::to_owned);
        existing.insert((parent, label.to_owned()), id.to_owned());
    }
    let known: std::collections::HashSet<&str> = manifest.collections.iter().map(|c| c.id.as_str()).collect();
    let mut pending: Vec<_> = manifest.collections.iter().collect();
    pending.sort_by_key(|c| c.position);
    let mut mapped: HashMap<String, String> = HashMap::new();
    while !pending.is_empty() {
        // Ready: parents already mapped, or a parent the manifest does not hold (then the root).
        let (ready, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|c| match &c.parent {
            None => true,
            Some(parent) => mapped.contains_key(parent) || !known.contains(parent.as_str()),
        });
        if ready.is_empty() {
            return Err(ClientError::Other("the manifest's collections form a cycle".into()));
        }
        for collection in ready {
            let parent = collection.parent.as_ref().and_then(|p| mapped.get(p)).cloned();
            let key = (parent.clone(), collection.label.clone());
            let id = match existing.get(&key) {
                Some(id) => id.clone(),
                None => {
                    let id = client.create_collection(&collection.label, parent.as_deref()).await?;
                    existing.insert(key, id.clone());
                    id
                }
            };
            mapped.insert(collection.id.clone(), id);
        }
        pending = rest;
    }
    Ok(mapped)
}

/// Every regular file under `root`, sorted, without hidden files and folders (names starting with
/// `.`) and the export manifest; symbolic links to files are followed, to folders not (no loops).
/// Also answers the entries that could not be read.
fn walk(root: &Path) -> (Vec<LocalFile>, Vec<(String, String)>) {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    let mut folders = vec![(root.to_path_buf(), Vec::<String>::new())];
    while let Some((folder, names)) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) => {
                unreadable.push((relative(&names, None), error.to_string()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    unreadable.push((relative(&names, None), error.to_string()));
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || (names.is_empty() && name == MANIFEST_FILE) {
                continue;
            }
            let path = entry.path();
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(error) => {
                    unreadable.push((relative(&names, Some(&name)), error.to_string()));
                    continue;
                }
            };
            if file_type.is_dir() {
                let mut inner = names.clone();
                inner.push(name);
                folders.push((path, inner));
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => files.push(LocalFile {
                    relative: relative(&names, Some(&name)),
                    path,
                    folders: names.clone(),
                    size: metadata.len(),
                }),
                Ok(_) => {}
                Err(error) => unreadable.push((relative(&names, Some(&name)), error.to_string())),
            }
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    (files, unreadable)
}

fn relative(folders: &[String], name: Option<&str>) -> String {
    let mut parts: Vec<&str> = folders.iter().map(String::as_str).collect();
    parts.extend(name);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[derive(Default)]
struct Summary {
    uploaded: usize,
    present: usize,
    bytes: u64,
    failed: Vec<(String, String)>,
    /// How many of `failed` are entries the walk could not read (not among the files to send).
    unreadable: usize,
}

impl Summary {
    fn print(&self, started: Instant, not_done: usize, rate_limit_waits: u64) {
        let line = format!(
            "import: {} uploaded ({}), {} already present",
            self.uploaded,
            HumanBytes(self.bytes),
            self.present,
        );
        print_summary(line, &self.failed, not_done, rate_limit_waits, started);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_finds_nested_files_and_skips_hidden_ones_and_the_manifest() {
        let root = std::env::temp_dir().join(format!("assetd-walk-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("top.txt"), "1").unwrap();
        std::fs::write(root.join("a/b/deep.txt"), "22").unwrap();
        std::fs::write(root.join("a/.hidden"), "x").unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        std::fs::write(root.join(MANIFEST_FILE), "{}").unwrap();
        std::fs::write(root.join("a").join(MANIFEST_FILE), "{}").unwrap();
        let (files, unreadable) = walk(&root);
        let found: Vec<(&str, &[String], u64)> =
            files.iter().map(|f| (f.relative.as_str(), f.folders.as_slice(), f.size)).collect();
        let ab = ["a".to_owned(), "b".to_owned()];
        let a = ["a".to_owned()];
        assert_eq!(
            found,
            vec![("a/assetd-export.json", &a[..], 2), ("a/b/deep.txt", &ab[..], 2), ("top.txt", &[][..], 1)]
        );
        assert!(unreadable.is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
