/**
 * The saga scenario and checks without a broker: the scenario is deterministic and built as the
 * end-to-end tests assume (no contention, the intended shares), and each check catches what it is
 * there for.
 */
import test from 'ava';
import type { OrderCompletedMessage, OrderStatus, OrderStatusChanged } from '../../schemas/index.ts';
import {
  REASON_OF, completedMismatches, deadLetterMismatches, duplicateEffects, gatewayMismatches, reasonMismatches, levelMismatches, outcomeMismatches, sequenceProblems, stateDifferences,
} from './checks.ts';
import { buildScenario, expectedLevels, expectedOutcome, predictedState, stockLevels, type Scenario } from './scenario.ts';
import { stuckReport } from './saga.ts';

const s = buildScenario({ seed: 'unit', orders: 1000 });

test('the same seed gives the same scenario; another seed another', (t) => {
  const again = buildScenario({ seed: 'unit', orders: 1000 });
  t.is(again.fingerprint, s.fingerprint);
  t.deepEqual(predictedState(again), predictedState(s));
  t.not(buildScenario({ seed: 'other', orders: 1000 }).fingerprint, s.fingerprint);
});

test('AMPLE products cover all demand, SCARCE products none of it, UNKNOWN products have no level', (t) => {
  const demand = new Map<string, number>();
  const smallest = new Map<string, number>();
  for (const o of s.orders) {
    for (const l of o.placed.lines) {
      demand.set(l.productId, (demand.get(l.productId) ?? 0) + l.quantity);
      smallest.set(l.productId, Math.min(smallest.get(l.productId) ?? Infinity, l.quantity));
    }
  }
  for (const p of s.products) {
    if (p.kind === 'AMPLE') t.true(p.initial! >= (demand.get(p.productId) ?? 0), `${p.productId} covers its demand`);
    if (p.kind === 'SCARCE') t.true(p.initial! < (smallest.get(p.productId) ?? Infinity), `${p.productId} is below every request`);
    if (p.kind === 'UNKNOWN') t.is(p.initial, undefined);
  }
  t.is(stockLevels(s, 0).length, s.products.filter((p) => p.kind !== 'UNKNOWN').length);
  for (const o of s.orders) {
    const kinds = o.placed.lines.map((l) => s.products.find((p) => p.productId === l.productId)!.kind);
    t.is(o.outOfStock, kinds.some((k) => k !== 'AMPLE'), `order ${o.index}: out of stock exactly when a line is not AMPLE`);
    t.true(o.placed.lines.length >= 1 && o.placed.lines.every((l) => l.quantity >= 1 && l.quantity <= 5));
    t.is(o.placed.fulfilment === 'WAREHOUSE', o.placed.delivery === null);
  }
});

test('every outcome occurs in roughly the intended share; levels never go negative', (t) => {
  const count = (pred: (o: Scenario['orders'][number]) => boolean) => s.orders.filter(pred).length;
  const share = (n: number) => n / s.orders.length;
  t.true(Math.abs(share(count((o) => o.outOfStock)) - 0.10) < 0.03);
  t.true(Math.abs(share(count((o) => o.placed.fulfilment === 'WAREHOUSE')) - 0.20) < 0.04);
  t.true(Math.abs(share(count((o) => o.behaviour === 'CANCEL')) - 0.05) < 0.02);
  t.true(Math.abs(share(count((o) => o.behaviour === 'ABANDON')) - 0.03) < 0.02);
  const causes = new Set(s.orders.map((o) => expectedOutcome(s, o).cause));
  t.deepEqual([...causes].sort(), ['abandoned', 'cancelled', 'declined', 'delivered', 'delivery-failed', 'out-of-stock', 'warehouse']);
  for (const [p, level] of expectedLevels(s)) t.true(level >= 0, `${p} ends at ${level}`);
  t.true(s.orders.some((o) => new Set(o.placed.lines.map((l) => l.productId)).size < o.placed.lines.length), 'some order repeats a product');
});

const ev = (orderId: string, from: OrderStatus | null, to: OrderStatus, sequence = 1): OrderStatusChanged => ({ eventId: `${orderId}-${to}`, orderId, from, to, reason: null, at: 0, sequence });
const path = (orderId: string, ...steps: OrderStatus[]) => steps.map((to, i) => ev(orderId, i === 0 ? null : steps[i - 1]!, to, i + 1));

