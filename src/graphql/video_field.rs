//! `UploadVideoField`: a video's stream as DatoCMS answers Mux's (`video { muxPlaybackId
//! streamingUrl mp4Url thumbnailUrl … }`), at assetd's own stream URLs: under
//! `ASSETD_PUBLIC_URL/video/…`, or on `stream.`/`image.` of `ASSETD_VIDEO_DOMAIN` when it is set
//! (the hosts Mux Player's `customDomain` builds). Present once the stream is ready.

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};

use super::{
    context::{GraphqlData, LocaleScope},
    file_field::FileView,
    placeholder,
};
use crate::{app::App, video::VideoOutputs};

fn view<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a FileView> {
    ctx.parent_value.try_downcast_ref::<FileView>()
}

fn some(value: impl Into<async_graphql::Value>) -> async_graphql::Result<Option<FieldValue<'static>>> {
    Ok(Some(FieldValue::value(value)))
}

fn playback_id(file: &FileView) -> String {
    file.row.video_playback_id.clone().unwrap_or_default()
}

/// Where stream URLs (`stream`) or image URLs (`image`) of playback id `id` start.
fn origin(app: &App, host: &str) -> String {
    match &app.config.video_domain {
        Some(domain) => format!("https://{host}.{domain}"),
        None => format!("{}/video", app.views.asset_base),
    }
}

fn outputs(file: &FileView) -> Option<VideoOutputs> {
    serde_json::from_str(file.row.video_outputs.as_deref()?).ok()
}

/// The resolver of an `UploadVideoField` field.
pub(super) fn field(name: &str) -> Option<super::resolvers::Resolve> {
    let resolve: super::resolvers::Resolve = match name {
        "muxPlaybackId" => |ctx| FieldFuture::new(async move { some(playback_id(view(&ctx)?)) }),
        // assetd's stream has no Mux asset: its id is the upload's.
        "muxAssetId" => |ctx| FieldFuture::new(async move { some(view(&ctx)?.row.id.clone()) }),
        "streamingUrl" => |ctx| {
            FieldFuture::new(async move {
                let app = &ctx.data::<GraphqlData>()?.app;
                some(format!("{}/{}.m3u8", origin(app, "stream"), playback_id(view(&ctx)?)))
            })
        },
        "mp4Url" => |ctx| {
            FieldFuture::new(async move {
                let app = &ctx.data::<GraphqlData>()?.app;
                let file = view(&ctx)?;
                let made: Vec<&'static str> =
                    outputs(file).map(|o| o.mp4.iter().map(|m| m.rendition.name()).collect()).unwrap_or_default();
                const ORDER: [&str; 3] = ["low", "medium", "high"];
                let rank = |name: &str| ORDER.iter().position(|n| *n == name);
                let chosen = match (ctx.args.get("exactRes"), ctx.args.get("res")) {
                    (Some(exact), _) => {
                        let exact = exact.enum_name()?;
                        made.iter().copied().find(|m| *m == exact)
                    }
                    (None, Some(res)) => {
                        let most = rank(res.enum_name()?);
                        made.iter().copied().filter(|m| rank(m) <= most).max_by_key(|m| rank(m))
                    }
                    (None, None) => made.iter().copied().max_by_key(|m| rank(m)),
                };
                let origin = origin(app, "stream");
                Ok(chosen.map(|res| FieldValue::value(format!("{origin}/{}/{res}.mp4", playback_id(file)))))
            })
        },
        "thumbnailUrl" => |ctx| {
            FieldFuture::new(async move {
                let app = &ctx.data::<GraphqlData>()?.app;
                let file = view(&ctx)?;
                let format = ctx.args.get("format").map(|f| f.enum_name().map(str::to_owned)).transpose()?;
                let format = format.unwrap_or_else(|| "jpg".into());
                for unsupported in ["rotate", "flipV", "flipH"] {
                    if ctx.args.get(unsupported).is_some() {
                        return Err(async_graphql::Error::new(format!(
                            "thumbnailUrl: {unsupported} is not supported by assetd's thumbnails"
                        )));
                    }
                }
                let mut query = Vec::new();
                if let Some(time) = ctx.args.get("time") {
                    query.push(format!("time={}", time.f64()?));
                }
                for (arg, param) in [("width", "width"), ("height", "height")] {
                    if let Some(value) = ctx.args.get(arg) {
                        query.push(format!("{param}={}", value.i64()?));
                    }
                }
                if let Some(fit) = ctx.args.get("fitMode") {
                    query.push(format!("fit_mode={}", fit.enum_name()?));
                }
                // A gif is Mux's animated preview; the others are stills.
                let path = match format.as_str() {
                    "gif" => format!("{}/animated.gif", playback_id(file)),
                    other => format!("{}/thumbnail.{other}", playback_id(file)),
                };
                let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
                some(format!("{}/{path}{query}", origin(app, "image")))
            })
        },
        "duration" => |ctx| {
            FieldFuture::new(async move { Ok(view(&ctx)?.row.duration.map(|d| FieldValue::value(d.round() as i64))) })
        },
        "framerate" => |ctx| {
            FieldFuture::new(async move { Ok(view(&ctx)?.row.frame_rate.map(|f| FieldValue::value(f.round() as i64))) })
        },
        "width" => |ctx| FieldFuture::new(async move { some(view(&ctx)?.row.width.unwrap_or(0)) }),
        "height" => |ctx| FieldFuture::new(async move { some(view(&ctx)?.row.height.unwrap_or(0)) }),
        "posterTime" => |ctx| FieldFuture::new(async move { Ok(view(&ctx)?.row.poster_time.map(FieldValue::value)) }),
        "blurhash" => {
            |ctx| FieldFuture::new(async move { Ok(view(&ctx)?.row.blurhash.clone().map(FieldValue::value)) })
        }
        "thumbhash" => {
            |ctx| FieldFuture::new(async move { Ok(view(&ctx)?.row.thumbhash.clone().map(FieldValue::value)) })
        }
        "blurUpThumb" => |ctx| FieldFuture::new(async move { placeholder::blur_up_thumb(&ctx, view(&ctx)?) }),
        "alt" => |ctx| {
            FieldFuture::new(async move {
                let file = view(&ctx)?;
                let scope = LocaleScope::from_args(&ctx, &file.scope)?;
                Ok(file.text(&scope, |m| m.alt.as_ref()).map(FieldValue::value))
            })
        },
        "title" => |ctx| {
            FieldFuture::new(async move {
                let file = view(&ctx)?;
                let scope = LocaleScope::from_args(&ctx, &file.scope)?;
                Ok(file.text(&scope, |m| m.title.as_ref()).map(FieldValue::value))
            })
        },
        _ => return None,
    };
    Some(resolve)
}
