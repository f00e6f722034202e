//! Configuration: built-in defaults, overridden by `ASSETD_*` environment variables, overridden by flags.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    domain::Locale,
    imaging::{Limits, TransformerSettings},
};

#[derive(Debug, Parser)]
#[command(name = "assetd", version, about = "Self-hosted media service speaking the DatoCMS uploads API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, asset delivery and the job worker.
    Serve(Config),
    /// Remove orphaned blobs and leftover temporary files once, print what was removed, and exit.
    Cleanup(Config),
}

/// Which wire shape `default_field_metadata` is answered in (spec §2.3). Both are accepted on write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetadataShape {
    /// `{ "<locale>": { alt, title, custom_data, focal_point, poster_time } }` (the documented examples).
    LocaleKeyed,
    /// `{ alt: { "<locale>": … }, title: …, custom_data: …, focal_point, poster_time }`.
    FieldKeyed,
}

/// Every setting of the service. Each field is a flag and an `ASSETD_*` environment variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP server binds.
    #[arg(long, env = "ASSETD_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory holding the SQLite database and the stored files.
    #[arg(long, env = "ASSETD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL instead of the embedded SQLite: `postgres://user@host:5432/db`. Several nodes
    /// may share it.
    #[arg(long, env = "ASSETD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The PostgreSQL schema holding assetd's tables (created if missing).
    #[arg(long, env = "ASSETD_DATABASE_SCHEMA", default_value = "public")]
    pub database_schema: String,

    /// S3-compatible object storage instead of the data directory:
    /// `s3://bucket[/prefix]?endpoint=http://host:port&region=us-east-1` (credentials from the
    /// usual `AWS_*` variables).
    #[arg(long, env = "ASSETD_STORAGE_URL")]
    pub storage_url: Option<String>,

    /// Absolute base of upload URLs and asset URLs (default: `http://<listen>`).
    #[arg(long, env = "ASSETD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// When set, a full-access API token with exactly this secret exists after start.
    #[arg(long, env = "ASSETD_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Secret>,

    /// The environment's locales, comma separated; the first is the main locale.
    #[arg(long, env = "ASSETD_LOCALES", default_value = "en", value_delimiter = ',')]
    pub locales: Vec<Locale>,

    /// Wire shape of `default_field_metadata` in responses.
    #[arg(long, env = "ASSETD_METADATA_SHAPE", value_enum, default_value = "locale-keyed")]
    pub metadata_shape: MetadataShape,

    /// Name of the primary environment (`X-Environment` must be absent or equal to it).
    #[arg(long, env = "ASSETD_ENVIRONMENT", default_value = "main")]
    pub environment: String,

    /// Project id: the first segment of every upload path (`/<project>/<ts>-<file>`).
    #[arg(long, env = "ASSETD_PROJECT_ID", default_value = "1", value_parser = parse_project_id)]
    pub project_id: String,

    /// Largest file accepted by the direct PUT, in bytes.
    #[arg(long, env = "ASSETD_MAX_UPLOAD_SIZE", default_value_t = 1 << 30)]
    pub max_upload_size: u64,

    /// Seconds an upload URL stays valid.
    #[arg(long, env = "ASSETD_UPLOAD_URL_TTL", default_value_t = 3600)]
    pub upload_url_ttl_secs: u64,

    /// Requests a token may make per rate-limit window (0 disables the limit).
    #[arg(long, env = "ASSETD_RATE_LIMIT", default_value_t = 6000)]
    pub rate_limit: u32,

    /// Length of the rate-limit window in seconds.
    #[arg(long, env = "ASSETD_RATE_LIMIT_WINDOW", default_value_t = 3)]
    pub rate_limit_window_secs: u64,

    /// Jobs run at once by this node's worker (0 runs no worker: jobs wait for another node).
    #[arg(long, env = "ASSETD_WORKERS", default_value_t = 4)]
    pub workers: usize,

    /// The ffprobe executable used to read video and audio facts.
    #[arg(long, env = "ASSETD_FFPROBE", default_value = "ffprobe")]
    pub ffprobe: String,

    /// The ffmpeg executable that takes video poster frames.
    #[arg(long, env = "ASSETD_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: String,

    /// Image transforms computed at once (0: one per core).
    #[arg(long, env = "ASSETD_TRANSFORM_CONCURRENCY", default_value_t = 0)]
    pub transform_concurrency: usize,

    /// libvips worker threads per transform (the concurrency bound already spreads transforms over
    /// the cores; more threads help single large images).
    #[arg(long, env = "ASSETD_TRANSFORM_THREADS", default_value_t = 1)]
    pub transform_threads: usize,

    /// Transforms that may wait for a slot; past that, new ones answer 503 with Retry-After.
    #[arg(long, env = "ASSETD_TRANSFORM_QUEUE", default_value_t = 256)]
    pub transform_queue: usize,

    /// Seconds one transform may compute before it is stopped (503).
    #[arg(long, env = "ASSETD_TRANSFORM_TIMEOUT", default_value_t = 30)]
    pub transform_timeout_secs: u64,

    /// Largest source image transformed, in pixels (width × height × frames); larger answer 422.
    #[arg(long, env = "ASSETD_MAX_INPUT_PIXELS", default_value_t = 100_000_000)]
    pub max_input_pixels: u64,

    /// Largest transform output in pixels; larger requests are scaled down to fit.
    #[arg(long, env = "ASSETD_MAX_OUTPUT_PIXELS", default_value_t = 40_000_000)]
    pub max_output_pixels: u64,

    /// Seconds between two sweeps for orphaned blobs and leftover temporary files (one also runs
    /// at start); 0 runs none in the server (`assetd cleanup` still does).
    #[arg(long, env = "ASSETD_CLEANUP_INTERVAL", default_value_t = 3600)]
    pub cleanup_interval_secs: u64,

    /// Seconds a blob or temporary file is safe from the sweep after it was written, and an upload
    /// URL's file after the URL expired.
    #[arg(long, env = "ASSETD_CLEANUP_GRACE", default_value_t = 3600)]
    pub cleanup_grace_secs: u64,
}

