/**
 * The whole order saga (the four processors and the payment-gateway simulator in this process,
 * `startEmbeddedProcessors`) driven like buyers would drive it, against one hop of the same engine
 * on the same transport, with the same Avro serdes and guarantee, in the same run. Absolute
 * numbers on these machines are noise; ratios are not.
 *
 * An order of one line crosses 16 consume-process-produce steps on its way from order-placed to
 * COMPLETED (order envelope, saga, stock split, stock ledger, envelope, saga, [buyer pays],
 * envelope, saga, payment, charger + gateway, payment, envelope, saga, delivery, envelope, saga).
 * The baseline is one such step (order-placed → mapValues → a topic, run by StreamsApp), so:
 *   - latency: a saga order, one at a time, takes K one-hop round trips (K = 16 if every step
 *     cost what the bare hop does; the rest is the saga's extra work and the buyer's turn);
 *   - throughput: N orders placed at once, until the last is COMPLETED, against N×16 records
 *     pushed through the one hop: time ratio 1.0 would mean a saga order costs exactly its 16
 *     hops; above that is what the saga does besides (stores and changelogs, status events,
 *     several outputs per step, the gateway's HTTP call).
 * Per-order latency under that burst (p50, p99) is mostly queueing and printed for reference.
 *
 *   bash scripts/services up kafka rabbit        (for kafka, rabbit)
 *   [IDLE_COMMIT_MS=0] node --import tsx bench/saga-throughput.ts [orders=500] [rounds=3] [transport=memory|kafka|rabbit] [guarantee=exactly_once|at_least_once]
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { endpoints } from '../scripts/endpoints.ts';
import { StreamsApp, StreamsBuilder, type KeyValueStore, type ProcessingGuarantee } from '../processors/engine/index.ts';
import { registryContracts, type Contracts } from '../processors/common/index.ts';
import { startEmbeddedProcessors } from '../processors/embedded.ts';
import { USERS_STORE } from '../processors/order/index.ts';
import { STOCK_LEVELS_STORE, type StoredLevel } from '../processors/stock/index.ts';
import {
  embeddedRegistry, remoteRegistry, type OrderCommand, type OrderPlaced, type OrderStatus, type OrderStatusChanged,
  type Registry, type User,
} from '../schemas/index.ts';
import { MemoryTransport, type Consumer, type Transport } from '../transports/index.ts';
import { kafkaTarget, rabbitTarget, sweep, type BrokerTarget } from '../test/saga/brokers.ts';
import { benchBuyers, benchOrder, median, percentile, reader, send, waitFor } from './support.ts';

const ORDERS = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 3);
const TRANSPORT = process.argv[4] ?? 'memory';
/** IDLE_COMMIT_MS=0: commit at the interval only (the engine's default commits 5 ms after the input pauses). */
const IDLE_COMMIT_MS = process.env.IDLE_COMMIT_MS === undefined ? undefined : Number(process.env.IDLE_COMMIT_MS);
const GUARANTEE = process.argv[5] ?? 'exactly_once';
if (TRANSPORT !== 'memory' && TRANSPORT !== 'kafka' && TRANSPORT !== 'rabbit') throw new Error(`transport must be memory, kafka or rabbit, not ${TRANSPORT}`);
if (GUARANTEE !== 'exactly_once' && GUARANTEE !== 'at_least_once') throw new Error(`guarantee must be exactly_once or at_least_once, not ${GUARANTEE}`);
const guarantee: ProcessingGuarantee = GUARANTEE;
/** Consume-process-produce steps on a one-line order's path from placement to COMPLETED. */
const HOPS = 16;
const PARTITIONS = 3;
const COMMIT_INTERVAL_MS = 100;
const PRODUCTS = 5;
/** The buyers placing the orders, each a user on users-topic before the first order (the order processor waits for unknown ones). */
const BUYERS = benchBuyers('bench', 'Bench');
/** Orders per send of the burst; the baseline sends HOPS times as many records per send. */
const CHUNK = 50;
/** Orders (and one-hop records) sent one at a time for the unloaded latency, after one unmeasured warm-up. */
const SAGA_PROBES = 5;
const HOP_PROBES = 50;
const SETTLE_TIMEOUT_MS = 10 * 60_000;
const target: BrokerTarget | undefined = TRANSPORT === 'kafka' ? kafkaTarget() : TRANSPORT === 'rabbit' ? rabbitTarget() : undefined;
/** One client for the whole run: its schema and id caches are shared, as a process's would be. */
const remote: Registry | undefined = target ? remoteRegistry(endpoints().schemaRegistryUrl) : undefined;

