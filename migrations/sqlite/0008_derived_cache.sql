-- The derived-image cache is bounded (ASSETD_DERIVED_CACHE_MAX_BYTES): each stored derived image
-- keeps its size and last use here, and the least recently used are deleted past the limit. The
-- same table as PostgreSQL's (which also holds the render leases of several nodes: `state`,
-- `locked_until`, `renders`; a single node renders each image once in process, so here rows are
-- always `stored`). `stored_at` is when its blob was last written, `last_used_at` when it was
-- last served (batched, so up to a minute late), `checked_at` when the orphan sweep last saw its
-- blob (rows whose blob is gone are forgotten). Blobs from before this change get their rows from
-- the next sweep, which runs at start.
CREATE TABLE derived_images (
    key          TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    renders      INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL,
    size         INTEGER NOT NULL DEFAULT 0,
    stored_at    INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    checked_at   INTEGER NOT NULL DEFAULT 0
);

-- Eviction takes the least recently used stored images first.
CREATE INDEX derived_images_lru ON derived_images (last_used_at, key) WHERE state = 'stored';

-- The sum of `size` over derived_images, kept by the triggers below in the transaction of every
-- change, so that checking the limit after a store reads one row instead of summing the table.
CREATE TABLE derived_cache (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    bytes INTEGER NOT NULL
);
INSERT INTO derived_cache (id, bytes) VALUES (1, 0);

CREATE TRIGGER derived_images_counted_insert AFTER INSERT ON derived_images WHEN NEW.size <> 0
BEGIN
    UPDATE derived_cache SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER derived_images_counted_delete AFTER DELETE ON derived_images WHEN OLD.size <> 0
BEGIN
    UPDATE derived_cache SET bytes = bytes - OLD.size;
END;
CREATE TRIGGER derived_images_counted_resize AFTER UPDATE OF size ON derived_images WHEN NEW.size <> OLD.size
BEGIN
    UPDATE derived_cache SET bytes = bytes + NEW.size - OLD.size;
END;
