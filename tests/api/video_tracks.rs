//! A video's subtitle tracks (issue 16; `client.uploadTracks`): created from an upload request's
//! WebVTT or SRT file, listed, destroyed; what the client may not do; the master playlist's
//! EXT-X-MEDIA group and the track's own playlist, read back with m3u8-rs and ffprobe.

use assetd::{cleanup::sweep, storage::StorageKey};
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::{
    helpers::TestApp,
    video::{get, playback_id, spawn, text, video_upload},
};

const VTT: &str = "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nBuongiorno\n\n00:00:02.500 --> 00:00:04.000\nA tutti\n";
const SRT: &str = "1\n00:00:01,000 --> 00:00:03,000\nHello\n\n2\n00:00:03,500 --> 00:00:05,000\n<i>world</i>\n";

fn track_body(path: &str, attributes: Value) -> Value {
    let mut data = json!({ "type": "upload_track", "attributes": { "url_or_upload_request_id": path, "type": "subtitles", "language_code": "it" } });
    for (key, value) in attributes.as_object().unwrap() {
        data["attributes"][key] = value.clone();
    }
    json!({ "data": data })
}

async fn add_track(
    app: &TestApp,
    upload_id: &str,
    file: &str,
    bytes: &str,
    attributes: Value,
) -> crate::helpers::TestResponse {
    let path = app.put_file(file, bytes.as_bytes()).await;
    app.call(Method::POST, &format!("/uploads/{upload_id}/tracks"), Some(track_body(&path, attributes))).await
}

