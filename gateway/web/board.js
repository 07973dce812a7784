/**
 * The live board: the signed-in user's orders in columns by where they are in the saga, moved as
 * pushes arrive (the store re-renders it on every change). A card opens the order.
 */
import { fill, h } from './dom.js';
import { BOARD_COLUMNS, columnOf, formatDateTime, formatMoney, shortId, STATUS_LABELS } from './format.js';

export class Board {
  #root;
  #store;
  #onOpen;
  selected = undefined;

  constructor(root, store, onOpen) {
    this.#root = root;
    this.#store = store;
    this.#onOpen = onOpen;
    store.onChange(() => this.render());
  }

  render() {
    const orders = this.#store.list();
    fill(this.#root, BOARD_COLUMNS.map((column) => {
      const cards = orders.filter((o) => columnOf(o.status.status) === column);
      return h('section', { class: 'column', 'aria-label': column.title, dataset: { testid: `board-column-${column.id}` } },
        h('h3', {}, column.title, h('span', { 'aria-label': `${cards.length} orders` }, String(cards.length))),
        h('ol', {}, cards.map((o) => h('li', {}, this.#card(o)))));
    }));
  }

  #card(o) {
    const unread = this.#store.unread(o.orderId);
    const items = o.lines?.reduce((n, l) => n + l.quantity, 0) ?? 0;
    return h('button', {
      type: 'button', class: 'card', 'aria-current': this.selected === o.orderId ? 'true' : 'false',
      dataset: { testid: `board-card-${o.orderId}`, status: o.status.status },
      onclick: () => this.#onOpen(o.orderId),
    },
    h('span', { class: 'id' }, `#${shortId(o.orderId)}`),
    h('span', {}, `${items} item${items === 1 ? '' : 's'} · ${o.total === undefined ? '…' : formatMoney(o.total)}`),
    h('span', { class: 'badge', dataset: { status: o.status.status } }, STATUS_LABELS[o.status.status] ?? o.status.status),
    o.placedAt ? h('span', { class: 'muted' }, formatDateTime(o.placedAt)) : null,
    unread > 0 ? h('span', { class: 'unread', dataset: { testid: 'unread' } }, `${unread} new message${unread === 1 ? '' : 's'}`) : null);
  }
}
