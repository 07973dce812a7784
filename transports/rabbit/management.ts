/**
 * The RabbitMQ management HTTP API, for what AMQP 0-9-1 cannot ask: a topic's partition count
 * and kind (kept in its exchange's arguments). Default: same host and credentials as the AMQP
 * URL, port 15672.
 */
import { BrokerUnreachableError, TransportError } from '../errors.ts';

export interface ExchangeInfo {
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

export class Management {
  private readonly base: string;
  private readonly vhost: string;
  private readonly auth: string;

  constructor(amqpUrl: string, managementUrl?: string) {
    const amqp = new URL(amqpUrl);
    const mgmt = new URL(managementUrl ?? `http://${amqp.hostname}:15672`);
    const user = decodeURIComponent(mgmt.username || amqp.username || 'guest');
    const pass = decodeURIComponent(mgmt.password || amqp.password || 'guest');
    this.base = mgmt.origin;
    this.vhost = encodeURIComponent(decodeURIComponent(amqp.pathname.replace(/^\//, '')) || '/');
    this.auth = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }

  async exchange(name: string): Promise<ExchangeInfo | undefined> {
    const res = await this.request('GET', `/api/exchanges/${this.vhost}/${encodeURIComponent(name)}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new TransportError(`management API answered ${res.status} for exchange ${name}`, { transport: 'rabbit', topic: name });
    return (await res.json()) as ExchangeInfo;
  }

  /** Exchanges whose name starts with `prefix`, with their arguments. */
  async exchanges(prefix: string): Promise<ExchangeInfo[]> {
    const res = await this.request('GET', `/api/exchanges/${this.vhost}?columns=name,arguments`);
    if (!res.ok) throw new TransportError(`management API answered ${res.status} listing exchanges`, { transport: 'rabbit' });
    return ((await res.json()) as ExchangeInfo[]).filter((e) => e.name.startsWith(prefix));
  }

  /** Names of queues whose name starts with `prefix`. */
  async queues(prefix: string): Promise<string[]> {
    const res = await this.request('GET', `/api/queues/${this.vhost}?columns=name`);
    if (!res.ok) throw new TransportError(`management API answered ${res.status} listing queues`, { transport: 'rabbit' });
    return ((await res.json()) as { name: string }[]).map((q) => q.name).filter((n) => n.startsWith(prefix));
  }

  private async request(method: string, path: string): Promise<Response> {
    try {
      return await fetch(this.base + path, { method, headers: { authorization: this.auth }, signal: AbortSignal.timeout(10000) });
    } catch (cause) {
      throw new BrokerUnreachableError(`${this.base} (management API)`, { transport: 'rabbit', cause });
    }
  }
}
