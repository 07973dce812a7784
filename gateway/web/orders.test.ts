import test from 'ava';
import { ApiError } from './api.js';
import { OrderStore, type ApiLike, type RealtimeLike } from './orders.js';

const ID = '00000000-0000-4000-8000-000000000001';
const status = (s: string, at: string) => ({ orderId: ID, status: s, statusDescription: s, progressPercentage: 0, canCancel: false, lastUpdated: at });
const entry = (from: string | null, to: string, sequence: number) => ({ from, to, reason: null, at: `2026-01-01T00:00:0${sequence}.000Z`, sequence });
const push = (from: string, to: string, sequence: number) => ({ ...status(to, `2026-01-01T00:00:0${sequence}.000Z`), previousStatus: from, reason: null, sequence });
const read = (to: string, timeline: ReturnType<typeof entry>[]) => ({
  orderId: ID, customerId: 'c', sellerIds: ['s'], lines: [], total: 100, fulfilment: 'DELIVERY', delivery: null,
  status: status(to, '2026-01-01T00:00:09.000Z'), timeline, placedAt: '2026-01-01T00:00:00.000Z',
});

/** A realtime double that records what happened in which order and lets the test push. */
function fakes(reads: (() => unknown)[]) {
  const events: string[] = [];
  const handlers = new Map<string, (body: unknown) => void>();
  const realtime: RealtimeLike = {
    connected: true,
    async subscribe(destination, handler) { events.push(`subscribe ${destination}`); handlers.set(destination, handler); },
    unsubscribe(destination) { events.push(`unsubscribe ${destination}`); handlers.delete(destination); },
    async send() { /* not used here */ },
  };
  const api: ApiLike = {
    async get(path) {
      events.push(`get ${path}`);
      if (path.endsWith('/chat')) return { items: [] };
      const next = reads.shift();
      if (!next) throw new Error(`unexpected read ${path}`);
      return next();
    },
    async post() { return undefined; },
  };
  return { api, realtime, events, push: (destination: string, body: unknown) => handlers.get(destination)?.(body) };
}

test('subscribes before reading, so no push can fall between the read and the subscription', async (t) => {
  const f = fakes([() => read('PENDING_PAYMENT', [entry(null, 'CREATED', 1), entry('CREATED', 'PENDING_PAYMENT', 2)])]);
  const store = new OrderStore(f.api, f.realtime);
  await store.track(ID);
  const firstRead = f.events.indexOf(`get /orders/${ID}`);
  t.true(f.events.indexOf(`subscribe /topic/order/${ID}`) < firstRead);
  t.true(f.events.indexOf(`subscribe /topic/chat/${ID}`) < firstRead);
  t.is(store.get(ID)?.status.status, 'PENDING_PAYMENT');
});

test('a read older than a push does not move the order back; the timeline holds each change once', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const f = fakes([async () => { await gate; return read('PENDING_PAYMENT', [entry(null, 'CREATED', 1), entry('CREATED', 'PENDING_PAYMENT', 2)]); }]);
  const store = new OrderStore(f.api, f.realtime);
  const tracking = store.track(ID, { placeholder: read('CREATED', []) });
  await new Promise((r) => setImmediate(r));
  // Pushes arrive while the read is still out: 2 again (repeated) and 3.
  f.push(`/topic/order/${ID}`, push('CREATED', 'PENDING_PAYMENT', 2));
  f.push(`/topic/order/${ID}`, push('PENDING_PAYMENT', 'PAYMENT_COMPLETED', 3));
  release();
  await tracking;
  const order = store.get(ID)!;
  t.is(order.status.status, 'PAYMENT_COMPLETED');
  t.deepEqual(order.timeline.map((x) => x.to), ['CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED']);
  t.true(order.loaded);
  t.is(order.total, 100);
});

test('a read newer than the pushes wins, and a late push of an old change only fills the timeline', async (t) => {
  const f = fakes([() => read('PREPARING', [entry(null, 'CREATED', 1), entry('CREATED', 'PENDING_PAYMENT', 2), entry('PENDING_PAYMENT', 'PAYMENT_COMPLETED', 3), entry('PAYMENT_COMPLETED', 'PREPARING', 4)])]);
  const store = new OrderStore(f.api, f.realtime);
  await store.track(ID);
  f.push(`/topic/order/${ID}`, push('PENDING_PAYMENT', 'PAYMENT_COMPLETED', 3));
  t.is(store.get(ID)?.status.status, 'PREPARING');
  t.is(store.get(ID)?.timeline.length, 4);
});

test('a terminal push ends the status subscription', async (t) => {
  const f = fakes([() => read('SHIPMENT_STARTED', [entry('PREPARING', 'SHIPMENT_STARTED', 5)])]);
  const store = new OrderStore(f.api, f.realtime);
  await store.track(ID);
  f.push(`/topic/order/${ID}`, push('SHIPMENT_STARTED', 'COMPLETED', 6));
  t.is(store.get(ID)?.status.status, 'COMPLETED');
  t.true(f.events.includes(`unsubscribe /topic/order/${ID}`));
  t.false(f.events.includes(`unsubscribe /topic/chat/${ID}`), 'the chat of a finished order goes on');
});

test('an order not yet in the read model is read again until it is', async (t) => {
  const f = fakes([
    () => { throw new ApiError(404, { error: { code: 'NOT_FOUND', message: 'order not found' } }); },
    () => read('CREATED', [entry(null, 'CREATED', 1)]),
  ]);
  const store = new OrderStore(f.api, f.realtime);
  await store.track(ID);
  t.is(f.events.filter((e) => e === `get /orders/${ID}`).length, 2);
  t.true(store.get(ID)?.loaded);
});

test('chat messages count once each, and not as unread when they are mine or the chat is open', async (t) => {
  const f = fakes([() => read('CREATED', [entry(null, 'CREATED', 1)])]);
  const store = new OrderStore(f.api, f.realtime);
  store.me = 'buyer';
  await store.track(ID);
  const message = (id: string, from: string) => ({ messageId: id, orderId: ID, fromUserId: from, toUserId: 'x', text: id, sentAt: `2026-01-01T00:00:0${id}.000Z` });
  f.push(`/topic/chat/${ID}`, message('2', 'seller'));
  f.push(`/topic/chat/${ID}`, message('2', 'seller'));
  f.push(`/topic/chat/${ID}`, message('1', 'buyer'));
  t.deepEqual(store.chat(ID).map((m) => m.text), ['1', '2']);
  t.is(store.unread(ID), 1);
  store.openChat = ID;
  store.markRead(ID);
  f.push(`/topic/chat/${ID}`, message('3', 'seller'));
  t.is(store.unread(ID), 0);
});

test('a change pushed before the subscription and missing from the first read is filled in by reading again', async (t) => {
  // The first read came before CREATED reached the read model; the second has it.
  const f = fakes([
    () => read('PENDING_PAYMENT', [entry('CREATED', 'PENDING_PAYMENT', 2)]),
    () => read('PENDING_PAYMENT', [entry(null, 'CREATED', 1), entry('CREATED', 'PENDING_PAYMENT', 2)]),
  ]);
  const store = new OrderStore(f.api, f.realtime);
  await store.track(ID);
  const deadline = Date.now() + 5_000;
  while (store.get(ID)!.timeline.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(store.get(ID)!.timeline.map((x) => x.sequence), [1, 2]);
  t.is(f.events.filter((e) => e === `get /orders/${ID}`).length, 2, 'read once more, and no more once whole');
});
