-- A video upload's text tracks (issue 16; DatoCMS's `upload_track`): subtitles and captions, stored
-- as WebVTT (SRT is converted) at `blob_key` (`video/<upload id>/track-<id>/subtitles.vtt`) and
-- listed in the stream's master playlist. `kind` is `subtitles`; `status` `preparing`, `ready`
-- or `errored` (with `error`). Deleted with their upload.
CREATE TABLE upload_tracks (
    id              TEXT PRIMARY KEY,
    upload_id       TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    language_code   TEXT NOT NULL,
    closed_captions BOOLEAN,
    status          TEXT NOT NULL,
    error           TEXT,
    blob_key        TEXT,
    created_at      BIGINT NOT NULL
);

CREATE INDEX upload_tracks_upload ON upload_tracks (upload_id, created_at);