/** Statuses whose arrival at the buyer splits an order's latency into stages (hops of each stage below). */
const STAGES: readonly { to: OrderStatus; hops: number }[] = [
  { to: 'CREATED', hops: 2 }, // envelope, saga
  { to: 'PENDING_PAYMENT', hops: 4 }, // stock split, ledger, envelope, saga
  { to: 'PAYMENT_COMPLETED', hops: 7 }, // (the buyer's PAY) envelope, saga, payment, charger (HTTP), payment, envelope, saga
  { to: 'SHIPMENT_STARTED', hops: 3 }, // delivery, envelope, saga
  { to: 'COMPLETED', hops: 0 }, // same step as SHIPMENT_STARTED
];

interface Result {
  /** First send to last output read (ms). */
  total: number;
  /** Placement → COMPLETED (saga) or send → read back (one hop), one at a time (ms). */
  probes: number[];
  /** Saga only: placement → COMPLETED of every order of the burst (ms). */
  burst?: number[];
  /** Saga only: per probe, ms from placement to each stage's status arriving. */
  stages?: number[][];
  /** Saga only: the longest the event loop was held during the burst (ms): every processor, the gateway and the buyers share it. */
  loopMax?: number;
}

interface Run {
  readonly transport: Transport;
  readonly registry: Registry;
  readonly prefix: string;
  readonly contracts: Contracts;
}

function open(kind: string): Run {
  const prefix = `bench-saga-${kind}-${randomUUID().slice(0, 8)}-`;
  const registry = remote ?? embeddedRegistry();
  return { transport: target?.make() ?? new MemoryTransport(), registry, prefix, contracts: registryContracts(registry.client, prefix) };
}

/** Deletes every topic, group and subject under the run's prefix (brokers; memory just goes away). */
async function close(run: Run): Promise<void> {
  if (target) {
    const left = await sweep(target, run.transport, run.registry.client, run.prefix);
    for (const l of left) console.error(`clean-up of ${run.prefix}: ${l}`);
  }
  await run.transport.close();
}

/**
 * A random pause below one commit interval before each probe: a probe sent right after the last
 * one came out would start just after a commit and always wait a full interval (phase-locked),
 * where records arriving at random times wait half of one on average.
 */
const unlock = () => new Promise((r) => setTimeout(r, Math.random() * COMMIT_INTERVAL_MS));

const order = (products: readonly string[], i: number): OrderPlaced => benchOrder(BUYERS, products, i);

