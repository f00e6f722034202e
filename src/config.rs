//! Configuration: built-in defaults, overridden by `ASSETD_*` environment variables, overridden by flags.
//! A leaf beside `domain`: it uses no other layer (the command tree that embeds it is `cli`'s).

use std::{fmt, net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};

use crate::domain::Locale;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the database is: the same settings (and variables) as `assetd serve`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Directory holding the SQLite database (when no database URL is set).
    #[arg(long, env = "ASSETD_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// PostgreSQL instead of the embedded SQLite.
    #[arg(long, env = "ASSETD_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// The PostgreSQL schema holding assetd's tables.
    #[arg(long, env = "ASSETD_DATABASE_SCHEMA", default_value = "public", global = true)]
    pub database_schema: String,

    /// The environment's locales (the search index is built for them).
    #[arg(long, env = "ASSETD_LOCALES", default_value = "en", value_delimiter = ',', global = true)]
    pub locales: Vec<Locale>,
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

    /// Video transcodes this node runs at once (each is one ffmpeg process using every core);
    /// transcode jobs beyond it wait for a free one.
    #[arg(long, env = "ASSETD_VIDEO_TRANSCODES", default_value_t = 1)]
    pub video_transcodes: usize,

    /// x264 preset of the transcodes (`ultrafast` … `veryslow`): slower presets make smaller
    /// files of the same quality.
    #[arg(long, env = "ASSETD_VIDEO_PRESET", default_value = "veryfast")]
    pub video_preset: String,

    /// Threads of one transcode's encoders (0: ffmpeg's choice, every core).
    #[arg(long, env = "ASSETD_VIDEO_THREADS", default_value_t = 0)]
    pub video_threads: usize,

    /// The HLS ladder: the lines (short side) of each rung. Rungs above the source are skipped; a
    /// source below every rung gets one rung of its own size.
    #[arg(long, env = "ASSETD_VIDEO_LADDER", default_value = "1080,720,480,360")]
    pub video_ladder: String,

    /// Target length of the HLS segments, in seconds.
    #[arg(long, env = "ASSETD_VIDEO_SEGMENT_SECONDS", default_value_t = 4)]
    pub video_segment_secs: u32,

    /// Longest video that is transcoded, in seconds; a longer one is served as its file only, and
    /// its stream is `errored`.
    #[arg(long, env = "ASSETD_VIDEO_MAX_DURATION", default_value_t = 14_400)]
    pub video_max_duration_secs: u64,

    /// Seconds one transcode may run; then it is stopped and the stream is `errored`.
    #[arg(long, env = "ASSETD_VIDEO_TRANSCODE_TIMEOUT", default_value_t = 7200)]
    pub video_transcode_timeout_secs: u64,

    /// A domain such as `example.com`: requests whose Host is `stream.example.com` or
    /// `image.example.com` answer Mux's own paths (`/{playback_id}.m3u8`,
    /// `/{playback_id}/thumbnail.jpg`, …), for players' `customDomain`.
    #[arg(long, env = "ASSETD_VIDEO_DOMAIN")]
    pub video_domain: Option<String>,

    /// A speech-to-text command that makes subtitles (`generate_subtitles`), split like a shell
    /// command line but run without a shell. In its arguments `{input}` is the video's audio (a
    /// 16 kHz mono WAV file), `{language}` the asked language (its primary subtag, as `en`) and
    /// `{output_dir}` an empty directory where it writes one `.vtt` or `.srt` file. Unset: asking
    /// for subtitles answers 422 SUBTITLES_GENERATION_UNAVAILABLE.
    #[arg(long, env = "ASSETD_SPEECH_TO_TEXT_COMMAND")]
    pub speech_to_text_command: Option<String>,

    /// Seconds the speech-to-text command may run on one video; then it is stopped and the track
    /// is `errored`.
    #[arg(long, env = "ASSETD_SPEECH_TO_TEXT_TIMEOUT", default_value_t = 3600)]
    pub speech_to_text_timeout_secs: u64,

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

    /// Seconds a transform may wait for a slot and its memory; past that it answers 503 with
    /// Retry-After (keep it below the clients' and proxies' own timeouts).
    #[arg(long, env = "ASSETD_TRANSFORM_QUEUE_WAIT", default_value_t = 30)]
    pub transform_queue_wait_secs: u64,

    /// MiB the transforms computing at once may take together, by the estimate each gets from
    /// its output size and encoder before it starts; the others wait in the queue.
    #[arg(long, env = "ASSETD_TRANSFORM_MEMORY", default_value_t = 512)]
    pub transform_memory_mib: u64,

    /// Seconds one transform may compute before it is stopped (503).
    #[arg(long, env = "ASSETD_TRANSFORM_TIMEOUT", default_value_t = 30)]
    pub transform_timeout_secs: u64,

    /// Largest source image transformed, in pixels (width × height × frames); larger answer 422.
    #[arg(long, env = "ASSETD_MAX_INPUT_PIXELS", default_value_t = 100_000_000)]
    pub max_input_pixels: u64,

    /// Largest transform output in pixels; larger requests are scaled down to fit.
    #[arg(long, env = "ASSETD_MAX_OUTPUT_PIXELS", default_value_t = 40_000_000)]
    pub max_output_pixels: u64,

    /// Largest transform output width and height as multiples of the source's (after `rect`);
    /// larger requests are scaled down to fit. 0: no bound but the output limits.
    #[arg(long, env = "ASSETD_MAX_UPSCALE", default_value_t = 4.0)]
    pub max_upscale: f64,

    /// Bytes of derived images kept in the blob store (all nodes together); past it the least
    /// recently used are deleted. 0: no bound.
    #[arg(long, env = "ASSETD_DERIVED_CACHE_MAX_BYTES", default_value_t = 10 << 30)]
    pub derived_cache_max_bytes: u64,

    /// Requests per rate-limit window one client address may make to asset URLs and the direct
    /// PUT (0 disables the limit).
    #[arg(long, env = "ASSETD_PUBLIC_RATE_LIMIT", default_value_t = 3000)]
    pub public_rate_limit: u32,

    /// Header holding the client address when assetd runs behind a proxy (e.g.
    /// `X-Forwarded-For`; its last entry is used). Unset: the TCP peer address.
    #[arg(long, env = "ASSETD_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,

    /// Seconds a client has to send a request's headers, and an idle keep-alive connection is
    /// kept open.
    #[arg(long, env = "ASSETD_HEADER_TIMEOUT", default_value_t = 15)]
    pub header_timeout_secs: u64,

    /// Seconds a connection may go without a byte read or written before it is closed.
    #[arg(long, env = "ASSETD_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Signs transform URLs: when set, a URL may carry `s`, the HMAC-SHA256 of its path and
    /// query under this secret, and unsigned URLs may use presets only.
    #[arg(long, env = "ASSETD_TRANSFORM_SECRET", hide_env_values = true)]
    pub transform_secret: Option<Secret>,

    /// Named transform presets, `name:query` separated by `;` (e.g. `thumb:w=200&h=200&fit=crop`),
    /// asked for as `?preset=name`.
    #[arg(long, env = "ASSETD_TRANSFORM_PRESETS", default_value = "")]
    pub transform_presets: String,

    /// Unsigned transform URLs may use presets only.
    #[arg(long, env = "ASSETD_TRANSFORM_PRESETS_ONLY", default_value_t = false, action = clap::ArgAction::Set)]
    pub transform_presets_only: bool,

    /// Remove the GPS position (EXIF GPS, XMP location) from JPEG originals when they are stored
    /// (their md5 is then the stripped file's). Derived images never carry it either way.
    #[arg(long, env = "ASSETD_STRIP_LOCATION", default_value_t = false, action = clap::ArgAction::Set)]
    pub strip_location: bool,

    /// Seconds between two sweeps for orphaned blobs and leftover temporary files (one also runs
    /// at start); 0 runs none in the server (`assetd cleanup` still does).
    #[arg(long, env = "ASSETD_CLEANUP_INTERVAL", default_value_t = 3600)]
    pub cleanup_interval_secs: u64,

    /// Seconds a blob or temporary file is safe from the sweep after it was written, and an upload
    /// URL's file after the URL expired.
    #[arg(long, env = "ASSETD_CLEANUP_GRACE", default_value_t = 3600)]
    pub cleanup_grace_secs: u64,

    /// Milliseconds before the first retry of a failed webhook delivery; each further retry waits
    /// four times longer (45 s, 3 min, 12 min, 48 min with the default).
    #[arg(long, env = "ASSETD_WEBHOOK_RETRY_BASE_MS", default_value_t = 45_000)]
    pub webhook_retry_base_ms: u64,

    /// Attempts per webhook call (the first and its retries) before it is marked failed.
    #[arg(long, env = "ASSETD_WEBHOOK_MAX_ATTEMPTS", default_value_t = 5)]
    pub webhook_max_attempts: u32,

    /// Days a finished webhook call (success or failed) stays in the delivery log; 0 keeps them all.
    #[arg(long, env = "ASSETD_WEBHOOK_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_log_retention_days: u64,

    /// When set, `GET /metrics` asks for `Authorization: Bearer <this secret>`; unset, it is open
    /// (keep it to a private network).
    #[arg(long, env = "ASSETD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
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
            video_transcodes: 1,
            video_preset: "veryfast".into(),
            video_threads: 0,
            video_ladder: "1080,720,480,360".into(),
            video_segment_secs: 4,
            video_max_duration_secs: 14_400,
            video_transcode_timeout_secs: 7200,
            video_domain: None,
            speech_to_text_command: None,
            speech_to_text_timeout_secs: 3600,
            transform_concurrency: 0,
            transform_threads: 1,
            transform_queue: 256,
            transform_queue_wait_secs: 30,
            transform_memory_mib: 512,
            transform_timeout_secs: 30,
            max_input_pixels: 100_000_000,
            max_output_pixels: 40_000_000,
            max_upscale: 4.0,
            derived_cache_max_bytes: 10 << 30,
            public_rate_limit: 3000,
            client_ip_header: None,
            header_timeout_secs: 15,
            idle_timeout_secs: 60,
            transform_secret: None,
            transform_presets: String::new(),
            transform_presets_only: false,
            strip_location: false,
            cleanup_interval_secs: 3600,
            cleanup_grace_secs: 3600,
            webhook_retry_base_ms: 45_000,
            webhook_max_attempts: 5,
            webhook_log_retention_days: 30,
            metrics_token: None,
        }
    }

    /// The database settings, for [`crate::db::Db::open_configured`].
    pub fn database_args(&self) -> DatabaseArgs {
        DatabaseArgs {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_schema: self.database_schema.clone(),
            locales: self.locales.clone(),
        }
    }

    /// The HLS ladder's rungs (lines of the short side), highest first, as `ASSETD_VIDEO_LADDER`
    /// lists them: distinct even numbers between 144 and 4320.
    /// The speech-to-text command's program and arguments (placeholders not yet replaced);
    /// `None` when none is configured.
    pub fn speech_to_text_argv(&self) -> anyhow::Result<Option<Vec<String>>> {
        let Some(line) = self.speech_to_text_command.as_deref().filter(|line| !line.trim().is_empty()) else {
            return Ok(None);
        };
        let argv = shlex::split(line)
            .filter(|argv| !argv.is_empty())
            .ok_or_else(|| anyhow::anyhow!("ASSETD_SPEECH_TO_TEXT_COMMAND is not a command line: {line:?}"))?;
        anyhow::ensure!(
            argv.iter().any(|arg| arg.contains("{input}")) && argv.iter().any(|arg| arg.contains("{output_dir}")),
            "ASSETD_SPEECH_TO_TEXT_COMMAND must name {{input}} and {{output_dir}} in its arguments: {line:?}"
        );
        Ok(Some(argv))
    }

    pub fn video_ladder_lines(&self) -> anyhow::Result<Vec<u32>> {
        let mut lines = Vec::new();
        for part in self.video_ladder.split(',').map(str::trim) {
            let line: u32 = part.parse().ok().filter(|l| (144..=4320).contains(l) && l % 2 == 0).ok_or_else(|| {
                anyhow::anyhow!("ASSETD_VIDEO_LADDER: {part:?} is not an even number of lines (144–4320)")
            })?;
            anyhow::ensure!(!lines.contains(&line), "ASSETD_VIDEO_LADDER lists {line} twice");
            lines.push(line);
        }
        lines.sort_unstable_by(|a, b| b.cmp(a));
        Ok(lines)
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
        anyhow::ensure!(self.transform_queue_wait_secs > 0, "the transform queue wait must be at least 1 s");
        anyhow::ensure!(self.transform_memory_mib > 0, "the transform memory must be at least 1 MiB");
        anyhow::ensure!(self.header_timeout_secs > 0, "the header timeout must be at least 1 s");
        anyhow::ensure!(self.idle_timeout_secs > 0, "the idle timeout must be at least 1 s");
        anyhow::ensure!(
            self.max_upscale == 0.0 || (self.max_upscale.is_finite() && self.max_upscale >= 1.0),
            "ASSETD_MAX_UPSCALE must be 0 (no bound) or at least 1, got {}",
            self.max_upscale
        );
        self.video_ladder_lines()?;
        anyhow::ensure!(
            (1..=60).contains(&self.video_segment_secs),
            "ASSETD_VIDEO_SEGMENT_SECONDS must be between 1 and 60"
        );
        anyhow::ensure!(self.video_transcodes > 0, "ASSETD_VIDEO_TRANSCODES must be at least 1");
        anyhow::ensure!(self.video_transcode_timeout_secs > 0, "the transcode timeout must be at least 1 s");
        const PRESETS: [&str; 9] =
            ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];
        anyhow::ensure!(
            PRESETS.contains(&self.video_preset.as_str()),
            "ASSETD_VIDEO_PRESET must be one of {}, got {:?}",
            PRESETS.join(", "),
            self.video_preset
        );
        if let Some(domain) = &self.video_domain {
            anyhow::ensure!(
                !domain.is_empty() && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
                "ASSETD_VIDEO_DOMAIN must be a host name such as example.com, got {domain:?}"
            );
        }
        self.speech_to_text_argv()?;
        anyhow::ensure!(self.speech_to_text_timeout_secs > 0, "ASSETD_SPEECH_TO_TEXT_TIMEOUT must be at least 1 s");
        if let Some(name) = &self.client_ip_header {
            anyhow::ensure!(
                http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                "ASSETD_CLIENT_IP_HEADER {name:?} is not a header name"
            );
        }
        Ok(())
    }
}

