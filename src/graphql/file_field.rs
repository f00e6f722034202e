//! `FileField`: one upload as DatoCMS's CDA answers it, read from the upload's row and its
//! metadata rows (fetched with the listing: no query per file). Texts follow the locale scope of
//! the root field, or the field's own `locale`/`fallbackLocales`.

use async_graphql::{
    dynamic::{FieldFuture, FieldValue, ResolverContext},
    Value,
};
use serde_json::Value as Json;

use super::{
    context::{GraphqlData, LocaleScope},
    imgix, placeholder, responsive_image,
};
use crate::{
    db::{MetadataRow, UploadRow},
    domain::format_iso_millis,
};

/// The parent value of `FileField` (and of `UploadVideoField`).
pub(super) struct FileView {
    pub(super) row: UploadRow,
    pub(super) metadata: Vec<MetadataRow>,
    pub(super) scope: LocaleScope,
}

impl FileView {
    pub(super) fn url(&self, app: &crate::app::App) -> String {
        format!("{}{}", app.views.asset_base, self.row.path)
    }

    pub(super) fn filename(&self) -> String {
        match &self.row.extension {
            Some(ext) => format!("{}.{ext}", self.row.basename),
            None => self.row.basename.clone(),
        }
    }

    /// The first text `pick` finds in the scope's locales.
    pub(super) fn text(&self, scope: &LocaleScope, pick: impl Fn(&MetadataRow) -> Option<&String>) -> Option<String> {
        scope.in_order().find_map(|locale| {
            self.metadata
                .iter()
                .find(|m| m.locale == locale.as_str())
                .and_then(&pick)
                .filter(|t| !t.is_empty())
                .cloned()
        })
    }

    /// The stored focal point, on images.
    pub(super) fn focal_point(&self) -> Option<(f64, f64)> {
        self.row.focal_point_x.zip(self.row.focal_point_y).filter(|_| self.row.is_image)
    }

    /// The dominant colours as stored (`[{red, green, blue, alpha}]`).
    pub(super) fn colors(&self) -> Vec<Rgba> {
        serde_json::from_str::<Vec<Rgba>>(&self.row.colors).unwrap_or_default()
    }
}

/// One dominant colour (`ColorField`).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub(super) struct Rgba {
    pub(super) red: u8,
    pub(super) green: u8,
    pub(super) blue: u8,
    pub(super) alpha: u8,
}

impl Rgba {
    /// `#rrggbb`, and `aa` when not opaque (as DatoCMS writes it).
    pub(super) fn hex(&self) -> String {
        let mut hex = format!("#{:02x}{:02x}{:02x}", self.red, self.green, self.blue);
        if self.alpha != 255 {
            hex.push_str(&format!("{:02x}", self.alpha));
        }
        hex
    }
}

fn view<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a FileView> {
    ctx.parent_value.try_downcast_ref::<FileView>()
}

fn value(value: impl Into<Value>) -> async_graphql::Result<Option<FieldValue<'static>>> {
    Ok(Some(FieldValue::value(value)))
}

fn optional(text: Option<impl Into<Value>>) -> async_graphql::Result<Option<FieldValue<'static>>> {
    Ok(text.map(|t| FieldValue::value(t)))
}