/** The baseline: one StreamsApp hop, order-placed → mapValues → `<prefix>one-hop`, same serdes. */
async function oneHop(): Promise<Result> {
  const run = open('hop');
  const input = run.contracts.topic('order-placed');
  const output = `${run.prefix}one-hop`;
  const applicationId = `${run.prefix}app`;
  const consumed = run.contracts.consumed('order-placed');
  let app: StreamsApp | undefined;
  let read: Consumer | undefined;
  const producer = run.transport.producer();
  try {
    await run.transport.admin().createTopics([input, output].map((name) => ({ name, partitions: PARTITIONS, kind: 'replayable' as const })));
    const b = new StreamsBuilder();
    b.stream(input, consumed).mapValues((o): OrderPlaced => ({ ...o, idempotencyKey: o.orderId })).to(output, run.contracts.produced('order-placed'));
    app = new StreamsApp(b.build(), {
      applicationId, transport: run.transport, guarantee, commitIntervalMs: COMMIT_INTERVAL_MS, logger: () => {},
      ...(IDLE_COMMIT_MS === undefined ? {} : { idleCommitMs: IDLE_COMMIT_MS }),
    });
    await app.start();
    const seen = new Map<string, number>();
    read = await reader(run, [output], async (topic, key, value) => {
      await consumed.valueSerde!.deserialize(topic, value);
      if (!seen.has(key)) seen.set(key, performance.now());
    });
    await producer.connect();
    const products = Array.from({ length: PRODUCTS }, () => randomUUID());
    const probes: number[] = [];
    for (let i = 0; i <= HOP_PROBES; i++) {
      const o = order(products, i);
      await unlock();
      const t0 = performance.now();
      await send(run, producer, 'order-placed', [{ key: o.orderId, value: o }]);
      await waitFor(() => seen.has(o.orderId), () => `one-hop probe ${i} (${o.orderId})`);
      if (i > 0) probes.push(seen.get(o.orderId)! - t0);
    }
    const records = ORDERS * HOPS;
    const before = seen.size;
    const t0 = performance.now();
    for (let i = 0; i < records; i += CHUNK * HOPS) {
      const batch = Array.from({ length: Math.min(CHUNK * HOPS, records - i) }, (_, j) => order(products, i + j));
      await send(run, producer, 'order-placed', batch.map((o) => ({ key: o.orderId, value: o })));
    }
    await waitFor(() => seen.size - before >= records, () => `one-hop: ${seen.size - before} of ${records} records read back`, SETTLE_TIMEOUT_MS);
    return { total: performance.now() - t0, probes };
  } finally {
    await read?.disconnect();
    await producer.disconnect();
    await app?.close();
    await close(run);
  }
}

