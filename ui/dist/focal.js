/**
 * The focal point picker: click or drag on the picture (or use the arrow keys on the marker)
 * to set `{x, y}` in 0..1; crops at several aspect ratios, rendered by assetd's transforms
 * (`fit=crop&crop=focalpoint`), follow the point.
 */
import { h, setChildren } from './dom.js';
import { cropPreview, preview } from './thumbs.js';
const RATIOS = [
    ['1:1', [1, 1]],
    ['16:9', [16, 9]],
    ['4:5', [4, 5]],
];
export class FocalPicker {
    upload;
    onChange;
    el = h('div', { class: 'focal' });
    point = { x: 0.5, y: 0.5 };
    marker = h('button', { type: 'button', class: 'marker', 'aria-label': 'Focal point: use the arrow keys to move it' });
    frame = h('div', { class: 'focal-frame' });
    previews = h('div', { class: 'crops', 'aria-label': 'Crop previews' });
    readout = h('output', { class: 'readout' });
    timer = 0;
    constructor(upload, initial, onChange) {
        this.upload = upload;
        this.onChange = onChange;
        if (initial)
            this.point = { ...initial };
        const img = h('img', { src: preview(upload, 640), alt: '', draggable: 'false', width: upload.width ?? undefined, height: upload.height ?? undefined });
        this.frame.append(img, this.marker);
        setChildren(this.el, h('p', { class: 'hint' }, 'Click or drag on the image to set the focal point.'), this.frame, this.readout, this.previews);
        this.frame.addEventListener('pointerdown', (event) => {
            this.frame.setPointerCapture(event.pointerId);
            this.fromPointer(event);
            const move = (e) => this.fromPointer(e);
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
            const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
            const move = moves[event.key];
            if (!move)
                return;
            event.preventDefault();
            this.set({ x: this.point.x + move[0], y: this.point.y + move[1] });
        });
        this.place();
        this.renderPreviews();
    }
    get value() {
        return { ...this.point };
    }
    fromPointer(event) {
        const rect = this.frame.getBoundingClientRect();
        this.set({ x: (event.clientX - rect.left) / rect.width, y: (event.clientY - rect.top) / rect.height });
    }
    set(point) {
        const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
        this.point = { x: clamp(point.x), y: clamp(point.y) };
        this.place();
        this.onChange(this.value);
        // Previews are rendered on the server: wait until the pointer rests.
        clearTimeout(this.timer);
        this.timer = window.setTimeout(() => this.renderPreviews(), 200);
    }
    place() {
        this.marker.style.left = `${this.point.x * 100}%`;
        this.marker.style.top = `${this.point.y * 100}%`;
        this.readout.textContent = `x ${this.point.x.toFixed(2)} · y ${this.point.y.toFixed(2)}`;
    }
    renderPreviews() {
        setChildren(this.previews, RATIOS.map(([label, ratio]) => {
            const width = 120;
            const height = Math.round((width * ratio[1]) / ratio[0]);
            return h('figure', { class: 'crop' }, h('img', { src: cropPreview(this.upload, ratio, this.point, width), alt: `Crop at ${label}`, width, height, 'data-ratio': label }), h('figcaption', {}, label));
        }));
    }
}
