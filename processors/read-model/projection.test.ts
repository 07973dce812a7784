import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { ChatMessage, OrderPlaced, OrderStatus, OrderStatusChanged } from '../../schemas/index.ts';
import {
  DELETE, NO_CHANGE, projectChatMessage, projectOrderPlaced, projectStatusChanged, projectStockLevel, type NoChange,
} from './projection.ts';
import type { OrderView, ProductDoc } from './views.ts';

const T0 = 1_700_000_000_000;
const SELLER_A = randomUUID();
const SELLER_B = randomUUID();

const product = (sellerId: string, name: string, price: number): ProductDoc => {
  const productId = randomUUID();
  return { _id: productId, productId, sellerId, name, price, createdAt: T0 - 1000 };
};
const KETTLE = product(SELLER_A, 'kettle', 2500);
const TEAPOT = product(SELLER_A, 'teapot', 1800);
const MUG = product(SELLER_B, 'mug', 700);
const CATALOGUE = [KETTLE, TEAPOT, MUG];

function placed(orderId: string, overrides: Partial<OrderPlaced> = {}): OrderPlaced {
  return {
    eventId: randomUUID(), orderId, customerId: randomUUID(),
    lines: [{ productId: KETTLE.productId, quantity: 1, unitPrice: 2500 }, { productId: MUG.productId, quantity: 3, unitPrice: 700 }, { productId: TEAPOT.productId, quantity: 2, unitPrice: 1800 }],
    fulfilment: 'DELIVERY',
    delivery: { address: '1 Main St', addressDetail: 'flat 2', zipcode: '12345', phone: '555-0100', name: 'Ann', deliveryMemo: '' },
    idempotencyKey: null,
    placedAt: T0,
    ...overrides,
  };
}

/** The n-th status change of an order along CREATED → PENDING_PAYMENT → PAYMENT_COMPLETED → PREPARING. */
const PATH: [OrderStatus | null, OrderStatus][] = [[null, 'CREATED'], ['CREATED', 'PENDING_PAYMENT'], ['PENDING_PAYMENT', 'PAYMENT_COMPLETED'], ['PAYMENT_COMPLETED', 'PREPARING']];
function status(orderId: string, sequence: number, overrides: Partial<OrderStatusChanged> = {}): OrderStatusChanged {
  const [from, to] = PATH[sequence - 1]!;
  return { eventId: randomUUID(), orderId, from, to, reason: null, at: T0 + sequence * 1000, sequence, ...overrides };
}

function view(next: OrderView | NoChange): OrderView {
  if (next === NO_CHANGE) throw new Error('expected a view, got NO_CHANGE');
  return next;
}

/** Applies status events in the given order. */
function statuses(start: OrderView | undefined, events: readonly OrderStatusChanged[]): OrderView {
  let v = start;
  for (const e of events) {
    const next = projectStatusChanged(v, e);
    if (next !== NO_CHANGE) v = next;
  }
  return view(v ?? NO_CHANGE);
}

test('order-placed makes the view: lines with their sellers and names, distinct sellers, total, CREATED at sequence 0', (t) => {
  const orderId = randomUUID();
  const event = placed(orderId);
  const v = view(projectOrderPlaced(undefined, event, CATALOGUE));
  t.deepEqual(v, {
    _id: orderId, orderId, customerId: event.customerId,
    lines: [
      { productId: KETTLE.productId, quantity: 1, unitPrice: 2500, sellerId: SELLER_A, name: 'kettle' },
      { productId: MUG.productId, quantity: 3, unitPrice: 700, sellerId: SELLER_B, name: 'mug' },
      { productId: TEAPOT.productId, quantity: 2, unitPrice: 1800, sellerId: SELLER_A, name: 'teapot' },
    ],
    sellerIds: [SELLER_A, SELLER_B],
    total: 2500 + 3 * 700 + 2 * 1800,
    fulfilment: 'DELIVERY', delivery: event.delivery!,
    status: 'CREATED', sequence: 0, timeline: [], placedAt: T0, lastUpdated: T0,
  });
});

