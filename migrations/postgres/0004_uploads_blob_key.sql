-- The orphaned-blob sweep asks, for each stored blob, whether an upload still points at it.
CREATE INDEX uploads_blob_key ON uploads (blob_key);
