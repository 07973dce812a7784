/**
 * The saga scenario: orders, products and stock levels fixed by a seed, and the outcome each order
 * must reach. Everything that decides an outcome is either in the scenario (what is ordered, what
 * the buyer does) or a deterministic draw the processors make with `chance(seed, orderId)`
 * (payment declines, delivery failures), so the final state is predictable before the run and
 * the same on every broker.
 *
 * Contention is designed out: an AMPLE product holds at least the demand of every order, a SCARCE
 * product less than the smallest quantity any order asks of it. Whichever order the stock
 * processor sees requests in, every AMPLE line succeeds and every SCARCE line fails.
 *
 * Every buyer and seller is a user on users-topic before the first order (the order processor
 * waits for a buyer it does not know); one extra order is placed by a seller and must be
 * dead-lettered, never created.
 */
import { createHash } from 'node:crypto';
import { chance, derivedId } from '../../processors/common/index.ts';
import type { OrderPlaced, OrderStatus, StockLevel, User } from '../../schemas/index.ts';

export type ProductKind = 'AMPLE' | 'SCARCE' | 'UNKNOWN';

export interface Product {
  readonly productId: string;
  readonly sellerId: string;
  readonly kind: ProductKind;
  /** The level the seller sets; undefined for UNKNOWN (no level is ever written). */
  readonly initial: number | undefined;
}

/** What the buyer does once the order exists. */
export type Behaviour =
  /** Pays when the order reaches PENDING_PAYMENT. */
  | 'PAY'
  /** Sends CANCEL right after placing the order. */
  | 'CANCEL'
  /** Never pays; the payment deadline cancels the order. */
  | 'ABANDON';

export interface PlannedOrder {
  readonly index: number;
  readonly placed: OrderPlaced;
  readonly behaviour: Behaviour;
  /** A line asks for a SCARCE or UNKNOWN product. */
  readonly outOfStock: boolean;
  /** What the buyer pays: Σ quantity × unitPrice. */
  readonly amount: number;
}

/** An order the order processor must refuse: dead-lettered with a reason containing `because`. */
export interface RejectedOrder {
  readonly placed: OrderPlaced;
  readonly because: string;
}

export type TerminalStatus = Extract<OrderStatus, 'COMPLETED' | 'CANCELLED' | 'REFUNDED'>;
export const TERMINAL: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['COMPLETED', 'CANCELLED', 'REFUNDED']);

/** Why an order ends where it ends, in the order the saga decides it. */
export type OutcomeCause = 'out-of-stock' | 'cancelled' | 'abandoned' | 'declined' | 'warehouse' | 'delivery-failed' | 'delivered';

export interface Outcome {
  readonly status: TerminalStatus;
  readonly cause: OutcomeCause;
  /** Successful charges the payment gateway must have taken for the order. */
  readonly charges: 0 | 1;
  readonly refunds: 0 | 1;
}

export interface Scenario {
  readonly seed: string;
  /** Changes whenever the generated scenario changes: final-state files compare only within one. */
  readonly fingerprint: string;
  /** PG_SEED and PG_DECLINE_RATE of the payment gateway simulator. */
  readonly pgSeed: string;
  readonly declineRate: number;
  /** DELIVERY_SEED and DELIVERY_FAILURE_RATE of the delivery processor. */
  readonly deliverySeed: string;
  readonly deliveryFailureRate: number;
  readonly products: readonly Product[];
  readonly orders: readonly PlannedOrder[];
  /** Every buyer of `orders` (BUYER) and every seller of `products` (SELLER), one per id. */
  readonly users: readonly User[];
  /** Orders outside `orders`: never created, each dead-lettered with its reason. */
  readonly rejected: readonly RejectedOrder[];
}

/** A run's end state, as written to the final-state file and compared across brokers. */
export interface FinalState {
  readonly orders: Record<string, OrderStatus | 'UNKNOWN'>;
  /** Last changelog level of every product that has a level. */
  readonly levels: Record<string, number>;
}

export interface ScenarioOptions {
  readonly seed: string;
  readonly orders: number;
  readonly products?: { readonly ample: number; readonly scarce: number; readonly unknown: number };
}

