/**
 * A small HTTP client of the gateway for tests: JSON in and out, the bearer token of whoever it
 * signed in as, the raw status and headers kept for assertions.
 */
import { randomUUID } from 'node:crypto';

export interface Answer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string; readonly requestId: string };
}

export class Api {
  token: string | undefined;
  refreshToken: string | undefined;
  userId: string | undefined;

  constructor(readonly url: string) {}

  async call<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON: keep the text */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /** Signs up (role BUYER or SELLER) and logs in; returns this client. */
  async signUp(role: 'BUYER' | 'SELLER', extra: { name?: string; phone?: string } = {}): Promise<this> {
    const email = `${role.toLowerCase()}-${randomUUID()}@example.com`;
    const password = 'correct horse battery';
    const created = await this.call<{ id: string }>('POST', '/auth/signup', { email, password, role, name: extra.name ?? `${role} ${email.slice(0, 12)}`, ...(extra.phone ? { phone: extra.phone } : {}) });
    if (created.status !== 201) throw new Error(`signup: ${created.status} ${JSON.stringify(created.body)}`);
    this.userId = created.body.id;
    await this.logIn(email, password);
    return this;
  }

  async logIn(email: string, password: string): Promise<void> {
    const r = await this.call<{ accessToken: string; refreshToken: string }>('POST', '/auth/login', { email, password });
    if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
    this.token = r.body.accessToken;
    this.refreshToken = r.body.refreshToken;
  }

  async product(name: string, price: number, stock: number): Promise<string> {
    const r = await this.call<{ id: string }>('POST', '/products', { name, price, stock });
    if (r.status !== 201) throw new Error(`product: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id;
  }

  async waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Polls the status URL until the order reaches `status`. */
  async statusReaches(orderId: string, status: string, timeoutMs = 30_000): Promise<void> {
    let last = '';
    await this.waitFor(`order ${orderId} to reach ${status} (last: ${last})`, async () => {
      const r = await this.call<{ status: string }>('GET', `/orders/${orderId}/status`);
      last = `${r.status} ${r.body?.status}`;
      return r.status === 200 && r.body.status === status ? true : undefined;
    }, timeoutMs);
  }
}
