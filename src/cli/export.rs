//! `assetd export DIR`: downloads every upload of a running server through the API into
//! `DIR/files/<id>/<filename>` and writes `DIR/assetd-export.json` (see [`super::manifest`]) with
//! each upload's attributes and collection. A file already in DIR with the upload's size and md5
//! is not downloaded again, so an interrupted export resumes.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use anyhow::{anyhow, bail};
use futures_util::{stream, StreamExt};
use indicatif::HumanBytes;
use serde_json::Value;

use super::{
    cma_client::{ClientError, CmaClient},
    file_transfer::file_md5,
    manifest::{Manifest, ManifestCollection, ManifestUpload},
    progress::{exit_on_error, interrupted, print_summary, Progress},
    transfer_args::ExportArgs,
};
use crate::domain::{format_iso_millis, now_millis};

/// Uploads per listing page (the API's maximum).
const PAGE: u64 = 500;

enum Outcome {
    Downloaded(u64),
    Present,
    Failed(String),
    Fatal(String),
}

/// One upload to fetch.
struct Entry {
    upload: ManifestUpload,
    url: String,
    size: u64,
    md5: String,
}

/// Runs the export; an error ends the process with one line on stderr and exit code 1.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    exit_on_error(export(args).await)
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let token =
        args.remote.token.as_ref().ok_or_else(|| anyhow!("no API token: pass --token or set ASSETD_API_TOKEN"))?;
    let client = CmaClient::new(&args.remote.url, token.expose())?;
    client.check_access().await?;
    std::fs::create_dir_all(&args.dir).map_err(|e| anyhow!("cannot create {}: {e}", args.dir.display()))?;

    let mut manifest = Manifest::new(client.base(), format_iso_millis(now_millis()));
    manifest.collections = client.list_collections().await?.iter().filter_map(collection).collect();
    let filters: Vec<(&str, String)> = args.filters.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let entries = list_entries(&client, &filters).await?;
    manifest.uploads = entries.iter().map(|e| e.upload.clone()).collect();

    let progress = Progress::new(entries.len() as u64, entries.iter().map(|e| e.size).sum());
    let mut summary = Summary::default();
    let mut results = stream::iter(entries.iter())
        .map(|entry| {
            let (client, progress, dir) = (client.clone(), progress.clone(), args.dir.clone());
            async move { (entry, export_file(&client, &progress, &dir, entry).await) }
        })
        .buffer_unordered(usize::from(args.remote.concurrency));
    let shutdown = interrupted();
    tokio::pin!(shutdown);
    let mut stopped = None;
    loop {
        let (entry, outcome) = tokio::select! {
            next = results.next() => match next { Some(next) => next, None => break },
            () = &mut shutdown => { stopped = Some("interrupted".to_owned()); break }
        };
        let file = &entry.upload.file;
        match outcome {
            Outcome::Downloaded(bytes) => {
                summary.downloaded += 1;
                summary.bytes += bytes;
                progress.file_done(&format!("downloaded {file} ({})", HumanBytes(bytes)));
            }
            Outcome::Present => {
                summary.present += 1;
                progress.add_bytes(entry.size as i64);
                progress.file_done(&format!("already present {file}"));
            }
            Outcome::Failed(reason) => {
                progress.file_failed(&format!("failed {file}: {reason}"));
                summary.failed.push((file.clone(), reason));
            }
            Outcome::Fatal(reason) => {
                stopped = Some(reason);
                break;
            }
        }
    }
    drop(results);
    progress.finish();
    // The manifest is written even when files failed: a second run fetches only those.
    manifest.write(&args.dir)?;
    let not_done = entries.len() - summary.downloaded - summary.present - summary.failed.len();
    summary.print(started, not_done, &args.dir, client.rate_limit_waits());
    if let Some(reason) = stopped {
        bail!("export stopped ({reason}); run the same command again to resume");
    }
    if !summary.failed.is_empty() {
        bail!("{} file(s) failed", summary.failed.len());
    }
    Ok(())
}

/// Every upload (that the filters let through), page by page, oldest first.
async fn list_entries(client: &CmaClient, filters: &[(&str, String)]) -> Result<Vec<Entry>, ClientError> {
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let (page, total) = client.list_uploads_page(filters, offset, PAGE).await?;
        let count = page.len() as u64;
        for upload in page {
            // An upload created while we list shifts nothing (oldest first), but a deletion
            // may shift one upload onto the next page again: keep each once.
            if let Some(entry) = entry(upload) {
                if seen.insert(entry.upload.id.clone()) {
                    entries.push(entry);
                }
            }
        }
        offset += count;
        if count == 0 || offset >= total {
            return Ok(entries);
        }
    }
}

