// Generated subtitles (issue 16) with the official client: `client.uploadTracks.generateSubtitles`
// against a server whose ASSETD_SPEECH_TO_TEXT_COMMAND is a stand-in engine (real ones need models
// this machine cannot download): a script that reads the WAV file assetd gave it with ffprobe and
// writes a WebVTT cue saying what it heard. The client gets the track `preparing`, the job makes
// it `ready`, the master playlist lists it and its WebVTT holds the engine's cue; a failing engine
// leaves the track `errored` with the engine's last stderr line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { useServer, getBytes, makeClip, sleep } from '../harness.mjs';

const T = { timeout: 180000 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-stt-'));
const engine = path.join(tmp, 'engine.sh');
fs.writeFileSync(engine, [
  'set -eu',
  'in="$1"; lang="$2"; out="$3"',
  'if [ "$lang" = "sv" ]; then echo "loading model" >&2; echo "no model for $lang" >&2; exit 3; fi',
  'info=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,sample_rate,channels -of csv=p=0 "$in")',
  'printf "WEBVTT\\n\\n00:00:00.500 --> 00:00:02.000\\nheard %s as %s\\n" "$info" "$lang" > "$out/speech.vtt"',
  '',
].join('\n'));

const srv = useServer({
  env: {
    ASSETD_VIDEO_SEGMENT_SECONDS: '2',
    ASSETD_VIDEO_PRESET: 'ultrafast',
    ASSETD_SPEECH_TO_TEXT_COMMAND: `sh ${engine} {input} {language} {output_dir}`,
  },
});

const clipIn = (name, seconds) => makeClip(path.join(tmp, name), { size: '426x240', seconds });

async function waitFor(what, probe, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

test('generateSubtitles makes a ready track from the video audio, listed in the stream', T, async () => {
  const { client, baseUrl } = srv;
  const created = await client.uploads.createFromLocalFile({ localPath: clipIn('talk.mp4', 4) });
  const upload = await waitFor('the stream', async () => {
    const u = await client.uploads.find(created.id);
    return u.mux_playback_id ? u : null;
  });

  const track = await client.uploadTracks.generateSubtitles(upload.id, { name: 'Italiano (auto)', language_code: 'it' });
  assert.equal(track.type, 'subtitles'); // the client flattens the attribute `type` over the resource's
  assert.equal(track.status, 'preparing');
  assert.equal(track.name, 'Italiano (auto)');
  assert.equal(track.language_code, 'it');

  const ready = await waitFor('the track', async () => {
    const [t] = await client.uploadTracks.list(upload.id);
    assert.notEqual(t.status, 'errored', t.error);
    return t.status === 'ready' ? t : null;
  });
  assert.equal(ready.id, track.id);
  const master = (await getBytes(`${baseUrl}/video/${upload.mux_playback_id}.m3u8`)).buf.toString();
  const media = master.split('\n').find((line) => line.includes('TYPE=SUBTITLES'));
  assert.ok(media, master);
  assert.ok(media.includes('NAME="Italiano (auto)"'), media);
  assert.ok(media.includes(`URI="${upload.mux_playback_id}/tracks/${track.id}.m3u8"`), media);
  const vtt = (await getBytes(`${baseUrl}/video/${upload.mux_playback_id}/tracks/${track.id}.vtt`)).buf.toString();
  // What the engine read from its input: assetd's 16 kHz mono PCM of the clip.
  assert.match(vtt, /heard pcm_s16le,16000,1 as it/);

  await client.uploadTracks.destroy(upload.id, track.id);
  assert.deepEqual(await client.uploadTracks.list(upload.id), []);
});

test('a failing engine leaves the track errored with its reason', T, async () => {
  const { client } = srv;
  const created = await client.uploads.createFromLocalFile({ localPath: clipIn('short.mp4', 2) });
  const track = await client.uploadTracks.generateSubtitles(created.id, { name: 'Unknown', language_code: 'sv' });
  const ended = await waitFor('the track to end', async () => {
    const [t] = await client.uploadTracks.list(created.id);
    return t.status === 'preparing' ? null : t;
  });
  assert.equal(ended.id, track.id);
  assert.equal(ended.status, 'errored');
  assert.match(ended.error, /no model for sv/);
});
