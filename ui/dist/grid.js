/** The grid of uploads: thumbnails (lazy, 1x/2x, fixed size) or a type icon, as a keyboard-navigable list. */
import { metadataOf } from './api.js';
import { formatBytes, h, setChildren } from './dom.js';
import { fileKind, thumbnail } from './thumbs.js';
const THUMB = 200;
export class Grid {
    onOpen;
    el = h('ul', { class: 'grid', id: 'grid', 'aria-label': 'Uploads' });
    uploads = [];
    selectedId = null;
    constructor(onOpen) {
        this.onOpen = onOpen;
        this.el.addEventListener('keydown', (event) => this.onKey(event));
    }
    render(uploads, selectedId = this.selectedId) {
        this.uploads = uploads;
        this.selectedId = selectedId;
        setChildren(this.el, uploads.map((upload) => this.card(upload)));
    }
    select(id) {
        this.selectedId = id;
        for (const card of this.el.querySelectorAll('.card')) {
            card.setAttribute('aria-current', String(card.dataset.id === id));
        }
    }
    focus(id) {
        this.el.querySelector(`.card[data-id="${CSS.escape(id)}"]`)?.focus();
    }
    card(upload) {
        const alt = Object.values(metadataOf(upload).alt).find((v) => v) ?? '';
        let media;
        if (upload.is_image) {
            const { src, srcset } = thumbnail(upload, THUMB);
            media = h('img', { src, srcset, alt: alt || upload.filename, loading: 'lazy', decoding: 'async', width: THUMB, height: THUMB });
        }
        else {
            media = h('span', { class: `icon icon-${fileKind(upload)}`, 'aria-hidden': 'true' }, (upload.format ?? '').toUpperCase());
        }
        // A real button in each list item: Enter and Space open it, and lists keep their semantics.
        const button = h('button', {
            type: 'button',
            class: 'card',
            'data-id': upload.id,
            'aria-current': String(upload.id === this.selectedId),
            'aria-label': `${upload.filename}, ${formatBytes(upload.size)}`,
            onclick: () => this.onOpen(upload),
        }, h('span', { class: 'thumb' }, media), h('span', { class: 'caption' }, h('span', { class: 'name', title: upload.filename }, upload.filename), h('span', { class: 'meta' }, [upload.width && upload.height ? `${upload.width}×${upload.height} · ` : '', formatBytes(upload.size)].join(''))));
        return h('li', {}, button);
    }
    /** Arrow keys move between cards (Home/End to the ends). */
    onKey(event) {
        const cards = [...this.el.querySelectorAll('.card')];
        const index = cards.indexOf(document.activeElement);
        if (index < 0)
            return;
        const columns = Math.max(1, Math.round(this.el.clientWidth / (cards[0]?.offsetWidth || 1)));
        const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
        let next = index;
        if (event.key in moves)
            next = index + (moves[event.key] ?? 0);
        else if (event.key === 'Home')
            next = 0;
        else if (event.key === 'End')
            next = cards.length - 1;
        else
            return;
        event.preventDefault();
        cards[Math.max(0, Math.min(cards.length - 1, next))]?.focus();
    }
    get items() {
        return this.uploads;
    }
}
