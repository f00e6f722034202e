//! The routes without a token: probes, this document, asset delivery (with imgix-style
//! transforms) and the signed direct PUT of an upload's bytes.

use serde_json::{json, Value};

use super::{
    components::error_response,
    operation::{query, Access, Operation},
};
use crate::{app::App, imaging::params::MAX_DIMENSION};

fn op(method: &'static str, path: impl Into<String>, id: &str, tag: &str) -> Operation {
    Operation::new(Access::Public, method, path, id, tag)
}

/// An error in the CMA envelope, answered outside the CMA guard (no rate-limit headers).
fn error(operation: Operation, status: u16, codes: &str) -> Operation {
    let mut response = error_response(codes);
    if status == 429 {
        response["headers"] = json!({
            "X-RateLimit-Limit": { "required": true, "schema": { "type": "string", "pattern": "^[0-9]+$" } },
            "X-RateLimit-Remaining": { "required": true, "schema": { "type": "string", "pattern": "^0$" } },
            "X-RateLimit-Reset": { "$ref": "#/components/headers/RateLimitReset" },
            "Retry-After": { "$ref": "#/components/headers/RetryAfter" },
        });
    }
    operation.response(status, response)
}

/// The per-client-address budget of the unauthenticated endpoints.
const CLIENT_LIMIT: &str =
    "`RATE_LIMIT_EXCEEDED`: this client address is over `ASSETD_PUBLIC_RATE_LIMIT` for the window";

fn no_body(description: &str) -> Value {
    json!({ "description": description })
}

fn header(description: &str) -> Value {
    json!({ "description": description, "schema": { "type": "string" } })
}

pub(super) fn operations(app: &App) -> Vec<Operation> {
    vec![
        op("get", "/healthz", "healthz", "operations").summary("Liveness: the process answers").json_response(
            200,
            "alive",
            json!({
                "type": "object", "required": ["status"], "additionalProperties": false,
                "properties": { "status": { "const": "ok" } },
            }),
        ),
        readyz(),
        op("get", "/openapi.json", "serve_openapi", "operations").summary("This document").json_response(
            200,
            "OpenAPI 3.1",
            json!({
                "type": "object", "required": ["openapi", "info", "paths", "components"],
                "properties": { "openapi": { "const": "3.1.0" } },
            }),
        ),
        metrics(),
        serve_asset(app),
        put_file(),
        op("options", "/put/{project}/{file}", "preflight", "uploads")
            .summary("CORS preflight of the direct PUT")
            .param(path_param("project", "the project id"))
            .param(path_param("file", "the file part of the upload request's path"))
            .response(
                204,
                json!({
                    "description": "PUT allowed from any origin",
                    "headers": {
                        "Access-Control-Allow-Origin": header("`*`"),
                        "Access-Control-Allow-Methods": header("`PUT`"),
                    },
                }),
            ),
        ui_page("/ui", "ui_index"),
        ui_page("/ui/", "ui_index_slash"),
        ui_asset(),
    ]
}

fn metrics() -> Operation {
    let text = json!({
        "description": "Prometheus text format 0.0.4: request rates and latencies by route, the job queue, transform timings and cache hits, storage errors",
        "content": { "text/plain": { "schema": { "type": "string" } } },
    });
    let refused = op("get", "/metrics", "serve_metrics", "operations")
        .summary("Prometheus metrics")
        .description("Open unless `ASSETD_METRICS_TOKEN` is set; then it takes `Authorization: Bearer <that secret>`.")
        .response(200, text);
    error(
        refused,
        401,
        "`INVALID_AUTHORIZATION_HEADER`: `ASSETD_METRICS_TOKEN` is set and the bearer token is missing or wrong",
    )
}

/// The headers every `/ui` answer carries.
fn ui_headers() -> Value {
    json!({
        "Content-Security-Policy": header("`default-src 'self'`; images also from the asset origin, connections also to the upload PUT origin; no inline script"),
        "X-Content-Type-Options": header("`nosniff`"),
        "Referrer-Policy": header("`same-origin`"),
        "X-Frame-Options": header("`DENY`"),
        "ETag": header("a hash of the file"),
        "Cache-Control": header("`no-cache` for the page, a short `max-age` for its files"),
    })
}

/// `GET /ui` (and `/ui/`): the browser Media Area's page (README "Media Area (browser)").
fn ui_page(path: &'static str, id: &str) -> Operation {
    op("get", path, id, "operations")
        .summary("The browser Media Area (sign in with an API token)")
        .response(
            200,
            json!({
                "description": "the HTML page",
                "headers": ui_headers(),
                "content": { "text/html": { "schema": { "type": "string" } } },
            }),
        )
        .response(304, no_body("not modified (If-None-Match)"))
}

