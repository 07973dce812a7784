/**
 * The orders the page follows, kept current from two sources that can arrive in any order: reads
 * (GET /orders/{id}) and pushes on /topic/order/{id}. Each status change carries the order's
 * sequence number, so whichever source is newer wins and the timeline holds each change once.
 * Subscribing comes first and the read after it (the gateway does not replay earlier pushes).
 */
import { ApiError } from './api.js';
import { TERMINAL } from './format.js';

export class OrderStore {
  #api;
  #realtime;
  /** orderId → order (the API's Order shape plus `loaded`) */
  #orders = new Map();
  /** orderId → { items: Map(messageId → message), unread } */
  #chats = new Map();
  #listeners = new Set();
  #tracking = new Set();
  #refilling = new Set();
  // One handler each (not a closure per call), so subscribing again never doubles a delivery.
  #onPush = (push) => this.#pushed(push);
  #onChat = (message) => this.#chatted(message);
  /** Who is looking at which order's chat, so that it does not count as unread. */
  openChat = undefined;
  /** The signed-in user's id: their own messages are never unread. */
  me = undefined;

  constructor(api, realtime) {
    this.#api = api;
    this.#realtime = realtime;
  }

  /** `listener(orderId | undefined)`: undefined when the whole list changed. */
  onChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(orderId) {
    return this.#orders.get(orderId);
  }

