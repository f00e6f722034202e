/**
 * A video in the detail panel: its HLS stream once it is ready, played by hls.js (loaded on first
 * use) or natively where the browser has no Media Source Extensions, else the original file with
 * the state of the transcode; and the poster frame picker: a timeline that follows the player and
 * shows the storyboard's tile at its point, "Use current frame as poster" and "Reset to default
 * (middle)", saved at once as `default_field_metadata.poster_time`.
 */

import type Hls from 'hls.js';

import type { Api, Upload } from './api.js';
import { metadataOf } from './api.js';
import { announce, h, setChildren } from './dom.js';
import { transformUrl } from './thumbs.js';

/**
 * hls.js's ES module build, copied next to this file by `scripts/build-ui` (a variable, so that
 * tsc leaves the import alone; its types come from the pinned package).
 */
const HLS_MODULE = './hls.min.js';
let hlsModule: Promise<typeof import('hls.js')> | null = null;

/** How often the panel asks whether a stream being prepared is ready. */
const POLL_MS = 5000;

export interface VideoHooks {
  api: () => Api;
  /** The upload as saved (a new poster time) or as found again (its stream became ready). */
  onChange: (upload: Upload) => void;
  /** Why an action failed, for the status line. */
  message: (error: unknown) => string;
}

/** One tile of the storyboard: from `start` seconds, the `w`×`h` region at `x`,`y` of `image`. */
interface StoryboardCue {
  start: number;
  image: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export class VideoSection {
  readonly el = h('div', { class: 'video' });
  private hls: Hls | null = null;
  private poll = 0;
  private closed = false;
  private cues: StoryboardCue[] = [];
  /** Redraws the timeline's frame once the storyboard has come. */
  private onStoryboard: () => void = () => {};

  constructor(
    private upload: Upload,
    private readonly hooks: VideoHooks,
  ) {
    this.render();
  }

  /** Stops playback, loading and polling (the panel closes or shows another upload). */
  destroy(): void {
    this.closed = true;
    clearTimeout(this.poll);
    this.stopPlayer();
  }

  private stopPlayer(): void {
    this.hls?.destroy();
    this.hls = null;
    const video = this.el.querySelector('video');
    if (video) {
      video.pause();
      video.removeAttribute('src');
      video.load();
    }
  }

  private render(): void {
    const upload = this.upload;
    const playbackId = upload.mux_playback_id;
    const state = upload.meta?.video;
    const video = h('video', {
      id: 'video-player',
      controls: true,
      playsinline: true,
      preload: 'metadata',
      width: upload.width ?? undefined,
      height: upload.height ?? undefined,
      poster: posterUrl(upload, 640),
      'data-source': playbackId ? 'stream' : 'original',
      'aria-label': upload.filename,
    });
    const note = h('p', { class: 'video-state', role: 'status' });
    const show = (text: string, error = false) => {
      note.textContent = text;
      note.classList.toggle('error', error);
    };
    video.addEventListener('error', () => show(`This browser cannot play ${playbackId ? 'the stream' : 'the original file'}.`, true));

    if (playbackId) {
      if (state?.status === 'preparing') show('A new version is being prepared; this is the current stream.');
      if (state?.status === 'errored') show(`The new version's stream could not be made: ${state.error ?? 'unknown error'}.`, true);
      void this.playStream(video, `/video/${encodeURIComponent(playbackId)}.m3u8`, show);
      void this.loadStoryboard(playbackId);
    } else {
      // The original file plays meanwhile (and is what the poster frames are made from).
      video.src = upload.url;
      if (state?.status === 'preparing') {
        show('Preparing the stream (transcoding)… Meanwhile this is the original file.');
        this.poll = window.setTimeout(() => void this.checkStream(video), POLL_MS);
      } else if (state?.status === 'errored') {
        show(`The stream could not be made: ${state.error ?? 'unknown error'}. This is the original file.`, true);
      } else {
        show('This video has no stream (it was uploaded before streaming); this is the original file.');
      }
    }
    setChildren(this.el, video, note, this.posterPicker(video));
  }

  /** The stream through hls.js where Media Source Extensions exist, else the browser's own HLS. */
  private async playStream(video: HTMLVideoElement, src: string, show: (text: string, error?: boolean) => void): Promise<void> {
    try {
      if ('MediaSource' in window || 'ManagedMediaSource' in window) {
        hlsModule ??= import(HLS_MODULE) as Promise<typeof import('hls.js')>;
        const { default: HlsPlayer } = await hlsModule;
        if (this.closed) return;
        if (HlsPlayer.isSupported()) {
          // fMP4 segments are passed through, not transmuxed: no worker (and no blob: worker in the CSP).
          const hls = new HlsPlayer({ enableWorker: false, capLevelToPlayerSize: true });
          let recovered = false;
          hls.on(HlsPlayer.Events.ERROR, (_event, data) => {
            if (!data.fatal) return;
            if (data.type === HlsPlayer.ErrorTypes.MEDIA_ERROR && !recovered) {
              recovered = true;
              hls.recoverMediaError();
              return;
            }
            show(`Playback failed: ${data.details}`, true);
            hls.destroy();
            if (this.hls === hls) this.hls = null;
          });
          hls.loadSource(src);
          hls.attachMedia(video);
          video.dataset.player = 'hls.js';
          this.hls = hls;
          return;
        }
      }
      if (video.canPlayType('application/vnd.apple.mpegurl')) {
        video.dataset.player = 'native';
        video.src = src;
        return;
      }
      show('This browser cannot play HLS streams.', true);
    } catch (error) {
      hlsModule = null; // tried again at the next opening
      show(`The player could not be loaded: ${this.hooks.message(error)}`, true);
    }
  }

  /** While the stream is prepared: once it is ready (and the original is not playing), switch to it. */
  private async checkStream(video: HTMLVideoElement): Promise<void> {
    if (this.closed) return;
    try {
      const fresh = await this.hooks.api().getUpload(this.upload.id);
      if (this.closed) return;
      const changed = fresh.mux_playback_id || fresh.meta?.video?.status !== 'preparing';
      if (changed && video.paused) {
        this.upload = fresh;
        this.hooks.onChange(fresh);
        this.stopPlayer();
        this.render();
        return;
      }
    } catch {
      // Asked again at the next tick.
    }
    this.poll = window.setTimeout(() => void this.checkStream(video), POLL_MS);
  }

  private async loadStoryboard(playbackId: string): Promise<void> {
    try {
      const response = await fetch(`/video/${encodeURIComponent(playbackId)}/storyboard.vtt`);
      if (!response.ok) return;
      this.cues = parseStoryboard(await response.text());
      this.onStoryboard();
    } catch {
      // No storyboard: the timeline works without its pictures.
    }
  }

  private posterPicker(video: HTMLVideoElement): HTMLElement {
    const duration = () => this.upload.duration ?? (Number.isFinite(video.duration) ? video.duration : 0);
    const timeline = h('input', { type: 'range', id: 'poster-timeline', min: 0, max: duration() || 1, step: 0.01, value: 0, 'aria-describedby': 'poster-readout' });
    const readout = h('output', { id: 'poster-readout', class: 'readout', for: 'poster-timeline' });
    const mark = h('span', { class: 'poster-mark', 'aria-hidden': 'true', title: 'Poster frame' });
    const tile = h('div', { class: 'storyboard-tile', 'aria-hidden': 'true' });
    const tileCaption = h('figcaption', {}, 'Frame');
    const tileFigure = h('figure', { hidden: true }, tile, tileCaption);
    const poster = h('img', { class: 'poster', width: 160, alt: '' });
    const posterCaption = h('figcaption', {});
    const useFrame = h('button', { type: 'button', class: 'primary' }, 'Use current frame as poster');
    const reset = h('button', { type: 'button' }, 'Reset to default (middle)');
    const status = h('p', { class: 'form-status', role: 'status' });

    const showPoster = () => {
      const seconds = metadataOf(this.upload).poster_time;
      poster.src = posterUrl(this.upload, 320);
      poster.alt = seconds === null ? 'Poster frame: the middle (default)' : `Poster frame at ${clock(seconds)}`;
      posterCaption.textContent = seconds === null ? 'Poster: the middle (default)' : `Poster: ${clock(seconds)}`;
      video.poster = posterUrl(this.upload, 640);
      reset.disabled = seconds === null;
      const total = duration();
      mark.hidden = total <= 0;
      mark.classList.toggle('default', seconds === null);
      // Over the range's thumb at that time (the thumb's centre runs 8 px in from each end).
      if (total > 0) mark.style.left = `calc(8px + (100% - 16px) * ${Math.min(seconds ?? total / 2, total) / total})`;
    };
    const showFrame = (seconds: number) => {
      readout.textContent = `${clock(seconds)} / ${clock(duration())}`;
      const cue = this.cues.filter((c) => c.start <= seconds + 1e-3).pop() ?? this.cues[0];
      // Without a storyboard (no stream yet) only the poster is shown.
      tileFigure.hidden = !cue;
      if (!cue) return;
      // The tile scaled to the box's width; the sheet's size follows from the last tile's corner.
      const scale = (tile.clientWidth || 158) / cue.w;
      const sheetWidth = Math.max(...this.cues.map((c) => c.x + c.w));
      tile.style.backgroundImage = `url(${JSON.stringify(cue.image)})`;
      tile.style.backgroundSize = `${sheetWidth * scale}px auto`;
      tile.style.backgroundPosition = `${-cue.x * scale}px ${-cue.y * scale}px`;
      tile.style.height = `${Math.round(cue.h * scale)}px`;
      tileCaption.textContent = `Frame at ${clock(seconds)}`;
    };
    let scrubbing = false;
    timeline.addEventListener('pointerdown', () => (scrubbing = true));
    timeline.addEventListener('pointerup', () => (scrubbing = false));
    timeline.addEventListener('input', () => {
      const seconds = Number(timeline.value);
      video.currentTime = seconds;
      showFrame(seconds);
    });
    const follow = () => {
      if (!scrubbing) timeline.value = String(video.currentTime);
      showFrame(video.currentTime);
    };
    video.addEventListener('timeupdate', follow);
    video.addEventListener('seeked', follow);
    video.addEventListener('loadedmetadata', () => {
      timeline.max = String(duration() || 1);
      showPoster();
      follow();
    });
    this.onStoryboard = () => showFrame(Number(timeline.value));

    const save = async (seconds: number | null) => {
      useFrame.disabled = reset.disabled = true;
      status.textContent = 'Saving…';
      status.classList.remove('error');
      try {
        const saved = await this.hooks.api().updateUpload(this.upload.id, { default_field_metadata: { poster_time: seconds } });
        this.upload = saved;
        this.hooks.onChange(saved);
        const done = seconds === null ? 'Poster reset to the middle' : `Poster set to ${clock(seconds)}`;
        status.textContent = done;
        announce(done);
      } catch (error) {
        status.textContent = this.hooks.message(error);
        status.classList.add('error');
      } finally {
        useFrame.disabled = false;
        showPoster();
      }
    };
    useFrame.addEventListener('click', () => void save(Math.round(video.currentTime * 100) / 100));
    reset.addEventListener('click', () => void save(null));

    showPoster();
    showFrame(0);
    return h('div', { class: 'poster-picker' },
      h('h3', {}, 'Poster frame'),
      h('div', { class: 'timeline' },
        h('label', { for: 'poster-timeline', class: 'visually-hidden' }, 'Timeline'),
        timeline,
        mark),
      readout,
      h('div', { class: 'poster-frames' },
        tileFigure,
        h('figure', {}, poster, posterCaption)),
      h('div', { class: 'actions' }, useFrame, reset, status));
  }
}

/**
 * The poster frame's URL: the stream's thumbnail (Mux's image API) once there is a stream, else
 * the asset URL's poster frame. Both follow the poster time; the URL names it (and the file's
 * md5, for keep-URL replacements), so that a new poster time is a new URL.
 */
export function posterUrl(upload: Upload, width: number): string {
  const seconds = metadataOf(upload).poster_time;
  const version = upload.md5.slice(0, 8);
  if (upload.mux_playback_id) {
    const query = new URLSearchParams({ width: String(width) });
    if (seconds !== null) query.set('time', String(seconds));
    query.set('v', version);
    return `/video/${encodeURIComponent(upload.mux_playback_id)}/thumbnail.jpg?${query}`;
  }
  return transformUrl(upload.url, { w: width, fm: 'jpg', v: `${version}-${seconds ?? 'mid'}` });
}

/** The cues of `storyboard.vtt`: `start --> end` then `url#xywh=x,y,w,h`. */
export function parseStoryboard(vtt: string): StoryboardCue[] {
  const cues: StoryboardCue[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length - 1; i += 1) {
    const timing = /^\s*([\d:.]+)\s+-->/.exec(lines[i]);
    const target = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)\s*$/.exec(lines[i + 1].trim());
    if (!timing || !target) continue;
    const [, image, x, y, w, h] = target;
    cues.push({ start: seconds(timing[1]), image, x: Number(x), y: Number(y), w: Number(w), h: Number(h) });
  }
  return cues.sort((a, b) => a.start - b.start);
}

/** `hh:mm:ss.mmm` or `mm:ss.mmm` → seconds. */
function seconds(stamp: string): number {
  return stamp.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}

/** `m:ss.ss`. */
function clock(value: number): string {
  const hundredths = Math.round(Math.max(0, value) * 100);
  const minutes = Math.floor(hundredths / 6000);
  return `${minutes}:${((hundredths % 6000) / 100).toFixed(2).padStart(5, '0')}`;
}
