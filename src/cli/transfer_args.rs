//! Command-line arguments of `assetd import` and `assetd export`: the running server they talk to
//! over HTTP (never the database directly), and what to transfer.

use std::path::PathBuf;

use clap::Args;

use crate::config::Secret;

/// The running server, and how much to do at once.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Base URL of the server's API (as `baseUrl` of the official client).
    #[arg(long, env = "ASSETD_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,

    /// API token: the server's `ASSETD_API_TOKEN`, or one made with `assetd tokens create`.
    #[arg(long, env = "ASSETD_API_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,

    /// Files transferred at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// `assetd import DIR`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The folder to upload (recursively; hidden files are skipped).
    pub dir: PathBuf,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Tag each file with the names of the subfolders it is in (`a/b/c.jpg` gets `a` and `b`).
    #[arg(long)]
    pub tags_from_folders: bool,

    /// Put every uploaded file into this upload collection (an id). Without it, files described by an
    /// export manifest go back into their collections (recreated by label when missing).
    #[arg(long)]
    pub collection: Option<String>,
}

/// `assetd export DIR`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The folder to write the files and the manifest into (created if missing).
    pub dir: PathBuf,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Export only the uploads `GET /uploads` lists with this query parameter, e.g.
    /// `--filter 'filter[fields][type][eq]=image'` or `--filter 'filter[query]=cat'` (repeatable;
    /// `locale=…` too).
    #[arg(long = "filter", value_name = "KEY=VALUE", value_parser = parse_filter)]
    pub filters: Vec<(String, String)>,
}

fn parse_filter(value: &str) -> Result<(String, String), String> {
    let (key, value) = value.split_once('=').ok_or("a filter is KEY=VALUE, e.g. filter[fields][type][eq]=image")?;
    if !(key.starts_with("filter[") || key == "locale") {
        return Err(format!("{key:?} is not a filter: use filter[…] keys of GET /uploads, or locale"));
    }
    Ok((key.to_owned(), value.to_owned()))
}
