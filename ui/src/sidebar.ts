/** The side bar: the collection tree (nested lists) and the tags, each a filter of the grid. */

import type { Collection } from './api.js';
import { h, setChildren } from './dom.js';

export interface SidebarSelection {
  collectionId: string | null;
  tag: string | null;
}

export class Sidebar {
  readonly el = h('nav', { class: 'sidebar', 'aria-label': 'Collections and tags' });
  private collections: Collection[] = [];
  private tags: string[] = [];
  selection: SidebarSelection = { collectionId: null, tag: null };

  constructor(
    private readonly onChange: (selection: SidebarSelection) => void,
    private readonly onNewCollection: (parentId: string | null) => void,
  ) {}

  render(collections: Collection[], tags: string[]): void {
    this.collections = collections;
    this.tags = tags;
    this.draw();
  }

  private draw(): void {
    const byParent = new Map<string | null, Collection[]>();
    for (const c of this.collections) {
      const key = c.parent?.id ?? null;
      byParent.set(key, [...(byParent.get(key) ?? []), c]);
    }
    for (const list of byParent.values()) list.sort((a, b) => a.position - b.position);
    const tree = (parent: string | null): HTMLElement | null => {
      const children = byParent.get(parent) ?? [];
      if (!children.length) return null;
      return h(
        'ul',
        { class: 'tree' },
        children.map((c) => h('li', {}, this.item(c.label, this.selection.collectionId === c.id, () => this.pick({ collectionId: c.id, tag: null })), tree(c.id))),
      );
    };
    setChildren(
      this.el,
      h('h2', {}, 'Collections'),
      h('ul', { class: 'tree' }, h('li', {}, this.item('All uploads', !this.selection.collectionId && !this.selection.tag, () => this.pick({ collectionId: null, tag: null })))),
      tree(null),
      h('button', { type: 'button', class: 'link', onclick: () => this.onNewCollection(this.selection.collectionId) }, '+ New collection'),
      h('h2', {}, 'Tags'),
      this.tags.length
        ? h('ul', { class: 'tags' }, this.tags.map((t) => h('li', {}, this.item(`#${t}`, this.selection.tag === t, () => this.pick({ collectionId: null, tag: t })))))
        : h('p', { class: 'muted' }, 'No tags yet'),
    );
  }

  private item(label: string, current: boolean, onclick: () => void): HTMLElement {
    return h('button', { type: 'button', class: 'nav-item', 'aria-current': current ? 'true' : null, onclick }, label);
  }

  private pick(selection: SidebarSelection): void {
    this.selection = selection;
    this.draw();
    this.onChange(selection);
  }
}
