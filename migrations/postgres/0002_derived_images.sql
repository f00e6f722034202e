-- Derived images being rendered or stored, so that several nodes render each one once: a node
-- claims the key (a lease until `locked_until`), renders, stores the blob, then marks it stored;
-- the others wait for the blob. `renders` counts the renders actually started (1 unless a lease
-- expired mid-render or the blob was purged and asked for again).
CREATE TABLE derived_images (
    key          TEXT COLLATE "C" PRIMARY KEY,
    state        TEXT NOT NULL,          -- rendering | stored
    locked_until BIGINT NOT NULL,
    renders      BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);
