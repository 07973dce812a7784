/**
 * The gateway's STOMP endpoint (`/ws`): who may connect (a valid access token in CONNECT's
 * `Authorization` or `passcode` header), which destinations they may subscribe to (the orders
 * they may see, through orders/access.ts), what SEND does (chat), and what a pushed status or
 * chat message looks like on the wire.
 */
import type { Server } from 'node:http';
import type { ChatMessage, OrderStatusChanged } from '../../schemas/index.ts';
import type { Principal } from '../auth/tokens.ts';
import { chatJson, sendChat } from '../chat/service.ts';
import type { GatewayContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { visibleOrder } from '../orders/access.ts';
import { statusView } from '../../processors/read-model/status-view.ts';
import { StompRejection, StompServer, type StompServerOptions } from '../stomp/index.ts';
import type { RelayTargets } from './relay.ts';

const ORDER_TOPIC = /^\/topic\/(order|chat)\/([0-9a-f-]{36})$/i;
const CHAT_SEND = /^\/app\/chat\/([0-9a-f-]{36})$/i;

export class Hub implements RelayTargets {
  readonly stomp: StompServer<Principal>;

  constructor(server: Server, private readonly g: GatewayContext, options: StompServerOptions = {}) {
    this.stomp = new StompServer<Principal>(server, {
      authenticate: async (headers) => {
        const raw = headers.Authorization ?? headers.authorization ?? headers.passcode;
        const token = raw?.replace(/^Bearer\s+/i, '');
        if (!token) throw new StompRejection('an access token is required (Authorization: Bearer … or passcode)');
        try {
          return g.tokens.verifyAccess(token);
        } catch (e) {
          throw new StompRejection(e instanceof Error ? e.message : 'invalid token');
        }
      },
      authorizeSubscribe: async (principal, destination) => {
        const m = ORDER_TOPIC.exec(destination);
        if (!m) return false;
        const orderId = m[2]!.toLowerCase();
        const order = await visibleOrder(g.db, principal, orderId, g.recentOrders.has(orderId) ? g.readYourWritesMs : 0);
        return order !== undefined;
      },
      onSend: async (principal, destination, body, headers) => {
        const m = CHAT_SEND.exec(destination);
        if (!m) throw new StompRejection(`no such destination: ${destination}`);
        let text = body;
        let to = headers.to;
        if ((headers['content-type'] ?? '').startsWith('application/json')) {
          const parsed = parseJson(body);
          if (typeof parsed?.text !== 'string') throw new StompRejection('text: must be a string');
          text = parsed.text;
          if (typeof parsed.to === 'string') to = parsed.to;
        }
        try {
          await sendChat(g, principal, m[1]!.toLowerCase(), text, to);
        } catch (e) {
          throw new StompRejection(e instanceof ApiError ? e.message : 'could not send the message');
        }
      },
    }, { path: '/ws', ...options });
  }

  status(e: OrderStatusChanged): void {
    const body = { ...statusView(e.orderId, e.to, e.at), previousStatus: e.from, reason: e.reason, sequence: e.sequence };
    this.stomp.publish(`/topic/order/${e.orderId}`, JSON.stringify(body), { 'content-type': 'application/json' });
  }

  chat(m: ChatMessage): void {
    this.stomp.publish(`/topic/chat/${m.orderId}`, JSON.stringify(chatJson(m)), { 'content-type': 'application/json' });
  }

  close(): Promise<void> {
    return this.stomp.close();
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