fn entry(upload: Value) -> Option<Entry> {
    let id = upload["id"].as_str()?.to_owned();
    let Value::Object(attributes) = upload["attributes"].clone() else { return None };
    let filename = safe_component(attributes.get("filename").and_then(Value::as_str).unwrap_or(""));
    let url = attributes.get("url")?.as_str()?.to_owned();
    let size = attributes.get("size").and_then(Value::as_u64).unwrap_or(0);
    let md5 = attributes.get("md5").and_then(Value::as_str).unwrap_or("").to_owned();
    let collection = upload["relationships"]["upload_collection"]["data"]["id"].as_str().map(str::to_owned);
    let file = format!("files/{}/{filename}", safe_component(&id));
    Some(Entry { upload: ManifestUpload { file, id, collection, attributes }, url, size, md5 })
}

fn collection(value: &Value) -> Option<ManifestCollection> {
    Some(ManifestCollection {
        id: value["id"].as_str()?.to_owned(),
        label: value["attributes"]["label"].as_str()?.to_owned(),
        parent: value["relationships"]["parent"]["data"]["id"].as_str().map(str::to_owned),
        position: value["attributes"]["position"].as_i64().unwrap_or(0),
    })
}

/// A name from the server made safe as one path component: never empty, `.`/`..`, hidden, or
/// holding a separator.
fn safe_component(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if matches!(c, '/' | '\\' | '\0') || c.is_control() { '-' } else { c }).collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned.into()
    }
}

async fn export_file(client: &CmaClient, progress: &Arc<Progress>, dir: &Path, entry: &Entry) -> Outcome {
    let target = dir.join(&entry.upload.file);
    match try_export_file(client, progress, &target, entry).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_fatal() => Outcome::Fatal(error.to_string()),
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

async fn try_export_file(
    client: &CmaClient,
    progress: &Arc<Progress>,
    target: &Path,
    entry: &Entry,
) -> Result<Outcome, ClientError> {
    let local = |e: std::io::Error| ClientError::Other(format!("{}: {e}", target.display()));
    if let Ok(metadata) = tokio::fs::metadata(target).await {
        if metadata.len() == entry.size && file_md5(target).await.map_err(local)?.md5 == entry.md5 {
            return Ok(Outcome::Present);
        }
    }
    let folder = target.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(folder).await.map_err(local)?;
    let temporary = temporary_path(target);
    let streamed = client.download(&entry.url, &temporary, &progress.on_bytes()).await;
    let streamed = match streamed {
        Ok(streamed) => streamed,
        Err(error) => {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(error);
        }
    };
    if streamed.size != entry.size || streamed.md5 != entry.md5 {
        let _ = tokio::fs::remove_file(&temporary).await;
        progress.add_bytes(-(streamed.size as i64));
        return Ok(Outcome::Failed(format!(
            "the download does not match the upload: {} bytes, md5 {} (expected {} bytes, md5 {})",
            streamed.size, streamed.md5, entry.size, entry.md5
        )));
    }
    tokio::fs::rename(&temporary, target).await.map_err(local)?;
    Ok(Outcome::Downloaded(streamed.size))
}

/// `files/<id>/.<filename>.part`: hidden, so an import of the folder never takes it for a file.
fn temporary_path(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.part"))
}

#[derive(Default)]
struct Summary {
    downloaded: usize,
    present: usize,
    bytes: u64,
    failed: Vec<(String, String)>,
}

impl Summary {
    fn print(&self, started: Instant, not_done: usize, dir: &Path, rate_limit_waits: u64) {
        let line = format!(
            "export to {}: {} downloaded ({}), {} already present",
            dir.display(),
            self.downloaded,
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
    fn names_from_the_server_stay_inside_their_folder() {
        assert_eq!(safe_component("cat.png"), "cat.png");
        assert_eq!(safe_component("../../etc/passwd"), "-..-etc-passwd");
        assert_eq!(safe_component(".."), "file");
        assert_eq!(safe_component(""), "file");
        assert_eq!(safe_component(".hidden"), "hidden");
        assert_eq!(safe_component("a\\b\0c"), "a-b-c");
    }

    #[test]
    fn temporary_files_are_hidden_next_to_the_target() {
        assert_eq!(temporary_path(Path::new("/x/files/id/cat.png")), Path::new("/x/files/id/.cat.png.part"));
    }
}
