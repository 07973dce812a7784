/**
 * Retention of stock's per-order state (processors/common/retention.ts has the design): the
 * reservation of each line of an order that ended is deleted the retention after the order ended
 * (a tombstone on the `stock-reservations` changelog). Product levels are not per order and stay.
 *
 * Stock learns that an order ended from the order processor's terminal status on
 * order-status-topic. That topic is keyed by orderId, a reservation lives in the task of its
 * product: so a small order-keyed sub-topology, co-partitioned with `order-created`, remembers
 * which products each order has (`stock-orders`, from `order-created`) and, when the order ends,
 * sends one OrderStatusChanged per product, keyed by productId, through
 * `<appId>-stock-order-ended-repartition` to the ledger, with the order line's record time as its
 * timestamp. The ledger indexes each reservation (`stock-reservation-expiries`) and, when due,
 * deletes it — except a RESERVED one of an order that did not complete: its release is still on
 * the way (a delete would lose the units it gives back), so it is looked at again a retention
 * later. The tracker's own entries expire the same way (`stock-order-expiries`).
 *
 *   order-created ──────┬─ split per line ─▶ order-lines-repartition ─────────────────┐
 *                       └─ tracker [stock-orders] ─▶ stock-order-ended-repartition ────┼─▶ ledger [+ stock-reservation-expiries]
 *   order-status-topic ─┘  (terminal statuses)        (key productId)                  │
 *
 * Late duplicates after the delete: a line (`order-created` again) whose record time is at or
 * below the ledger's watermark (the newest line time among expired reservations; an exact
 * duplicate carries its original's) is answered FAILED (`StockMessages.expired`) and reserves
 * nothing — reserving again would hold units for an order that no longer exists; the order
 * processor drops the answer. The tracker likewise does not remember such a line. A release more
 * than the retention late finds no reservation and leaves the usual 0-unit RELEASED marker (a
 * few bytes, not expired: a release is only sent for a reserved line, so this takes a duplicate
 * arriving after the retention).
 */
import { repartitionName, Serdes, keyValueStore, type KeyValueStore, type Processor, type ProcessorContext, type StoreBuilder } from '../engine/index.ts';
import type { OrderStatus, OrderStatusChanged, StockDecreaseRequestMessage } from '../../schemas/index.ts';
import { ExpiryIndex, expiryIndexStore, isTerminalStatus, type RetentionSettings } from '../common/retention.ts';
import { derivedId } from '../common/ids.ts';
import type { ReservationStore } from './stores.ts';

/** Key orderId: the order's products (from order-created) and, once it ended, how and when. */
export const STOCK_ORDERS_STORE = 'stock-orders';
export const STOCK_ORDER_EXPIRIES_STORE = 'stock-order-expiries';
/** `<due time>/<productId>/<orderId>` → how the order ended and the line's time; and the watermark. */
export const STOCK_RESERVATION_EXPIRIES_STORE = 'stock-reservation-expiries';
export const ORDER_ENDED_REPARTITION = repartitionName('stock-order-ended');

export interface TrackedOrder {
  /** Null while only the end is known (the status overtook order-created). */
  readonly products: readonly string[] | null;
  /** Record time of order-created (the lines' time); null with products. */
  readonly lineAt: number | null;
  readonly ended: { readonly status: OrderStatus; readonly at: number } | null;
}

/** What the order-keyed tracker reads. */
export type TrackerEvent =
  | { readonly kind: 'created'; readonly request: StockDecreaseRequestMessage }
  | { readonly kind: 'status'; readonly status: OrderStatusChanged | null };

export function trackerStores(): StoreBuilder[] {
  return [
    keyValueStore<string, TrackedOrder>(STOCK_ORDERS_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json<TrackedOrder>() }),
    expiryIndexStore(STOCK_ORDER_EXPIRIES_STORE),
  ];
}

export function ledgerRetentionStore(): StoreBuilder {
  return expiryIndexStore(STOCK_RESERVATION_EXPIRIES_STORE);
}

/**
 * The order-keyed tracker: remembers each order's products, and when the order ends sends the
 * terminal status to every product's task (key productId, timestamp the line's).
 */