/// `GET /ui/{file}`: a script or the style sheet of the page.
fn ui_asset() -> Operation {
    let operation = op("get", "/ui/{file}", "ui_asset", "operations")
        .summary("A file of the browser Media Area (JavaScript module or style sheet)")
        .param(path_param("file", "a file name such as `app.js` or `style.css`"))
        .response(
            200,
            json!({
                "description": "the file",
                "headers": ui_headers(),
                "content": {
                    "text/javascript": { "schema": { "type": "string" } },
                    "text/css": { "schema": { "type": "string" } },
                },
            }),
        )
        .response(304, no_body("not modified (If-None-Match)"));
    error(operation, 404, "`NOT_FOUND`: no such file")
}

fn readyz() -> Operation {
    let word = json!({ "enum": ["ok", "unavailable"] });
    let body = json!({
        "type": "object", "required": ["status", "checks"], "additionalProperties": false,
        "properties": {
            "status": word,
            "checks": {
                "type": "object", "required": ["database", "storage"], "additionalProperties": false,
                "properties": { "database": word, "storage": word },
            },
        },
    });
    op("get", "/readyz", "readyz", "operations")
        .summary("Readiness: the database takes queries and the blob store answers")
        .json_response(200, "ready", body.clone())
        .json_response(503, "not ready: what failed", body)
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

/// The imgix rendering parameters assetd implements (README "Image delivery"), plus the signature
/// and preset parameters. Every other parameter is ignored. `tests.rs` checks each of these names
/// against the parser.
pub(super) fn transform_params() -> Vec<Value> {
    let dimension = |description: &str| json!({ "type": "number", "exclusiveMinimum": 0, "description": format!("{description}; clamped to {MAX_DIMENSION}") });
    let fraction = json!({ "type": "number", "minimum": 0, "maximum": 1 });
    vec![
        query("w", "width: pixels, or below 1 a fraction of the source", dimension("width")),
        query("h", "height: pixels, or below 1 a fraction of the source", dimension("height")),
        query("max-w", "largest width (not multiplied by dpr)", json!({ "type": "integer", "minimum": 1 })),
        query("max-h", "largest height (not multiplied by dpr)", json!({ "type": "integer", "minimum": 1 })),
        query("fit", "how the image fills w × h (facearea is crop)", json!({ "enum": FITS })),
        query("crop", "comma-separated crop anchors and modes", json!({ "type": "string", "examples": CROPS })),
        query("fp-x", "focal point x (clamped to 0–1)", fraction.clone()),
        query("fp-y", "focal point y (clamped to 0–1)", fraction),
        query("fp-z", "focal point zoom (clamped to 1–100)", json!({ "type": "number", "minimum": 1, "maximum": 100 })),
        query(
            "ar",
            "aspect ratio for cropping fits: `16:9` or `1.78`",
            json!({ "type": "string", "pattern": "^[0-9.]+(:[0-9.]+)?$" }),
        ),
        query("rect", "source region x,y,w,h (pixels or fractions), applied first", json!({ "type": "string" })),
        query(
            "dpr",
            "device pixel ratio, multiplies w and h (clamped to 5)",
            json!({ "type": "number", "exclusiveMinimum": 0 }),
        ),
        query("fm", "output format (`mp4`, `webm`: of animated GIFs and WebPs only)", json!({ "enum": FORMATS })),
        query(
            "auto",
            "`format` (AVIF/WebP by Accept), `compress`",
            json!({ "type": "string", "examples": ["format", "compress", "format,compress"] }),
        ),
        query("q", "quality 1–100 (default 75; clamped)", json!({ "type": "integer" })),
        query("blur", "Gaussian blur, sigma = blur/20 (clamped to 2000)", json!({ "type": "integer", "minimum": 0 })),
        query(
            "bg",
            "background: 3, 4, 6 or 8 hex digits (ARGB), or a CSS name",
            json!({
                "type": "string",
                "pattern": "^(#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|white|black|red|green|blue|gray|grey|transparent)$",
            }),
        ),
        query("lossless", "lossless WebP/AVIF", json!({ "enum": ["0", "1", "true", "false"] })),
        query(
            "orient",
            "EXIF orientation used instead of the file's own: 1–8, 0 (none), or 90/180/270 (= 6/3/8)",
            json!({ "enum": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "90", "180", "270"] }),
        ),
        query(
            "flip",
            "mirror: `h` left to right, `v` top to bottom, `hv` both",
            json!({ "enum": ["h", "v", "hv", "vh"] }),
        ),
        query("rot", "degrees counter-clockwise, within the frame (zoomed to cover it)", json!({ "type": "number" })),
        query("bri", "brightness −100–100: adds bri% of white (clamped)", json!({ "type": "integer" })),
        query(
            "con",
            "contrast −100–100: scales the distance from mid-grey by 1 + con/100",
            json!({ "type": "integer" }),
        ),
        query("exp", "exposure −100–100: multiplies by 2^(exp/50)", json!({ "type": "integer" })),
        query("gam", "gamma −100–100: raises to 1 / 2^(gam/100)", json!({ "type": "integer" })),
        query("sat", "saturation −100–100: scales LCh chroma by 1 + sat/100", json!({ "type": "integer" })),
        query("hue", "hue 0–359: turns the LCh hue by that many degrees", json!({ "type": "integer" })),
        query("invert", "inverts the colours", json!({ "enum": ["0", "1", "true", "false"] })),
        query("sharp", "sharpening 0–100: unsharp mask, slope sharp/10", json!({ "type": "number", "minimum": 0 })),
        query("chromasub", "JPEG chroma subsampling: 444 or 420 (default)", json!({ "enum": [444, 420] })),
        query(
            "usm",
            "unsharp mask −100–100: adds usm/100 of the detail above a Gaussian blur of sigma usmrad",
            json!({ "type": "integer" }),
        ),
        query("usmrad", "the unsharp mask's radius (sigma) 0.1–100, default 2.5", json!({ "type": "number" })),
        query("px", "pixelation 0–100: blocks of px × px pixels", json!({ "type": "integer", "minimum": 0 })),
        query("sepia", "sepia 0–100: towards the sepia tone matrix", json!({ "type": "integer", "minimum": 0 })),
        query(
            "monochrome",
            "luma from black to this colour (as bg; its alpha is the strength)",
            json!({ "type": "string" }),
        ),
        query(
            "duotone",
            "luma from the first colour (shadows) to the second (highlights): `c1,c2`",
            json!({ "type": "string" }),
        ),
        query(
            "duotone-alpha",
            "the duotone's strength 0–100 (default 100)",
            json!({ "type": "integer", "minimum": 0 }),
        ),
        query(
            "pad",
            "padding in pixels on every side: added around the image, or inside w/h when given; shows bg",
            json!({ "type": "integer", "minimum": 0 }),
        ),
        query("pad-top", "padding of the top side (over pad)", json!({ "type": "integer", "minimum": 0 })),
        query("pad-right", "padding of the right side (over pad)", json!({ "type": "integer", "minimum": 0 })),
        query("pad-bottom", "padding of the bottom side (over pad)", json!({ "type": "integer", "minimum": 0 })),
        query("pad-left", "padding of the left side (over pad)", json!({ "type": "integer", "minimum": 0 })),
        query(
            "mask",
            "`ellipse` (inscribed in the output) or `corners` (rounded); hidden parts transparent, or white without alpha",
            json!({ "enum": ["ellipse", "corners"] }),
        ),
        query(
            "corner-radius",
            "mask=corners: pixels, one for all corners or four (tl,tr,br,bl); default 20 % of the shorter side",
            json!({ "type": "string", "examples": ["24", "24,24,0,0"] }),
        ),
        query("mask-bg", "colour of what the mask hides, as bg", json!({ "type": "string" })),
        query(
            "frame",
            "animated GIF/WebP: the frames kept, from 1: `N` (a still), `A-B`, `A-` or `-B` (past the last: the last)",
            json!({ "type": "string", "pattern": "^([1-9][0-9]*)?(-([1-9][0-9]*)?)?$" }),
        ),
        query("reverse", "animated GIF/WebP: the frames in the opposite order", json!({ "type": "boolean" })),
        query(
            "loop",
            "animated GIF/WebP: times the animation repeats (0: for ever; default: the source's)",
            json!({ "type": "integer", "minimum": 0, "maximum": 65535 }),
        ),
        query(
            "fill",
            "canvas of fit=fill/fillmax: `solid` (default) or `blur` (the picture, enlarged and blurred)",
            json!({ "enum": ["solid", "blur"] }),
        ),
        query("fill-color", "canvas colour of fill=solid (before bg), as bg", json!({ "type": "string" })),
        query(
            "dl",
            "send as an attachment under this file name (empty: the upload's own); any file, rendered or not",
            json!({ "type": "string" }),
        ),
        query(
            "s",
            "HMAC signature (hex) of the path and parameters, for signed URLs",
            json!({ "type": "string", "pattern": "^[0-9a-f]*$" }),
        ),
        query("preset", "a named preset of parameters", json!({ "type": "string" })),
    ]
}

