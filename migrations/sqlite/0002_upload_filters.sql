-- Saved Media-Area searches (spec §6.2). `filter` is the saved filter object, kept as JSON text.
CREATE TABLE upload_filters (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    filter     TEXT NOT NULL,
    shared     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
