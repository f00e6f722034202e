/** The side bar: the collection tree (nested lists) and the tags, each a filter of the grid. */
import { h, setChildren } from './dom.js';
export class Sidebar {
    onChange;
    onNewCollection;
    el = h('nav', { class: 'sidebar', 'aria-label': 'Collections and tags' });
    collections = [];
    tags = [];
    selection = { collectionId: null, tag: null };
    constructor(onChange, onNewCollection) {
        this.onChange = onChange;
        this.onNewCollection = onNewCollection;
    }
    render(collections, tags) {
        this.collections = collections;
        this.tags = tags;
        this.draw();
    }
    draw() {
        const byParent = new Map();
        for (const c of this.collections) {
            const key = c.parent?.id ?? null;
            byParent.set(key, [...(byParent.get(key) ?? []), c]);
        }
        for (const list of byParent.values())
            list.sort((a, b) => a.position - b.position);
        const tree = (parent) => {
            const children = byParent.get(parent) ?? [];
            if (!children.length)
                return null;
            return h('ul', { class: 'tree' }, children.map((c) => h('li', {}, this.item(c.label, this.selection.collectionId === c.id, () => this.pick({ collectionId: c.id, tag: null })), tree(c.id))));
        };
        setChildren(this.el, h('h2', {}, 'Collections'), h('ul', { class: 'tree' }, h('li', {}, this.item('All uploads', !this.selection.collectionId && !this.selection.tag, () => this.pick({ collectionId: null, tag: null })))), tree(null), h('button', { type: 'button', class: 'link', onclick: () => this.onNewCollection(this.selection.collectionId) }, '+ New collection'), h('h2', {}, 'Tags'), this.tags.length
            ? h('ul', { class: 'tags' }, this.tags.map((t) => h('li', {}, this.item(`#${t}`, this.selection.tag === t, () => this.pick({ collectionId: null, tag: t })))))
            : h('p', { class: 'muted' }, 'No tags yet'));
    }
    item(label, current, onclick) {
        return h('button', { type: 'button', class: 'nav-item', 'aria-current': current ? 'true' : null, onclick }, label);
    }
    pick(selection) {
        this.selection = selection;
        this.draw();
        this.onChange(selection);
    }
}
