/** Chat history (from the `chat` read model) and sending over HTTP for clients without STOMP. */
import { z } from 'zod';
import type { GatewayContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { visibleOrder } from '../orders/access.ts';
import { route, type RouteSpec } from '../routing.ts';
import { chatJson, MAX_CHAT_TEXT, sendChat } from './service.ts';

// UUIDs are case-insensitive; ids are stored and pushed in lower case.
const OrderParams = z.object({ id: z.string().max(100).transform((id) => id.toLowerCase()) });
const ChatItem = z.object({
  messageId: z.uuid(), orderId: z.uuid(), fromUserId: z.uuid(), toUserId: z.uuid(), text: z.string(), sentAt: z.string(),
}).openapi('ChatMessage');
const ChatBody = z.strictObject({
  // The pattern says in /openapi.json what sendChat enforces: something besides whitespace.
  text: z.string({ error: 'must be a string' }).max(MAX_CHAT_TEXT, { error: `must be at most ${MAX_CHAT_TEXT} characters` }).regex(/\S/, { error: 'must not be empty' }),
  to: z.string().max(100).optional().openapi({ description: 'A buyer writing to one seller of a multi-seller order' }),
}).openapi('ChatRequest');

export function chatRoutes(g: GatewayContext): RouteSpec[] {
  return [
    route({
      method: 'get', path: '/orders/{id}/chat', summary: 'The conversation about an order, oldest first', tag: 'chat', access: 'user',
      params: OrderParams,
      responses: { 200: { description: 'Messages', schema: z.object({ items: z.array(ChatItem) }).openapi('ChatHistory') } },
      handler: async ({ principal, params }) => {
        const order = await visibleOrder(g.db, principal!, params.id, 0);
        if (!order) throw notFound('order');
        const items = await g.db.chat.find({ orderId: order.orderId }, { sort: { field: 'sentAt', direction: 'asc' }, limit: 500 });
        return { status: 200, body: { items: items.map(chatJson) } };
      },
    }),
    route({
      method: 'post', path: '/orders/{id}/chat', summary: 'Send a chat message (as STOMP SEND /app/chat/{id})', tag: 'chat', access: 'user',
      params: OrderParams, body: ChatBody,
      responses: { 202: { description: 'Sent', schema: ChatItem } },
      handler: async ({ principal, params, body }) => ({ status: 202, body: chatJson(await sendChat(g, principal!, params.id, body.text, body.to)) }),
    }),
  ];
}
