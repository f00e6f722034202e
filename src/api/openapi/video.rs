//! The stream URLs (`api/video_delivery.rs`): Mux-shaped paths under `/video/`, public.

use serde_json::{json, Value};

use super::{
    components::error_response,
    operation::{query, Access, Operation},
};

fn op(method: &'static str, path: &str, id: &str) -> Operation {
    Operation::new(Access::Public, method, path, id, "video")
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn errors(mut operation: Operation, extra: &[(u16, &str)]) -> Operation {
    let mut all = vec![
        (
            404,
            "`NOT_FOUND`: no stream has this playback id, or it holds no such file; `STREAM_NOT_READY`: the stream \
             is being prepared (`Retry-After`) or could not be made",
        ),
        (429, "`RATE_LIMIT_EXCEEDED`: this client address is over `ASSETD_PUBLIC_RATE_LIMIT` for the window"),
        (500, "`EXCEPTION`"),
    ];
    all.extend_from_slice(extra);
    for (status, codes) in all {
        operation = operation.response(status, error_response(codes));
    }
    operation
}

fn preflight(path: &str, id: &str, params: &[Value]) -> Operation {
    let mut operation = op("options", path, id).summary("CORS preflight of a stream URL");
    for param in params {
        operation = operation.param(param.clone());
    }
    operation.response(204, json!({ "description": "GET and HEAD allowed from any origin, with Range" }))
}

pub(super) fn operations() -> Vec<Operation> {
    let file = path_param("file", "`<playback_id>.m3u8`");
    let playback_id = path_param("playback_id", "the upload's `mux_playback_id`");
    let video_file = path_param(
        "file",
        "`low.mp4`, `medium.mp4`, `high.mp4`, `thumbnail.{jpg,png,webp}`, `animated.{gif,webp}`, \
         `storyboard.{jpg,png,webp}` or `storyboard.{vtt,json}`",
    );
    let generation = path_param("generation", "the generation of outputs the master playlist names");
    let rung = path_param("rung", "a rung of the ladder (`720p`)");
    let rung_file = path_param("file", "`index.m3u8`, the initialisation segment or a media segment");
    let bytes = json!({ "*/*": { "schema": {} } });
    let range = json!({ "name": "Range", "in": "header", "required": false, "description": "one byte range", "schema": { "type": "string" } });
    let master = op("get", "/video/{file}", "serve_video_master")
        .summary("A stream's master playlist (HLS), as stream.mux.com serves it")
        .param(file.clone())
        .response(200, json!({ "description": "the master playlist", "content": { "application/vnd.apple.mpegurl": { "schema": { "type": "string" } } } }))
        .response(304, json!({ "description": "not modified" }));
    let image_params = [
        query(
            "width",
            "thumbnails (animated previews: at most 640): width in pixels",
            json!({ "type": "integer", "minimum": 1, "maximum": 4096 }),
        ),
        query(
            "height",
            "thumbnails (animated previews: at most 640): height in pixels",
            json!({ "type": "integer", "minimum": 1, "maximum": 4096 }),
        ),
        query(
            "time",
            "thumbnails: seconds into the video (default: the poster time, else the middle)",
            json!({ "type": "number", "minimum": 0 }),
        ),
        query("fit_mode", "thumbnails", json!({ "enum": ["preserve", "stretch", "crop", "smartcrop", "pad"] })),
        query("start", "animated: seconds into the video (default 0)", json!({ "type": "number", "minimum": 0 })),
        query(
            "end",
            "animated: where the preview ends (default 5 s after start; 0.25–10 s long)",
            json!({ "type": "number", "minimum": 0 }),
        ),
        query(
            "fps",
            "animated: frames a second (default 15)",
            json!({ "type": "integer", "minimum": 1, "maximum": 30 }),
        ),
        query(
            "format",
            "storyboard.{vtt,json}: the image format the cues name (default jpg)",
            json!({ "enum": ["jpg", "png", "webp"] }),
        ),
    ];
    let mut file_op = op("get", "/video/{playback_id}/{file}", "serve_video_file")
        .summary(
            "An MP4 rendition (with byte ranges), a thumbnail, an animated preview or the storyboard, as \
             stream.mux.com and image.mux.com serve them",
        )
        .param(playback_id.clone())
        .param(video_file.clone())
        .param(range.clone());
    for param in image_params {
        file_op = file_op.param(param);
    }
    let file_op = file_op
        .response(200, json!({ "description": "the rendition or the image", "content": bytes }))
        .response(206, json!({ "description": "one byte range", "content": bytes }))
        .response(304, json!({ "description": "not modified" }));
    let rung_op = op("get", "/video/{playback_id}/{generation}/{rung}/{file}", "serve_video_rung_file")
        .summary("A rung's media playlist or segment (immutable)")
        .param(playback_id.clone())
        .param(generation.clone())
        .param(rung.clone())
        .param(rung_file.clone())
        .param(range)
        .response(200, json!({ "description": "the playlist or segment", "content": bytes }))
        .response(206, json!({ "description": "one byte range", "content": bytes }))
        .response(304, json!({ "description": "not modified" }));
    let track_file = path_param("file", "`<track id>.m3u8` (the subtitle playlist) or `<track id>.vtt`");
    let track_op = op("get", "/video/{playback_id}/tracks/{file}", "serve_video_track_file")
        .summary("A subtitle track's playlist or WebVTT file, as the master playlist's EXT-X-MEDIA names them")
        .param(playback_id.clone())
        .param(track_file.clone())
        .response(200, json!({ "description": "the playlist or the WebVTT", "content": bytes }))
        .response(304, json!({ "description": "not modified" }));
    vec![
        errors(master, &[]),
        errors(track_op, &[]),
        preflight("/video/{playback_id}/tracks/{file}", "video_track_file_preflight", &[playback_id.clone(), track_file]),
        errors(
            file_op,
            &[
                (400, "`INVALID_THUMBNAIL_PARAMS`, `INVALID_IMAGE_PARAMS`: a parameter assetd cannot use (`details.param`)"),
                (416, "`RANGE_NOT_SATISFIABLE`"),
                (422, "`INVALID_IMAGE`: no frame could be read; `IMAGE_TOO_LARGE`: the preview would be too large"),
                (503, "`SERVICE_UNAVAILABLE`, `TRANSFORM_TIMEOUT`; see `Retry-After`"),
            ],
        ),
        errors(rung_op, &[(416, "`RANGE_NOT_SATISFIABLE`")]),
        preflight("/video/{file}", "video_master_preflight", &[file]),
        preflight("/video/{playback_id}/{file}", "video_file_preflight", &[playback_id.clone(), video_file]),
        preflight(
            "/video/{playback_id}/{generation}/{rung}/{file}",
            "video_rung_file_preflight",
            &[playback_id, generation, rung, rung_file],
        ),
    ]
}
