//! The `upload` resource (spec §2.1–§2.3): every attribute, always present, null where unknown.

use serde_json::{json, Map, Value};

use super::number;
use crate::{
    config::{Config, MetadataShape},
    db::{MetadataRow, UploadRow},
    domain::{format_iso_millis, Locale},
    video::VideoOutputs,
};

/// What rendering needs from the configuration.
#[derive(Debug, Clone)]
pub struct ViewContext {
    /// Absolute base of asset URLs, without a trailing slash.
    pub asset_base: String,
    pub locales: Vec<Locale>,
    pub shape: MetadataShape,
}

impl ViewContext {
    pub fn from_config(config: &Config, public_url: &str) -> Self {
        ViewContext {
            asset_base: public_url.trim_end_matches('/').to_owned(),
            locales: config.locales.clone(),
            shape: config.metadata_shape,
        }
    }
}

pub fn upload_resource(row: &UploadRow, metadata: &[MetadataRow], ctx: &ViewContext) -> Value {
    let filename = match &row.extension {
        Some(ext) => format!("{}.{ext}", row.basename),
        None => row.basename.clone(),
    };
    let parse_json = |text: &str, fallback: Value| serde_json::from_str(text).unwrap_or(fallback);
    // The stream's outputs once one is served (a keep_url replacement serves the old ones while
    // the new ones are made): only then do the Mux attributes have values, as with Mux.
    let stream: Option<VideoOutputs> = row
        .video_generation
        .as_ref()
        .and(row.video_outputs.as_deref())
        .and_then(|outputs| serde_json::from_str(outputs).ok());
    let attributes = json!({
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "path": row.path,
        "basename": row.basename,
        "filename": filename,
        "url": format!("{}{}", ctx.asset_base, row.path),
        "format": row.format,
        "author": row.author,
        "copyright": row.copyright,
        "notes": row.notes,
        "md5": row.md5,
        "duration": row.duration.map(number),
        "frame_rate": row.frame_rate.map(number),
        "blurhash": row.blurhash,
        "thumbhash": row.thumbhash,
        "mux_playback_id": stream.as_ref().map(|_| row.video_playback_id.clone()),
        "mux_mp4_highest_res": stream.as_ref().and_then(VideoOutputs::highest_mp4).map(|r| r.name()),
        "default_field_metadata": default_field_metadata(row, metadata, ctx),
        "is_image": row.is_image,
        "created_at": format_iso_millis(row.created_at),
        "updated_at": format_iso_millis(row.updated_at),
        "mime_type": row.mime_type,
        "tags": row.tag_list(),
        "smart_tags": [],
        "exif_info": parse_json(&row.exif_info, json!({})),
        "colors": parse_json(&row.colors, json!([])),
    });
    let collection = match &row.upload_collection_id {
        Some(id) => json!({ "type": "upload_collection", "id": id }),
        None => Value::Null,
    };
    let mut meta = json!({ "antivirus": { "status": "skipped", "checked_at": null, "threat_name": null } });
    // assetd's own: where a video's stream stands (a failure stays visible here).
    if let Some(status) = &row.video_status {
        meta["video"] = json!({ "status": status, "error": row.video_error });
    }
    json!({
        "type": "upload",
        "id": row.id,
        "attributes": attributes,
        "relationships": {
            "upload_collection": { "data": collection },
            "creator": { "data": { "type": row.creator_type, "id": row.creator_id } },
        },
        "meta": meta,
    })
}

/// Every environment locale appears, in the configured shape.
fn default_field_metadata(row: &UploadRow, metadata: &[MetadataRow], ctx: &ViewContext) -> Value {
    let focal_point = match (row.focal_point_x, row.focal_point_y) {
        (Some(x), Some(y)) => json!({ "x": x, "y": y }),
        _ => Value::Null,
    };
    let poster_time = row.poster_time.map(number).unwrap_or(Value::Null);
    let cells = |locale: &Locale| {
        let stored = metadata.iter().find(|m| m.locale == locale.as_str());
        let alt = stored.and_then(|m| m.alt.clone());
        let title = stored.and_then(|m| m.title.clone());
        let custom_data = stored
            .and_then(|m| serde_json::from_str::<Value>(&m.custom_data).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        (alt, title, custom_data)
    };
    match ctx.shape {
        MetadataShape::LocaleKeyed => {
            let mut by_locale = Map::new();
            for locale in &ctx.locales {
                let (alt, title, custom_data) = cells(locale);
                by_locale.insert(
                    locale.to_string(),
                    json!({ "alt": alt, "title": title, "custom_data": custom_data,
                            "focal_point": focal_point, "poster_time": poster_time }),
                );
            }
            Value::Object(by_locale)
        }
        MetadataShape::FieldKeyed => {
            let (mut alts, mut titles, mut custom) = (Map::new(), Map::new(), Map::new());
            for locale in &ctx.locales {
                let (alt, title, custom_data) = cells(locale);
                alts.insert(locale.to_string(), json!(alt));
                titles.insert(locale.to_string(), json!(title));
                custom.insert(locale.to_string(), custom_data);
            }
            json!({ "alt": alts, "title": titles, "custom_data": custom,
                    "focal_point": focal_point, "poster_time": poster_time })
        }
    }
}