/// The resolver of a `FileField` field.
pub(super) fn field(name: &str) -> Option<super::resolvers::Resolve> {
    let resolve: super::resolvers::Resolve = match name {
        "id" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.id.clone()) }),
        "_createdAt" => |ctx| FieldFuture::new(async move { value(format_iso_millis(view(&ctx)?.row.created_at)) }),
        "_updatedAt" => |ctx| FieldFuture::new(async move { value(format_iso_millis(view(&ctx)?.row.updated_at)) }),
        // There is no DatoCMS editor to link to.
        "_editingUrl" => |_| FieldFuture::new(async move { Ok(None::<FieldValue>) }),
        "alt" => |ctx| {
            FieldFuture::new(async move {
                let file = view(&ctx)?;
                let scope = LocaleScope::from_args(&ctx, &file.scope)?;
                optional(file.text(&scope, |m| m.alt.as_ref()))
            })
        },
        "title" => |ctx| {
            FieldFuture::new(async move {
                let file = view(&ctx)?;
                let scope = LocaleScope::from_args(&ctx, &file.scope)?;
                optional(file.text(&scope, |m| m.title.as_ref()))
            })
        },
        "customData" => |ctx| {
            FieldFuture::new(async move {
                let file = view(&ctx)?;
                let scope = LocaleScope::from_args(&ctx, &file.scope)?;
                let found = scope.in_order().find_map(|locale| {
                    let row = file.metadata.iter().find(|m| m.locale == locale.as_str())?;
                    serde_json::from_str::<Json>(&row.custom_data)
                        .ok()
                        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                });
                value(Value::from_json(found.unwrap_or_else(|| serde_json::json!({})))?)
            })
        },
        "exifInfo" => |ctx| {
            FieldFuture::new(async move {
                let exif =
                    serde_json::from_str::<Json>(&view(&ctx)?.row.exif_info).unwrap_or_else(|_| serde_json::json!({}));
                value(Value::from_json(exif)?)
            })
        },
        "author" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.author.clone()) }),
        "copyright" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.copyright.clone()) }),
        "notes" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.notes.clone()) }),
        "basename" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.basename.clone()) }),
        "filename" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.filename()) }),
        "format" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.format.clone().unwrap_or_default()) }),
        "mimeType" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.mime_type.clone()) }),
        "md5" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.md5.clone()) }),
        "size" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.size) }),
        "width" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.width) }),
        "height" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.height) }),
        "blurhash" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.blurhash.clone()) }),
        "thumbhash" => |ctx| FieldFuture::new(async move { optional(view(&ctx)?.row.thumbhash.clone()) }),
        "tags" => |ctx| FieldFuture::new(async move { value(view(&ctx)?.row.tag_list()) }),
        // assetd recognises nothing in images: no smart tags.
        "smartTags" => |_| FieldFuture::new(async move { value(Vec::<String>::new()) }),
        "colors" => |ctx| {
            FieldFuture::new(async move {
                let colors = view(&ctx)?.colors();
                Ok(Some(FieldValue::list(colors.into_iter().map(FieldValue::owned_any))))
            })
        },
        "focalPoint" => |ctx| FieldFuture::new(async move { Ok(view(&ctx)?.focal_point().map(FieldValue::owned_any)) }),
        "url" => |ctx| {
            FieldFuture::new(async move {
                let app = &ctx.data::<GraphqlData>()?.app;
                let file = view(&ctx)?;
                let query = imgix::query_of(ctx.args.get("imgixParams"))?;
                imgix::transform_params(&query)?;
                value(imgix::url_with(&file.url(app), &query))
            })
        },
        "blurUpThumb" => |ctx| FieldFuture::new(async move { placeholder::blur_up_thumb(&ctx, view(&ctx)?) }),
        "responsiveImage" => |ctx| FieldFuture::new(async move { responsive_image::resolve(&ctx, view(&ctx)?) }),
        "video" => |ctx| {
            FieldFuture::new(async move {
                let parent = ctx.parent_value;
                let file = parent.try_downcast_ref::<FileView>()?;
                let ready = file.row.video_generation.is_some() && file.row.video_playback_id.is_some();
                Ok(ready.then(|| FieldValue::borrowed_any(file)))
            })
        },
        _ => return None,
    };
    Some(resolve)
}

/// The resolver of a `ColorField` field.
pub(super) fn color_field(name: &str) -> Option<super::resolvers::Resolve> {
    fn color<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a Rgba> {
        ctx.parent_value.try_downcast_ref::<Rgba>()
    }
    let resolve: super::resolvers::Resolve = match name {
        "red" => |ctx| FieldFuture::new(async move { value(color(&ctx)?.red) }),
        "green" => |ctx| FieldFuture::new(async move { value(color(&ctx)?.green) }),
        "blue" => |ctx| FieldFuture::new(async move { value(color(&ctx)?.blue) }),
        "alpha" => |ctx| FieldFuture::new(async move { value(color(&ctx)?.alpha) }),
        "hex" => |ctx| FieldFuture::new(async move { value(color(&ctx)?.hex()) }),
        "cssRgb" => |ctx| {
            FieldFuture::new(async move {
                let c = color(&ctx)?;
                value(format!("rgba({}, {}, {}, {})", c.red, c.green, c.blue, f64::from(c.alpha) / 255.0))
            })
        },
        _ => return None,
    };
    Some(resolve)
}

/// The resolver of a `focalPoint` field.
pub(super) fn focal_point_field(name: &str) -> Option<super::resolvers::Resolve> {
    fn point<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a (f64, f64)> {
        ctx.parent_value.try_downcast_ref::<(f64, f64)>()
    }
    let resolve: super::resolvers::Resolve = match name {
        "x" => |ctx| FieldFuture::new(async move { value(point(&ctx)?.0) }),
        "y" => |ctx| FieldFuture::new(async move { value(point(&ctx)?.1) }),
        _ => return None,
    };
    Some(resolve)
}