const SHARE = { outOfStock: 0.10, warehouse: 0.20, cancel: 0.05, abandon: 0.03, duplicateLine: 0.03 } as const;

export function buildScenario(options: ScenarioOptions): Scenario {
  const { seed } = options;
  const counts = options.products ?? { ample: 30, scarce: 5, unknown: 5 };
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const sellers = Array.from({ length: 4 }, (_, i) => derivedId('saga', seed, 'seller', i));

  const product = (kind: ProductKind, i: number) => ({ productId: derivedId('saga', seed, 'product', kind, i), sellerId: pick(sellers), kind });
  const ample = Array.from({ length: counts.ample }, (_, i) => product('AMPLE', i));
  const scarce = Array.from({ length: counts.scarce }, (_, i) => product('SCARCE', i));
  const unknown = Array.from({ length: counts.unknown }, (_, i) => product('UNKNOWN', i));

  const orders: PlannedOrder[] = [];
  for (let index = 0; index < options.orders; index++) {
    const orderId = derivedId('saga', seed, 'order', index);
    const lineCount = int(1, 3);
    const chosen = new Set<number>();
    while (chosen.size < Math.min(lineCount, ample.length)) chosen.add(int(0, ample.length - 1));
    const lines = [...chosen].map((p) => ({ productId: ample[p]!.productId, quantity: int(1, 5), unitPrice: int(1, 500) * 10 }));
    // The order-created request merges lines per product; a few orders repeat one.
    if (rand() < SHARE.duplicateLine) lines.push({ ...lines[0]!, quantity: int(1, 5) });
    const outOfStock = rand() < SHARE.outOfStock && scarce.length + unknown.length > 0;
    if (outOfStock) {
      const bad = pick([...scarce, ...unknown]);
      // At least 2 of a SCARCE product, whose level is 0 or 1: the line fails whatever else happens.
      lines.splice(int(0, lines.length), 0, { productId: bad.productId, quantity: int(2, 5), unitPrice: int(1, 500) * 10 });
    }
    const r = rand();
    const behaviour: Behaviour = r < SHARE.cancel ? 'CANCEL' : r < SHARE.cancel + SHARE.abandon ? 'ABANDON' : 'PAY';
    const warehouse = rand() < SHARE.warehouse;
    const customerId = derivedId('saga', seed, 'customer', int(0, 199));
    const placed: OrderPlaced = {
      eventId: derivedId('saga', seed, 'placed', orderId),
      orderId,
      customerId,
      lines,
      fulfilment: warehouse ? 'WAREHOUSE' : 'DELIVERY',
      delivery: warehouse ? null : {
        address: `${int(1, 999)} Saga Street`, addressDetail: `Flat ${int(1, 60)}`, zipcode: String(int(10000, 99999)),
        phone: `010-${int(1000, 9999)}-${int(1000, 9999)}`, name: `Buyer ${index}`, deliveryMemo: index % 7 === 0 ? 'Leave at the door' : '',
      },
      idempotencyKey: null,
      placedAt: 1_700_000_000_000 + index,
    };
    orders.push({ index, placed, behaviour, outOfStock, amount: lines.reduce((n, l) => n + l.quantity * l.unitPrice, 0) });
  }

  const demand = new Map<string, number>();
  for (const o of orders) for (const l of o.placed.lines) demand.set(l.productId, (demand.get(l.productId) ?? 0) + l.quantity);
  const products: Product[] = [
    ...ample.map((p) => ({ ...p, initial: (demand.get(p.productId) ?? 0) + int(0, 20) })),
    ...scarce.map((p) => ({ ...p, initial: int(0, 1) })),
    ...unknown.map((p) => ({ ...p, initial: undefined })),
  ];
  const users = [
    ...[...new Set(orders.map((o) => o.placed.customerId))].sort().map((id, i) => user(id, 'BUYER', `buyer-${i}`, i % 5 === 0 ? null : `010-5550-${String(i).padStart(4, '0')}`)),
    ...[...new Set(sellers)].map((id, i) => user(id, 'SELLER', `seller-${i}`, null)),
  ];
  // Not drawn from the generator, so the planned orders stay what they were before it existed.
  const sellerOrderId = derivedId('saga', seed, 'seller-order', 0);
  const rejected: RejectedOrder[] = [{
    because: `customer ${sellers[0]!} is a SELLER`,
    placed: {
      eventId: derivedId('saga', seed, 'placed', sellerOrderId), orderId: sellerOrderId, customerId: sellers[0]!,
      lines: [{ productId: ample[0]!.productId, quantity: 1, unitPrice: 100 }], fulfilment: 'WAREHOUSE', delivery: null,
      idempotencyKey: null, placedAt: 1_700_000_000_000,
    },
  }];
  const base = { seed, pgSeed: `${seed}-pg`, declineRate: 0.10, deliverySeed: `${seed}-delivery`, deliveryFailureRate: 0.05, products, orders, users, rejected };
  const fingerprint = createHash('sha256').update(JSON.stringify(base)).digest('hex').slice(0, 16);
  return { ...base, fingerprint };
}

