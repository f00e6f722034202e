/**
 * The focal point picker: click or drag on the picture (or use the arrow keys on the marker)
 * to set `{x, y}` in 0..1; crops at several aspect ratios, rendered by assetd's transforms
 * (`fit=crop&crop=focalpoint`), follow the point.
 */

import type { FocalPoint, Upload } from './api.js';
import { h, setChildren } from './dom.js';
import { cropPreview, preview } from './thumbs.js';

const RATIOS: [string, [number, number]][] = [
  ['1:1', [1, 1]],
  ['16:9', [16, 9]],
  ['4:5', [4, 5]],
];

export class FocalPicker {
  readonly el = h('div', { class: 'focal' });
  private point: FocalPoint = { x: 0.5, y: 0.5 };
  private marker = h('button', { type: 'button', class: 'marker', 'aria-label': 'Focal point: use the arrow keys to move it' });
  private frame = h('div', { class: 'focal-frame' });
  private previews = h('div', { class: 'crops', 'aria-label': 'Crop previews' });
  private readout = h('output', { class: 'readout' });
  private timer = 0;

  constructor(
    private readonly upload: Upload,
    initial: FocalPoint | null,
    private readonly onChange: (point: FocalPoint) => void,
  ) {
    if (initial) this.point = { ...initial };
    const img = h('img', { src: preview(upload, 640), alt: '', draggable: 'false', width: upload.width ?? undefined, height: upload.height ?? undefined });
    this.frame.append(img, this.marker);
    setChildren(this.el, h('p', { class: 'hint' }, 'Click or drag on the image to set the focal point.'), this.frame, this.readout, this.previews);
    this.frame.addEventListener('pointerdown', (event) => {
      this.frame.setPointerCapture(event.pointerId);
      this.fromPointer(event);
      const move = (e: PointerEvent) => this.fromPointer(e);
      const up = () => {
        this.frame.removeEventListener('pointermove', move);
        this.frame.removeEventListener('pointerup', up);
        this.marker.focus();
      };
      this.frame.addEventListener('pointermove', move);
      this.frame.addEventListener('pointerup', up);
    });
    this.marker.addEventListener('keydown', (event) => {
      const step = event.shiftKey ? 0.1 : 0.02;
      const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      this.set({ x: this.point.x + move[0], y: this.point.y + move[1] });
    });
    this.place();
    this.renderPreviews();
  }

  get value(): FocalPoint {
    return { ...this.point };
  }

  private fromPointer(event: PointerEvent): void {
    const rect = this.frame.getBoundingClientRect();
    this.set({ x: (event.clientX - rect.left) / rect.width, y: (event.clientY - rect.top) / rect.height });
  }

  set(point: FocalPoint): void {
    const clamp = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
    this.point = { x: clamp(point.x), y: clamp(point.y) };
    this.place();
    this.onChange(this.value);
    // Previews are rendered on the server: wait until the pointer rests.
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.renderPreviews(), 200);
  }

  private place(): void {
    this.marker.style.left = `${this.point.x * 100}%`;
    this.marker.style.top = `${this.point.y * 100}%`;
    this.readout.textContent = `x ${this.point.x.toFixed(2)} · y ${this.point.y.toFixed(2)}`;
  }

  private renderPreviews(): void {
    setChildren(
      this.previews,
      RATIOS.map(([label, ratio]) => {
        const width = 120;
        const height = Math.round((width * ratio[1]) / ratio[0]);
        return h('figure', { class: 'crop' },
          h('img', { src: cropPreview(this.upload, ratio, this.point, width), alt: `Crop at ${label}`, width, height, 'data-ratio': label }),
          h('figcaption', {}, label));
      }),
    );
  }
}
