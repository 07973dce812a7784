/** @stomp/stompjs in Node (no global WebSocket on Node 20: `ws` stands in), as a browser uses it. */
import { Client, type IFrame, type IMessage } from '@stomp/stompjs';
import { WebSocket } from 'ws';

export interface StompSession {
  readonly client: Client;
  /** Messages per destination, in arrival order. */
  readonly messages: Map<string, unknown[]>;
  /** ERROR frames received. */
  readonly errors: string[];
  subscribe(destination: string): void;
  send(destination: string, body: unknown): Promise<void>;
  close(): Promise<void>;
}

export async function connectStomp(url: string, token: string | undefined): Promise<StompSession> {
  const messages = new Map<string, unknown[]>();
  const errors: string[] = [];
  const client = new Client({
    webSocketFactory: () => new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, ['v12.stomp']),
    connectHeaders: token ? { Authorization: `Bearer ${token}` } : {},
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  const connected = new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (f: IFrame) => { errors.push(f.headers.message ?? f.body); reject(new Error(`STOMP ERROR: ${f.headers.message ?? f.body}`)); };
    client.onWebSocketClose = () => reject(new Error('socket closed before CONNECTED'));
  });
  client.activate();
  try {
    await connected;
  } catch (e) {
    await client.deactivate();
    throw e;
  }
  client.onStompError = (f: IFrame) => { errors.push(f.headers.message ?? f.body); };
  return {
    client, messages, errors,
    subscribe(destination) {
      client.subscribe(destination, (m: IMessage) => {
        (messages.get(destination) ?? messages.set(destination, []).get(destination)!).push(JSON.parse(m.body) as unknown);
      });
    },
    send(destination, body) {
      return new Promise<void>((resolve, reject) => {
        const receipt = `r-${Math.random().toString(36).slice(2)}`;
        client.watchForReceipt(receipt, () => resolve());
        const before = errors.length;
        client.publish({ destination, body: JSON.stringify(body), headers: { 'content-type': 'application/json', receipt } });
        const check = setInterval(() => { if (errors.length > before) { clearInterval(check); reject(new Error(errors.at(-1))); } }, 20);
        setTimeout(() => clearInterval(check), 10_000).unref();
      });
    },
    close: () => client.deactivate(),
  };
}
