-- Listing at scale: the asset kind as a column, indexes for the common filters and orders, and a
-- full-text index. The full-text rows are (re)built by the application (see db/search.rs), keyed by
-- uploads.seq.

ALTER TABLE uploads ADD COLUMN media_type TEXT NOT NULL DEFAULT 'other';
UPDATE uploads SET media_type = CASE
    WHEN mime_type LIKE 'image/%' THEN 'image'
    WHEN mime_type LIKE 'video/%' THEN 'video'
    WHEN mime_type LIKE 'audio/%' THEN 'audio'
    WHEN mime_type = 'application/pdf' THEN 'pdfdocument'
    ELSE 'other' END;

CREATE INDEX uploads_media_type_size ON uploads (media_type, size);
-- Type filters walk uploads newest first within one kind, reading size from the index as well.
CREATE INDEX uploads_media_type_created_at ON uploads (media_type, created_at, size);
CREATE INDEX uploads_size ON uploads (size);
CREATE INDEX uploads_updated_at ON uploads (updated_at);
CREATE INDEX uploads_basename ON uploads (basename);
CREATE INDEX uploads_upload_collection ON uploads (upload_collection_id);

-- The colour buckets of each upload's dominant colours (black, blue, …, yellow), for the `colors` filter.
CREATE TABLE upload_color_buckets (
    upload_seq INTEGER NOT NULL REFERENCES uploads (seq) ON DELETE CASCADE,
    bucket     TEXT NOT NULL,
    PRIMARY KEY (upload_seq, bucket)
);
CREATE INDEX upload_color_buckets_bucket ON upload_color_buckets (bucket, upload_seq);

-- One row per upload (rowid = uploads.seq). For every environment locale L it holds the shared words
-- (basename, filename, notes, author, copyright, tags) and L's alt/title words, each prefixed `L_`
-- (`en_cat`): a search in locale L is then a plain AND of `L_` terms, one index lookup per word.
CREATE VIRTUAL TABLE uploads_fts USING fts5 (
    words,
    tokenize = "unicode61 remove_diacritics 2 tokenchars '_'"
);
