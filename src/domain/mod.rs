//! Types shared by every layer, each checked once when it is built. No I/O, no framework types.

mod collection_tree;
mod color_bucket;
mod error;
mod filename;
mod hex;
mod ids;
mod locale;
mod media_type;
mod metadata;
mod timestamp;
mod token_role;
mod upload;

pub use collection_tree::{CollectionMove, CollectionNode, CollectionTree};
pub use color_bucket::{color_bucket, COLOR_BUCKETS};
pub use error::CmaError;
pub use filename::{Basename, SanitizedFilename, UploadPathParts};
pub use hex::{decode_hex, encode_hex};
pub use ids::{is_valid_entity_id, new_entity_id, new_opaque_id, new_secret, token_secret_hash};
pub use locale::Locale;
pub use media_type::{media_type, MEDIA_TYPES};
pub use metadata::{Change, FocalPoint, MetadataPatch, PosterTime};
pub use timestamp::{format_http_date, format_iso_millis, now_millis};
pub use token_role::TokenRole;
pub use upload::{normalize_tags, Creator, UploadPatch};
