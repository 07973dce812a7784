/**
 * Object-level authorization in one place: an order is visible to its buyer and to the sellers
 * of its products; a buyer to the buyer and to those sellers. Every route and every STOMP
 * subscription asks here, and "not visible" is always reported as not found.
 */
import type { Collections } from '../collections.ts';
import type { OrderView } from '../../processors/read-model/views.ts';
import type { Principal } from '../auth/tokens.ts';

export function canSeeOrder(principal: Principal, order: OrderView): boolean {
  if (principal.role === 'BUYER') return order.customerId === principal.userId;
  return order.customerId !== null && order.sellerIds.includes(principal.userId);
}

export async function canSeeUser(db: Pick<Collections, 'orders'>, principal: Principal, userId: string): Promise<boolean> {
  if (principal.userId === userId) return true;
  if (principal.role !== 'SELLER') return false;
  return (await db.orders.findOne({ customerId: userId, sellerIds: principal.userId })) !== undefined;
}

/**
 * The order if the principal may see it. An order accepted a moment ago may not be projected
 * yet: wait up to `waitMs` for it (read-your-writes for the status URL the 202 handed out).
 */
export async function visibleOrder(db: Pick<Collections, 'orders'>, principal: Principal, orderId: string, waitMs: number): Promise<OrderView | undefined> {
  const deadline = Date.now() + waitMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
    const order = await db.orders.get(orderId);
    if (order && order.customerId !== null) return canSeeOrder(principal, order) ? order : undefined;
    if (Date.now() + pause > deadline) return undefined;
    await new Promise((r) => setTimeout(r, pause));
  }
}
