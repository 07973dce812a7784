/**
 * Stock's state: the level of every product and a reservation per (product, order) line. Both
 * live in the one task that owns the product's partition; their changelogs are read by the
 * end-to-end tests, so names and value layouts are part of stock's contract.
 */
import { Serdes, keyValueStore, type StoreBuilder, type KeyValueStore } from '../engine/index.ts';

export const STOCK_LEVELS_STORE = 'stock-levels';
export const STOCK_RESERVATIONS_STORE = 'stock-reservations';

/** Key: productId. */
export interface StoredLevel {
  readonly productId: string;
  readonly sellerId: string;
  /** Units available for new orders; never negative. */
  readonly available: number;
  /** When the level last changed: the seller's time for a seller update, else the changing record's timestamp. */
  readonly updatedAt: number;
}

export type ReservationState = 'RESERVED' | 'REJECTED' | 'RELEASED';

/** Key: `${productId}/${orderId}` (see reservationKey). */
export interface StoredReservation {
  /** Units taken from the level (RESERVED, RELEASED) or asked for (REJECTED); 0 when released before any request. */
  readonly quantity: number;
  readonly state: ReservationState;
}

export function reservationKey(productId: string, orderId: string): string {
  return `${productId}/${orderId}`;
}

export type LevelStore = KeyValueStore<string, StoredLevel>;
export type ReservationStore = KeyValueStore<string, StoredReservation>;

export function stockStores(): [StoreBuilder<LevelStore>, StoreBuilder<ReservationStore>] {
  return [
    keyValueStore<string, StoredLevel>(STOCK_LEVELS_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json<StoredLevel>() }),
    keyValueStore<string, StoredReservation>(STOCK_RESERVATIONS_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json<StoredReservation>() }),
  ];
}
