/**
 * The detail panel of one upload: author, copyright, notes, tags and alt/title per locale; the
 * focal point picker, or a video's player and poster frame picker (video.ts); replace the file
 * (keeping the URL or getting a new one); delete with a confirmation dialog. Escape closes it and
 * focus goes back to the grid.
 */
import { ApiError, metadataOf } from './api.js';
import { announce, formatBytes, h, setChildren } from './dom.js';
import { FocalPicker } from './focal.js';
import { fileKind } from './thumbs.js';
import { VideoSection } from './video.js';
export class DetailPanel {
    hooks;
    el = h('aside', { class: 'detail', id: 'detail', hidden: true, 'aria-labelledby': 'detail-title', tabindex: -1 });
    upload = null;
    alt = {};
    title = {};
    focal = null;
    focalChanged = false;
    locale = '';
    video = null;
    confirm = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' });
    constructor(hooks) {
        this.hooks = hooks;
        document.body.append(this.confirm);
        this.el.addEventListener('keydown', (event) => {
            if (event.key === 'Escape' && !this.confirm.open) {
                event.preventDefault();
                this.close();
            }
        });
    }
    get currentId() {
        return this.upload?.id ?? null;
    }
    open(upload) {
        this.stopVideo();
        this.upload = upload;
        const meta = metadataOf(upload);
        this.alt = { ...meta.alt };
        this.title = { ...meta.title };
        this.focal = meta.focal_point;
        this.focalChanged = false;
        this.locale = meta.locales.includes(this.locale) ? this.locale : meta.locales[0] ?? '';
        this.render(meta.locales);
        this.el.hidden = false;
        document.body.classList.add('detail-open');
        this.el.querySelector('#detail-title')?.focus();
    }
    close() {
        if (!this.upload)
            return;
        const id = this.upload.id;
        this.stopVideo();
        this.upload = null;
        this.el.hidden = true;
        document.body.classList.remove('detail-open');
        this.hooks.onClose(id);
    }
    render(locales) {
        const upload = this.upload;
        const field = (label, name, value, multiline = false) => {
            const id = `field-${name}`;
            const input = multiline
                ? h('textarea', { id, name, rows: 3 }, value ?? '')
                : h('input', { id, name, type: 'text', value: value ?? '', autocomplete: 'off' });
            return h('div', { class: 'field' }, h('label', { for: id }, label), input);
        };
        const localeSelect = h('select', { id: 'field-locale', name: 'locale' }, locales.map((l) => h('option', { value: l, selected: l === this.locale }, l)));
        const altInput = h('input', { id: 'field-alt', name: 'alt', type: 'text', value: this.alt[this.locale] ?? '', autocomplete: 'off' });
        const titleInput = h('input', { id: 'field-title', name: 'title', type: 'text', value: this.title[this.locale] ?? '', autocomplete: 'off' });
        const keep = () => {
            this.alt[this.locale] = altInput.value || null;
            this.title[this.locale] = titleInput.value || null;
        };
        localeSelect.addEventListener('change', () => {
            keep();
            this.locale = localeSelect.value;
            altInput.value = this.alt[this.locale] ?? '';
            titleInput.value = this.title[this.locale] ?? '';
        });
        const status = h('p', { class: 'form-status', role: 'status' });
        const form = h('form', { class: 'detail-form', novalidate: true }, h('fieldset', { class: 'localized' }, h('legend', {}, 'Per locale'), h('div', { class: 'field' }, h('label', { for: 'field-locale' }, 'Locale'), localeSelect), h('div', { class: 'field' }, h('label', { for: 'field-alt' }, 'Alternative text'), altInput), h('div', { class: 'field' }, h('label', { for: 'field-title' }, 'Title'), titleInput)), field('Author', 'author', upload.author), field('Copyright', 'copyright', upload.copyright), field('Notes', 'notes', upload.notes, true), field('Tags (comma-separated)', 'tags', upload.tags.join(', ')), h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), status));
        form.addEventListener('submit', async (event) => {
            event.preventDefault();
            keep();
            const value = (name) => form.elements.namedItem(name).value;
            const text = (name) => value(name).trim() || null;
            const metadata = { alt: this.alt, title: this.title };
            if (this.focalChanged)
                metadata.focal_point = this.focal;
            const attributes = {
                author: text('author'),
                copyright: text('copyright'),
                notes: text('notes'),
                tags: value('tags').split(',').map((t) => t.trim()).filter(Boolean),
                default_field_metadata: metadata,
            };
            await this.run(status, 'Saving…', async () => {
                const saved = await this.hooks.api().updateUpload(upload.id, attributes);
                this.upload = saved;
                this.focalChanged = false;
                this.hooks.onSaved(saved);
                return 'Saved';
            });
        });
        const kind = upload.is_image ? 'image' : fileKind(upload);
        // A new poster time is saved at once (like a replacement), not with the form.
        this.video = kind === 'video'
            ? new VideoSection(upload, {
                api: this.hooks.api,
                onChange: (saved) => {
                    this.upload = saved;
                    this.hooks.onSaved(saved);
                },
                message,
            })
            : null;
        const media = kind === 'image'
            ? new FocalPicker(upload, this.focal, (point) => {
                this.focal = point;
                this.focalChanged = true;
            }).el
            : this.video?.el ?? h('div', { class: 'file-preview' }, h('span', { class: `icon icon-${kind}`, 'aria-hidden': 'true' }, (upload.format ?? '').toUpperCase()));
        const mediaLabel = kind === 'image' ? 'Focal point' : kind === 'video' ? 'Video' : 'Preview';
        setChildren(this.el, h('header', { class: 'detail-head' }, h('h2', { id: 'detail-title', tabindex: -1 }, upload.filename), h('button', { type: 'button', class: 'icon-button close', 'aria-label': 'Close details', onclick: () => this.close() }, '×')), h('dl', { class: 'facts' }, fact('Size', formatBytes(upload.size)), upload.width && upload.height ? fact('Dimensions', `${upload.width} × ${upload.height}`) : null, fact('Type', upload.mime_type ?? '—'), fact('URL', h('a', { href: upload.url, target: '_blank', rel: 'noopener', class: 'url' }, upload.url))), h('section', { class: 'panel-section', 'aria-label': mediaLabel }, mediaLabel === 'Preview' ? null : h('h3', {}, mediaLabel), media), h('section', { class: 'panel-section', 'aria-label': 'Metadata' }, h('h3', {}, 'Metadata'), form), this.replaceSection(upload), h('section', { class: 'panel-section danger', 'aria-label': 'Delete' }, h('button', { type: 'button', class: 'danger-button', onclick: () => this.askDelete() }, 'Delete upload…')));
    }
    stopVideo() {
        this.video?.destroy();
        this.video = null;
    }
    replaceSection(upload) {
        const input = h('input', { type: 'file', id: 'replace-file', name: 'file' });
        const keepUrl = h('input', { type: 'radio', name: 'strategy', id: 'strategy-keep', value: 'keep_url', checked: true });
        const newUrl = h('input', { type: 'radio', name: 'strategy', id: 'strategy-new', value: 'create_new_url' });
        const bar = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Replacement upload' });
        const status = h('p', { class: 'form-status', role: 'status' });
        const form = h('form', { class: 'replace-form' }, h('div', { class: 'field' }, h('label', { for: 'replace-file' }, 'New file'), input), h('fieldset', { class: 'choices' }, h('legend', {}, 'URL'), h('label', {}, keepUrl, ' Keep the URL (same format)'), h('label', {}, newUrl, ' New URL')), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Replace file'), bar, status));
        form.addEventListener('submit', async (event) => {
            event.preventDefault();
            const file = input.files?.[0];
            if (!file) {
                status.textContent = 'Choose a file first';
                return;
            }
            bar.hidden = false;
            await this.run(status, 'Uploading…', async () => {
                const api = this.hooks.api();
                const path = await api.putFile(file, (f) => (bar.value = Math.round(f * 100)));
                status.textContent = 'Processing…';
                const strategy = keepUrl.checked ? 'keep_url' : 'create_new_url';
                const saved = await api.updateUpload(upload.id, { path }, strategy);
                this.hooks.onSaved(saved);
                // The panel is drawn anew for the new version; the message goes into the new one.
                this.open(saved);
                const fresh = this.el.querySelector('.replace-form .form-status');
                if (fresh)
                    fresh.textContent = 'File replaced';
                return 'File replaced';
            });
        });
        return h('section', { class: 'panel-section', 'aria-label': 'Replace file' }, h('h3', {}, 'Replace file'), form);
    }
    askDelete() {
        const upload = this.upload;
        const cancel = h('button', { type: 'button', value: 'cancel', autofocus: true }, 'Cancel');
        const confirm = h('button', { type: 'button', value: 'delete', class: 'danger-button' }, 'Delete');
        setChildren(this.confirm, h('h2', { id: 'confirm-title' }, 'Delete this upload?'), h('p', {}, `“${upload.filename}” will be deleted, and its URL will stop working. This cannot be undone.`), h('div', { class: 'actions' }, cancel, confirm));
        cancel.addEventListener('click', () => this.confirm.close());
        confirm.addEventListener('click', async () => {
            confirm.disabled = true;
            try {
                await this.hooks.api().destroyUpload(upload.id);
                this.confirm.close();
                this.stopVideo();
                this.upload = null;
                this.el.hidden = true;
                document.body.classList.remove('detail-open');
                announce(`${upload.filename} deleted`);
                this.hooks.onDeleted(upload.id);
            }
            catch (error) {
                confirm.disabled = false;
                this.confirm.querySelector('p').textContent = `Could not delete: ${message(error)}`;
            }
        });
        this.confirm.showModal();
        cancel.focus();
    }
    async run(status, busy, work) {
        status.textContent = busy;
        status.classList.remove('error');
        try {
            const done = await work();
            status.textContent = done;
            announce(done);
        }
        catch (error) {
            status.textContent = message(error);
            status.classList.add('error');
        }
    }
}
function fact(label, value) {
    return [h('dt', {}, label), h('dd', {}, value)];
}
function message(error) {
    if (error instanceof ApiError) {
        const details = error.details;
        return `${error.code}${details?.message ? `: ${details.message}` : details?.field ? ` (${details.field})` : ''}`;
    }
    return error instanceof Error ? error.message : String(error);
}