test('the unit price is the one ordered at, not the catalogue\'s; a product missing from the catalogue has no seller', (t) => {
  const unknown = randomUUID();
  const v = view(projectOrderPlaced(undefined, placed(randomUUID(), {
    fulfilment: 'WAREHOUSE', delivery: null,
    lines: [{ productId: KETTLE.productId, quantity: 2, unitPrice: 2000 }, { productId: unknown, quantity: 1, unitPrice: 50 }],
  }), [KETTLE]));
  t.deepEqual(v.lines.map((l) => [l.unitPrice, l.sellerId, l.name]), [[2000, SELLER_A, 'kettle'], [50, null, null]]);
  t.deepEqual(v.sellerIds, [SELLER_A]);
  t.is(v.total, 4050);
  t.is(v.delivery, null);
  t.is(v.fulfilment, 'WAREHOUSE');
});

test('a repeated order-placed changes nothing, even after status events', (t) => {
  const orderId = randomUUID();
  const event = placed(orderId);
  const v = statuses(view(projectOrderPlaced(undefined, event, CATALOGUE)), [status(orderId, 1), status(orderId, 2)]);
  t.is(projectOrderPlaced(v, event, CATALOGUE), NO_CHANGE);
  t.is(projectOrderPlaced(v, placed(orderId, { eventId: event.eventId, customerId: randomUUID() }), CATALOGUE), NO_CHANGE);
});

test('status events before their order make a view without buyer; order-placed then merges without losing the timeline', (t) => {
  const orderId = randomUUID();
  const [s1, s2] = [status(orderId, 1), status(orderId, 2)];
  const early = statuses(undefined, [s2, s1]);
  t.is(early.customerId, null);
  t.is(early.status, 'PENDING_PAYMENT');
  t.is(early.sequence, 2);
  t.is(early.placedAt, null);
  t.deepEqual(early.lines, []);
  const event = placed(orderId);
  const merged = view(projectOrderPlaced(early, event, CATALOGUE));
  t.is(merged.customerId, event.customerId);
  t.is(merged.status, 'PENDING_PAYMENT');
  t.is(merged.sequence, 2);
  t.deepEqual(merged.timeline.map((e) => e.eventId), [s1.eventId, s2.eventId]);
  t.is(merged.lastUpdated, s2.at);
  t.is(merged.placedAt, T0);
  t.deepEqual(merged.sellerIds, [SELLER_A, SELLER_B]);
});

test('a status event applies only above the view\'s sequence: an old one fills its place in the timeline, never moves the order back', (t) => {
  const orderId = randomUUID();
  const [s1, s2, s3, s4] = [1, 2, 3, 4].map((n) => status(orderId, n)) as [OrderStatusChanged, OrderStatusChanged, OrderStatusChanged, OrderStatusChanged];
  const start = view(projectOrderPlaced(undefined, placed(orderId), CATALOGUE));
  const afterThree = statuses(start, [s1, s3]);
  t.is(afterThree.status, 'PAYMENT_COMPLETED');
  const late = view(projectStatusChanged(afterThree, s2));
  t.is(late.status, 'PAYMENT_COMPLETED', 'the late event does not move the status back');
  t.is(late.sequence, 3);
  t.is(late.lastUpdated, s3.at);
  t.deepEqual(late.timeline.map((e) => e.sequence), [1, 2, 3]);
  const done = view(projectStatusChanged(late, s4));
  t.is(done.status, 'PREPARING');
  t.is(done.lastUpdated, s4.at);
  t.deepEqual(done.timeline.map((e) => [e.from, e.to]), PATH);
  t.deepEqual(done.timeline[1], { from: 'CREATED', to: 'PENDING_PAYMENT', reason: null, at: s2.at, sequence: 2, eventId: s2.eventId });
});

test('a repeated status event changes nothing, by eventId or by sequence (a re-emitted copy)', (t) => {
  const orderId = randomUUID();
  const [s1, s2] = [status(orderId, 1), status(orderId, 2)];
  const v = statuses(undefined, [s1, s2]);
  t.is(projectStatusChanged(v, s2), NO_CHANGE);
  t.is(projectStatusChanged(v, s1), NO_CHANGE);
  t.is(projectStatusChanged(v, { ...s2, eventId: randomUUID() }), NO_CHANGE);
});