/** The terminal status an order must reach, and the gateway calls it must cause. */
export function expectedOutcome(s: Scenario, o: PlannedOrder): Outcome {
  const cancelled = (cause: OutcomeCause): Outcome => ({ status: 'CANCELLED', cause, charges: 0, refunds: 0 });
  if (o.outOfStock) return cancelled('out-of-stock');
  if (o.behaviour === 'CANCEL') return cancelled('cancelled');
  if (o.behaviour === 'ABANDON') return cancelled('abandoned');
  if (chance(s.pgSeed, o.placed.orderId) < s.declineRate) return cancelled('declined');
  if (o.placed.fulfilment === 'WAREHOUSE') return { status: 'COMPLETED', cause: 'warehouse', charges: 1, refunds: 0 };
  if (chance(s.deliverySeed, o.placed.orderId) < s.deliveryFailureRate) return { status: 'REFUNDED', cause: 'delivery-failed', charges: 1, refunds: 1 };
  return { status: 'COMPLETED', cause: 'delivered', charges: 1, refunds: 0 };
}

/**
 * Final level of every product with a level: what the seller set, minus what COMPLETED orders
 * took. Cancelled and refunded orders hand their reservations back.
 */
export function expectedLevels(s: Scenario): Map<string, number> {
  const levels = new Map<string, number>();
  for (const p of s.products) if (p.initial !== undefined) levels.set(p.productId, p.initial);
  for (const o of s.orders) {
    if (expectedOutcome(s, o).status !== 'COMPLETED') continue;
    for (const l of o.placed.lines) levels.set(l.productId, levels.get(l.productId)! - l.quantity);
  }
  return levels;
}

/** The state every broker must end in. */
export function predictedState(s: Scenario): FinalState {
  return {
    orders: Object.fromEntries(s.orders.map((o) => [o.placed.orderId, expectedOutcome(s, o).status])),
    levels: Object.fromEntries([...expectedLevels(s)].sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** The levels the sellers write before any order. */
export function stockLevels(s: Scenario, at: number): StockLevel[] {
  return s.products.filter((p) => p.initial !== undefined)
    .map((p) => ({ productId: p.productId, sellerId: p.sellerId, available: p.initial!, updatedAt: at }));
}

function user(id: string, role: User['role'], handle: string, phone: string | null): User {
  return { id, email: `${handle}@saga.example`, role, name: `Saga ${handle}`, phone, updatedAt: 1_700_000_000_000 };
}

/** A scenario's headline numbers, for the test log. */
export function describeScenario(s: Scenario): string {
  const causes = new Map<OutcomeCause, number>();
  for (const o of s.orders) {
    const c = expectedOutcome(s, o).cause;
    causes.set(c, (causes.get(c) ?? 0) + 1);
  }
  const kinds = (k: ProductKind) => s.products.filter((p) => p.kind === k).length;
  return `scenario ${s.seed} (${s.fingerprint}): ${s.orders.length} orders (+${s.rejected.length} to be rejected) by ${s.users.filter((u) => u.role === 'BUYER').length} buyers, products ${kinds('AMPLE')} ample / ${kinds('SCARCE')} scarce / ${kinds('UNKNOWN')} unknown; expected ${[...causes].map(([c, n]) => `${c} ${n}`).join(', ')}`;
}

/** mulberry32 seeded by the seed's hash: the same sequence on every machine. */
export function prng(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32BE(0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}
