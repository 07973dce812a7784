/**
 * The stock processor: every event about a product — the seller's level, an order line to
 * reserve, a release — arrives at the one task that owns the product, so a check and the
 * decrement that follows it happen in one synchronous process() call and cannot interleave with
 * another order's. Each order line gets exactly one answer; a repeated line gets the same status
 * again and changes nothing.
 */
import type { Processor, ProcessorContext, StreamRecord } from '../engine/index.ts';
import type { OrderStatusChanged, StockDecreaseRequestMessage, StockLevel, StockReleaseMessage, StockResponseMessage } from '../../schemas/index.ts';
import type { RetentionSettings } from '../common/retention.ts';
import { ReservationRetention, STOCK_RESERVATION_EXPIRIES_STORE } from './retention.ts';
import {
  STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE, reservationKey,
  type LevelStore, type ReservationStore, type StoredReservation,
} from './stores.ts';
import { InvalidStockInput, validateLevel } from './validation.ts';

/** What reaches the processor, keyed by productId. */
export type StockEvent =
  /** A seller's level; null is a tombstone on the compacted topic: the product is gone. */
  | { readonly kind: 'level'; readonly level: StockLevel | null }
  /** One line of an order: a StockDecreaseRequestMessage with exactly one product. */
  | { readonly kind: 'line'; readonly request: StockDecreaseRequestMessage }
  | { readonly kind: 'release'; readonly release: StockReleaseMessage }
  /** The order ended (its terminal status, from the tracker; timestamp: the line's): the reservation may expire (retention.ts). */
  | { readonly kind: 'ended'; readonly ended: OrderStatusChanged };

/** The exact texts order and the end-to-end tests may match. */
export const StockMessages = {
  reserved: (productId: string, quantity: number) => `reserved ${quantity} of product ${productId}`,
  unknownProduct: (productId: string) => `unknown product ${productId}`,
  insufficient: (productId: string, available: number, requested: number) =>
    `insufficient stock of product ${productId}: available ${available}, requested ${requested}`,
  alreadyReleased: () => 'order already released',
  /** A repeated line that was rejected: the store keeps the outcome, not the first message's detail. */
  rejectedBefore: (productId: string, requested: number) => `already rejected: product ${productId}, requested ${requested}`,
  /** A line at or below the retention watermark with no reservation: a late duplicate of an expired order (retention.ts). */
  expired: (productId: string) => `not reserved: product ${productId} of an order whose reservations have expired (a late duplicate)`,
} as const;

