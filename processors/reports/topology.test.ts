import test from 'ava';
import { TopologyTestDriver } from '../engine/index.ts';
import { plainContracts } from '../common/index.ts';
import type { OrderPlaced, OrderStatusChanged } from '../../schemas/index.ts';
import { reportsTopology, WINDOW_REPORTS, DAY_MS } from './topology.ts';
import type { WindowReport } from './model.ts';

const DEC1 = Date.UTC(2026, 11, 1);
const GRACE = 60_000;

function placed(orderId: string, at: number, productId = 'p1'): OrderPlaced {
  return {
    eventId: `e-${orderId}`, orderId, customerId: 'buyer-1', lines: [{ productId, quantity: 2, unitPrice: 500 }],
    fulfilment: 'WAREHOUSE', delivery: null, idempotencyKey: null, placedAt: at,
  };
}

function status(orderId: string, to: OrderStatusChanged['to'], at: number, sequence: number): OrderStatusChanged {
  return { eventId: `s-${orderId}-${sequence}`, orderId, from: null, to, reason: null, at, sequence };
}

function driver() {
  const d = new TopologyTestDriver(reportsTopology(plainContracts(), { windowMs: DAY_MS, graceMs: GRACE }));
  d.pipe('stock-levels-topic', 'p1', { productId: 'p1', sellerId: 'seller-1', available: 10, updatedAt: 1 });
  return d;
}

test('a window emits once, after it closes, with its orders, sellers and the status at close time', (t) => {
  const d = driver();
  t.teardown(() => d.close());
  d.pipe('order-placed', 'o1', placed('o1', DEC1 + 1000), { timestamp: DEC1 + 1000 });
  d.pipe('order-placed', 'o2', placed('o2', DEC1 + 2000), { timestamp: DEC1 + 2000 });
  d.pipe('order-status-topic', 'o1', status('o1', 'CREATED', DEC1 + 1100, 1), { timestamp: DEC1 + 1100 });
  // The next day, inside grace: still counted for Dec 1 (the order was placed then).
  d.pipe('order-status-topic', 'o1', status('o1', 'CANCELLED', DEC1 + DAY_MS + 10, 2), { timestamp: DEC1 + DAY_MS + 10 });
  t.deepEqual(d.readKeyValues(WINDOW_REPORTS), [], 'nothing before the window closes');
  // An order placed after end + grace closes Dec 1.
  d.pipe('order-placed', 'o3', placed('o3', DEC1 + DAY_MS + GRACE), { timestamp: DEC1 + DAY_MS + GRACE });
  const out = d.readKeyValues<string, WindowReport>(WINDOW_REPORTS);
  t.is(out.length, 1);
  const report = out[0]![1];
  t.is(report.windowStart, DEC1);
  t.is(report.windowEnd, DEC1 + DAY_MS);
  t.deepEqual(Object.keys(report.orders).sort(), ['o1', 'o2']);
  t.deepEqual(report.orders.o1!.statuses.map((s) => s.to), ['CREATED', 'CANCELLED']);
  t.is(report.orders.o1!.lines[0]!.sellerId, 'seller-1');
  // A late status change after close is dropped, and Dec 1 is not emitted again.
  d.pipe('order-status-topic', 'o2', status('o2', 'CANCELLED', DEC1 + 3 * DAY_MS, 1), { timestamp: DEC1 + 3 * DAY_MS });
  d.pipe('order-placed', 'o4', placed('o4', DEC1 + 3 * DAY_MS), { timestamp: DEC1 + 3 * DAY_MS });
  const later = d.readKeyValues<string, WindowReport>(WINDOW_REPORTS);
  t.deepEqual(later.map(([, r]) => r.windowStart), [DEC1 + DAY_MS]);
  t.deepEqual(Object.keys(later[0]![1].orders), ['o3']);
});

test('a redelivered order-placed or status change is filed once', (t) => {
  const d = driver();
  t.teardown(() => d.close());
  d.pipe('order-status-topic', 'o1', status('o1', 'CREATED', DEC1 + 5, 1), { timestamp: DEC1 + 5 }); // before the order itself
  d.pipe('order-placed', 'o1', placed('o1', DEC1), { timestamp: DEC1 });
  d.pipe('order-placed', 'o1', { ...placed('o1', DEC1), customerId: 'someone-else' }, { timestamp: DEC1 });
  d.pipe('order-status-topic', 'o1', status('o1', 'CREATED', DEC1 + 5, 1), { timestamp: DEC1 + 5 });
  d.pipe('order-placed', 'o9', placed('o9', DEC1 + 2 * DAY_MS), { timestamp: DEC1 + 2 * DAY_MS });
  const [[, report]] = d.readKeyValues<string, WindowReport>(WINDOW_REPORTS) as [[string, WindowReport]];
  t.is(report.orders.o1!.customerId, 'buyer-1');
  t.is(report.orders.o1!.statuses.length, 1);
});

test('a quiet shop still gets its report: the clock closes a window end + grace after it ends, and a window of ticks only is not reported', (t) => {
  const TICK = 60_000;
  const d = new TopologyTestDriver(reportsTopology(plainContracts(), { windowMs: DAY_MS, graceMs: GRACE, tickMs: TICK }), { wallClockStartMs: DEC1 });
  t.teardown(() => d.close());
  d.pipe('stock-levels-topic', 'p1', { productId: 'p1', sellerId: 'seller-1', available: 10, updatedAt: 1 });
  d.advanceWallClockTime(1000);
  d.pipe('order-placed', 'o1', placed('o1', DEC1 + 1000), { timestamp: DEC1 + 1000 });
  // A tick at the day's end closes nothing yet: the grace still runs.
  d.advanceWallClockTime(DAY_MS - 1000);
  t.deepEqual(d.readKeyValues(WINDOW_REPORTS), []);
  // No order after Dec 1; the clock passes end + grace and a tick closes the window.
  d.advanceWallClockTime(GRACE + TICK);
  const out = d.readKeyValues<string, WindowReport>(WINDOW_REPORTS);
  t.deepEqual(out.map(([, r]) => [r.windowStart, Object.keys(r.orders)]), [[DEC1, ['o1']]]);
  // Two more quiet days: their windows hold ticks only and stay unreported.
  d.advanceWallClockTime(2 * DAY_MS);
  t.deepEqual(d.readKeyValues(WINDOW_REPORTS), []);
});

test('without ticks (tickMs 0) only a later order closes a window', (t) => {
  const d = new TopologyTestDriver(reportsTopology(plainContracts(), { windowMs: DAY_MS, graceMs: GRACE, tickMs: 0 }), { wallClockStartMs: DEC1 });
  t.teardown(() => d.close());
  d.pipe('order-placed', 'o1', placed('o1', DEC1 + 1000), { timestamp: DEC1 + 1000 });
  d.advanceWallClockTime(3 * DAY_MS);
  t.deepEqual(d.readKeyValues(WINDOW_REPORTS), []);
});
