//! `responsiveImage`, as DatoCMS computes it for react-datocms's `<Image>`: `src` is the asset URL
//! with the imgix parameters (sorted, strictly encoded), `srcSet` the same at `dpr` 0.25 … 4 (no
//! `dpr` at 1×) while the image gets no wider than the original, `webpSrcSet` the same with
//! `fm=webp`, and `width`/`height` what the transform really produces: every size comes from the
//! image pipeline's own geometry ([`crate::imaging::geometry::plan`]), so each srcset entry
//! claims the width its URL renders. With a stored focal point, crops centre on it
//! (`crop=focalpoint&fp-x&fp-y` added, as DatoCMS does).

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};

use super::{
    context::{GraphqlData, LocaleScope, OutputLimits},
    file_field::FileView,
    imgix::{self, ImgixQuery},
    placeholder,
};
use crate::imaging::{geometry, TransformParams};

/// The `dpr` of each srcset entry (DatoCMS's and react-datocms's candidates).
const MULTIPLIERS: [(f64, &str); 8] =
    [(0.25, "0.25"), (0.5, "0.5"), (0.75, "0.75"), (1.0, ""), (1.5, "1.5"), (2.0, "2"), (3.0, "3"), (4.0, "4")];

/// A computed `ResponsiveImage`.
pub(super) struct ResponsiveImage {
    src: String,
    src_set: String,
    webp_src_set: String,
    sizes: String,
    width: u32,
    height: u32,
    aspect_ratio: f64,
    alt: Option<String>,
    title: Option<String>,
    base64: Option<String>,
    bg_color: Option<String>,
}

/// `FileField.responsiveImage(imgixParams, sizes, locale, fallbackLocales)`: null unless the file
/// is an image of known size.
pub(super) fn resolve(
    ctx: &ResolverContext<'_>,
    file: &FileView,
) -> async_graphql::Result<Option<FieldValue<'static>>> {
    let (Some(source_w), true) = (file.row.width.and_then(|w| u32::try_from(w).ok()), file.row.is_image) else {
        return Ok(None);
    };
    let data = ctx.data::<GraphqlData>()?;
    let (app, limits) = (&data.app, &data.limits);
    let scope = LocaleScope::from_args(ctx, &file.scope)?;
    let mut query = imgix::query_of(ctx.args.get("imgixParams"))?;
    add_focal_point(&mut query, file);
    let params = imgix::transform_params(&query)?.unwrap_or_default();
    let Some((width, height)) = output_size(file, &params, limits) else { return Ok(None) };
    let base = file.url(app);
    let set = |fm: Option<&str>| -> async_graphql::Result<String> {
        let mut entries: Vec<String> = Vec::new();
        let mut last = 0;
        for (multiplier, dpr) in MULTIPLIERS {
            let mut entry = query.clone();
            if !dpr.is_empty() {
                entry.insert("dpr".into(), dpr.into());
            }
            if let Some(fm) = fm {
                entry.insert("fm".into(), fm.into());
            }
            let params = imgix::transform_params(&entry)?.unwrap_or_default();
            let Some((w, _)) = output_size(file, &params, limits) else { continue };
            // Wider than the original adds no detail; sizes the limits made equal are one entry.
            if (multiplier > 1.0 && w > source_w) || w <= last {
                continue;
            }
            last = w;
            entries.push(format!("{} {w}w", imgix::url_with(&base, &entry)));
        }
        Ok(entries.join(","))
    };
    let sizes = match ctx.args.get("sizes") {
        Some(sizes) => sizes.string()?.to_owned(),
        None => format!("(max-width: {width}px) 100vw, {width}px"),
    };
    let image = ResponsiveImage {
        src: imgix::url_with(&base, &query),
        src_set: set(None)?,
        webp_src_set: set(Some("webp"))?,
        sizes,
        width,
        height,
        aspect_ratio: f64::from(width) / f64::from(height.max(1)),
        alt: file.text(&scope, |m| m.alt.as_ref()),
        title: file.text(&scope, |m| m.title.as_ref()),
        base64: placeholder::data_uri(file, (width, height), 24, 1.0, 70),
        bg_color: file.colors().first().map(|c| c.hex()),
    };
    Ok(Some(FieldValue::owned_any(image)))
}

/// DatoCMS's rule: a crop to a given box or aspect ratio, with no crop mode or point of its own,
/// centres on the stored focal point.
fn add_focal_point(query: &mut ImgixQuery, file: &FileView) {
    let Some((x, y)) = file.focal_point() else { return };
    let crops = query.get("fit").map(String::as_str) == Some("crop");
    let boxed = (query.contains_key("w") && query.contains_key("h")) || query.contains_key("ar");
    let crop_free = query.get("crop").is_none_or(|c| c == "focalpoint");
    if crops && boxed && crop_free && !query.contains_key("fp-x") && !query.contains_key("fp-y") {
        query.insert("crop".into(), "focalpoint".into());
        query.insert("fp-x".into(), trim_float(x));
        query.insert("fp-y".into(), trim_float(y));
    }
}

/// A number as JavaScript prints it (`0.5`, `2`).
fn trim_float(value: f64) -> String {
    let text = format!("{value}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// The size of the image `params` make of `file` (the pipeline's own arithmetic and limits).
pub(super) fn output_size(file: &FileView, params: &TransformParams, limits: &OutputLimits) -> Option<(u32, u32)> {
    let side = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0);
    let (mut width, mut height) = (side(file.row.width)?, side(file.row.height)?);
    // The stored size is the file shown with its own EXIF orientation; `orient` replaces that.
    if let Some(orient) = params.orient {
        let exif: Option<serde_json::Value> = serde_json::from_str(&file.row.exif_info).ok();
        let own = exif.and_then(|e| e["orientation"].as_u64()).unwrap_or(1);
        if (own >= 5) != (orient >= 5) {
            (width, height) = (height, width);
        }
    }
    let focal = file.focal_point().unwrap_or((0.5, 0.5));
    let plan = geometry::plan(width, height, params, focal, limits.max_output_pixels, limits.max_upscale).ok()?;
    Some(plan.output_size())
}

/// The resolver of a `ResponsiveImage` field.
pub(super) fn field(name: &str) -> Option<super::resolvers::Resolve> {
    fn image<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a ResponsiveImage> {
        ctx.parent_value.try_downcast_ref::<ResponsiveImage>()
    }
    fn some(value: impl Into<async_graphql::Value>) -> async_graphql::Result<Option<FieldValue<'static>>> {
        Ok(Some(FieldValue::value(value)))
    }
    fn maybe(value: Option<String>) -> async_graphql::Result<Option<FieldValue<'static>>> {
        Ok(value.map(FieldValue::value))
    }
    let resolve: super::resolvers::Resolve = match name {
        "src" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.src.clone()) }),
        "srcSet" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.src_set.clone()) }),
        "webpSrcSet" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.webp_src_set.clone()) }),
        "sizes" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.sizes.clone()) }),
        "width" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.width) }),
        "height" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.height) }),
        "aspectRatio" => |ctx| FieldFuture::new(async move { some(image(&ctx)?.aspect_ratio) }),
        "alt" => |ctx| FieldFuture::new(async move { maybe(image(&ctx)?.alt.clone()) }),
        "title" => |ctx| FieldFuture::new(async move { maybe(image(&ctx)?.title.clone()) }),
        "base64" => |ctx| FieldFuture::new(async move { maybe(image(&ctx)?.base64.clone()) }),
        "bgColor" => |ctx| FieldFuture::new(async move { maybe(image(&ctx)?.bg_color.clone()) }),
        _ => return None,
    };
    Some(resolve)
}