export function orderTracker(retention: RetentionSettings): Processor<string, TrackerEvent, string, OrderStatusChanged> {
  let ctx: ProcessorContext<string, OrderStatusChanged>;
  let orders: KeyValueStore<string, TrackedOrder>;
  let expiries: ExpiryIndex;

  function announce(products: readonly string[], status: OrderStatusChanged, lineAt: number): void {
    for (const productId of products) ctx.forward({ key: productId, value: status, timestamp: lineAt, headers: {} });
  }

  function created(request: StockDecreaseRequestMessage, timestamp: number): void {
    const products = [...new Set(request.products.map((l) => l.productId))];
    const known = orders.get(request.orderId);
    if (known === undefined) {
      // A line at or below the watermark: a late duplicate of an order forgotten already.
      if (expiries.isLate(timestamp)) return;
      orders.put(request.orderId, { products, lineAt: timestamp, ended: null });
      return;
    }
    if (known.products !== null || known.ended === null) return;
    // The end overtook the order: announce it now.
    orders.put(request.orderId, { ...known, products, lineAt: timestamp });
    announce(products, endedStatus(request.orderId, known.ended), timestamp);
  }

  function ended(status: OrderStatusChanged): void {
    const known = orders.get(status.orderId);
    if (known?.ended) return;
    orders.put(status.orderId, { products: known?.products ?? null, lineAt: known?.lineAt ?? null, ended: { status: status.to, at: status.at } });
    expiries.add(status.at + retention.retentionMs, status.orderId);
    if (known?.products && known.lineAt !== null) announce(known.products, status, known.lineAt);
  }

  return {
    init(c) {
      ctx = c;
      orders = c.getStateStore(STOCK_ORDERS_STORE);
      expiries = new ExpiryIndex(c.getStateStore(STOCK_ORDER_EXPIRIES_STORE));
      c.schedule(retention.tickMs, 'wall-clock-time', (now) => {
        for (const due of expiries.due(now, retention.maxPerPunctuation)) {
          expiries.remove(due.key);
          const known = orders.delete(due.payload);
          if (known?.lineAt !== null && known?.lineAt !== undefined) expiries.raise(known.lineAt);
        }
      });
    },
    process(r) {
      const e = r.value;
      if (e.kind === 'created') created(e.request, r.timestamp);
      else if (e.status !== null && e.status !== undefined && isTerminalStatus(e.status.to)) ended(e.status);
    },
  };
}

/**
 * The status announced for an order whose end the tracker knew before its products. It crosses a
 * repartition topic in the OrderStatusChanged schema, whose eventId is a uuid: a derived one
 * (`<orderId>/ended` was refused by the registry serde and stopped the stock processor).
 */
export function endedStatus(orderId: string, ended: NonNullable<TrackedOrder['ended']>): OrderStatusChanged {
  return { eventId: derivedId('stock', 'ended', orderId), orderId, from: null, to: ended.status, reason: null, at: ended.at, sequence: 0 };
}

interface IndexedReservation {
  /** How the order ended. */
  readonly s: OrderStatus;
  /** The line's record time. */
  readonly t: number;
}

/** The ledger's side: indexes reservations of ended orders, deletes them when due, spots late lines. */
export class ReservationRetention {
  private readonly expiries: ExpiryIndex;

  constructor(private readonly reservations: ReservationStore, index: KeyValueStore<string, string>, private readonly settings: RetentionSettings) {
    this.expiries = new ExpiryIndex(index);
  }

  /** The order of reservation `key` ended (status, at) ; its line was at `lineAt`. */
  ended(key: string, status: OrderStatusChanged, lineAt: number): void {
    const payload: IndexedReservation = { s: status.to, t: lineAt };
    this.expiries.add(status.at + this.settings.retentionMs, key, JSON.stringify(payload));
  }

  /** A line at `time` with no reservation: a late duplicate of an expired one? */
  isLate(time: number): boolean {
    return this.expiries.isLate(time);
  }

  deleteDue(now: number): void {
    for (const due of this.expiries.due(now, this.settings.maxPerPunctuation)) {
      this.expiries.remove(due.key);
      const key = due.key.slice(due.key.indexOf('/') + 1);
      const entry = this.reservations.get(key);
      if (entry === undefined) continue;
      const { s: status, t: lineAt } = JSON.parse(due.payload) as IndexedReservation;
      // Reserved, and the order did not complete: its release is still to come and must find the reservation.
      if (entry.state === 'RESERVED' && status !== 'COMPLETED') {
        this.expiries.add(now + this.settings.retentionMs, key, due.payload);
        continue;
      }
      this.reservations.delete(key);
      this.expiries.raise(lineAt);
    }
  }
}
