/**
 * The Media Area page: sign-in with an API token (kept in sessionStorage), then the tool bar
 * (search, type filter, order, upload), the side bar (collections, tags), the grid, the upload
 * progress panel and the detail panel.
 */
import { Api, ApiError } from './api.js';
import { announce, h, setChildren } from './dom.js';
import { DetailPanel } from './detail.js';
import { Grid } from './grid.js';
import { Sidebar } from './sidebar.js';
import { Uploader } from './upload.js';
const TOKEN_KEY = 'assetd.token';
const PAGE = 60;
const root = document.getElementById('app');
let api = null;
function start() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token)
        void signIn(token, false);
    else
        showSignIn();
}
function showSignIn(message = '') {
    document.body.className = 'signed-out';
    const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
    const error = h('p', { class: 'form-status error', role: 'alert' }, message);
    const form = h('form', { class: 'signin' }, h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'assetd'), h('h1', {}, 'Media Area'), h('p', { class: 'muted' }, 'Sign in with an API token of this project.'), h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input), h('button', { type: 'submit', class: 'primary' }, 'Sign in'), error);
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        if (input.value.trim())
            void signIn(input.value.trim(), true, error);
    });
    setChildren(root, h('main', { class: 'signin-page' }, form));
    input.focus();
}
async function signIn(token, fresh, error) {
    const candidate = new Api(token);
    try {
        await candidate.check();
    }
    catch (e) {
        sessionStorage.removeItem(TOKEN_KEY);
        const why = e instanceof ApiError && e.status === 401 ? 'This token is not valid.' : `Could not sign in: ${e instanceof Error ? e.message : e}`;
        if (error)
            error.textContent = why;
        else
            showSignIn(why);
        return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    api = candidate;
    api.onUnauthorized = () => signOut('Your token is no longer valid.');
    new MediaArea().mount();
    if (fresh)
        announce('Signed in');
}
function signOut(message = '') {
    sessionStorage.removeItem(TOKEN_KEY);
    api = null;
    document.querySelectorAll('dialog').forEach((d) => d.remove());
    showSignIn(message);
}
class MediaArea {
    grid = new Grid((upload) => this.detail.open(upload));
    sidebar = new Sidebar((selection) => this.filter(selection), (parent) => void this.newCollection(parent));
    uploader = new Uploader(() => api, () => this.sidebar.selection.collectionId, () => this.refreshSoon());
    detail = new DetailPanel({
        api: () => api,
        onSaved: (upload) => this.replaceInGrid(upload),
        onDeleted: (id) => {
            this.grid.render(this.grid.items.filter((u) => u.id !== id), null);
            void this.load();
        },
        onClose: (id) => {
            this.grid.select(null);
            this.grid.focus(id);
        },
    });
    search = h('input', { id: 'search', type: 'search', name: 'q', placeholder: 'Search uploads', autocomplete: 'off' });
    type = h('select', { id: 'type', name: 'type' }, h('option', { value: '' }, 'All types'), ['image', 'video', 'audio', 'pdfdocument', 'richtext', 'archive'].map((t) => h('option', { value: t }, label(t))));
    order = h('select', { id: 'order', name: 'order' }, h('option', { value: '_created_at_DESC' }, 'Newest first'), h('option', { value: '_created_at_ASC' }, 'Oldest first'), h('option', { value: 'filename_ASC' }, 'Name A–Z'), h('option', { value: 'size_DESC' }, 'Largest first'));
    count = h('p', { class: 'count', id: 'count', 'aria-live': 'polite' });
    more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load more');
    collections = [];
    offset = 0;
    total = 0;
    generation = 0;
    timer = 0;
    mount() {
        document.body.className = 'signed-in';
        const picker = h('input', { type: 'file', id: 'file-picker', multiple: true, class: 'visually-hidden', tabindex: -1 });
        picker.addEventListener('change', () => {
            const files = [...(picker.files ?? [])];
            picker.value = '';
            if (files.length)
                void this.uploader.upload(files);
        });
        const searchForm = h('form', { class: 'search', role: 'search', onsubmit: (e) => { e.preventDefault(); void this.load(); } }, h('label', { for: 'search', class: 'visually-hidden' }, 'Search uploads'), this.search);
        this.search.addEventListener('input', () => {
            clearTimeout(this.timer);
            this.timer = window.setTimeout(() => void this.load(), 250);
        });
        this.type.addEventListener('change', () => void this.load());
        this.order.addEventListener('change', () => void this.load());
        this.more.addEventListener('click', () => void this.load(true));
        const dropZone = h('main', { class: 'content', id: 'content', 'aria-label': 'Uploads. Drop files here to upload them.' }, h('div', { class: 'toolbar' }, searchForm, h('label', { for: 'type', class: 'visually-hidden' }, 'Type'), this.type, h('label', { for: 'order', class: 'visually-hidden' }, 'Order'), this.order, h('button', { type: 'button', class: 'primary', onclick: () => picker.click() }, 'Upload files'), picker), h('div', { class: 'drop-hint', 'aria-hidden': 'true' }, 'Drop files to upload'), this.uploader.panel, this.count, this.grid.el, this.more);
        this.uploader.attachDropZone(dropZone);
        setChildren(root, h('a', { href: '#content', class: 'skip' }, 'Skip to uploads'), h('header', { class: 'topbar' }, h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'assetd', h('span', { class: 'muted' }, ' · Media Area')), h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: () => signOut() }, 'Sign out')), h('div', { class: 'layout' }, this.sidebar.el, dropZone, this.detail.el));
        void this.loadSide();
        void this.load();
    }
    async loadSide() {
        try {
            const [collections, tags] = await Promise.all([api.listCollections(), api.listTags()]);
            this.collections = collections;
            this.sidebar.render(collections, tags);
        }
        catch (error) {
            setChildren(this.sidebar.el, h('p', { class: 'form-status error' }, `Could not load collections: ${error}`));
        }
    }
    filter(_selection) {
        void this.load();
    }
    /** The grid for the current search and filters (`append` for the next page). */
    async load(append = false) {
        const generation = ++this.generation;
        const { collectionId, tag } = this.sidebar.selection;
        if (!append)
            this.offset = 0;
        this.count.textContent = 'Loading…';
        try {
            const page = await api.listUploads({
                query: this.search.value.trim() || undefined,
                type: this.type.value || undefined,
                tag: tag ?? undefined,
                collectionId: collectionId ?? undefined,
                orderBy: this.order.value,
                limit: PAGE,
                offset: this.offset,
            });
            if (generation !== this.generation)
                return;
            const all = append ? [...this.grid.items, ...page.items] : page.items;
            this.offset += page.items.length;
            this.total = page.total;
            this.grid.render(all, this.detail.currentId);
            this.more.hidden = this.offset >= page.total;
            this.count.textContent = this.total === 0 ? 'No uploads match.' : `${this.total} upload${this.total === 1 ? '' : 's'}`;
            if (!this.total && !this.search.value && !this.type.value && !tag && !collectionId) {
                this.count.textContent = 'No uploads yet: drop files here or use “Upload files”.';
            }
        }
        catch (error) {
            if (generation === this.generation)
                this.count.textContent = `Could not load uploads: ${error instanceof Error ? error.message : error}`;
        }
    }
    refreshSoon() {
        clearTimeout(this.timer);
        this.timer = window.setTimeout(() => {
            void this.load();
            void this.loadSide();
        }, 100);
    }
    replaceInGrid(upload) {
        this.grid.render(this.grid.items.map((u) => (u.id === upload.id ? upload : u)), upload.id);
        void this.loadSide();
    }
    async newCollection(parentId) {
        const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'new-collection-title' });
        const input = h('input', { id: 'collection-label', name: 'label', type: 'text', required: true, autocomplete: 'off' });
        const parent = this.collections.find((c) => c.id === parentId);
        const form = h('form', { method: 'dialog' }, h('h2', { id: 'new-collection-title' }, parent ? `New collection in “${parent.label}”` : 'New collection'), h('div', { class: 'field' }, h('label', { for: 'collection-label' }, 'Name'), input), h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Create')));
        form.addEventListener('submit', async (event) => {
            event.preventDefault();
            if (!input.value.trim())
                return;
            try {
                await api.createCollection(input.value.trim(), parentId);
                dialog.close();
                await this.loadSide();
            }
            catch (error) {
                input.setCustomValidity(String(error));
                input.reportValidity();
            }
        });
        dialog.append(form);
        dialog.addEventListener('close', () => dialog.remove());
        document.body.append(dialog);
        dialog.showModal();
        input.focus();
    }
}
function label(type) {
    return { image: 'Images', video: 'Videos', audio: 'Audio', pdfdocument: 'PDF', richtext: 'Documents', archive: 'Archives' }[type] ?? type;
}
start();
