-- When the first POST /uploads (or new version) naming the request took its file: from then on
-- no PUT changes which file the request holds (`blob_key`), so what the job inspects is what the
-- upload stores. NULL while PUTs may still replace the file.
ALTER TABLE upload_requests ADD COLUMN taken_at BIGINT;