/** The saga: buyers place orders and pay each when it reaches PENDING_PAYMENT. */
async function saga(): Promise<Result> {
  const run = open('saga');
  const log: string[] = [];
  const job = await startEmbeddedProcessors(run.transport, run.contracts, {
    PG_PORT: '0', PG_LATENCY_MS: '0,0', PG_DECLINE_RATE: '0', PG_ERROR_RATE: '0', PG_TIMEOUT_RATE: '0', DELIVERY_FAILURE_RATE: '0',
    // The simulator shares this process's event loop: an engine commit that holds the loop for
    // seconds under the burst would read as gateway timeouts (2 s by default) and open the circuit.
    PG_TIMEOUT_MS: '30000',
    GUARANTEE: guarantee, COMMIT_INTERVAL_MS: String(COMMIT_INTERVAL_MS), TOPIC_PARTITIONS: String(PARTITIONS),
    ...(IDLE_COMMIT_MS === undefined ? {} : { IDLE_COMMIT_MS: String(IDLE_COMMIT_MS) }),
  }, (line) => { log.push(line); }, { appIdPrefix: run.prefix });
  let problem: string | undefined;
  job.stopped().catch((e: unknown) => { problem = `a processor stopped: ${e instanceof Error ? e.message : String(e)}\n${log.slice(-15).join('\n')}`; });
  const check = (done: () => boolean) => () => {
    if (problem) throw new Error(problem);
    return done();
  };
  const producer = run.transport.producer();
  let read: Consumer | undefined;
  try {
    await producer.connect();
    const orders = new Map<string, OrderPlaced>();
    /** Arrival time of each status per order (first copy). */
    const arrived = new Map<string, Map<OrderStatus, number>>();
    const failed: string[] = [];
    const payments: OrderCommand[] = [];
    let paying: Promise<void> = Promise.resolve();
    const statusSerde = run.contracts.consumed('order-status-topic').valueSerde!;
    read = await reader(run, [run.contracts.topic('order-status-topic')], async (topic, _key, value) => {
      const now = performance.now();
      const e = await statusSerde.deserialize(topic, value) as OrderStatusChanged;
      const seen = arrived.get(e.orderId) ?? arrived.set(e.orderId, new Map()).get(e.orderId)!;
      if (seen.has(e.to)) return;
      seen.set(e.to, now);
      const o = orders.get(e.orderId);
      if (e.to === 'CANCELLED' || e.to === 'REFUNDED' || e.to === 'REFUND_REQUESTED') failed.push(`${e.orderId} ${e.to}: ${e.reason ?? ''}`);
      if (e.to !== 'PENDING_PAYMENT' || !o) return;
      const amount = o.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
      payments.push({
        commandId: randomUUID(), orderId: o.orderId, customerId: o.customerId, type: 'PAY', paymentKey: `pk-${o.orderId}`, amount, reason: null, issuedAt: Date.now(),
      });
      // A buyer answers at once; PAYs that become due together go out in one send, in order.
      paying = paying.then(async () => {
        const due = payments.splice(0);
        if (due.length > 0) await send(run, producer, 'order-command-topic', due.map((c) => ({ key: c.orderId, value: c })));
      });
    });
    const completed = (id: string) => arrived.get(id)?.has('COMPLETED') ?? false;
    const settled = (ids: readonly string[], what: string, timeoutMs = 120_000) => waitFor(check(() => {
      if (failed.length > 0) throw new Error(`orders did not complete: ${failed.slice(0, 5).join('; ')}\nprocessors' log (first lines):\n${log.slice(0, 15).join('\n')}`);
      return ids.every(completed);
    }), () => `${what}: ${ids.filter(completed).length} of ${ids.length} COMPLETED`, timeoutMs);

    // Buyers: every one in the order processor's users table before the first order, so no order waits for its buyer.
    await send(run, producer, 'users-topic', BUYERS.map((u) => ({ key: u.id, value: { ...u, updatedAt: Date.now() } })));
    const orderApp = job.processors.find((p) => p.applicationId === `${run.prefix}order-processor`)!.app;
    await waitFor(check(() => BUYERS.every((u) => orderApp.stores<KeyValueStore<string, User>>(USERS_STORE).some((s) => s.get(u.id) !== undefined))),
      () => 'the order processor to hold every buyer');

    // Sellers: ample stock of a few products, held by the stock processor before the first order.
    const sellerId = randomUUID();
    const products = Array.from({ length: PRODUCTS }, () => randomUUID());
    const available = 3 * (ORDERS + SAGA_PROBES + 1);
    await send(run, producer, 'stock-levels-topic', products.map((productId) => ({ key: productId, value: { productId, sellerId, available, updatedAt: Date.now() } })));
    const stock = job.processors.find((p) => p.applicationId === `${run.prefix}stock-processor`)!.app;
    await waitFor(check(() => products.every((id) => stock.stores<KeyValueStore<string, StoredLevel>>(STOCK_LEVELS_STORE).some((s) => s.get(id)?.available === available))),
      () => 'the stock processor to hold every level');

    const place = async (batch: OrderPlaced[]): Promise<number> => {
      for (const o of batch) orders.set(o.orderId, o);
      const t0 = performance.now();
      await send(run, producer, 'order-placed', batch.map((o) => ({ key: o.orderId, value: { ...o, placedAt: Date.now() } })));
      return t0;
    };
    const probes: number[] = [];
    const stages: number[][] = [];
    for (let i = 0; i <= SAGA_PROBES; i++) {
      const o = order(products, i);
      await unlock();
      const t0 = await place([o]);
      await settled([o.orderId], `saga probe ${i}`);
      if (i === 0) continue;
      const at = arrived.get(o.orderId)!;
      probes.push(at.get('COMPLETED')! - t0);
      stages.push(STAGES.map((s) => at.get(s.to)! - t0));
    }

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const burst = Array.from({ length: ORDERS }, (_, i) => order(products, SAGA_PROBES + 1 + i));
    const placedAt = new Map<string, number>();
    let t0: number | undefined;
    for (let i = 0; i < burst.length; i += CHUNK) {
      const batch = burst.slice(i, i + CHUNK);
      const at = await place(batch);
      t0 ??= at;
      for (const o of batch) placedAt.set(o.orderId, at);
    }
    const ids = burst.map((o) => o.orderId);
    await settled(ids, 'the burst', SETTLE_TIMEOUT_MS);
    loop.disable();
    const done = ids.map((id) => arrived.get(id)!.get('COMPLETED')!);
    return { total: Math.max(...done) - t0!, probes, burst: ids.map((id, i) => done[i]! - placedAt.get(id)!), stages, loopMax: loop.max / 1e6 };
  } finally {
    await read?.disconnect();
    await producer.disconnect();
    await job.close();
    await close(run);
  }
}

