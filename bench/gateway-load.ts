/**
 * The gateway's write path under load: `POST /orders` from autocannon against the whole system in
 * this process (`startSystem`: the four processors, the payment-gateway simulator, the read-model
 * projection and the gateway), against `GET /health` under the same load in the same run: the
 * gateway's HTTP floor (every middleware, no handler work) on this machine. Absolute numbers on
 * these machines are noise; the fraction of the floor is not.
 *
 * Steps, each `seconds` long, with the saga's backlog drained (every accepted order at
 * PENDING_PAYMENT) before the next, so each starts from an idle system:
 *   - warm-up (unmeasured): one order per buyer through to COMPLETED, then a short load;
 *   - auto-pay at `payRate` orders/s: a reader of order-placed and order-status-topic pays each
 *     order (`POST /orders/{id}/payment`, amount = its total) the moment PENDING_PAYMENT arrives;
 *     per order, placement → PENDING_PAYMENT and → COMPLETED as the buyer sees them;
 *   - per rate: /health at that rate, then orders at that rate (placed, never paid);
 *   - unthrottled: /health, then orders, with `unthrottled` connections.
 * Each order step prints accepted (202) orders/s, non-2xx by status, p50/p99 accept latency, and
 * ratios to /health and to the write-up's figures (DOMAIN.md: 500+ orders a minute, 200–500 ms
 * to accept), how busy the main thread was (event-loop utilisation; autocannon runs in a worker
 * thread, the only other busy thread), and how long the saga took to catch up.
 *
 * autocannon's rate limit is per connection and per second: each connection sends its share of a
 * second's requests back to back from the start of the second, then waits. A rated step is thus a
 * burst of `connections` concurrent clients for part of every second, not a smooth arrival rate;
 * its latency is that of `connections` clients in flight at once. Its coordinated-omission
 * correction assumes a 1 ms interval whatever the rate, so it is off (`ignoreCoordinatedOmission`):
 * a step that falls short of its target rate says so instead. Latency is of 2xx answers only.
 *
 *   bash scripts/services up kafka rabbit        (for kafka, rabbit)
 *   node --import tsx bench/gateway-load.ts [transport=memory|kafka|rabbit] [seconds=5] [rates=250,500,1000,2000,4000] [connections=16] [unthrottled=64] [payRate=100]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { endpoints } from '../scripts/endpoints.ts';
import { startSystem, type System } from '../gateway/system.ts';
import { isMarker } from '../processors/engine/index.ts';
import type { OrderPlaced, OrderStatus, OrderStatusChanged } from '../schemas/index.ts';
import type { Consumer } from '../transports/index.ts';
import { Api } from '../test/gateway/api.ts';
import { kafkaTarget, rabbitTarget, sweep, type BrokerTarget } from '../test/saga/brokers.ts';
import { median, percentile, waitFor } from './support.ts';

const TRANSPORT = process.argv[2] ?? 'memory';
const SECONDS = Number(process.argv[3] ?? 5);
const RATES = (process.argv[4] ?? '250,500,1000,2000,4000').split(',').map(Number);
const CONNECTIONS = Number(process.argv[5] ?? 16);
const UNTHROTTLED = Number(process.argv[6] ?? 64);
const PAY_RATE = Number(process.argv[7] ?? 100);
if (TRANSPORT !== 'memory' && TRANSPORT !== 'kafka' && TRANSPORT !== 'rabbit') throw new Error(`transport must be memory, kafka or rabbit, not ${TRANSPORT}`);
for (const [name, v] of Object.entries({ seconds: SECONDS, connections: CONNECTIONS, unthrottled: UNTHROTTLED, payRate: PAY_RATE, rates: Math.min(...RATES) })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be positive integers, not ${process.argv.slice(2).join(' ')}`);
}

const PRODUCTS = 4;
const BUYERS = 4;
/** Units of each product: ample for every order of the run (the catalogue's maximum). */
const STOCK = 1_000_000_000;
/** The write-up's asynchronous version (DOMAIN.md, step 1). */
const WRITE_UP_PER_MINUTE = 500;
const WRITE_UP_ACCEPT_MS = [200, 500] as const;
/** The issue's aim for the embedded default. */
const AIM = { perSecond: 2_000, p99Ms: 20 };
/** Longest wait for the saga to catch up after a step; past it the next step starts anyway (and says so). */
const DRAIN_TIMEOUT_MS = 150_000;
/** The main thread counts as idle (commits, projection and punctuators done) below this event-loop utilisation over 250 ms. */
const QUIET_UTILISATION = 0.15;
/** ...waited for at most this long (a profiler's sampling keeps it above that). */
const QUIET_TIMEOUT_MS = 30_000;
/** A payment refused with 404 (the read model has not got the order yet, past the gateway's read-your-writes wait) is retried this often, this far apart. */
const PAY_ATTEMPTS = 20;
const PAY_RETRY_MS = 250;