/// `fit` values the parser takes.
pub(super) const FITS: [&str; 9] = ["clip", "crop", "clamp", "fill", "fillmax", "max", "min", "scale", "facearea"];
/// `fm` values the parser takes.
pub(super) const FORMATS: [&str; 11] =
    ["jpg", "jpeg", "pjpg", "png", "png32", "png8", "webp", "avif", "gif", "mp4", "webm"];
/// `crop` values, alone or combined with commas.
pub(super) const CROPS: [&str; 8] = ["focalpoint", "top", "bottom", "left", "right", "entropy", "edges", "faces"];

fn serve_asset(app: &App) -> Operation {
    let mut operation = op("get", format!("/{}/{{file}}", app.config.project_id), "serve_asset", "delivery")
        .summary("An upload's bytes at its url, or a transform of them")
        .description(
            "The path is an upload's `path` (`/<project>/<seconds>-<name>`). Without rendering parameters: the exact \
             bytes (SVGs sanitised), with ETag, Last-Modified, single byte ranges and conditional requests. With \
             them: an image transform, or a video's poster frame.",
        )
        .param(path_param("file", "the part of the upload's path after the project id"));
    for parameter in transform_params() {
        operation = operation.param(parameter);
    }
    let bytes = json!({ "*/*": { "schema": {} } });
    operation = operation
        .param(json!({ "name": "Range", "in": "header", "required": false, "description": "one byte range", "schema": { "type": "string", "examples": ["bytes=0-99", "bytes=-10"] } }))
        .param(json!({ "name": "If-None-Match", "in": "header", "required": false, "schema": { "type": "string" } }))
        .response(200, json!({ "description": "the file or the derived image (its sniffed type)", "content": bytes }))
        .response(206, json!({ "description": "one byte range", "content": bytes }))
        .response(301, json!({
            "description": "an old path of a renamed upload",
            "headers": { "Location": { "required": true, "schema": { "type": "string" } } },
        }))
        .response(304, no_body("not modified"));
    for (status, codes) in [
        (
            400,
            "`INVALID_IMAGE_PARAMS`: a rendering parameter with a value assetd cannot use (`details.param`); \
             `UNSUPPORTED_PARAMS`: imgix parameters assetd does not render (`details.params`)",
        ),
        (
            403,
            "`INVALID_SIGNATURE`: a signed URL whose `s` does not match; `TRANSFORM_NOT_ALLOWED`: rendering parameters \
             on an unsigned URL when the server takes signed URLs and presets only",
        ),
        (404, "`NOT_FOUND`: no upload has this path"),
        (416, "`RANGE_NOT_SATISFIABLE`"),
        (429, CLIENT_LIMIT),
        (
            422,
            "`IMAGE_TOO_LARGE` (over `ASSETD_MAX_INPUT_PIXELS`), `INVALID_IMAGE` (does not decode), `INVALID_PARAMS`",
        ),
        (500, "`EXCEPTION`"),
        (503, "`SERVICE_UNAVAILABLE` (too many transforms waiting), `TRANSFORM_TIMEOUT`; see `Retry-After`"),
    ] {
        operation = error(operation, status, codes);
    }
    operation
}

