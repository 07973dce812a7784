/**
 * Retention of the order table as pure decisions (the processor in topology.ts does the index,
 * the deletes and the punctuation; processors/common/retention.ts explains the design).
 *
 * A terminal order (COMPLETED, CANCELLED, REFUNDED) is kept `retentionMs` after its last change,
 * then deleted: the store delete writes a tombstone to the `orders` changelog. A terminal order
 * may still change (a stock answer that comes after a cancellation releases its line), and each
 * change restarts its retention. Non-terminal orders are never deleted.
 *
 * After the delete, a late duplicate of one of the order's events finds no order:
 * - `order-placed` would create the order afresh (reserving stock again, asking for payment
 *   again). It is refused when its `placedAt` is at or below the watermark — the newest
 *   placement time among the orders this task has expired, which the duplicate's original is
 *   one of — and dead-lettered with the reason (`lateDuplicate`).
 * - a command or a stock answer is "for an order not placed (yet)": retried with back-off, then
 *   dead-lettered; it changes nothing.
 * - a payment, refund or delivery answer is "for an unknown order": dead-lettered at once.
 * So nothing is re-created and no effect is repeated; what is left is a dead letter naming it.
 */
import type { OrderEvent } from './envelope.ts';
import { TransitionRejected, type OrderState } from './saga.ts';
import { isTerminal } from './status.ts';

/** When a terminal order's state may be deleted; undefined while the order is not terminal. */
export function expiresAt(state: OrderState, retentionMs: number): number | undefined {
  return isTerminal(state.status) ? state.updatedAt + retentionMs : undefined;
}

/** Whether the order may be deleted now (terminal, unchanged for the retention). */
export function isExpired(state: OrderState, retentionMs: number, now: number): boolean {
  const at = expiresAt(state, retentionMs);
  return at !== undefined && at <= now;
}

/**
 * Refuses an `order-placed` for an order the table does not hold whose placement is not newer
 * than the watermark of expired orders: a late duplicate of an order already expired.
 */
export function lateDuplicate(state: OrderState | undefined, event: OrderEvent, watermark: number): TransitionRejected | undefined {
  if (state !== undefined || event.topic !== 'order-placed' || event.value.placedAt > watermark) return undefined;
  return new TransitionRejected(event.value.orderId,
    `placed at ${event.value.placedAt}, not after orders whose state has expired (up to ${watermark}): a late duplicate of an expired order, not created again`);
}
