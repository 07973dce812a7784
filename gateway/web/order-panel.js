/* global crypto */
/**
 * One order in detail: status with its progress bar, the timeline of changes, the lines, the
 * buyer's Pay and Cancel, and the chat between buyer and seller. The panel is built once per
 * order and its parts updated on each change, so that text being typed into the chat survives
 * a push.
 */
import { busy, fill, h, showError } from './dom.js';
import { formatMoney, formatTime, shortId, STATUS_LABELS } from './format.js';

export class OrderPanel {
  #root;
  #store;
  #api;
  /** 'BUYER' pays and cancels; both chat. Set on each sign-in. */
  role;
  #orderId;
  #parts;
  /** orderId → `${status}:${command}` sent while in that status: its button stays busy until the status moves. */
  #sent = new Map();

  constructor(root, { store, api }) {
    this.#root = root;
    this.#store = store;
    this.#api = api;
    store.onChange((orderId) => { if (orderId === undefined || orderId === this.#orderId) this.#update(); });
  }

  get orderId() {
    return this.#orderId;
  }

  open(orderId) {
    this.#orderId = orderId;
    this.#store.openChat = orderId;
    this.#store.markRead(orderId);
    this.#build();
    this.#update();
    this.#root.dataset.orderId = orderId;
    this.#root.hidden = false;
    this.#root.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  close() {
    this.#orderId = undefined;
    this.#store.openChat = undefined;
    delete this.#root.dataset.orderId;
    this.#root.hidden = true;
    this.#root.replaceChildren();
  }

  #build() {
    const orderId = this.#orderId;
    const p = {
      title: h('h2', { id: 'order-title' }, `Order #${shortId(orderId)}`),
      placed: h('span', { class: 'muted' }),
      badge: h('span', { class: 'badge', dataset: { testid: 'order-status' } }),
      description: h('span', { class: 'muted', dataset: { testid: 'order-status-description' } }),
      bar: h('div', { style: 'width: 0%' }),
      progress: undefined,
      actions: h('div', { class: 'actions' }),
      actionError: h('p', { class: 'error', role: 'alert', hidden: true, dataset: { testid: 'order-error' } }),
      lines: h('tbody'),
      total: h('td', { class: 'num' }),
      delivery: h('p', { class: 'muted' }),
      timeline: h('ol', { class: 'timeline', dataset: { testid: 'order-timeline' }, 'aria-label': 'Status history' }),
      chatLog: h('ol', { class: 'chat-log', dataset: { testid: 'chat-log' }, 'aria-live': 'polite', 'aria-label': 'Messages' }),
      chatInput: h('input', { name: 'text', autocomplete: 'off', maxlength: 2000, dataset: { testid: 'chat-input' } }),
      chatError: h('p', { class: 'error', role: 'alert', hidden: true, dataset: { testid: 'chat-error' } }),
    };
    p.progress = h('div', {
      class: 'progress', role: 'progressbar', 'aria-label': 'Order progress', 'aria-valuemin': 0, 'aria-valuemax': 100, dataset: { testid: 'order-progress' },
    }, p.bar);
    const chatForm = h('form', { novalidate: true, dataset: { testid: 'chat-form' } },
      h('label', {}, this.role === 'SELLER' ? 'Answer the buyer' : 'Message the seller', p.chatInput),
      h('button', { type: 'submit', class: 'primary', dataset: { testid: 'chat-send' } }, 'Send'),
      p.chatError);
    chatForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = p.chatInput.value.trim();
      if (text === '') { showError(p.chatError, 'Write a message first.'); return; }
      void busy(chatForm, p.chatError, async () => {
        await this.#store.send(orderId, text);
        p.chatInput.value = '';
        p.chatInput.focus();
      });
    });
    fill(this.#root,
      h('header', {}, h('div', {}, p.title, ' ', p.placed),
        h('button', { type: 'button', class: 'link', onclick: () => this.close() }, 'Close')),
      h('div', {},
        h('div', { class: 'status-line' }, p.badge, p.description),
        p.progress,
        p.actions, p.actionError,
        h('table', { class: 'lines' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col', class: 'num' }, 'Qty'), h('th', { scope: 'col', class: 'num' }, 'Price'), h('th', { scope: 'col', class: 'num' }, 'Subtotal'))),
          p.lines,
          h('tfoot', {}, h('tr', {}, h('th', { scope: 'row', colspan: 3 }, 'Total'), p.total))),
        p.delivery,
        h('h3', {}, 'Timeline'), p.timeline),
      h('section', { class: 'chat', 'aria-label': 'Chat' }, h('h3', {}, 'Chat'), p.chatLog, chatForm));
    this.#parts = p;
  }

  #update() {
    const order = this.#orderId && this.#store.get(this.#orderId);
    if (!order || !this.#parts) return;
    const p = this.#parts;
    const s = order.status;
    p.placed.textContent = order.placedAt ? `placed ${formatTime(order.placedAt)}` : '';
    p.badge.textContent = s.status;
    p.badge.title = STATUS_LABELS[s.status] ?? s.status;
    p.badge.dataset.status = s.status;
    p.description.textContent = s.statusDescription ?? '';
    p.progress.setAttribute('aria-valuenow', String(s.progressPercentage ?? 0));
    p.progress.setAttribute('aria-valuetext', `${s.progressPercentage ?? 0}% — ${STATUS_LABELS[s.status] ?? s.status}`);
    p.progress.dataset.status = s.status;
    p.bar.style.width = `${s.progressPercentage ?? 0}%`;
    fill(p.actions, this.#actions(order));
    fill(p.lines, (order.lines ?? []).map((l) => h('tr', {},
      h('td', {}, l.name ?? l.productId), h('td', { class: 'num' }, String(l.quantity)),
      h('td', { class: 'num' }, formatMoney(l.unitPrice)), h('td', { class: 'num' }, formatMoney(l.subtotal ?? l.unitPrice * l.quantity)))));
    p.total.textContent = order.total === undefined ? '…' : formatMoney(order.total);
    p.total.dataset.testid = 'order-total';
    p.delivery.textContent = order.fulfilment === 'WAREHOUSE' ? 'Kept in warehouse storage'
      : order.delivery ? `Deliver to ${[order.delivery.name, order.delivery.address, order.delivery.addressDetail, order.delivery.zipcode].filter(Boolean).join(', ')}` : '';
    fill(p.timeline, order.timeline.length === 0 ? h('li', { class: 'muted' }, 'Waiting for the first update…')
      : order.timeline.map((t) => h('li', { dataset: { status: t.to } },
        h('strong', {}, STATUS_LABELS[t.to] ?? t.to), h('span', { class: 'when' }, formatTime(t.at)),
        t.reason ? h('span', { class: 'why' }, t.reason) : null)));
    const messages = this.#store.chat(order.orderId);
    const atBottom = p.chatLog.scrollTop + p.chatLog.clientHeight >= p.chatLog.scrollHeight - 4;
    fill(p.chatLog, messages.length === 0 ? h('li', { class: 'empty' }, 'No messages yet.')
      : messages.map((m) => h('li', { class: m.fromUserId === this.#store.me ? 'mine' : '', dataset: { testid: 'chat-message' } },
        m.text, h('span', { class: 'meta' }, `${m.fromUserId === this.#store.me ? 'You' : this.role === 'SELLER' ? 'Buyer' : 'Seller'} · ${formatTime(m.sentAt)}`))));
    if (atBottom) p.chatLog.scrollTop = p.chatLog.scrollHeight;
    this.#store.markRead(order.orderId);
  }

  #actions(order) {
    if (this.role !== 'BUYER') return [];
    const s = order.status;
    const sent = this.#sent.get(order.orderId);
    const buttons = [];
    if (sent === `${s.status}:payment`) return [h('button', { type: 'button', class: 'primary', disabled: true, dataset: { testid: 'pay' } }, 'Paying…')];
    if (sent === `${s.status}:cancel`) return [h('button', { type: 'button', class: 'danger', disabled: true, dataset: { testid: 'cancel' } }, 'Cancelling…')];
    // The amount must be the order's total as the server computed it, so Pay waits for the read.
    if (s.status === 'PENDING_PAYMENT' && order.loaded) {
      buttons.push(h('button', { type: 'button', class: 'primary', dataset: { testid: 'pay' }, onclick: (e) => this.#command(e.currentTarget, 'payment', { paymentKey: `pk-${crypto.randomUUID()}`, amount: order.total }) },
        `Pay ${formatMoney(order.total)}`));
    }
    if (s.canCancel) {
      buttons.push(h('button', { type: 'button', class: 'danger', dataset: { testid: 'cancel' }, onclick: (e) => this.#command(e.currentTarget, 'cancel', { reason: 'Cancelled by the buyer' }) }, 'Cancel order'));
    }
    return buttons;
  }

  async #command(button, what, body) {
    const p = this.#parts;
    const order = this.#store.get(this.#orderId);
    button.disabled = true;
    showError(p.actionError, '');
    try {
      // One key per click: a retried request after a lost answer is the same command.
      await this.#api.post(`/orders/${this.#orderId}/${what}`, body, { 'Idempotency-Key': crypto.randomUUID() });
      this.#sent.set(order.orderId, `${order.status.status}:${what}`);
      this.#update();
    } catch (e) {
      showError(p.actionError, e);
      button.disabled = false;
    }
  }
}