test('sequence check: accepts the saga paths, rejects moves after terminal, skipped steps and crossed fulfilment', (t) => {
  t.deepEqual(sequenceProblems(path('a', 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED'), 'DELIVERY'), []);
  t.deepEqual(sequenceProblems(path('a', 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'REFUND_REQUESTED', 'REFUNDED'), 'DELIVERY'), []);
  t.deepEqual(sequenceProblems(path('a', 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'IN_WAREHOUSE', 'COMPLETED'), 'WAREHOUSE'), []);
  t.deepEqual(sequenceProblems(path('a', 'CREATED', 'CANCELLED'), 'DELIVERY'), []);
  t.true(sequenceProblems(path('a', 'CREATED', 'CANCELLED', 'PENDING_PAYMENT'), 'DELIVERY').some((p) => p.includes('after terminal CANCELLED')));
  t.true(sequenceProblems(path('a', 'CREATED', 'PAYMENT_COMPLETED'), 'DELIVERY').some((p) => p.includes('not an allowed move')));
  t.true(sequenceProblems(path('a', 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING'), 'WAREHOUSE').some((p) => p.includes('WAREHOUSE order went to PREPARING')));
  t.true(sequenceProblems([ev('a', null, 'CREATED'), ev('a', 'PENDING_PAYMENT', 'CANCELLED', 2)], 'DELIVERY').some((p) => p.includes('but the order was CREATED')));
  t.true(sequenceProblems([ev('a', 'CREATED', 'PENDING_PAYMENT')], 'DELIVERY').some((p) => p.includes('not ∅→CREATED')));
});

test('sequence check: status events are numbered 1..n in arrival order; a gap, a repeat or a missing number is caught', (t) => {
  const ok = path('a', 'CREATED', 'PENDING_PAYMENT', 'CANCELLED');
  t.deepEqual(sequenceProblems(ok, 'DELIVERY'), []);
  t.deepEqual(sequenceProblems([ok[0]!, { ...ok[1]!, sequence: 3 }, { ...ok[2]!, sequence: 4 }], 'DELIVERY'),
    ['event 1 (→PENDING_PAYMENT) carries sequence 3, not 2', 'event 2 (→CANCELLED) carries sequence 4, not 3']);
  t.deepEqual(sequenceProblems([ok[0]!, { ...ok[1]!, sequence: 1 }, ok[2]!], 'DELIVERY'), ['event 1 (→PENDING_PAYMENT) carries sequence 1, not 2']);
  t.deepEqual(sequenceProblems([{ ...ok[0]!, sequence: undefined }, ok[1]!, ok[2]!], 'DELIVERY'), ['event 0 (→CREATED) carries sequence none, not 1']);
});

test('users: one BUYER per distinct customer, every seller a SELLER; the rejected order is a seller\'s and not among the planned ones', (t) => {
  const buyers = new Set(s.orders.map((o) => o.placed.customerId));
  const byId = new Map(s.users.map((u) => [u.id, u]));
  t.is(byId.size, s.users.length, 'one user per id');
  for (const id of buyers) t.is(byId.get(id)?.role, 'BUYER', id);
  for (const p of s.products) t.is(byId.get(p.sellerId)?.role, 'SELLER', p.sellerId);
  t.is(s.users.length, buyers.size + new Set(s.products.map((p) => p.sellerId)).size);
  t.true(s.users.some((u) => u.phone === null) && s.users.some((u) => u.phone !== null), 'some profiles without a phone');
  t.is(s.rejected.length, 1);
  const [r] = s.rejected;
  t.is(byId.get(r!.placed.customerId)?.role, 'SELLER');
  t.false(s.orders.some((o) => o.placed.orderId === r!.placed.orderId));
});

test('dead-letter check: the rejected order once with its reason, nothing else', (t) => {
  const [r] = s.rejected;
  const dl = (orderId: string, errorType: string, reason: string) =>
    ({ orderId, errorType, reason: `order ${orderId}: ${reason}`, sourceTopic: 'order-placed', attempt: 0, maxAttempts: 5 });
  const good = dl(r!.placed.orderId, 'TransitionRejected', `${r!.because}, not a BUYER`);
  t.deepEqual(deadLetterMismatches(s, [good]), []);
  t.deepEqual(deadLetterMismatches(s, []), [`${r!.placed.orderId} (${r!.because}): dead-lettered 0×, expected once`]);
  t.is(deadLetterMismatches(s, [good, good]).length, 1, 'twice');
  t.is(deadLetterMismatches(s, [dl(r!.placed.orderId, 'NotYetApplicable', 'gave up after 5 retries')]).length, 1, 'for another reason');
  const planned = s.orders[0]!.placed.orderId;
  t.regex(deadLetterMismatches(s, [good, dl(planned, 'TransitionRejected', 'no')])[0]!, new RegExp(`^${planned} dead-lettered from order-placed`));
});

test('outcome, level, gateway and completed checks name the orders and products that differ', (t) => {
  const statuses = new Map<string, OrderStatusChanged[]>();
  const charges: Record<string, number> = {};
  const refunds: Record<string, number> = {};
  const completed = new Map<string, OrderCompletedMessage>();
  for (const o of s.orders) {
    const out = expectedOutcome(s, o);
    statuses.set(o.placed.orderId, path(o.placed.orderId, 'CREATED', out.status));
    if (out.charges) charges[o.placed.orderId] = 1;
    if (out.refunds) refunds[o.placed.orderId] = 1;
    if (out.status === 'COMPLETED') {
      completed.set(`e-${o.index}`, {
        eventId: `e-${o.index}`, orderId: o.placed.orderId, customerId: o.placed.customerId, totalAmount: o.amount, paymentKey: 'k',
        itemCount: o.placed.lines.reduce((n, l) => n + l.quantity, 0), fulfilment: o.placed.fulfilment,
        deliveryId: o.placed.fulfilment === 'WAREHOUSE' ? null : 'd', completedAt: 0,
      });
    }
  }
  t.deepEqual(outcomeMismatches(s, statuses), []);
  t.true(reasonMismatches(s, statuses).length > 0, 'terminal statuses without reasons are caught');
  for (const o of s.orders) {
    const events = statuses.get(o.placed.orderId)!;
    const code = REASON_OF[expectedOutcome(s, o).cause];
    events[events.length - 1] = { ...events.at(-1)!, reason: code ? `${code}: why` : null };
  }
  t.deepEqual(reasonMismatches(s, statuses), []);
  const abandoned = s.orders.find((o) => expectedOutcome(s, o).cause === 'abandoned')!.placed.orderId;
  const abandonedEvents = statuses.get(abandoned)!;
  statuses.set(abandoned, [...abandonedEvents.slice(0, -1), { ...abandonedEvents.at(-1)!, reason: 'CANCELLED_BY_BUYER: no' }]);
  t.is(reasonMismatches(s, statuses).length, 1);
  statuses.set(abandoned, abandonedEvents);
  t.deepEqual(levelMismatches(s, expectedLevels(s)), []);
  t.deepEqual(gatewayMismatches(s, { charges, refunds }), []);
  t.deepEqual(completedMismatches(s, completed), []);

  const victim = s.orders.find((o) => expectedOutcome(s, o).cause === 'delivered')!;
  const id = victim.placed.orderId;
  statuses.set(id, path(id, 'CREATED', 'PENDING_PAYMENT'));
  t.deepEqual(outcomeMismatches(s, statuses).map((m) => [m.orderId, m.actual]), [[id, 'PENDING_PAYMENT']]);
  t.true(stuckReport(s, statuses).startsWith(`1 of ${s.orders.length} orders not terminal: 1 in PENDING_PAYMENT`));

  const levels = new Map(expectedLevels(s));
  const product = victim.placed.lines[0]!.productId;
  levels.set(product, levels.get(product)! - 1);
  t.is(levelMismatches(s, levels).length, 1);

  t.is(gatewayMismatches(s, { charges: { ...charges, [id]: 2 }, refunds }).length, 1);
  const declined = s.orders.find((o) => expectedOutcome(s, o).cause === 'declined')!.placed.orderId;
  t.is(gatewayMismatches(s, { charges: { ...charges, [declined]: 1 }, refunds }).length, 1);

  const missing = new Map(completed);
  missing.delete([...completed.entries()].find(([, e]) => e.orderId === id)![0]);
  t.is(completedMismatches(s, missing).length, 1);
  const wrongAmount = new Map(completed);
  const [k, e] = [...completed.entries()][0]!;
  wrongAmount.set(k, { ...e, totalAmount: e.totalAmount + 1 });
  t.is(completedMismatches(s, wrongAmount).length, 1);

  const a = predictedState(s);
  t.deepEqual(stateDifferences(a, predictedState(s)), []);
  t.deepEqual(stateDifferences(a, { ...a, orders: { ...a.orders, [id]: 'CANCELLED' } }), [`order ${id}: ${a.orders[id]} vs CANCELLED`]);
});

test('duplicated effects: a status event delivered twice, a status entered twice, an order-completed delivered twice', (t) => {
  const events = path('d', 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'IN_WAREHOUSE', 'COMPLETED');
  const done = { eventId: 'c-d', orderId: 'd' } as OrderCompletedMessage;
  t.deepEqual(duplicateEffects(events, [done]), []);
  const twice = duplicateEffects([...events, events[2]!], [done]);
  t.is(twice.length, 1);
  t.regex(twice[0]!, /^d: status event .* delivered 2×/);
  const again = duplicateEffects([...events, { ...events[2]!, eventId: 'other' }], [done]);
  t.is(again.length, 1);
  t.regex(again[0]!, /^d: entered PAYMENT_COMPLETED 2× with distinct eventIds/);
  t.deepEqual(duplicateEffects(events, [done, done]), ['d: order-completed c-d delivered 2×']);
});
