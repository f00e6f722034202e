//! Subtitles made by a configured speech-to-text command (issue 16, `generate_subtitles`): the
//! track is answered `preparing`, the job gives the command the video's audio and stores what it
//! wrote; failures leave the track `errored` with the reason. The command here is a stand-in for
//! a real engine (Whisper and the like need models this machine cannot download): a script that
//! reads the WAV file it got with ffprobe and writes what it found as a cue, so the test sees the
//! audio assetd extracted, the language it was told and the file it wrote back.

use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::TestApp,
    video::{get, make_clip, playback_id, text, video_upload},
};

/// A script in a temp dir that stays for the test's life.
struct Script {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn script(body: &str) -> Script {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stt.sh");
    std::fs::write(&path, format!("set -eu\nin=\"$1\"; lang=\"$2\"; out=\"$3\"\n{body}\n")).unwrap();
    Script { _dir: dir, path }
}

/// Writes a cue with the language and what ffprobe reads of the audio (codec, rate, channels,
/// duration); `ext` `srt` writes SubRip.
fn probing_engine(ext: &str) -> Script {
    let probe = "info=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,sample_rate,channels \
                 -show_entries format=duration -of default=nw=1:nk=1 \"$in\" | tr '\\n' ' ')";
    let write = match ext {
        "srt" => "printf '1\\n00:00:00,500 --> 00:00:02,000\\n%s %s\\n' \"$lang\" \"$info\" > \"$out/speech.srt\"",
        _ => "printf 'WEBVTT\\n\\n00:00:00.500 --> 00:00:02.000\\n%s %s\\n' \"$lang\" \"$info\" > \"$out/speech.vtt\"",
    };
    script(&format!("{probe}\n{write}"))
}

async fn spawn_with_engine(engine: &Script) -> TestApp {
    let command = format!("sh '{}' {{input}} {{language}} {{output_dir}}", engine.path.display());
    TestApp::spawn_with(move |config| {
        config.video_segment_secs = 2;
        config.video_preset = "ultrafast".into();
        config.speech_to_text_command = Some(command);
    })
    .await
}

async fn generate(app: &TestApp, upload_id: &str, attributes: Value) -> crate::helpers::TestResponse {
    let body = json!({ "data": { "type": "subtitles_generation", "attributes": attributes } });
    app.call(Method::POST, &format!("/uploads/{upload_id}/tracks/generate-subtitles"), Some(body)).await
}

async fn tracks(app: &TestApp, upload_id: &str) -> Vec<Value> {
    let list = app.call(Method::GET, &format!("/uploads/{upload_id}/tracks"), None).await.json();
    list["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn generated_subtitles_are_made_from_the_videos_audio_by_a_job() {
    let engine = probing_engine("vtt");
    let app = spawn_with_engine(&engine).await;
    let upload = video_upload(&app).await;
    let (upload_id, id) = (upload["id"].as_str().unwrap().to_owned(), playback_id(&upload));

    let answered = generate(&app, &upload_id, json!({ "name": "Italiano (auto)", "language_code": "it-IT" })).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", text(&answered));
    let track = answered.json()["data"].clone();
    assert_eq!(
        track["attributes"],
        json!({ "type": "subtitles", "name": "Italiano (auto)", "language_code": "it-IT", "closed_captions": null, "status": "preparing", "error": null })
    );
    let track_id = track["id"].as_str().unwrap().to_owned();
    assert_eq!(tracks(&app, &upload_id).await[0]["attributes"]["status"], "preparing");
    let master = text(&get(&app, &format!("/video/{id}.m3u8"), &[]).await);
    assert!(!master.contains("TYPE=SUBTITLES"), "a preparing track is not in the stream: {master}");

    app.run_pending_jobs().await;
    let listed = tracks(&app, &upload_id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["attributes"]["status"], "ready", "{listed:?}");
    let master = text(&get(&app, &format!("/video/{id}.m3u8"), &[]).await);
    assert!(master.contains(&format!("{id}/tracks/{track_id}.m3u8")), "{master}");
    let vtt = get(&app, &format!("/video/{id}/tracks/{track_id}.vtt"), &[]).await;
    assert_eq!(vtt.status, StatusCode::OK);
    let vtt = text(&vtt);
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    // The engine got a 16 kHz mono PCM WAV of the whole 6 s and the primary language subtag.
    let cue = vtt.lines().find(|line| line.starts_with("it ")).unwrap_or_else(|| panic!("{vtt}"));
    let fields: Vec<&str> = cue.split_whitespace().collect();
    assert_eq!(fields[..4], ["it", "pcm_s16le", "16000", "1"], "{cue}");
    let seconds: f64 = fields[4].parse().unwrap();
    assert!((seconds - 6.0).abs() < 0.1, "{cue}");
    assert_eq!(app.pending_jobs().await, 0);
}

#[tokio::test]
async fn an_engine_writing_srt_is_converted() {
    let engine = probing_engine("srt");
    let app = spawn_with_engine(&engine).await;
    let upload = video_upload(&app).await;
    let (upload_id, id) = (upload["id"].as_str().unwrap().to_owned(), playback_id(&upload));
    let track = generate(&app, &upload_id, json!({ "name": "English", "language_code": "en" })).await.json();
    let track_id = track["data"]["id"].as_str().unwrap().to_owned();
    app.run_pending_jobs().await;
    assert_eq!(tracks(&app, &upload_id).await[0]["attributes"]["status"], "ready");
    let vtt = text(&get(&app, &format!("/video/{id}/tracks/{track_id}.vtt"), &[]).await);
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("00:00.500 --> 00:02.000") && vtt.contains("en pcm_s16le"),
        "{vtt}"
    );
}

#[tokio::test]
async fn failures_leave_an_errored_track_that_says_why() {
    let engine = script("echo 'loading model' >&2\necho \"no model for language $lang\" >&2\nexit 2");
    let app = spawn_with_engine(&engine).await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    generate(&app, &upload_id, json!({ "name": "Klingon", "language_code": "tlh" })).await;
    app.run_pending_jobs().await;
    let track = &tracks(&app, &upload_id).await[0];
    assert_eq!(track["attributes"]["status"], "errored");
    let error = track["attributes"]["error"].as_str().unwrap();
    assert!(error.contains("no model for language tlh"), "{error}");
    assert_eq!(app.pending_jobs().await, 0, "a failing command is not retried");

    // A video without audio: nothing to transcribe.
    let silent = app.create_upload("silent.mp4", &make_clip("320x240", 2, false), json!({})).await;
    let silent_id = silent["id"].as_str().unwrap().to_owned();
    app.run_pending_jobs().await;
    generate(&app, &silent_id, json!({ "language_code": "en" })).await;
    app.run_pending_jobs().await;
    let track = &tracks(&app, &silent_id).await[0];
    assert_eq!(track["attributes"]["status"], "errored");
    assert_eq!(track["attributes"]["name"], "en", "the name defaults to the language");
    assert!(track["attributes"]["error"].as_str().unwrap().contains("no audio"), "{track}");

    // An engine that writes nothing.
    let quiet = script("true");
    let app = spawn_with_engine(&quiet).await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    generate(&app, &upload_id, json!({ "language_code": "en" })).await;
    app.run_pending_jobs().await;
    let error = tracks(&app, &upload_id).await[0]["attributes"]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("wrote no .vtt or .srt file"), "{error}");
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let engine = probing_engine("vtt");
    let app = spawn_with_engine(&engine).await;
    let image = app.create_upload("cat.png", &crate::helpers::fixture("cat.png"), json!({})).await;
    let image_id = image["id"].as_str().unwrap();
    let refused = generate(&app, image_id, json!({ "language_code": "en" })).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&refused));
    assert_eq!(refused.error_code(), "INVALID_FIELD");
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    for attributes in [
        json!({ "language_code": "not a language" }),
        json!({ "name": "x" }),
        json!({ "language_code": "en", "name": " " }),
    ] {
        let refused = generate(&app, &upload_id, attributes.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{attributes}: {}", text(&refused));
    }
    assert_eq!(generate(&app, "nope", json!({ "language_code": "en" })).await.status, StatusCode::NOT_FOUND);
    assert!(tracks(&app, &upload_id).await.is_empty());
    assert_eq!(app.pending_jobs().await, 0);
}

#[tokio::test]
async fn a_track_deleted_while_preparing_leaves_no_file() {
    let engine = probing_engine("vtt");
    let app = spawn_with_engine(&engine).await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    let track = generate(&app, &upload_id, json!({ "language_code": "en" })).await.json();
    let track_id = track["data"]["id"].as_str().unwrap().to_owned();
    let deleted = app.call(Method::DELETE, &format!("/uploads/{upload_id}/tracks/{track_id}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    app.run_pending_jobs().await;
    assert!(tracks(&app, &upload_id).await.is_empty());
    let prefix = assetd::storage::StorageKey::video_track_prefix(&upload_id, &track_id);
    assert_eq!(app.app.storage.count_prefix(&prefix).await.unwrap(), 0);
    assert_eq!(app.pending_jobs().await, 0);
}
