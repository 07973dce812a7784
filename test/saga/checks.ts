/**
 * What a finished saga run must satisfy, as pure functions from what was observed to a list of
 * problems (empty: fine). The test turns each list into one assertion whose message names the
 * orders and products concerned.
 */
import type { OrderCompletedMessage, OrderStatus, OrderStatusChanged, RetryEnvelope } from '../../schemas/index.ts';
import { TERMINAL, expectedLevels, expectedOutcome, type FinalState, type OutcomeCause, type Scenario } from './scenario.ts';

/**
 * The moves a sane order machine may make. Looser than any one implementation (IN_TRANSIT is
 * optional, cancellation is allowed wherever a design might allow it before shipping), strict
 * where it matters: nothing after a terminal status, no shipping without payment, no refund
 * without a charge, WAREHOUSE and DELIVERY paths kept apart (checked separately).
 */
export const SANE_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  CREATED: ['PENDING_PAYMENT', 'CANCELLED'],
  PENDING_PAYMENT: ['PAYMENT_COMPLETED', 'CANCELLED'],
  PAYMENT_COMPLETED: ['PREPARING', 'IN_WAREHOUSE', 'REFUND_REQUESTED'],
  PREPARING: ['SHIPMENT_STARTED', 'REFUND_REQUESTED'],
  IN_WAREHOUSE: ['COMPLETED'],
  SHIPMENT_STARTED: ['IN_TRANSIT', 'COMPLETED'],
  IN_TRANSIT: ['COMPLETED'],
  REFUND_REQUESTED: ['REFUNDED'],
  COMPLETED: [],
  REFUNDED: [],
  CANCELLED: [],
};

const DELIVERY_ONLY: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['PREPARING', 'SHIPMENT_STARTED', 'IN_TRANSIT']);

/** One order's status events in arrival order, readable: `∅→CREATED +0ms →PENDING_PAYMENT +35ms …` (times from CREATED). */
export function chain(events: readonly OrderStatusChanged[]): string {
  if (events.length === 0) return '(no status events)';
  const t0 = events[0]!.at;
  const step = (e: OrderStatusChanged) => `${e.to}${e.reason ? ` (${e.reason})` : ''} +${e.at - t0}ms`;
  return events.map((e, i) => (i === 0 || e.from !== events[i - 1]!.to ? `${e.from ?? '∅'}→${step(e)}` : `→${step(e)}`)).join(' ');
}

/**
 * Problems with one order's status sequence (events in arrival order, one per eventId): the
 * moves, and the numbering — event i carries `sequence` i + 1, so a consumer can tell a gap.
 */
export function sequenceProblems(events: readonly OrderStatusChanged[], fulfilment: 'DELIVERY' | 'WAREHOUSE'): string[] {
  const problems: string[] = [];
  let current: OrderStatus | null = null;
  for (const [i, e] of events.entries()) {
    const from = e.from ?? null;
    if (i === 0 && (from !== null || e.to !== 'CREATED')) problems.push(`starts with ${from ?? '∅'}→${e.to}, not ∅→CREATED`);
    if (i > 0 && from !== current) problems.push(`event ${i} moves from ${from ?? '∅'} but the order was ${current ?? '∅'}`);
    if (current !== null && TERMINAL.has(current)) problems.push(`event ${i} (→${e.to}) after terminal ${current}`);
    else if (current !== null && !SANE_TRANSITIONS[current].includes(e.to)) problems.push(`${current}→${e.to} is not an allowed move`);
    if (fulfilment === 'WAREHOUSE' && DELIVERY_ONLY.has(e.to)) problems.push(`WAREHOUSE order went to ${e.to}`);
    if (fulfilment === 'DELIVERY' && e.to === 'IN_WAREHOUSE') problems.push('DELIVERY order went to IN_WAREHOUSE');
    if (e.sequence !== i + 1) problems.push(`event ${i} (→${e.to}) carries sequence ${e.sequence ?? 'none'}, not ${i + 1}`);
    current = e.to;
  }
  return problems;
}

export interface OutcomeMismatch {
  readonly orderId: string;
  readonly expected: string;
  readonly actual: string;
  readonly chain: string;
}

/** Orders whose last status is not the predicted terminal one. */
export function outcomeMismatches(s: Scenario, statuses: ReadonlyMap<string, readonly OrderStatusChanged[]>): OutcomeMismatch[] {
  const out: OutcomeMismatch[] = [];
  for (const o of s.orders) {
    const events = statuses.get(o.placed.orderId) ?? [];
    const expected = expectedOutcome(s, o);
    const actual = events.at(-1)?.to ?? 'none';
    if (actual !== expected.status) {
      out.push({ orderId: o.placed.orderId, expected: `${expected.status} (${expected.cause}, ${o.placed.fulfilment}, ${o.behaviour})`, actual, chain: chain(events) });
    }
  }
  return out;
}

