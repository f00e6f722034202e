//! The typed query of an upload listing: its conditions, order and page. Built by the API from
//! `GET /uploads` parameters; turned into SQL by `uploads_list.rs` (the statements) and
//! `upload_conditions.rs` (the WHERE clauses), which both read these types and not each other.

/// Longer side at or below which an image is an `icon`, `small` or `medium` (above: `large`).
pub const RESOLUTION_LIMITS: [(&str, i64); 3] = [("icon", 128), ("small", 1024), ("medium", 2048)];

/// A string-valued property of an upload.
#[derive(Debug, Clone, PartialEq)]
pub enum StringField {
    Id,
    MediaType,
    Md5,
    /// Compared case-insensitively.
    Path,
    Format,
    MimeType,
    Author,
    Copyright,
    Notes,
    Basename,
    Filename,
    /// Derived from width and height: icon, small, medium, large.
    Resolution,
    /// Derived from width and height: landscape, portrait, square.
    Orientation,
    /// Default alt text in this locale.
    Alt(String),
    /// Default title in this locale.
    Title(String),
    /// The id of the upload's collection (null at the root).
    Collection,
}

/// A `matches` pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub text: String,
    pub case_sensitive: bool,
    pub regexp: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StringOp {
    In(Vec<String>),
    /// Also matches uploads where the value is null, as the CDA does.
    NotIn(Vec<String>),
    Matches(Pattern),
    NotMatches(Pattern),
    /// Present and non-empty (true) or absent/empty (false).
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberField {
    Width,
    Height,
    Size,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TagOp {
    /// Has at least one of these tags (`contains` is AnyIn of one).
    AnyIn(Vec<String>),
    AllIn(Vec<String>),
    NotIn(Vec<String>),
    /// Exactly this set of tags.
    Eq(Vec<String>),
}

/// One condition; all conditions of a query must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadCondition {
    String {
        field: StringField,
        op: StringOp,
    },
    Number {
        field: NumberField,
        comparison: Comparison,
        value: i64,
    },
    /// `[start, end)` in milliseconds (dates compared at minute precision, as the CDA does).
    Between {
        field: NumberField,
        start: i64,
        end: i64,
        negate: bool,
    },
    Tags(TagOp),
    /// Colour buckets of the dominant colours, with the same operators as tags.
    Colors(TagOp),
    /// Full-text match: every word (already carrying its locale prefix, see
    /// [`super::locale_prefix`]) is in the upload's document, the last one as a prefix.
    Search(Vec<String>),
    /// Uploads whose `seq` is in this JSON array of `count` numbers (a search already evaluated;
    /// SQLite only).
    Matched {
        seqs_json: String,
        count: i64,
    },
    /// A condition known up front (filters on things assetd has none of, such as smart tags).
    Always(bool),
    /// At least one of the groups holds (each group: all of its conditions); GraphQL's `OR`.
    /// Never holds a full-text search.
    AnyOf(Vec<Vec<UploadCondition>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    CreatedAt,
    UpdatedAt,
    Basename,
    Filename,
    Format,
    Id,
    MimeType,
    Resolution,
    Size,
    /// Full-text relevance; only with a search condition.
    Rank,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadQuery {
    pub conditions: Vec<UploadCondition>,
    /// (field, descending); empty = newest first.
    pub order: Vec<(OrderField, bool)>,
    pub offset: i64,
    pub limit: i64,
}