/**
 * CPU time of the main thread alone (ms), from /proc on Linux; undefined elsewhere. Unlike wall
 * time and event-loop utilisation it does not grow when other processes take the cores, so
 * CPU per order against CPU per /health request is the steadiest ratio on a shared machine.
 */
const ticksPerSecond = (() => { try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; } })();
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1000; // utime, stime (fields 14, 15 of the line)
  } catch {
    return undefined;
  }
}

// --- autocannon (CommonJS, no types of its own): the part of its programmatic API used here ---

interface LoadRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}
interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly duration: number;
  readonly requests: readonly LoadRequest[];
  readonly overallRate?: number;
  readonly ignoreCoordinatedOmission?: boolean;
  /** Load generation in worker threads, so that it does not share the system's event loop. */
  readonly workers?: number;
  readonly timeout?: number;
}
interface LoadResult {
  /** Seconds. */
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodeStats: Record<string, { count: number }>;
  /** ms, of 2xx answers. */
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly requests: { readonly sent: number };
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: LoadOptions) => Promise<LoadResult>;

// --- the system and its clean-up ---

const target: BrokerTarget | undefined = TRANSPORT === 'kafka' ? kafkaTarget() : TRANSPORT === 'rabbit' ? rabbitTarget() : undefined;
const prefix = `bench-gw-${TRANSPORT}-${randomUUID().slice(0, 8)}-`;
// On a broker, the embedded database still (the memory run's), in a directory of its own.
const dataDir = target ? await mkdtemp(join(tmpdir(), 'bench-gateway-')) : undefined;
const env: Record<string, string> = {
  PORT: '0', PG_PORT: '0', LOG_LEVEL: 'warn', ACCESS_TOKEN_TTL_S: '7200', DELIVERY_FAILURE_RATE: '0',
  ...(target ? { ...target.env, SCHEMA_REGISTRY_URL: endpoints().schemaRegistryUrl, TOPIC_PREFIX: prefix, GATEWAY_ID: `${prefix}gateway`, DATA_DIR: dataDir! } : {}),
};

interface Placed {
  readonly placedAt: number;
  readonly customerId: string;
  readonly total: number;
  /** Placed in an auto-pay window: paid at PENDING_PAYMENT; `measured` in the auto-pay step. */
  readonly pay: boolean;
  readonly measured: boolean;
  paid: boolean;
}

const system: System = await startSystem(env, { seed: false, appIdPrefix: prefix });
let problem: string | undefined;
system.stopped().catch((e: unknown) => { problem = `the system stopped: ${e instanceof Error ? e.message : String(e)}`; });
const check = (done: () => boolean) => () => {
  if (problem) throw new Error(problem);
  return done();
};
let reader: Consumer | undefined;

