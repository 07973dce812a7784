/**
 * The read-model projection as pure functions: given a view document (or undefined when there is
 * none) and one event, the next document, `NO_CHANGE`, or `DELETE`. The projector around them
 * (projector.ts) does the reading, the conditional writes, the retries and the commits.
 *
 * Every function is idempotent and tolerant of order: an event seen again answers NO_CHANGE, an
 * old status event never moves an order back, and a status event may come before its order.
 */
import type { ChatMessage, OrderPlaced, OrderStatusChanged } from '../../schemas/index.ts';
import type { StoredLevel } from '../stock/stores.ts';
import type { ChatView, OrderView, OrderViewLine, ProductDoc, StockView, TimelineEntry } from './views.ts';

/** The document stays as it is. */
export const NO_CHANGE: unique symbol = Symbol('no change');
export type NoChange = typeof NO_CHANGE;

/** The document is removed. */
export const DELETE: unique symbol = Symbol('delete');
export type Delete = typeof DELETE;

/**
 * An order was placed: the view gets its buyer, lines (each with its seller and name from the
 * catalogue; `products` are the catalogue documents of the lines' products, missing ones leave
 * the line's seller null), total, fulfilment and placement time. A view made by status events
 * that came first keeps its status, sequence and timeline. A second OrderPlaced changes nothing.
 */
export function projectOrderPlaced(view: OrderView | undefined, event: OrderPlaced, products: readonly ProductDoc[]): OrderView | NoChange {
  if (view?.customerId != null) return NO_CHANGE;
  const catalogue = new Map(products.map((p) => [p.productId, p]));
  const lines: OrderViewLine[] = event.lines.map((l) => {
    const product = catalogue.get(l.productId);
    return { productId: l.productId, quantity: l.quantity, unitPrice: l.unitPrice, sellerId: product?.sellerId ?? null, name: product?.name ?? null };
  });
  const placed = {
    customerId: event.customerId,
    lines,
    sellerIds: [...new Set(lines.flatMap((l) => (l.sellerId === null ? [] : [l.sellerId])))],
    total: lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0),
    fulfilment: event.fulfilment,
    delivery: event.delivery ?? null,
    placedAt: event.placedAt,
  };
  if (view === undefined) {
    return { _id: event.orderId, orderId: event.orderId, ...placed, status: 'CREATED', sequence: 0, timeline: [], lastUpdated: event.placedAt };
  }
  return { ...view, ...placed, status: view.status ?? 'CREATED', lastUpdated: Math.max(view.lastUpdated, event.placedAt) };
}

/**
 * An order's status changed. Events carry a per-order sequence (1 for the first change): one
 * above the view's moves the status, one at or below it only fills its place in the timeline if
 * it is missing there (never moving the order back), and a repeat changes nothing. Records
 * written before the sequence existed carry 0 and are taken in arrival order, once per eventId.
 * A status event for an order not yet seen makes a view without buyer (customerId null).
 */
export function projectStatusChanged(view: OrderView | undefined, event: OrderStatusChanged): OrderView | NoChange {
  const sequence = sequenceOf(event);
  const base = view ?? emptyOrder(event.orderId, event.at);
  if (base.timeline.some((e) => e.eventId === event.eventId || (sequence > 0 && e.sequence === sequence))) return NO_CHANGE;
  const entry: TimelineEntry = { from: event.from ?? null, to: event.to, reason: event.reason ?? null, at: event.at, sequence, eventId: event.eventId };
  const timeline = insertSorted(base.timeline, entry);
  // Legacy events (0) move the status only while no sequenced event has: they are older than any.
  const advances = sequence > base.sequence || (sequence === 0 && base.sequence === 0);
  if (!advances) return { ...base, timeline };
  return { ...base, status: event.to, sequence, timeline, lastUpdated: event.at };
}

/** A chat message: stored once per messageId. */
export function projectChatMessage(view: ChatView | undefined, message: ChatMessage): ChatView | NoChange {
  if (view !== undefined) return NO_CHANGE;
  return {
    _id: message.messageId, messageId: message.messageId, orderId: message.orderId,
    fromUserId: message.fromUserId, toUserId: message.toUserId, text: message.text, sentAt: message.sentAt,
  };
}

/**
 * An entry of the stock processor's level store changelog (key productId): the level as it is
 * now, or null (a tombstone) when the product's level was removed. The changelog is read in
 * order, so the latest entry wins.
 */
export function projectStockLevel(view: StockView | undefined, productId: string, level: StoredLevel | null): StockView | NoChange | Delete {
  if (level === null) return view === undefined ? NO_CHANGE : DELETE;
  const next: StockView = { _id: productId, productId, sellerId: level.sellerId, available: level.available, updatedAt: level.updatedAt };
  if (view !== undefined && view.sellerId === next.sellerId && view.available === next.available && view.updatedAt === next.updatedAt) return NO_CHANGE;
  return next;
}

/** The event's per-order sequence; 0 on records written before the field existed. */
export function sequenceOf(event: OrderStatusChanged): number {
  return event.sequence ?? 0;
}

// ---------------------------------------------------------------------------------------------

function emptyOrder(orderId: string, at: number): OrderView {
  return {
    _id: orderId, orderId, customerId: null, sellerIds: [], lines: [], total: 0, fulfilment: null, delivery: null,
    status: null, sequence: 0, timeline: [], placedAt: null, lastUpdated: at,
  };
}

/** By sequence; equal sequences (legacy 0) keep arrival order. */
function insertSorted(timeline: readonly TimelineEntry[], entry: TimelineEntry): TimelineEntry[] {
  let i = timeline.length;
  while (i > 0 && timeline[i - 1]!.sequence > entry.sequence) i--;
  return [...timeline.slice(0, i), entry, ...timeline.slice(i)];
}
