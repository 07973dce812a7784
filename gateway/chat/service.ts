/**
 * A chat message about an order, between its buyer and its seller(s): checked here, carried by
 * `chat-topic` (acknowledged before the sender hears back) so that every gateway instance can
 * deliver it, and kept by the projection for the history. STOMP SEND and HTTP POST both end here.
 */
import { randomUUID } from 'node:crypto';
import type { ChatMessage } from '../../schemas/index.ts';
import type { Principal } from '../auth/tokens.ts';
import type { GatewayContext } from '../context.ts';
import { badRequest, notFound } from '../errors.ts';
import { visibleOrder } from '../orders/access.ts';

export const MAX_CHAT_TEXT = 2000;

export async function sendChat(g: GatewayContext, principal: Principal, orderId: string, text: string, to?: string): Promise<ChatMessage> {
  const trimmed = text.trim();
  if (trimmed === '') throw badRequest('must not be empty', 'text');
  if (trimmed.length > MAX_CHAT_TEXT) throw badRequest(`must be at most ${MAX_CHAT_TEXT} characters`, 'text');
  const order = await visibleOrder(g.db, principal, orderId, g.recentOrders.has(orderId) ? g.readYourWritesMs : 0);
  if (!order) throw notFound('order');
  let toUserId: string;
  if (principal.role === 'SELLER') toUserId = order.customerId!;
  else if (to !== undefined) {
    if (!order.sellerIds.includes(to)) throw badRequest('is not a seller of this order', 'to');
    toUserId = to;
  } else {
    if (order.sellerIds.length === 0) throw badRequest('the order has no known seller yet', 'to');
    toUserId = order.sellerIds[0]!;
  }
  const message: ChatMessage = { messageId: randomUUID(), orderId: order.orderId, fromUserId: principal.userId, toUserId, text: trimmed, sentAt: g.now() };
  await g.events.publish('chat-topic', message);
  return message;
}

export function chatJson(m: { messageId: string; orderId: string; fromUserId: string; toUserId: string; text: string; sentAt: number }) {
  return { messageId: m.messageId, orderId: m.orderId, fromUserId: m.fromUserId, toUserId: m.toUserId, text: m.text, sentAt: new Date(m.sentAt).toISOString() };
}