const ms = (x: number) => `${Math.round(x)} ms`;
const rate = (n: number, t: number) => Math.round(n / (t / 1000)).toLocaleString('en');

function describe(s: Result, h: Result): { time: number; k: number; line: string } {
  const time = s.total / h.total;
  const hop = median(h.probes);
  const k = median(s.probes) / hop;
  return {
    time,
    k,
    line: `saga ${ORDERS} orders ${ms(s.total)} (${rate(ORDERS, s.total)} orders/s), one at a time p50 ${ms(median(s.probes))}, ` +
      `in the burst p50 ${ms(percentile(s.burst!, 0.5))} p99 ${ms(percentile(s.burst!, 0.99))} (event loop held up to ${ms(s.loopMax!)}); ` +
      `one hop ${ORDERS * HOPS} records ${ms(h.total)} (${rate(ORDERS * HOPS, h.total)} records/s), round trip p50 ${ms(hop)}; ` +
      `time ratio saga/(N×${HOPS} hops) ${time.toFixed(2)}, a saga order ≈ ${k.toFixed(1)} one-hop round trips`,
  };
}

console.log(`${ORDERS} orders of one line (${PRODUCTS} products), ${PARTITIONS} partitions, ${TRANSPORT}, ${guarantee}, commit interval ${COMMIT_INTERVAL_MS} ms, ` +
  `${SAGA_PROBES} saga / ${HOP_PROBES} one-hop latency probes, median of ${ROUNDS} interleaved rounds`);
console.log(`baseline: one hop of the engine (order-placed → mapValues → topic, same transport, serdes and guarantee); ` +
  `a one-line order crosses ${HOPS} such hops from placement to COMPLETED`);
const sagas: Result[] = [];
const hops: Result[] = [];
// Interleaved rounds, so drift on a noisy machine hits both sides alike; the order alternates.
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) { hops.push(await oneHop()); sagas.push(await saga()); }
  else { sagas.push(await saga()); hops.push(await oneHop()); }
  console.log(`round ${r + 1}: ${describe(sagas[r]!, hops[r]!).line}`);
}
const rounds = sagas.map((s, r) => describe(s, hops[r]!));
const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
const sm = median(sagas.map((s) => s.total));
const hm = median(hops.map((h) => h.total));
const hopP50 = median(hops.flatMap((h) => h.probes));
console.log(`${TRANSPORT} ${guarantee}: saga ${rate(ORDERS, sm)} orders/s, one hop ${rate(ORDERS * HOPS, hm)} records/s; ` +
  `saga time / time of N×${HOPS} one-hop records ${median(rounds.map((x) => x.time)).toFixed(2)} (rounds ${range(rounds.map((x) => x.time), 2)}); ` +
  `a saga order one at a time ≈ ${median(rounds.map((x) => x.k)).toFixed(1)} one-hop round trips (rounds ${range(rounds.map((x) => x.k), 1)}, ${HOPS} hops on its path)`);
// Where an order's time goes: per stage, ms from the previous status to this one and per hop in it.
const stageSamples = sagas.flatMap((s) => s.stages!);
let previous = 0;
console.log(`one at a time, per stage (median ms; per hop; one-hop round trip ${ms(hopP50)}): ` + STAGES.map((s, i) => {
  const at = median(stageSamples.map((x) => x[i]!));
  const spent = at - previous;
  previous = at;
  return `→${s.to} ${Math.round(spent)}${s.hops > 0 ? ` (${s.hops} hops, ${Math.round(spent / s.hops)}/hop)` : ''}`;
}).join(', '));
