/**
 * A monitored shop for the monitoring suites: the whole system in-process on the memory
 * transport (startSystem), each team processor's metrics on a port of its own as its main.ts
 * serves them on METRICS_PORT, a file_sd target file for Prometheus naming the gateway and the
 * four processors (unique per run, removed on close), and orders placed and paid through the
 * gateway's API so that every series moves.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSystem, type System } from '../../gateway/system.ts';
import { removeTargets, writeTargets, type ScrapeTarget } from '../../monitoring/targets.ts';
import type { RunningProcessor } from '../../processors/common/index.ts';
import { Api } from '../gateway/api.ts';

export const PROMETHEUS_URL = process.env.PROMETHEUS_URL ?? '';
export const TARGETS_DIR = process.env.PROMETHEUS_TARGETS_DIR ?? '';

export interface MonitoredShop {
  readonly system: System;
  readonly run: string;
  readonly targets: readonly ScrapeTarget[];
  readonly seller: Api;
  readonly sellerLogin: { readonly email: string; readonly password: string };
  readonly buyer: Api;
  /** Places and pays `n` orders (2 of every 5 left unpaid, then cancelled), waiting for each to move. */
  orders(n: number): Promise<void>;
  /** Stops a processor as a crash would look from outside: its app closed, its port gone. */
  stopProcessor(team: string): Promise<void>;
  close(): Promise<void>;
}

export async function startMonitoredShop(): Promise<MonitoredShop> {
  if (!PROMETHEUS_URL || !TARGETS_DIR) throw new Error('PROMETHEUS_URL and PROMETHEUS_TARGETS_DIR are unset: eval "$(bash scripts/services env)" (and `bash scripts/services up prometheus`)');
  const run = `monitoring-${randomUUID().slice(0, 8)}`;
  const system = await startSystem({
    PORT: '0', PG_PORT: '0', TRANSPORT: 'memory', ORDER_PAYMENT_DEADLINE_MS: '60000', DELIVERY_FAILURE_RATE: '0', PG_DECLINE_RATE: '0', LOG_LEVEL: 'warn',
  }, { seed: false });
  const servers = new Map<string, Server>();
  let targetsPath: string | undefined;
  const close = async () => {
    if (targetsPath) await removeTargets(targetsPath);
    for (const s of servers.values()) await new Promise((r) => { s.close(r); s.closeAllConnections(); });
    await system.close();
  };
  try {
    const targets: ScrapeTarget[] = [{ process: 'gateway', port: system.gateway.port, labels: { run } }];
    for (const p of system.processors.processors) {
      const team = p.applicationId.replace(/-processor$/, '');
      const server = await serveMetrics(p);
      servers.set(team, server);
      targets.push({ process: team, port: (server.address() as AddressInfo).port, labels: { run } });
    }
    targetsPath = await writeTargets(TARGETS_DIR, run, targets);
    const sellerLogin = { email: `seller-${run}@example.com`, password: 'correct horse battery' };
    const seller = new Api(system.gateway.url);
    const created = await seller.call('POST', '/auth/signup', { ...sellerLogin, role: 'SELLER', name: 'Dashboard Seller' });
    if (created.status !== 201) throw new Error(`signup: ${created.status} ${JSON.stringify(created.body)}`);
    await seller.logIn(sellerLogin.email, sellerLogin.password);
    const buyer = await new Api(system.gateway.url).signUp('BUYER');
    const productId = await seller.product('Burr grinder', 8900, 10_000);
    let seq = 0;
    const order = async (): Promise<void> => {
      const i = seq++;
      const placed = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'DELIVERY', delivery: { address: '2 High St', zipcode: '99999' } });
      if (placed.status !== 202) throw new Error(`POST /orders: ${placed.status} ${JSON.stringify(placed.body)}`);
      const { orderId } = placed.body;
      await buyer.statusReaches(orderId, 'PENDING_PAYMENT', 30_000);
      if (i % 5 < 2) {
        const cancelled = await buyer.call('POST', `/orders/${orderId}/cancel`, {});
        if (cancelled.status !== 202) throw new Error(`cancel: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
        return;
      }
      const paid = await buyer.call('POST', `/orders/${orderId}/payment`, { paymentKey: `pk-${run}-${i}`, amount: 8900 });
      if (paid.status !== 202) throw new Error(`payment: ${paid.status} ${JSON.stringify(paid.body)}`);
    };
    return {
      system, run, targets, seller, sellerLogin, buyer,
      orders: async (n) => { await Promise.all(Array.from({ length: n }, () => order())); },
      stopProcessor: async (team) => {
        const p = system.processors.processors.find((x) => x.applicationId === `${team}-processor`);
        const server = servers.get(team);
        if (!p || !server) throw new Error(`no processor ${team}`);
        servers.delete(team);
        await new Promise((r) => { server.close(r); server.closeAllConnections(); });
        await p.app.close();
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** What processors/common/process.ts serves on METRICS_PORT: the app's text at /metrics. */
function serveMetrics(p: RunningProcessor): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(p.app.metricsText());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** One Prometheus HTTP API call; throws unless it answered success. */
export async function promQuery<T = { metric: Record<string, string>; value: [number, string] }[]>(path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${PROMETHEUS_URL}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.json() as { status: string; data: { result?: T } & Record<string, unknown>; error?: string };
  if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
  return (body.data.result ?? body.data) as T;
}