/** `retention`: enabled settings make the ledger expire the reservations of ended orders (retention.ts). */
export function stockProcessor(retention?: RetentionSettings): Processor<string, StockEvent, string, StockResponseMessage> {
  let ctx: ProcessorContext<string, StockResponseMessage>;
  let levels: LevelStore;
  let reservations: ReservationStore;
  let expiry: ReservationRetention | undefined;

  const answer = (r: StreamRecord<string, StockEvent>, orderId: string, productId: string, status: StockResponseMessage['status'], message: string) =>
    ctx.forward({ key: orderId, value: { orderId, productId, status, message }, timestamp: r.timestamp, headers: r.headers });

  function setLevel(key: string | null, level: StockLevel | null): void {
    if (key === null || key === undefined) throw new InvalidStockInput('no key', { kind: 'stock-level', key, productId: level?.productId });
    if (level === null || level === undefined) { levels.delete(key); return; }
    const l = validateLevel(key, level);
    levels.put(key, { productId: l.productId, sellerId: l.sellerId, available: l.available, updatedAt: l.updatedAt });
  }

  function reserve(r: StreamRecord<string, StockEvent>, request: StockDecreaseRequestMessage): void {
    const { orderId } = request;
    const line = request.products[0];
    if (request.products.length !== 1 || line === undefined || line.productId !== r.key) {
      throw new InvalidStockInput('an order line must carry exactly the product it is keyed by', { kind: 'order-created', key: r.key, orderId });
    }
    const { productId, quantity } = line;
    const key = reservationKey(productId, orderId);
    const existing = reservations.get(key);
    if (existing !== undefined) { answerAgain(r, orderId, productId, existing); return; }
    if (expiry?.isLate(r.timestamp)) { answer(r, orderId, productId, 'FAILED', StockMessages.expired(productId)); return; }
    const level = levels.get(productId);
    if (level === undefined) {
      reservations.put(key, { quantity, state: 'REJECTED' });
      answer(r, orderId, productId, 'FAILED', StockMessages.unknownProduct(productId));
      return;
    }
    if (level.available < quantity) {
      reservations.put(key, { quantity, state: 'REJECTED' });
      answer(r, orderId, productId, 'FAILED', StockMessages.insufficient(productId, level.available, quantity));
      return;
    }
    levels.put(productId, { ...level, available: level.available - quantity, updatedAt: r.timestamp });
    reservations.put(key, { quantity, state: 'RESERVED' });
    answer(r, orderId, productId, 'SUCCESS', StockMessages.reserved(productId, quantity));
  }

  /** A repeated line: the status it got the first time, nothing written. */
  function answerAgain(r: StreamRecord<string, StockEvent>, orderId: string, productId: string, existing: StoredReservation): void {
    switch (existing.state) {
      case 'RESERVED':
        answer(r, orderId, productId, 'SUCCESS', StockMessages.reserved(productId, existing.quantity));
        return;
      case 'REJECTED':
        answer(r, orderId, productId, 'FAILED', StockMessages.rejectedBefore(productId, existing.quantity));
        return;
      case 'RELEASED':
        // Released after a reservation: the first answer was SUCCESS. Released before any
        // request (quantity 0): the line must fail, now and on every repeat.
        if (existing.quantity > 0) answer(r, orderId, productId, 'SUCCESS', StockMessages.reserved(productId, existing.quantity));
        else answer(r, orderId, productId, 'FAILED', StockMessages.alreadyReleased());
        return;
    }
  }

  function release(r: StreamRecord<string, StockEvent>, msg: StockReleaseMessage): void {
    if (msg.productId !== r.key) {
      throw new InvalidStockInput('a release must carry the product it is keyed by', { kind: 'stock-release', key: r.key, orderId: msg.orderId, productId: msg.productId });
    }
    const key = reservationKey(msg.productId, msg.orderId);
    const existing = reservations.get(key);
    if (existing === undefined) {
      // The release overtook the request: remember it so that the request, when it comes, fails.
      reservations.put(key, { quantity: 0, state: 'RELEASED' });
      return;
    }
    if (existing.state !== 'RESERVED') return;
    // The units given back are those taken, whatever the message says.
    const level = levels.get(msg.productId);
    if (level !== undefined) levels.put(msg.productId, { ...level, available: level.available + existing.quantity, updatedAt: r.timestamp });
    reservations.put(key, { quantity: existing.quantity, state: 'RELEASED' });
  }

  return {
    init(c) {
      ctx = c;
      levels = c.getStateStore<LevelStore>(STOCK_LEVELS_STORE);
      reservations = c.getStateStore<ReservationStore>(STOCK_RESERVATIONS_STORE);
      if (retention?.enabled) {
        const e = (expiry = new ReservationRetention(reservations, c.getStateStore(STOCK_RESERVATION_EXPIRIES_STORE), retention));
        c.schedule(retention.tickMs, 'wall-clock-time', (now) => e.deleteDue(now));
      }
    },
    process(r) {
      const e = r.value;
      switch (e.kind) {
        case 'level': setLevel(r.key, e.level); return;
        case 'line': reserve(r, e.request); return;
        case 'release': release(r, e.release); return;
        case 'ended': expiry?.ended(reservationKey(r.key, e.ended.orderId), e.ended, r.timestamp); return;
      }
    },
  };
}