fn parse_project_id(value: &str) -> Result<String, String> {
    let ok = !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err("the project id must be 1-32 ASCII letters or digits".into());
    }
    if RESERVED_PATH_SEGMENTS.contains(&value.to_ascii_lowercase().as_str()) {
        return Err(format!("the project id {value:?} is the first segment of one of assetd's own routes"));
    }
    Ok(value.to_owned())
}

/// First path segments of assetd's own routes: an asset path `/{project}/…` under one of them would
/// never be reached.
const RESERVED_PATH_SEGMENTS: &[&str] =
    &["healthz", "metrics", "openapi", "put", "readyz", "ui", "uploads", "video", "webhooks"];

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

    /// `assetd serve`'s arguments, parsed alone (the command tree is `cli::command`'s).
    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        config: Config,
    }

    fn serve(args: &[&str]) -> Result<Config, clap::Error> {
        use clap::Parser;
        let mut argv = vec!["assetd"];
        argv.extend_from_slice(args);
        Serve::try_parse_from(argv).map(|serve| serve.config)
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
    fn video_settings_are_checked() {
        let config = serve(&["--video-ladder", "360, 1080,720"]).unwrap();
        assert_eq!(config.video_ladder_lines().unwrap(), [1080, 720, 360], "highest rung first");
        for bad in [
            ["--video-ladder", "1080,1080"],
            ["--video-ladder", "721"],
            ["--video-ladder", "100"],
            ["--video-ladder", ""],
            ["--video-preset", "ludicrous"],
            ["--video-segment-secs", "0"],
            ["--video-transcodes", "0"],
            ["--video-domain", "example.com/x"],
        ] {
            let config = serve(&bad).unwrap();
            assert!(config.validate().is_err(), "{bad:?}");
        }
        let config = serve(&["--video-domain", "media.example.com", "--video-preset", "slow"]).unwrap();
        assert!(config.validate().is_ok());
    }

    #[test]
    fn the_speech_to_text_command_is_split_and_checked() {
        let config = serve(&["--speech-to-text-command", "whisper '{input}' --language {language} -o {output_dir}"]);
        let argv = config.unwrap().speech_to_text_argv().unwrap().unwrap();
        assert_eq!(argv, ["whisper", "{input}", "--language", "{language}", "-o", "{output_dir}"]);
        assert_eq!(serve(&[]).unwrap().speech_to_text_argv().unwrap(), None);
        for bad in ["whisper {input}", "stt {output_dir}", "stt '{input} {output_dir}", "   "] {
            let config = serve(&["--speech-to-text-command", bad]).unwrap();
            assert_eq!(config.validate().is_err(), !bad.trim().is_empty(), "{bad:?}");
        }
        assert!(serve(&["--speech-to-text-timeout-secs", "0"]).unwrap().validate().is_err());
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
            vec!["--project-id", "video"],
            vec!["--project-id", "UI"],
            vec!["--metadata-shape", "sideways"],
        ] {
            assert!(serve(&bad).is_err(), "{bad:?}");
        }
        let duplicate = serve(&["--locales", "en,en"]).unwrap();
        assert!(duplicate.validate().is_err());
        let relative = serve(&["--public-url", "assets.example.com"]).unwrap();
        assert!(relative.validate().is_err());
    }

    #[test]
    fn the_upscale_bound_is_zero_or_at_least_one() {
        for (value, valid) in [("0", true), ("1", true), ("2.5", true), ("0.5", false), ("inf", false), ("NaN", false)]
        {
            let config = serve(&["--max-upscale", value]).unwrap();
            assert_eq!(config.validate().is_ok(), valid, "--max-upscale {value}");
        }
        assert!(serve(&["--max-upscale", "-1"]).map_or(true, |config| config.validate().is_err()));
    }
}
