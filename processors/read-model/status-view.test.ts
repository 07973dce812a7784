import test from 'ava';
import { randomUUID } from 'node:crypto';
import { ORDER_STATUSES } from '../order/status.ts';
import { orderStatusView } from './status-view.ts';
import type { OrderView } from './views.ts';

const orderId = randomUUID();
const base: OrderView = {
  _id: orderId, orderId, customerId: randomUUID(), sellerIds: [], lines: [], total: 0, fulfilment: 'WAREHOUSE', delivery: null,
  status: 'PENDING_PAYMENT', sequence: 2, timeline: [], placedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 6), lastUpdated: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
};

test('the status body of DOMAIN.md, from the status machine, with lastUpdated in ISO-8601', (t) => {
  t.deepEqual(orderStatusView(base), {
    orderId, status: 'PENDING_PAYMENT', statusDescription: 'Stock reserved; awaiting payment', progressPercentage: 25, canCancel: true,
    lastUpdated: '2026-01-02T03:04:05.678Z',
  });
});

test('every status reads its description, progress and canCancel from the order processor', (t) => {
  for (const [status, info] of Object.entries(ORDER_STATUSES)) {
    const v = orderStatusView({ ...base, status: status as keyof typeof ORDER_STATUSES });
    t.deepEqual([v.statusDescription, v.progressPercentage, v.canCancel], [info.description, info.progressPercentage, info.canCancel]);
  }
  t.false(orderStatusView({ ...base, status: 'PAYMENT_COMPLETED' }).canCancel);
});

test('a view without a status yet reads as CREATED', (t) => {
  t.is(orderStatusView({ ...base, status: null }).status, 'CREATED');
});
