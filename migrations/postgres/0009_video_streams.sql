-- A video upload's stream (issue 16): the HLS ladder and MP4 renditions its transcode job makes.
-- `video_playback_id` is the stream's public id (the Mux-shaped URLs name it), given when the
-- upload or its new version is created and kept by a keep_url replacement; `video_status` is
-- `preparing` (a transcode job is queued or running), `ready` or `errored` (with `video_error`);
-- `video_generation` names the outputs being served (`video/<upload id>/<generation>/` in the blob
-- store) and `video_outputs` describes them (JSON: rungs, segments, MP4 renditions). A keep_url
-- replacement keeps serving the old generation until the new one is ready. All null for uploads
-- that are not videos.
ALTER TABLE uploads ADD COLUMN video_playback_id TEXT;
ALTER TABLE uploads ADD COLUMN video_status TEXT;
ALTER TABLE uploads ADD COLUMN video_generation TEXT;
ALTER TABLE uploads ADD COLUMN video_outputs TEXT;
ALTER TABLE uploads ADD COLUMN video_error TEXT;

-- Every stream URL finds its upload by playback id.
CREATE UNIQUE INDEX uploads_video_playback_id ON uploads (video_playback_id);
