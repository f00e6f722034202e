-- The derived-image cache is bounded (ASSETD_DERIVED_CACHE_MAX_BYTES): each stored derived image
-- keeps its size and last use here, and the least recently used are deleted past the limit.
-- `stored_at` is when its blob was last written, `last_used_at` when it was last served (batched
-- per node, so up to a minute late), `checked_at` when the orphan sweep last saw its blob (rows
-- whose blob is gone are forgotten). Rows from before this change get their sizes from the next
-- sweep, which runs at start.
ALTER TABLE derived_images
    ADD COLUMN size         BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN stored_at    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN checked_at   BIGINT NOT NULL DEFAULT 0;
UPDATE derived_images SET stored_at = updated_at, last_used_at = updated_at WHERE state = 'stored';

-- Eviction takes the least recently used stored images first.
CREATE INDEX derived_images_lru ON derived_images (last_used_at, key) WHERE state = 'stored';

-- The sum of `size` over derived_images, kept by the triggers below in the transaction of every
-- change, so that checking the limit after a store reads one row instead of summing the table.
CREATE TABLE derived_cache (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    bytes BIGINT NOT NULL
);
INSERT INTO derived_cache (id, bytes) SELECT 1, COALESCE(SUM(size), 0) FROM derived_images;

CREATE FUNCTION derived_cache_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE derived_cache SET bytes = bytes + NEW.size;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE derived_cache SET bytes = bytes - OLD.size;
    ELSE
        UPDATE derived_cache SET bytes = bytes + NEW.size - OLD.size;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER derived_images_counted_insert AFTER INSERT ON derived_images
    FOR EACH ROW WHEN (NEW.size <> 0) EXECUTE FUNCTION derived_cache_count();
CREATE TRIGGER derived_images_counted_delete AFTER DELETE ON derived_images
    FOR EACH ROW WHEN (OLD.size <> 0) EXECUTE FUNCTION derived_cache_count();
CREATE TRIGGER derived_images_counted_resize AFTER UPDATE OF size ON derived_images
    FOR EACH ROW WHEN (NEW.size <> OLD.size) EXECUTE FUNCTION derived_cache_count();