test('every order of the same four status events ends in the same view', (t) => {
  const orderId = randomUUID();
  const events = [1, 2, 3, 4].map((n) => status(orderId, n));
  const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2, 3, 1]];
  const views = orders.map((o) => statuses(undefined, o.map((i) => events[i]!)));
  for (const v of views.slice(1)) t.deepEqual(v, views[0]!);
  t.is(views[0]!.status, 'PREPARING');
});

test('legacy status events (sequence 0) apply in arrival order, once per eventId; after a sequenced one they only join the timeline', (t) => {
  const orderId = randomUUID();
  const legacy1 = status(orderId, 1, { sequence: 0 });
  const legacy2 = status(orderId, 2, { sequence: 0 });
  const withoutField: OrderStatusChanged = { eventId: randomUUID(), orderId, from: 'PENDING_PAYMENT', to: 'PAYMENT_COMPLETED', reason: null, at: T0 + 3000 };
  const start = view(projectOrderPlaced(undefined, placed(orderId), CATALOGUE));
  const v = statuses(start, [legacy1, legacy2]);
  t.is(v.status, 'PENDING_PAYMENT');
  t.is(v.sequence, 0);
  t.is(projectStatusChanged(v, legacy2), NO_CHANGE);
  t.is(projectStatusChanged(v, legacy1), NO_CHANGE);
  const three = view(projectStatusChanged(v, withoutField));
  t.is(three.status, 'PAYMENT_COMPLETED', 'a record without the field reads as sequence 0');
  t.deepEqual(three.timeline.map((e) => e.eventId), [legacy1.eventId, legacy2.eventId, withoutField.eventId]);

  const sequenced = view(projectStatusChanged(three, status(orderId, 4)));
  t.is(sequenced.status, 'PREPARING');
  const old = view(projectStatusChanged(sequenced, status(orderId, 1, { sequence: 0 })));
  t.is(old.status, 'PREPARING', 'a legacy event after a sequenced one never moves the order back');
  t.is(old.timeline.length, 5);
});

test('a status event\'s reason is kept in the timeline', (t) => {
  const orderId = randomUUID();
  const v = statuses(undefined, [status(orderId, 1), { ...status(orderId, 2), to: 'CANCELLED', reason: 'OUT_OF_STOCK: kettle' }]);
  t.is(v.status, 'CANCELLED');
  t.is(v.timeline[1]!.reason, 'OUT_OF_STOCK: kettle');
});

test('a chat message is stored once per messageId', (t) => {
  const message: ChatMessage = { messageId: randomUUID(), orderId: randomUUID(), fromUserId: randomUUID(), toUserId: randomUUID(), text: 'is it blue?', sentAt: T0 };
  const v = projectChatMessage(undefined, message);
  t.deepEqual(v, { _id: message.messageId, ...message });
  if (v === NO_CHANGE) return;
  t.is(projectChatMessage(v, message), NO_CHANGE);
  t.is(projectChatMessage(v, { ...message, text: 'edited' }), NO_CHANGE);
});

test('a stock level becomes the product\'s view; the same level again changes nothing; a tombstone deletes', (t) => {
  const productId = randomUUID();
  const level = { productId, sellerId: SELLER_A, available: 7, updatedAt: T0 };
  const v = projectStockLevel(undefined, productId, level);
  t.deepEqual(v, { _id: productId, productId, sellerId: SELLER_A, available: 7, updatedAt: T0 });
  if (v === NO_CHANGE || v === DELETE) return;
  t.is(projectStockLevel(v, productId, level), NO_CHANGE);
  t.deepEqual(projectStockLevel(v, productId, { ...level, available: 5, updatedAt: T0 + 1 }), { ...v, available: 5, updatedAt: T0 + 1 });
  t.deepEqual(projectStockLevel(v, productId, { ...level, available: 9 }), { ...v, available: 9 }, 'a later entry wins even with the same time');
  t.is(projectStockLevel(v, productId, null), DELETE);
  t.is(projectStockLevel(undefined, productId, null), NO_CHANGE);
});
