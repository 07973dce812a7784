/**
 * The read models: documents the projection (`processors/read-model/`) writes and the gateway
 * reads. The projection is the one writer of these collections; the gateway never writes them.
 * Collection names and index declarations live here so both sides open them the same way.
 */
import type { CollectionSpec } from '../../persistence/types.ts';
import type { DeliveryAddress, Fulfilment, OrderStatus } from '../../schemas/index.ts';

/** One entry of an order's status history. */
export interface TimelineEntry {
  readonly from: OrderStatus | null;
  readonly to: OrderStatus;
  readonly reason: string | null;
  readonly at: number;
  /** The status event's per-order sequence number (1 for the first change). */
  readonly sequence: number;
  readonly eventId: string;
}

export interface OrderViewLine {
  readonly productId: string;
  readonly quantity: number;
  readonly unitPrice: number;
  /** The product's seller, from the catalogue when the projection saw the order; null if unknown. */
  readonly sellerId: string | null;
  readonly name: string | null;
}

/** `orders`: one per order, keyed by orderId. */
export interface OrderView {
  readonly _id: string;
  readonly orderId: string;
  /** Null until `order-placed` has been projected (a status event may arrive first). */
  readonly customerId: string | null;
  readonly sellerIds: readonly string[];
  readonly lines: readonly OrderViewLine[];
  readonly total: number;
  readonly fulfilment: Fulfilment | null;
  readonly delivery: DeliveryAddress | null;
  /** Null until the first status event. */
  readonly status: OrderStatus | null;
  /** Highest status sequence applied; an event at or below it changes nothing. */
  readonly sequence: number;
  readonly timeline: readonly TimelineEntry[];
  readonly placedAt: number | null;
  readonly lastUpdated: number;
}

/** `stock`: units left per product, as the stock processor's level store holds them. Keyed by productId. */
export interface StockView {
  readonly _id: string;
  readonly productId: string;
  readonly sellerId: string;
  readonly available: number;
  readonly updatedAt: number;
}

/** `chat`: every chat message, keyed by messageId. */
export interface ChatView {
  readonly _id: string;
  readonly messageId: string;
  readonly orderId: string;
  readonly fromUserId: string;
  readonly toUserId: string;
  readonly text: string;
  readonly sentAt: number;
}

export const ORDERS_VIEW: CollectionSpec = {
  name: 'orders',
  indexes: [{ fields: ['customerId', 'placedAt'] }, { fields: ['sellerIds', 'placedAt'] }],
};
export const STOCK_VIEW: CollectionSpec = { name: 'stock', indexes: [{ fields: ['sellerId'] }] };
export const CHAT_VIEW: CollectionSpec = { name: 'chat', indexes: [{ fields: ['orderId', 'sentAt'] }] };

/**
 * `products`: the catalogue. The one collection here the gateway writes (a seller creates a
 * product); the projection only reads it, to know each order line's seller. Keyed by productId.
 */
export interface ProductDoc {
  readonly _id: string;
  readonly productId: string;
  readonly sellerId: string;
  readonly name: string;
  /** Price of one unit, in minor currency units. */
  readonly price: number;
  readonly createdAt: number;
}

export const PRODUCTS_COLLECTION: CollectionSpec = { name: 'products', indexes: [{ fields: ['sellerId', 'createdAt'] }, { fields: ['createdAt'] }] };