/** Products whose last level differs from the expectation (initial − COMPLETED orders' quantities). */
export function levelMismatches(s: Scenario, last: ReadonlyMap<string, number>): string[] {
  const out: string[] = [];
  for (const [productId, expected] of expectedLevels(s)) {
    const actual = last.get(productId);
    if (actual !== expected) {
      const kind = s.products.find((p) => p.productId === productId)!.kind;
      out.push(`${kind} ${productId}: expected ${expected}, last changelog value ${actual ?? 'none'}`);
    }
  }
  return out;
}

export interface GatewayStats {
  readonly charges: Readonly<Record<string, number>>;
  readonly refunds: Readonly<Record<string, number>>;
  /** Requests answered from the idempotency store: retries and calls repeated after a crash. */
  readonly replays: number;
  /** HTTP requests received, the stats requests included. */
  readonly requests: number;
}

/** Orders charged or refunded other than their predicted outcome says. */
export function gatewayMismatches(s: Scenario, stats: Pick<GatewayStats, 'charges' | 'refunds'>): string[] {
  const out: string[] = [];
  const known = new Set(s.orders.map((o) => o.placed.orderId));
  for (const o of s.orders) {
    const { status, cause, charges, refunds } = expectedOutcome(s, o);
    const id = o.placed.orderId;
    const c = stats.charges[id] ?? 0;
    const r = stats.refunds[id] ?? 0;
    if (c !== charges || r !== refunds) out.push(`${id} (${status}, ${cause}): charged ${c}× refunded ${r}×, expected ${charges}× / ${refunds}×`);
  }
  for (const id of [...Object.keys(stats.charges), ...Object.keys(stats.refunds)]) {
    if (!known.has(id)) out.push(`${id}: not an order of the scenario, but the gateway saw it`);
  }
  return out;
}

/**
 * order-completed events: exactly one (by eventId) per COMPLETED order and none for others.
 * Returns problems; copies with the same eventId are not problems here (idempotent consumers
 * drop them) but counted by the caller.
 */
export function completedMismatches(s: Scenario, events: ReadonlyMap<string, OrderCompletedMessage>): string[] {
  const perOrder = new Map<string, OrderCompletedMessage[]>();
  for (const e of events.values()) (perOrder.get(e.orderId) ?? perOrder.set(e.orderId, []).get(e.orderId)!).push(e);
  const out: string[] = [];
  for (const o of s.orders) {
    const got = perOrder.get(o.placed.orderId) ?? [];
    perOrder.delete(o.placed.orderId);
    const want = expectedOutcome(s, o).status === 'COMPLETED' ? 1 : 0;
    if (got.length !== want) out.push(`${o.placed.orderId}: ${got.length} order-completed events with distinct eventIds, expected ${want}`);
    for (const e of got) {
      const items = o.placed.lines.reduce((n, l) => n + l.quantity, 0);
      if (e.totalAmount !== o.amount || e.itemCount !== items || e.fulfilment !== o.placed.fulfilment || e.customerId !== o.placed.customerId) {
        out.push(`${o.placed.orderId}: order-completed says amount ${e.totalAmount}, items ${e.itemCount}, ${e.fulfilment}, customer ${e.customerId}; the order has ${o.amount}, ${items}, ${o.placed.fulfilment}, ${o.placed.customerId}`);
      }
      if ((o.placed.fulfilment === 'WAREHOUSE') !== (e.deliveryId === null || e.deliveryId === undefined)) {
        out.push(`${o.placed.orderId}: ${o.placed.fulfilment} order completed with deliveryId ${e.deliveryId ?? 'null'}`);
      }
    }
  }
  for (const id of perOrder.keys()) out.push(`${id}: order-completed for an order not in the scenario`);
  return out;
}

/**
 * Duplicated effects among everything the reader admitted (after the origin check that drops a
 * re-sent copy on RabbitMQ): a status event delivered more than once (same orderId and eventId),
 * an order entering one status more than once (same orderId and target status, distinct eventIds:
 * the machine never returns to a status, so a second one is a step taken twice), and an
 * order-completed event delivered more than once. Under exactly_once none may occur, crash or not.
 */
export function duplicateEffects(statuses: readonly OrderStatusChanged[], completed: readonly OrderCompletedMessage[]): string[] {
  const out: string[] = [];
  const count = <T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> => {
    const m = new Map<string, T[]>();
    for (const x of xs) (m.get(key(x)) ?? m.set(key(x), []).get(key(x))!).push(x);
    return m;
  };
  for (const [, es] of count(statuses, (e) => `${e.orderId}|${e.eventId}`)) {
    if (es.length > 1) out.push(`${es[0]!.orderId}: status event ${es[0]!.eventId} (${es[0]!.from ?? '∅'}→${es[0]!.to}) delivered ${es.length}× (at ${es.map((e) => e.at).join(', ')})`);
  }
  const firstOfEach = [...count(statuses, (e) => e.eventId).values()].map((es) => es[0]!);
  for (const [, es] of count(firstOfEach, (e) => `${e.orderId}|${e.to}`)) {
    if (es.length > 1) out.push(`${es[0]!.orderId}: entered ${es[0]!.to} ${es.length}× with distinct eventIds ${es.map((e) => `${e.eventId} (from ${e.from ?? '∅'}${e.reason ? `, ${e.reason}` : ''}, at ${e.at})`).join(', ')}`);
  }
  for (const [, es] of count(completed, (e) => `${e.orderId}|${e.eventId}`)) {
    if (es.length > 1) out.push(`${es[0]!.orderId}: order-completed ${es[0]!.eventId} delivered ${es.length}×`);
  }
  return out;
}