#[tokio::test]
async fn tracks_from_vtt_and_srt_are_listed_in_the_stream_and_destroyed() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let (upload_id, id) = (upload["id"].as_str().unwrap().to_owned(), playback_id(&upload));

    let italian = add_track(&app, &upload_id, "it.vtt", VTT, json!({ "name": "Italiano" })).await;
    assert_eq!(italian.status, StatusCode::OK, "{}", text(&italian));
    let italian = italian.json()["data"].clone();
    assert_eq!(italian["type"], "upload_track");
    assert_eq!(
        italian["attributes"],
        json!({ "type": "subtitles", "name": "Italiano", "language_code": "it", "closed_captions": null, "status": "ready", "error": null })
    );
    assert_eq!(italian["relationships"]["upload"]["data"], json!({ "type": "upload", "id": upload_id }));
    let english =
        add_track(&app, &upload_id, "en.srt", SRT, json!({ "language_code": "en-GB", "closed_captions": true })).await;
    assert_eq!(english.status, StatusCode::OK, "{}", text(&english));
    let english = english.json()["data"].clone();
    assert_eq!(english["attributes"]["name"], "en-GB", "the name defaults to the language");

    let list = app.call(Method::GET, &format!("/uploads/{upload_id}/tracks"), None).await.json();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [italian["id"].as_str().unwrap(), english["id"].as_str().unwrap()]);

    // The master lists both as one SUBTITLES group that every rung names.
    let master = get(&app, &format!("/video/{id}.m3u8"), &[]).await;
    let playlist = m3u8_rs::parse_master_playlist_res(&master.bytes).unwrap();
    assert_eq!(playlist.alternatives.len(), 2, "{}", text(&master));
    let english_media = &playlist.alternatives[1];
    assert_eq!(english_media.media_type, m3u8_rs::AlternativeMediaType::Subtitles);
    assert_eq!(english_media.language.as_deref(), Some("en-GB"));
    assert!(english_media.characteristics.as_deref().unwrap_or_default().contains("transcribes-spoken-dialog"));
    assert!(playlist.variants.iter().all(|v| v.subtitles.as_deref() == Some("subs")));
    // Its playlist resolves under /video/ and names the WebVTT beside it; the SRT became WebVTT.
    let track_playlist = get(&app, &format!("/video/{}", english_media.uri.as_deref().unwrap()), &[]).await;
    assert_eq!(track_playlist.status, StatusCode::OK);
    assert_eq!(track_playlist.header("content-type"), Some("application/vnd.apple.mpegurl"));
    let media = m3u8_rs::parse_media_playlist_res(&track_playlist.bytes).unwrap();
    assert_eq!(media.segments.len(), 1);
    assert!((media.segments[0].duration - 6.0).abs() < 0.2, "the whole video: {}", media.segments[0].duration);
    let vtt = get(&app, &format!("/video/{id}/tracks/{}", media.segments[0].uri), &[]).await;
    assert_eq!(vtt.header("content-type"), Some("text/vtt; charset=utf-8"));
    assert_eq!(vtt.header("access-control-allow-origin"), Some("*"));
    let cues = text(&vtt);
    assert!(cues.starts_with("WEBVTT"), "{cues}");
    assert!(cues.contains("00:01.000 --> 00:03.000\nHello"), "{cues}");

    // Destroy answers the track as it was; its files and its media entry go.
    let english_id = english["id"].as_str().unwrap();
    let destroyed = app.call(Method::DELETE, &format!("/uploads/{upload_id}/tracks/{english_id}"), None).await;
    assert_eq!(destroyed.status, StatusCode::OK);
    assert_eq!(destroyed.json()["data"]["id"], english_id);
    let again = app.call(Method::DELETE, &format!("/uploads/{upload_id}/tracks/{english_id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("/video/{id}/tracks/{english_id}.vtt"), &[]).await.status, StatusCode::NOT_FOUND);
    let master = get(&app, &format!("/video/{id}.m3u8"), &[]).await;
    assert_eq!(m3u8_rs::parse_master_playlist_res(&master.bytes).unwrap().alternatives.len(), 1);
    assert_eq!(count(&app, &format!("video/{upload_id}/track-{english_id}/")).await, 0);
    // Deleting the upload deletes its tracks (rows and files).
    let italian_id = italian["id"].as_str().unwrap();
    assert_eq!(count(&app, &format!("video/{upload_id}/track-{italian_id}/")).await, 1);
    assert_eq!(app.call(Method::DELETE, &format!("/uploads/{upload_id}"), None).await.status, StatusCode::OK);
    assert_eq!(count(&app, &format!("video/{upload_id}/")).await, 0);
    assert_eq!(app.raw_text_rows("SELECT id FROM upload_tracks").await.len(), 0);
}

#[tokio::test]
async fn bad_tracks_are_refused_and_change_nothing() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    let image = app.create_upload("cat.png", &crate::helpers::fixture("cat.png"), json!({})).await;

    for (file, bytes, attributes, field) in [
        ("a.vtt", VTT, json!({ "language_code": "not a language" }), "language_code"),
        ("a.vtt", VTT, json!({ "language_code": null }), "language_code"),
        ("a.vtt", VTT, json!({ "type": "audio" }), "type"),
        ("a.vtt", VTT, json!({ "type": "captions" }), "type"),
        ("a.vtt", VTT, json!({ "closed_captions": "yes" }), "closed_captions"),
        ("a.vtt", VTT, json!({ "name": " " }), "name"),
        ("a.vtt", VTT, json!({ "url_or_upload_request_id": "https://example.com/a.vtt" }), "url_or_upload_request_id"),
        ("a.vtt", VTT, json!({ "url_or_upload_request_id": "/1/no-such-request.vtt" }), "url_or_upload_request_id"),
        ("a.txt", "just some words\n", json!({}), "url_or_upload_request_id"),
        ("a.vtt", "WEBVTT\n\nno cues here\n", json!({}), "url_or_upload_request_id"),
    ] {
        let response = add_track(&app, &upload_id, file, bytes, attributes.clone()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{attributes} {}", text(&response));
        assert_eq!(response.json()["data"][0]["attributes"]["details"]["field"], field, "{attributes}");
    }
    let on_image = add_track(&app, image["id"].as_str().unwrap(), "a.vtt", VTT, json!({})).await;
    assert_eq!(on_image.status, StatusCode::UNPROCESSABLE_ENTITY, "tracks belong to videos");
    let on_nothing = add_track(&app, "no-such-upload", "a.vtt", VTT, json!({})).await;
    assert_eq!(on_nothing.status, StatusCode::NOT_FOUND);
    let extraneous = app
        .call(
            Method::POST,
            &format!("/uploads/{upload_id}/tracks"),
            Some(json!({ "data": { "type": "upload_track", "attributes": { "status": "ready" } } })),
        )
        .await;
    assert_eq!(extraneous.error_code(), "INVALID_ATTRIBUTES");
    // An upload request's file is taken by one track only.
    let path = app.put_file("once.vtt", VTT.as_bytes()).await;
    let uri = format!("/uploads/{upload_id}/tracks");
    assert_eq!(app.call(Method::POST, &uri, Some(track_body(&path, json!({})))).await.status, StatusCode::OK);
    let reused = app.call(Method::POST, &uri, Some(track_body(&path, json!({})))).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&reused));
    let list = app.call(Method::GET, &uri, None).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "only the good track exists");

    let generate = app
        .call(
            Method::POST,
            &format!("/uploads/{upload_id}/tracks/generate-subtitles"),
            Some(json!({ "data": { "type": "subtitles_generation", "attributes": { "name": "Auto", "language_code": "en" } } })),
        )
        .await;
    assert_eq!(generate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(generate.error_code(), "SUBTITLES_GENERATION_UNAVAILABLE");
    // Read-only tokens list, but do not add.
    let readonly = "reader-secret-0123456789";
    let reader = assetd::domain::new_entity_id();
    let hash = assetd::domain::token_secret_hash(readonly);
    app.app.db.create_token(&reader, "reader", assetd::domain::TokenRole::ReadOnly, &hash, 1).await.unwrap();
    let denied = app.call_as(readonly, Method::POST, &uri, Some(track_body(&path, json!({})))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call_as(readonly, Method::GET, &uri, None).await.status, StatusCode::OK);
}

async fn count(app: &TestApp, prefix: &str) -> usize {
    app.app.storage.count_prefix(prefix).await.unwrap()
}

#[tokio::test]
async fn the_sweep_keeps_tracks_and_removes_orphaned_track_files() {
    let app = spawn().await;
    let upload = video_upload(&app).await;
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    let track = add_track(&app, &upload_id, "it.vtt", VTT, json!({})).await.json();
    let track_id = track["data"]["id"].as_str().unwrap().to_owned();
    let orphan = StorageKey::video_track(&upload_id, "crashed-before-commit");
    app.app.storage.put_bytes(&orphan, Bytes::from_static(b"WEBVTT\n")).await.unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = sweep(&app.app.db, &app.app.storage, std::time::Duration::ZERO).await.unwrap();
    assert!(report.removed_blobs.contains(&orphan.as_str().to_owned()), "{report}");
    assert_eq!(count(&app, &StorageKey::video_track_prefix(&upload_id, &track_id)).await, 1, "the track's file stays");
}
