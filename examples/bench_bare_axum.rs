//! Baseline for `bench/run.sh`: a bare axum 0.8 server with one route, `GET /uploads/{id}`, that answers a
//! fixed upload document (`Content-Type: application/json`): the same framework and the same JSON size and
//! shape as assetd's answer, without the guard (token lookup, headers), the database or the view rendering.
//!
//! ```sh
//! cargo run --release --example bench_bare_axum -- --listen 127.0.0.1:3999 --body /tmp/upload.json
//! ```
//!
//! `--body` is a file holding a captured `GET /uploads/{id}` answer (`bench/run.sh` captures one from the
//! assetd it benchmarks, so both bodies are byte for byte the same); without it a document captured once
//! from assetd (1240 bytes, the seed update applied) is served. Only loopback addresses are accepted.

use std::{net::SocketAddr, path::PathBuf};

use axum::serve::ListenerExt;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::header,
    response::IntoResponse,
    routing::get,
    Router,
};
use clap::Parser;

/// A real `GET /uploads/{id}` answer of assetd (cat.jpg after the seed update), 1240 bytes.
const CAPTURED_UPLOAD: &str = r#"{"data":{"attributes":{"author":"Mark","basename":"cat","blurhash":"L?LB;3|:K6SOnpotfAa#k7e@fifi","colors":[{"alpha":255,"blue":31,"green":112,"red":223},{"alpha":255,"blue":191,"green":80,"red":32},{"alpha":255,"blue":65,"green":160,"red":49},{"alpha":255,"blue":253,"green":253,"red":253},{"alpha":255,"blue":53,"green":123,"red":226}],"copyright":"2020 DatoCMS","created_at":"2026-11-30T02:48:47.417Z","default_field_metadata":{"en":{"alt":"Nyan the cat","custom_data":{},"focal_point":null,"poster_time":null,"title":"My cat"}},"duration":null,"exif_info":{},"filename":"cat.jpg","format":"jpg","frame_rate":null,"height":60,"is_image":true,"md5":"e129a5bdd5b5ef3bb7381e5d1309c1c2","mime_type":"image/jpeg","mux_mp4_highest_res":null,"mux_playback_id":null,"notes":null,"path":"/1/1796006927-cat.jpg","size":824,"smart_tags":[],"tags":[],"thumbhash":"nVkGfZpvhlWKeGaHd2h2Zk+V+YR3","updated_at":"2026-11-30T02:48:50.350Z","url":"http://127.0.0.1:38111/1/1796006927-cat.jpg","width":80},"id":"EpJTZpgFQDuCLZagD5pWHw","meta":{"antivirus":{"checked_at":null,"status":"skipped","threat_name":null}},"relationships":{"creator":{"data":{"id":"bASQrj7mQYS9odT9j4HoUw","type":"access_token"}},"upload_collection":{"data":null}},"type":"upload"}}"#;

#[derive(Debug, Parser)]
#[command(about = "Bare axum baseline: GET /uploads/{id} answers a fixed upload document")]
struct Args {
    /// Loopback address to bind.
    #[arg(long, env = "BENCH_BARE_LISTEN", default_value = "127.0.0.1:3999")]
    listen: SocketAddr,

    /// File with the JSON document to answer (default: a document captured from assetd).
    #[arg(long, env = "BENCH_BARE_BODY")]
    body: Option<PathBuf>,
}

async fn show_upload(State(body): State<Bytes>, Path(_id): Path<String>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        return Err(format!("refusing to listen on {}: the baseline binds loopback addresses only", args.listen).into());
    }
    let body = match &args.body {
        Some(path) => {
            let text = std::fs::read(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
            serde_json::from_slice::<serde_json::Value>(&text)
                .map_err(|error| format!("{} is not JSON: {error}", path.display()))?;
            Bytes::from(text)
        }
        None => Bytes::from_static(CAPTURED_UPLOAD.as_bytes()),
    };
    let body_len = body.len();
    let app = Router::new().route("/uploads/{id}", get(show_upload)).with_state(body);
    // Like assetd: TCP_NODELAY on every connection.
    let listener = tokio::net::TcpListener::bind(args.listen).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("bench_bare_axum listening on http://{} (body {body_len} bytes)", args.listen);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
