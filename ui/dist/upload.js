/**
 * Drag-and-drop (and file picker) upload of many files, each through the upload-request flow,
 * with a progress bar per file and a polite live-region announcement.
 */
import { announce, formatBytes, h } from './dom.js';
/** How many files go up at once. */
const PARALLEL = 3;
export class Uploader {
    api;
    collectionId;
    onDone;
    list = h('ul', { class: 'progress-list', 'aria-label': 'Uploads in progress' });
    title = h('h2', { id: 'uploads-title' }, 'Uploads');
    clear = h('button', { type: 'button', class: 'link', hidden: true }, 'Clear');
    panel = h('section', { class: 'uploads-panel', hidden: true, 'aria-labelledby': 'uploads-title' }, h('div', { class: 'uploads-head' }, this.title, this.clear), this.list);
    running = 0;
    constructor(api, collectionId, onDone) {
        this.api = api;
        this.collectionId = collectionId;
        this.onDone = onDone;
        this.clear.addEventListener('click', () => {
            this.list.replaceChildren();
            this.panel.hidden = true;
        });
    }
    /** Makes `zone` accept dropped files (the highlight shows while files are over it). */
    attachDropZone(zone) {
        let depth = 0;
        zone.addEventListener('dragenter', (event) => {
            if (!hasFiles(event))
                return;
            depth += 1;
            zone.classList.add('dragging');
        });
        zone.addEventListener('dragleave', () => {
            depth = Math.max(0, depth - 1);
            if (!depth)
                zone.classList.remove('dragging');
        });
        zone.addEventListener('dragover', (event) => {
            if (!hasFiles(event))
                return;
            event.preventDefault();
            if (event.dataTransfer)
                event.dataTransfer.dropEffect = 'copy';
        });
        zone.addEventListener('drop', (event) => {
            event.preventDefault();
            depth = 0;
            zone.classList.remove('dragging');
            const files = [...(event.dataTransfer?.files ?? [])];
            if (files.length)
                void this.upload(files);
        });
    }
    /** Uploads `files`, `PARALLEL` at a time; resolves when all have finished (or failed). */
    async upload(files) {
        this.panel.hidden = false;
        this.clear.hidden = true;
        this.running += files.length;
        this.title.textContent = 'Uploading';
        announce(`Uploading ${files.length} file${files.length === 1 ? '' : 's'}`);
        const rows = files.map((file) => this.row(file));
        let next = 0;
        let failed = 0;
        const worker = async () => {
            while (next < files.length) {
                const index = next++;
                const file = files[index];
                const row = rows[index];
                try {
                    const upload = await this.api().createUpload(file, this.collectionId(), (fraction) => row.progress(fraction));
                    row.done();
                    this.onDone(upload);
                }
                catch (error) {
                    failed += 1;
                    row.fail(error instanceof Error ? error.message : String(error));
                }
            }
        };
        await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
        this.running -= files.length;
        if (!this.running) {
            this.title.textContent = 'Uploads';
            this.clear.hidden = false;
        }
        announce(failed ? `${failed} of ${files.length} uploads failed` : `${files.length} upload${files.length === 1 ? '' : 's'} done`);
    }
    row(file) {
        const bar = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
        const status = h('span', { class: 'status' }, 'Waiting');
        const item = h('li', { class: 'progress-item', 'data-file': file.name }, h('span', { class: 'name' }, file.name), h('span', { class: 'size' }, formatBytes(file.size)), bar, status);
        this.list.prepend(item);
        return {
            progress: (fraction) => {
                const percent = Math.round(fraction * 100);
                bar.value = percent;
                status.textContent = percent < 100 ? `${percent}%` : 'Processing…';
            },
            done: () => {
                bar.value = 100;
                status.textContent = 'Done';
                item.classList.add('ok');
            },
            fail: (message) => {
                status.textContent = `Failed: ${message}`;
                item.classList.add('failed');
            },
        };
    }
}
function hasFiles(event) {
    return [...(event.dataTransfer?.types ?? [])].includes('Files');
}