try {
  const url = system.gateway.url;
  const seller = await new Api(url).signUp('SELLER');
  const products: { id: string; price: number }[] = [];
  for (let i = 0; i < PRODUCTS; i++) products.push({ id: await seller.product(`Bench product ${i}`, 1_000 + 100 * i, STOCK), price: 1_000 + 100 * i });
  for (const p of products) {
    await seller.waitFor(`the stock of ${p.id} to be projected`, async () => ((await seller.call<{ available: number | null }>('GET', `/products/${p.id}`)).body.available === STOCK ? true : undefined), 60_000);
  }
  const buyers = new Map<string, Api>();
  for (let i = 0; i < BUYERS; i++) {
    const b = await new Api(url).signUp('BUYER');
    buyers.set(b.userId!, b);
  }

  // --- what buyers see: every order placed and every status, as they arrive ---
  const placedTopic = system.contracts.topic('order-placed');
  const statusTopic = system.contracts.topic('order-status-topic');
  const placedSerde = system.contracts.consumed('order-placed').valueSerde!;
  const statusSerde = system.contracts.consumed('order-status-topic').valueSerde!;
  const orders = new Map<string, Placed>();
  /** Wall-clock ms (the clock placedAt is on) at which each status of each order arrived, first copy. */
  const arrived = new Map<string, Map<OrderStatus, number>>();
  /** Orders that reached PENDING_PAYMENT or were cancelled before it: where the saga leaves an unpaid order. */
  let settled = 0;
  let lastSettled: string | undefined;
  /** Orders cancelled or refunded, with why. */
  const failed = new Map<string, string>();
  const failures = () => [...failed].slice(0, 5).map(([id, why]) => `${id} ${why}`).join('; ');
  let payWindow: { from: number; until: number; measured: boolean } | undefined;
  /** Answers to payment attempts by status, latency of the accepted ones (measured orders), orders given up on. */
  const payments = { statuses: new Map<number, number>(), latency: [] as number[], errors: [] as string[], gaveUp: new Set<string>() };

  // As a buyer would: pay at once, and try again shortly when the gateway does not know the order yet.
  const pay = (orderId: string, o: Placed) => {
    o.paid = true;
    const t0 = performance.now();
    void (async () => {
      for (let attempt = 1; ; attempt++) {
        const r = await buyers.get(o.customerId)!.call('POST', `/orders/${orderId}/payment`, { paymentKey: `pk-${orderId}`, amount: o.total })
          .catch((e: unknown) => ({ status: 0, body: String(e) }));
        payments.statuses.set(r.status, (payments.statuses.get(r.status) ?? 0) + 1);
        if (r.status === 202) {
          if (o.measured) payments.latency.push(performance.now() - t0);
          return;
        }
        if (payments.errors.length < 5) payments.errors.push(`${r.status} ${JSON.stringify(r.body)}`);
        if (r.status !== 404 || attempt === PAY_ATTEMPTS) {
          payments.gaveUp.add(orderId);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, PAY_RETRY_MS));
      }
    })();
  };
  const maybePay = (orderId: string) => {
    const o = orders.get(orderId);
    if (o?.pay && !o.paid && arrived.get(orderId)?.has('PENDING_PAYMENT')) pay(orderId, o);
  };

  reader = system.transport.consumer({ groupId: `${prefix}bench-reader`, topics: [placedTopic, statusTopic], autoOffsetReset: 'earliest' });
  await reader.connect();
  await reader.run(async (batch) => {
    for (const r of batch.records) {
      if (isMarker(r) || !r.value) continue;
      if (batch.topic === placedTopic) {
        const o = await placedSerde.deserialize(batch.topic, r.value) as OrderPlaced;
        if (orders.has(o.orderId)) continue;
        const w = payWindow && o.placedAt >= payWindow.from && o.placedAt <= payWindow.until ? payWindow : undefined;
        const total = o.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
        orders.set(o.orderId, { placedAt: o.placedAt, customerId: o.customerId, total, pay: w !== undefined, measured: w?.measured ?? false, paid: false });
        maybePay(o.orderId);
      } else {
        const now = Date.now();
        const e = await statusSerde.deserialize(batch.topic, r.value) as OrderStatusChanged;
        const seen = arrived.get(e.orderId) ?? arrived.set(e.orderId, new Map()).get(e.orderId)!;
        if (seen.has(e.to)) continue;
        seen.set(e.to, now);
        if (e.to === 'PENDING_PAYMENT' || (e.to === 'CANCELLED' && !seen.has('PENDING_PAYMENT'))) { settled++; lastSettled = e.orderId; }
        if (e.to === 'CANCELLED' || e.to === 'REFUND_REQUESTED') failed.set(e.orderId, `${e.to}: ${e.reason ?? ''}`);
        if (e.to === 'PENDING_PAYMENT') maybePay(e.orderId);
      }
    }
  });

  // --- load ---
  const orderRequests: LoadRequest[] = [...buyers.values()].flatMap((b) => products.map((p): LoadRequest => ({
    method: 'POST', path: '/orders',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${b.token!}` },
    body: JSON.stringify({ lines: [{ productId: p.id, quantity: 1 }], fulfilment: 'WAREHOUSE' }),
  })));
  const healthRequests: LoadRequest[] = [{ method: 'GET', path: '/health' }];
  /** Orders answered 202 so far: the saga has caught up when as many have been placed and all are settled. */
  let accepted = 0;

  interface Measured {
    readonly result: LoadResult;
    /** 202s (orders) or 200s (health). */
    readonly ok: number;
    readonly perSecond: number;
    /** Main thread's event-loop utilisation during the step (0–1). */
    readonly busy: number;
    readonly loopP99: number;
    readonly loopMax: number;
    /** Process CPU (all threads, autocannon's worker included) per wall second. */
    readonly cpu: number;
    /** Main-thread CPU ms spent during the step (undefined off Linux). */
    readonly mainCpuMs: number | undefined;
  }
  /** Main-thread CPU ms per wall ms of the idle system (pollers, timers, heart-beats), taken off each window's CPU so that what is left is the requests'. */
  let idleCpuPerMs = 0;
  const net = (before: number | undefined, after: number | undefined, wallMs: number) =>
    before === undefined || after === undefined ? undefined : Math.max(0, after - before - idleCpuPerMs * wallMs);
  const run = async (what: 'orders' | 'health', rate: number | undefined, connections: number, seconds = SECONDS): Promise<Measured> => {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const main0 = mainThreadCpuMs();
    const t0 = performance.now();
    loop.enable();
    const result = await autocannon({
      url, connections, duration: seconds, workers: 1, timeout: 10,
      requests: what === 'orders' ? orderRequests : healthRequests,
      ...(rate ? { overallRate: rate, ignoreCoordinatedOmission: true } : {}),
    });
    loop.disable();
    const wall = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    const main1 = mainThreadCpuMs();
    const ok = result.statusCodeStats[what === 'orders' ? '202' : '200']?.count ?? 0;
    if (what === 'orders') accepted += ok;
    return {
      result, ok, perSecond: ok / result.duration, busy: performance.eventLoopUtilization(elu).utilization,
      loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, cpu: (used.user + used.system) / 1000 / wall,
      mainCpuMs: net(main0, main1, wall),
    };
  };
  interface Drained {
    /** ms from the end of the load until every accepted order was at PENDING_PAYMENT (undefined: not within the cap). */
    readonly saga: number | undefined;
    /** ...until the read model showed the last of them there too. */
    readonly readModel: number | undefined;
    /** ...until the main thread was idle. */
    readonly quiet: number;
    /** Main-thread CPU ms from the end of the load until idle. */
    readonly mainCpuMs: number | undefined;
  }
  const drain = async (): Promise<Drained> => {
    const t0 = performance.now();
    const main0 = mainThreadCpuMs();
    const since = () => performance.now() - t0;
    let saga: number | undefined;
    let readModel: number | undefined;
    try {
      await waitFor(check(() => orders.size >= accepted && settled >= orders.size), () => `the saga: ${settled} of ${orders.size} placed (${accepted} accepted) at PENDING_PAYMENT`, DRAIN_TIMEOUT_MS);
      saga = since();
      const last = lastSettled!;
      const buyer = buyers.get(orders.get(last)!.customerId)!;
      void (async () => {
        while (readModel === undefined && since() < DRAIN_TIMEOUT_MS) {
          const r = await buyer.call<{ status: string }>('GET', `/orders/${last}/status`);
          if (r.status === 200 && r.body.status !== 'CREATED') readModel = since();
          else await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      await waitFor(check(() => readModel !== undefined || since() >= DRAIN_TIMEOUT_MS), () => `the read model to show ${last}`, DRAIN_TIMEOUT_MS);
    } catch (e) {
      if (problem) throw e;
    }
    let before = performance.eventLoopUtilization();
    const quietFrom = since();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = performance.eventLoopUtilization();
      if (performance.eventLoopUtilization(now, before).utilization < QUIET_UTILISATION || since() - quietFrom > QUIET_TIMEOUT_MS) break;
      before = now;
    }
    const main1 = mainThreadCpuMs();
    return { saga, readModel, quiet: since(), mainCpuMs: net(main0, main1, since()) };
  };
  const completed = (ids: readonly string[]) => ids.filter((id) => arrived.get(id)?.has('COMPLETED')).length;

  // --- warm-up: the whole path once per buyer, then a short load (paid), unmeasured ---
  payWindow = { from: Date.now(), until: Infinity, measured: false };
  const first: string[] = [];
  for (const b of buyers.values()) {
    const r = await b.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId: products[0]!.id, quantity: 1 }], fulfilment: 'WAREHOUSE' });
    if (r.status !== 202) throw new Error(`warm-up order: ${r.status} ${JSON.stringify(r.body)}`);
    accepted++;
    first.push(r.body.orderId);
  }
  await waitFor(check(() => completed(first) === first.length), () => `warm-up orders: ${completed(first)} of ${first.length} COMPLETED (payments ${JSON.stringify([...payments.statuses])}, ${payments.errors.join('; ')}; ${failures()})`, 60_000);
  await run('health', undefined, UNTHROTTLED, 2);
  await run('orders', PAY_RATE, CONNECTIONS, 2);
  payWindow = { ...payWindow, until: Date.now() };
  await drain();
  const idle0 = mainThreadCpuMs();
  const idleFrom = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const idle1 = mainThreadCpuMs();
  if (idle0 !== undefined && idle1 !== undefined) idleCpuPerMs = (idle1 - idle0) / (performance.now() - idleFrom);

  const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const codes = (r: LoadResult, ok: string) => {
    const other = Object.entries(r.statusCodeStats).filter(([c]) => c !== ok).map(([c, s]) => `${c}: ${n(s.count)}`);
    if (r.errors > 0) other.push(`socket errors: ${n(r.errors)}`);
    if (r.timeouts > 0) other.push(`timeouts: ${n(r.timeouts)}`);
    return other.length === 0 ? 'none' : other.join(', ');
  };
  const writeUp = (m: Measured) => `×${n(m.perSecond / (WRITE_UP_PER_MINUTE / 60))} the write-up's ${WRITE_UP_PER_MINUTE}/min, ` +
    `its ${WRITE_UP_ACCEPT_MS[0]}–${WRITE_UP_ACCEPT_MS[1]} ms accept ÷ our p99 = ${n(WRITE_UP_ACCEPT_MS[0] / Math.max(m.result.latency.p99, 1))}–${n(WRITE_UP_ACCEPT_MS[1] / Math.max(m.result.latency.p99, 1))}×`;
  const load = (m: Measured) => `main thread busy ${m.busy.toFixed(2)}, loop delay p99 ${ms(m.loopP99)} max ${ms(m.loopMax)}, process CPU ${m.cpu.toFixed(2)} cores`;

  console.log(`${TRANSPORT}: POST /orders (one line, quantity 1, WAREHOUSE, no Idempotency-Key: each a new order) from ${BUYERS} buyers over ${PRODUCTS} products, ` +
    `autocannon in a worker thread, ${SECONDS} s per step, ${CONNECTIONS} connections at a rate, ${UNTHROTTLED} unthrottled; baseline GET /health under the same load; ` +
    `the idle system's main thread uses ${(idleCpuPerMs * 1000).toFixed(0)} ms CPU per s, taken off the CPU per request below`);

  // --- auto-pay: placement → PENDING_PAYMENT → (the buyer pays) → COMPLETED, per order ---
  payments.statuses.clear();
  payments.errors.length = 0;
  payWindow = { from: Date.now(), until: Infinity, measured: true };
  const paid = await run('orders', PAY_RATE, CONNECTIONS);
  payWindow = { ...payWindow, until: Date.now() };
  const measuredIds = () => [...orders].filter(([, o]) => o.measured).map(([id]) => id);
  const payLoadEnd = Date.now();
  await drain();
  let ids = measuredIds();
  const ended = (id: string) => arrived.get(id)?.has('COMPLETED') || failed.has(id) || payments.gaveUp.has(id);
  await waitFor(check(() => ids.every(ended)), () => `auto-pay orders: ${completed(ids)} of ${ids.length} COMPLETED`, DRAIN_TIMEOUT_MS).catch((e: unknown) => { if (problem) throw e; });
  ids = measuredIds();
  const done = ids.filter((id) => arrived.get(id)?.has('COMPLETED'));
  const stage = (to: OrderStatus) => done.map((id) => arrived.get(id)!.get(to)! - orders.get(id)!.placedAt);
  const lastCompleted = Math.max(...done.map((id) => arrived.get(id)!.get('COMPLETED')!)) - payLoadEnd;
  console.log(`auto-pay @ ${PAY_RATE}/s: ${n(paid.ok)} accepted (${paid.perSecond.toFixed(0)}/s, non-2xx ${codes(paid.result, '202')}, accept p50 ${ms(paid.result.latency.p50)} p99 ${ms(paid.result.latency.p99)}); ` +
    `${done.length} of ${ids.length} COMPLETED${done.length > 0
      ? `, placed→PENDING_PAYMENT p50 ${ms(percentile(stage('PENDING_PAYMENT'), 0.5))} p99 ${ms(percentile(stage('PENDING_PAYMENT'), 0.99))}, ` +
        `placed→COMPLETED p50 ${ms(percentile(stage('COMPLETED'), 0.5))} p99 ${ms(percentile(stage('COMPLETED'), 0.99))}`
      : ''}; ` +
    `payment attempts ${[...payments.statuses].map(([s, c]) => `${s}: ${n(c)}`).join(', ')}${payments.statuses.has(404) ? ` (404: the read model did not have the order within the gateway's read-your-writes wait; retried every ${PAY_RETRY_MS} ms)` : ''}` +
    `${payments.latency.length > 0 ? `, PENDING_PAYMENT seen → payment 202 p50 ${ms(percentile(payments.latency, 0.5))} p99 ${ms(percentile(payments.latency, 0.99))}` : ''}; ` +
    `${payments.gaveUp.size > 0 ? `${payments.gaveUp.size} payments given up; ` : ''}last COMPLETED ${ms(lastCompleted)} after the load stopped; ${load(paid)}`);
  if (payments.errors.length > 0) console.log(`  payment errors: ${payments.errors.join('; ')}`);
  if (failed.size > 0) console.log(`  ${failed.size} orders did not complete: ${failures()}`);

  // --- rising rates, then unthrottled: /health, then orders, each from an idle system ---
  const floors: number[] = [];
  /** Main-thread CPU of an order (load + catch-up) in /health requests, per step. */
  const cpuPerOrder: number[] = [];
  const steps: { label: string; rate: number | undefined; orders: Measured }[] = [];
  for (const rate of [...RATES, undefined]) {
    const connections = rate === undefined ? UNTHROTTLED : CONNECTIONS;
    const label = rate === undefined ? `unthrottled (${connections} connections)` : `@ ${rate}/s`;
    const health = await run('health', rate, connections);
    if (rate === undefined) floors.push(health.perSecond);
    const placed = await run('orders', rate, connections);
    const caughtUp = await drain();
    steps.push({ label, rate, orders: placed });
    const short = rate !== undefined && placed.result.requests.sent < 0.95 * rate * placed.result.duration ? ` — short of the target: sent ${n(placed.result.requests.sent / placed.result.duration)}/s` : '';
    console.log(`orders ${label}: ${n(placed.ok)} accepted, ${n(placed.perSecond)}/s${short}; non-2xx ${codes(placed.result, '202')}; ` +
      `accept p50 ${ms(placed.result.latency.p50)} p99 ${ms(placed.result.latency.p99)} max ${ms(placed.result.latency.max)}; ${writeUp(placed)}; ${load(placed)}`);
    console.log(`  /health ${label}: ${n(health.perSecond)}/s, non-2xx ${codes(health.result, '200')}, p50 ${ms(health.result.latency.p50)} p99 ${ms(health.result.latency.p99)}; ` +
      `orders/s ÷ /health's ${health.perSecond.toFixed(0)}/s = ${(placed.perSecond / health.perSecond).toFixed(2)}; ${load(health)}`);
    if (placed.mainCpuMs !== undefined && health.mainCpuMs !== undefined && caughtUp.mainCpuMs !== undefined && placed.ok > 0 && health.ok > 0) {
      const perOrder = placed.mainCpuMs / placed.ok;
      const withCatchUp = (placed.mainCpuMs + caughtUp.mainCpuMs) / placed.ok;
      const perHealth = health.mainCpuMs / health.ok;
      // At low rates the idle correction dominates /health's share; the ratio is read off the busy steps.
      if (rate === undefined || rate >= 1000) cpuPerOrder.push(withCatchUp / perHealth);
      console.log(`  main-thread CPU: ${perOrder.toFixed(2)} ms per order during the load, ${withCatchUp.toFixed(2)} ms with the catch-up after it, ` +
        `${(perHealth * 1000).toFixed(0)} µs per /health request: an order costs ${(withCatchUp / perHealth).toFixed(0)} /health requests (one core's worth: ${n(1000 / withCatchUp)} orders/s)`);
    }
    console.log(`  after the load: ${caughtUp.saga === undefined ? `the saga not caught up within ${DRAIN_TIMEOUT_MS / 1000} s (${n(settled)} of ${n(orders.size)} at PENDING_PAYMENT); the next step starts behind`
      : `every order at PENDING_PAYMENT in ${ms(caughtUp.saga)} (${n(placed.ok / (placed.result.duration + caughtUp.saga / 1000))} orders/s to PENDING_PAYMENT over the step)`}, ` +
      `the read model there ${caughtUp.readModel === undefined ? 'not within the cap' : `in ${ms(caughtUp.readModel)}`}, the main thread idle in ${ms(caughtUp.quiet)}`);
  }
  // The HTTP floor once more at the end: drift over the run shows as the difference.
  floors.push((await run('health', undefined, UNTHROTTLED)).perSecond);
  const floor = median(floors);
  // A rated step sustains its rate when 95% of it came back 202 (autocannon's last second is cut short) and nothing else did.
  const sustained = (s: (typeof steps)[number]) => codes(s.orders.result, '202') === 'none' && (s.rate === undefined || s.orders.perSecond >= 0.95 * s.rate);
  const best = steps.filter((s) => sustained(s) && s.orders.result.latency.p99 < AIM.p99Ms).sort((a, b) => b.orders.perSecond - a.orders.perSecond)[0];
  const top = [...steps].sort((a, b) => b.orders.perSecond - a.orders.perSecond)[0]!;
  console.log(`${TRANSPORT}: /health floor ${floors.map((f) => `${n(f)}/s`).join(' then ')} (unthrottled, ${UNTHROTTLED} connections); ` +
    `most accepted ${n(top.orders.perSecond)} orders/s (${top.label}, p99 ${ms(top.orders.result.latency.p99)}) = ${(top.orders.perSecond / floor).toFixed(2)} of the floor, ${writeUp(top.orders)}; ` +
    `with p99 < ${AIM.p99Ms} ms and no errors: ${best ? `${n(best.orders.perSecond)} orders/s (${best.label}, p99 ${ms(best.orders.result.latency.p99)})` : 'no step'}; ` +
    `aim ≥ ${n(AIM.perSecond)}/s at p99 < ${AIM.p99Ms} ms: ${best && (best.rate ?? best.orders.perSecond) >= AIM.perSecond ? 'met' : 'not met'}` +
    (cpuPerOrder.length > 0 ? `; an order's main-thread CPU (to PENDING_PAYMENT, read model included) = ${median(cpuPerOrder).toFixed(0)} /health requests (median of the steps at ≥ 1000/s and unthrottled)` : ''));
} finally {
  await reader?.disconnect().catch(() => undefined);
  await system.close();
  if (target) {
    // The system's transport is closed: a fresh one to remove what the run created.
    const transport = target.make();
    const left = await sweep(target, transport, system.registry.client, prefix);
    for (const l of left) console.error(`clean-up of ${prefix}: ${l}`);
    await transport.close();
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