/**
 * order-dead-letter-topic against the scenario: each rejected order exactly once, rejected
 * (TransitionRejected) with its reason; nothing else (a planned order there was lost).
 */
export function deadLetterMismatches(s: Scenario, deadLetters: readonly Pick<RetryEnvelope, 'orderId' | 'errorType' | 'reason' | 'sourceTopic' | 'attempt' | 'maxAttempts'>[]): string[] {
  const out: string[] = [];
  const rejected = new Map(s.rejected.map((r) => [r.placed.orderId, r]));
  const describe = (d: (typeof deadLetters)[number]) => `from ${d.sourceTopic} after ${d.attempt}/${d.maxAttempts}: ${d.errorType ?? ''} ${d.reason ?? ''}`;
  for (const d of deadLetters) {
    const r = rejected.get(d.orderId);
    if (r === undefined) out.push(`${d.orderId} dead-lettered ${describe(d)}`);
    else if (d.errorType !== 'TransitionRejected' || !(d.reason ?? '').includes(r.because)) out.push(`${d.orderId} dead-lettered ${describe(d)}; expected TransitionRejected saying "${r.because}"`);
  }
  for (const r of s.rejected) {
    const n = deadLetters.filter((d) => d.orderId === r.placed.orderId).length;
    if (n !== 1) out.push(`${r.placed.orderId} (${r.because}): dead-lettered ${n}×, expected once`);
  }
  return out;
}

/** Differences between two final states (orders and levels), at most `limit` listed. */
export function stateDifferences(a: FinalState, b: FinalState, limit = 20): string[] {
  const out: string[] = [];
  for (const id of new Set([...Object.keys(a.orders), ...Object.keys(b.orders)])) {
    if (a.orders[id] !== b.orders[id]) out.push(`order ${id}: ${a.orders[id] ?? 'absent'} vs ${b.orders[id] ?? 'absent'}`);
  }
  for (const id of new Set([...Object.keys(a.levels), ...Object.keys(b.levels)])) {
    if (a.levels[id] !== b.levels[id]) out.push(`product ${id}: ${a.levels[id] ?? 'absent'} vs ${b.levels[id] ?? 'absent'}`);
  }
  return out.length > limit ? [...out.slice(0, limit), `… and ${out.length - limit} more`] : out;
}

/** "12 orders: a (…), b (…), …" — a bounded listing for assertion messages. */
export function listing(what: string, items: readonly string[], limit = 15): string {
  if (items.length === 0) return `no ${what}`;
  const shown = items.slice(0, limit).map((s) => `  ${s}`).join('\n');
  return `${items.length} ${what}:\n${shown}${items.length > limit ? `\n  … and ${items.length - limit} more` : ''}`;
}

/**
 * The reason code (the order processor's `CODE: detail` reasons) the terminal status must carry
 * for each predicted cause. Outcomes alone cannot tell a buyer's CANCEL that worked from one that
 * was ignored and then timed out; the reason can.
 */
export const REASON_OF: Readonly<Record<OutcomeCause, string | undefined>> = {
  'out-of-stock': 'OUT_OF_STOCK',
  cancelled: 'CANCELLED_BY_BUYER',
  abandoned: 'PAYMENT_TIMEOUT',
  declined: 'PAYMENT_FAILED',
  'delivery-failed': 'DELIVERY_FAILED',
  warehouse: undefined,
  delivered: undefined,
};

/** Orders whose terminal status carries another reason than their predicted cause. */
export function reasonMismatches(s: Scenario, statuses: ReadonlyMap<string, readonly OrderStatusChanged[]>): string[] {
  const out: string[] = [];
  for (const o of s.orders) {
    const { status, cause } = expectedOutcome(s, o);
    const last = statuses.get(o.placed.orderId)?.at(-1);
    if (last?.to !== status) continue; // reported as an outcome mismatch
    const want = REASON_OF[cause];
    const allowed = want === undefined ? [] : [want];
    // An out-of-stock order whose buyer also cancelled at once ends by whichever came first.
    if (cause === 'out-of-stock' && o.behaviour === 'CANCEL') allowed.push('CANCELLED_BY_BUYER');
    const ok = allowed.length === 0 ? true : allowed.some((code) => (last.reason ?? '').startsWith(code));
    if (!ok) out.push(`${o.placed.orderId} (${cause}): ${status} with reason ${JSON.stringify(last.reason ?? null)}, expected ${allowed.join(' or ')}`);
  }
  return out;
}