impl Config {
    /// Defaults for tests and embedding: everything under `data_dir`, listening on an ephemeral port.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url: None,
            database_schema: "public".into(),
            storage_url: None,
            public_url: None,
            api_token: None,
            locales: vec![Locale::parse("en").expect("valid locale")],
            metadata_shape: MetadataShape::LocaleKeyed,
            environment: "main".into(),
            project_id: "1".into(),
            max_upload_size: 1 << 30,
            upload_url_ttl_secs: 3600,
            rate_limit: 6000,
            rate_limit_window_secs: 3,
            workers: 4,
            ffprobe: "ffprobe".into(),
            ffmpeg: "ffmpeg".into(),
            transform_concurrency: 0,
            transform_threads: 1,
            transform_queue: 256,
            transform_timeout_secs: 30,
            max_input_pixels: 100_000_000,
            max_output_pixels: 40_000_000,
            cleanup_interval_secs: 3600,
            cleanup_grace_secs: 3600,
        }
    }

    /// Transform settings; the concurrency defaults to the number of cores.
    pub fn transformer_settings(&self) -> TransformerSettings {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        TransformerSettings {
            concurrency: if self.transform_concurrency == 0 { cores } else { self.transform_concurrency },
            threads: self.transform_threads.max(1),
            max_waiting: self.transform_queue,
            timeout: Duration::from_secs(self.transform_timeout_secs),
            limits: Limits { max_input_pixels: self.max_input_pixels, max_output_pixels: self.max_output_pixels },
            tmp_dir: self.data_dir.join("tmp"),
            ffmpeg: self.ffmpeg.clone(),
        }
    }

    /// The main locale (the first configured one).
    pub fn main_locale(&self) -> &Locale {
        &self.locales[0]
    }

    /// Checks what clap cannot: at least one locale, no duplicates, a usable public URL.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.locales.is_empty(), "ASSETD_LOCALES needs at least one locale");
        let mut seen = std::collections::HashSet::new();
        for locale in &self.locales {
            anyhow::ensure!(seen.insert(locale.as_str()), "locale {locale} is listed twice");
        }
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "ASSETD_PUBLIC_URL must be an absolute http(s) URL, got {url}"
            );
        }
        anyhow::ensure!(self.rate_limit_window_secs > 0, "the rate-limit window must be at least 1 s");
        anyhow::ensure!(self.transform_timeout_secs > 0, "the transform timeout must be at least 1 s");
        Ok(())
    }
}

fn parse_project_id(value: &str) -> Result<String, String> {
    let ok = !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(value.to_owned())
    } else {
        Err("the project id must be 1-32 ASCII letters or digits".into())
    }
}

/// A secret that never shows up in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.trim().len() < 8 {
            return Err("the API token must be at least 8 characters".into());
        }
        Ok(Secret(value.trim().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<Config, clap::Error> {
        let mut argv = vec!["assetd", "serve"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Serve(config) => config,
            other => panic!("parsed as another command: {other:?}"),
        })
    }

    #[test]
    fn defaults() {
        // Flags win over the environment, so pin every value the environment could change.
        let config = serve(&["--listen", "127.0.0.1:3000", "--data-dir", "./data", "--locales", "en"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.main_locale().as_str(), "en");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn flags_are_parsed_and_checked() {
        let config = serve(&[
            "--listen",
            "0.0.0.0:8080",
            "--locales",
            "en,it,pt-BR",
            "--public-url",
            "https://assets.example.com",
            "--api-token",
            "a-long-secret",
            "--metadata-shape",
            "field-keyed",
            "--workers",
            "0",
        ])
        .unwrap();
        assert_eq!(config.locales.len(), 3);
        assert_eq!(config.api_token.as_ref().map(Secret::expose), Some("a-long-secret"));
        assert_eq!(format!("{:?}", config.api_token), "Some(Secret(***))", "secrets never print");
        assert_eq!(config.metadata_shape, MetadataShape::FieldKeyed);
        assert!(config.validate().is_ok());

        for bad in [
            vec!["--locales", "EN"],
            vec!["--listen", "nowhere"],
            vec!["--api-token", "short"],
            vec!["--project-id", "../x"],
            vec!["--metadata-shape", "sideways"],
        ] {
            assert!(serve(&bad).is_err(), "{bad:?}");
        }
        let duplicate = serve(&["--locales", "en,en"]).unwrap();
        assert!(duplicate.validate().is_err());
        let relative = serve(&["--public-url", "assets.example.com"]).unwrap();
        assert!(relative.validate().is_err());
    }
}