  /** Newest first. */
  list() {
    return [...this.#orders.values()].sort((a, b) => (b.placedAt ?? '').localeCompare(a.placedAt ?? ''));
  }

  chat(orderId) {
    const c = this.#chats.get(orderId);
    return c ? [...c.items.values()].sort((a, b) => a.sentAt.localeCompare(b.sentAt)) : [];
  }

  unread(orderId) {
    return this.#chats.get(orderId)?.unread ?? 0;
  }

  markRead(orderId) {
    const c = this.#chats.get(orderId);
    if (c && c.unread > 0) { c.unread = 0; this.#emit(orderId); }
  }

  clear() {
    for (const id of this.#tracking) {
      this.#realtime.unsubscribe(`/topic/order/${id}`);
      this.#realtime.unsubscribe(`/topic/chat/${id}`);
    }
    this.#orders.clear();
    this.#chats.clear();
    this.#tracking.clear();
    this.#emit(undefined);
  }

  /** Reads a list (GET /orders or /seller/orders) and follows every order on it. */
  async load(path) {
    const page = await this.#api.get(`${path}?limit=30`);
    for (const o of page.items) this.#merge(o);
    this.#emit(undefined);
    await Promise.all(page.items.map((o) => this.track(o.orderId, { known: true })));
  }

  /**
   * Follows one order: its status and chat pushes, then a read of each. `placeholder` shows an
   * order the read model may not have yet (just placed).
   */
  async track(orderId, { placeholder, known = false } = {}) {
    if (placeholder && !this.#orders.has(orderId)) { this.#orders.set(orderId, { ...placeholder, seq: 0, loaded: false }); this.#emit(undefined); }
    if (this.#tracking.has(orderId)) return;
    this.#tracking.add(orderId);
    const order = this.#orders.get(orderId);
    const finished = order !== undefined && known && TERMINAL.has(order.status.status);
    try {
      await Promise.all([
        // A finished order's status will not move again; its chat still might.
        finished ? undefined : this.#realtime.subscribe(`/topic/order/${orderId}`, this.#onPush),
        this.#realtime.subscribe(`/topic/chat/${orderId}`, this.#onChat),
      ]);
    } catch {
      // Refused (e.g. not visible yet): the reads below still show the order; try the pushes again later.
      this.#tracking.delete(orderId);
      setTimeout(() => { void this.track(orderId); }, 2000);
    }
    await Promise.all([this.refresh(orderId), this.#loadChat(orderId)]);
    if (hasGap(this.#orders.get(orderId)?.timeline ?? [])) void this.#refill(orderId);
  }

  /** Reads one order again; a just-placed order may take a moment to reach the read model. */
  async refresh(orderId) {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        this.#merge(await this.#api.get(`/orders/${orderId}`));
        this.#emit(orderId);
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        await sleep(Math.min(250 * 2 ** attempt, 2000));
      }
    }
  }

  /** Sends a chat message over STOMP (with a receipt), or over HTTP when not connected. */
  async send(orderId, text) {
    if (this.#realtime.connected) {
      await this.#realtime.send(`/app/chat/${orderId}`, { text });
    } else {
      this.#chatted(await this.#api.post(`/orders/${orderId}/chat`, { text }));
    }
  }

  async #loadChat(orderId) {
    try {
      const { items } = await this.#api.get(`/orders/${orderId}/chat`);
      for (const m of items) this.#chatted(m, { history: true });
    } catch { /* the order may not be readable yet; pushes still arrive */ }
  }

  #pushed(push) {
    const order = this.#orders.get(push.orderId);
    if (!order) return;
    const entry = { from: push.previousStatus ?? null, to: push.status, reason: push.reason ?? null, at: push.lastUpdated, sequence: push.sequence ?? 0 };
    const timeline = mergeTimeline(order.timeline ?? [], [entry]);
    const newer = (push.sequence ?? 0) >= order.seq;
    this.#orders.set(push.orderId, newer ? { ...order, timeline, status: pick(push), seq: push.sequence ?? 0 } : { ...order, timeline });
    this.#emit(push.orderId);
    if (newer && TERMINAL.has(push.status)) this.#realtime.unsubscribe(`/topic/order/${push.orderId}`);
    // A change pushed before the subscription and not yet in the read model when it was read
    // leaves a hole in the sequence: read the order again to fill it.
    if (hasGap(timeline)) void this.#refill(push.orderId);
  }

  /** Reads an order again until its timeline has no hole, a few times at most. */
  async #refill(orderId) {
    if (this.#refilling.has(orderId)) return;
    this.#refilling.add(orderId);
    try {
      for (let attempt = 0; attempt < 5 && hasGap(this.#orders.get(orderId)?.timeline ?? []); attempt++) {
        await sleep(250 * 2 ** attempt);
        await this.refresh(orderId).catch(() => undefined);
      }
    } finally {
      this.#refilling.delete(orderId);
    }
  }

  #chatted(m, { history = false } = {}) {
    let c = this.#chats.get(m.orderId);
    if (!c) { c = { items: new Map(), unread: 0 }; this.#chats.set(m.orderId, c); }
    if (c.items.has(m.messageId)) return;
    c.items.set(m.messageId, m);
    if (!history && this.openChat !== m.orderId && m.fromUserId !== this.me) c.unread += 1;
    this.#emit(m.orderId);
  }

  /** A read: its lines and totals always win; its status only when not older than what was pushed. */
  #merge(read) {
    const known = this.#orders.get(read.orderId);
    const timeline = mergeTimeline(known?.timeline ?? [], read.timeline ?? []);
    const seq = maxSequence(read.timeline ?? []);
    const keepPushed = known !== undefined && known.seq > seq;
    this.#orders.set(read.orderId, { ...read, timeline, status: keepPushed ? known.status : read.status, seq: keepPushed ? known.seq : seq, loaded: true });
  }

  #emit(orderId) {
    for (const l of this.#listeners) l(orderId);
  }
}

function pick(push) {
  const { orderId, status, statusDescription, progressPercentage, canCancel, lastUpdated } = push;
  return { orderId, status, statusDescription, progressPercentage, canCancel, lastUpdated };
}

function maxSequence(timeline) {
  return timeline.reduce((max, t) => Math.max(max, t.sequence ?? 0), 0);
}

/** One entry per status change (by sequence, or by status for records without one), in order. */
/** Whether numbered changes are missing: the sequence runs 1..n without a hole. */
function hasGap(timeline) {
  const numbered = timeline.filter((t) => t.sequence > 0);
  return numbered.length > 0 && numbered.some((t, i) => t.sequence !== i + 1);
}

function mergeTimeline(a, b) {
  const byKey = new Map();
  for (const t of [...a, ...b]) byKey.set(t.sequence > 0 ? `#${t.sequence}` : `${t.from}>${t.to}`, t);
  return [...byKey.values()].sort((x, y) => (x.sequence - y.sequence) || x.at.localeCompare(y.at));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