fn put_file() -> Operation {
    let mut operation = op("put", "/put/{project}/{file}", "put_file", "uploads")
        .summary("The direct upload of a file, at the url POST /upload-requests answers")
        .description("No token: the URL's signature authorises exactly this path until `expires`. The body is streamed to storage; its Content-Type is ignored (types are sniffed).")
        .param(path_param("project", "the project id"))
        .param(path_param("file", "the file part of the upload request's path"))
        .param(json!({ "name": "expires", "in": "query", "required": true, "description": "unix seconds", "schema": { "type": "integer" } }))
        .param(json!({ "name": "sig", "in": "query", "required": true, "description": "the URL's signature", "schema": { "type": "string" } }))
        .raw_body(json!({ "required": false, "content": { "application/octet-stream": { "schema": {} } } }))
        .response(200, no_body("stored (an empty body)"));
    for (status, codes) in [
        (400, "`INVALID_BODY`: reading the body failed; `INVALID_REQUEST`: a path that does not decode"),
        (403, "`INVALID_SIGNATURE`: missing, tampered or expired signature, or no such upload request"),
        (404, "`INVALID_ENDPOINT`: files go straight to object storage (S3), not here"),
        (409, "`UPLOAD_REQUEST_ALREADY_USED`: the file already belongs to an upload"),
        (413, "`FILE_TOO_LARGE`: over `ASSETD_MAX_UPLOAD_SIZE` (nothing is stored)"),
        (422, "`INVALID_PARAMS`: a malformed query string"),
        (429, CLIENT_LIMIT),
        (500, "`EXCEPTION`"),
        (503, "`SERVICE_UNAVAILABLE`"),
    ] {
        operation = error(operation, status, codes);
    }
    operation
}
