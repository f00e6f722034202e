-- The upload lifecycle: tokens, upload requests, uploads with per-locale metadata, collections,
-- tags and the durable job queue. Times are milliseconds since the Unix epoch (BIGINT in Postgres).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- API tokens; only a SHA-256 of the secret is kept.
CREATE TABLE access_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL
);

CREATE TABLE upload_collections (
    id         TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    position   INTEGER NOT NULL,
    parent_id  TEXT REFERENCES upload_collections (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX upload_collections_parent ON upload_collections (parent_id, position);

-- One row per POST /upload-requests. `path` is the id handed to the client; the bytes live at
-- `blob_key`, which never derives from client input.
CREATE TABLE upload_requests (
    path         TEXT PRIMARY KEY,
    blob_key     TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    completed_at INTEGER,          -- set once the direct PUT stored every byte
    size         INTEGER,
    consumed_by  TEXT,             -- the upload that took this file
    created_at   INTEGER NOT NULL
);

-- `seq` is the rowid, made explicit so that it never changes (VACUUM may renumber implicit
-- rowids): the full-text index and the tag links key on it, and ordered scans get it for free.
CREATE TABLE uploads (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    path                 TEXT NOT NULL UNIQUE,
    blob_key             TEXT NOT NULL,
    basename             TEXT NOT NULL,
    extension            TEXT,          -- from the file name; `format` falls back to the sniffed one
    format               TEXT,
    size                 INTEGER NOT NULL,
    md5                  TEXT NOT NULL,
    mime_type            TEXT NOT NULL,
    is_image             INTEGER NOT NULL,
    width                INTEGER,
    height               INTEGER,
    duration             REAL,
    frame_rate           REAL,
    blurhash             TEXT,
    thumbhash            TEXT,
    exif_info            TEXT NOT NULL DEFAULT '{}',
    colors               TEXT NOT NULL DEFAULT '[]',
    author               TEXT,
    copyright            TEXT,
    notes                TEXT,
    tags                 TEXT NOT NULL DEFAULT '[]',   -- JSON array, ordered; mirrored in upload_tag_links
    focal_point_x        REAL,
    focal_point_y        REAL,
    poster_time          REAL,
    upload_collection_id TEXT REFERENCES upload_collections (id) ON DELETE SET NULL,
    creator_type         TEXT NOT NULL,
    creator_id           TEXT NOT NULL,
    url_replaced         INTEGER NOT NULL DEFAULT 0,   -- 1 once keep_url put other bytes at this URL
    file_updated_at      INTEGER NOT NULL,             -- when the bytes at `path` last changed
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX uploads_md5 ON uploads (md5);
CREATE INDEX uploads_created_at ON uploads (created_at);

-- alt / title / custom_data per locale: one row per (upload, locale) so that concurrent writes to
-- different locales or keys touch different cells.
CREATE TABLE upload_metadata (
    upload_id   TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    locale      TEXT NOT NULL,
    alt         TEXT,
    title       TEXT,
    custom_data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (upload_id, locale)
);

-- Former paths of renamed uploads: they redirect to the current URL.
CREATE TABLE upload_path_aliases (
    path      TEXT PRIMARY KEY,
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE
);
CREATE INDEX upload_path_aliases_upload ON upload_path_aliases (upload_id);

-- Tags created explicitly with POST /upload-tags; tags in use come from upload_tag_links.
CREATE TABLE upload_tags (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE upload_tag_links (
    upload_seq INTEGER NOT NULL REFERENCES uploads (seq) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (upload_seq, tag)
);
CREATE INDEX upload_tag_links_tag ON upload_tag_links (tag, upload_seq);

-- The durable job queue. A job answered with 202 is a row here before the answer leaves.
CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'queued',   -- queued | running | done
    attempts       INTEGER NOT NULL DEFAULT 0,
    run_after      INTEGER NOT NULL,
    locked_until   INTEGER,
    result_status  INTEGER,
    result_payload TEXT,
    created_at     INTEGER NOT NULL,
    finished_at    INTEGER
);
CREATE INDEX jobs_ready ON jobs (state, run_after);
