/**
 * The soak run: the order saga at a steady rate for a long time, one processor restarted every few
 * minutes, sampling what must stay flat — each process's memory (RSS, V8 heap), the broker's data
 * on disk (changelogs apart), the stores' live entries, the restored records and restore time of
 * every restart, and throughput. Writes bench/results/soak-<broker>-<date>.json and a PNG chart
 * of them over time; a progress line on stderr.
 *
 *   npm run bench -- soak --broker memory --orders 200000 [--rate 100] [--restart-every 180]
 *   eval "$(bash scripts/services env)"
 *   npm run bench -- soak --broker kafka|rabbit --minutes 30 [--rate 20] [--restart-every 180]
 *
 * Options: --broker memory|kafka|rabbit (memory); --orders N or --minutes M (memory: 200000
 * orders, brokers: 30 minutes); --rate orders/s; --restart-every s (0: never); --sample s (5);
 * --max-inflight N (placing pauses above it, so a saga that cannot keep up shows as a growing
 * backlog and a lower rate rather than unbounded memory in the driver); --retention-ms (the
 * processors' ORDER_RETENTION_MS, 120000: ended orders leave the stores within the run, so their
 * entries can be flat; 0 keeps them for ever; on memory also the broker's log retention and
 * tombstone retention); --out <path without extension>.
 * `--chart <results.json>` draws an earlier run's PNG again.
 *
 * On the embedded default (memory transport, in-process registry) the four processors and the
 * payment-gateway simulator run in this process beside the driver: one process's memory, and a
 * restart is a clean close and start of one processor. On Kafka and RabbitMQ every processor is
 * its own process (test/saga/cluster.ts running bench/soak-processor.ts), a restart is SIGKILL
 * and start again with the same STATE_DIR, and the run's topics, groups and registry subjects go
 * (subjects soft-deleted) when it ends. Buyers pay every order when it reaches PENDING_PAYMENT.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { endpoints } from '../scripts/endpoints.ts';
import { ensureContractTopics, registryContracts, startProcessor, type Contracts, type RunningProcessor } from '../processors/common/index.ts';
import { TEAM_SPECS } from '../processors/embedded.ts';
import { startPgSimulator } from '../processors/payment/index.ts';
import {
  embeddedRegistry, remoteRegistry, type OrderCommand, type OrderPlaced, type OrderStatusChanged, type Registry, type TopicName,
} from '../schemas/index.ts';
import { MemoryTransport, type Consumer, type Producer, type Transport } from '../transports/index.ts';
import { kafkaTarget, rabbitTarget, sweep, type BrokerTarget } from '../test/saga/brokers.ts';
import { startCluster, type Cluster, type ProcessorName } from '../test/saga/cluster.ts';
import { buildScenario } from '../test/saga/scenario.ts';
import { renderPng, timeSeriesSvg, type Panel, type Series } from './chart.ts';
import { appSample, brokerData, memorySample, restoreOf, type DataSize, type MemorySample, type ProcessSample, type TaskRestore } from './soak-probe.ts';
import { benchBuyers, benchOrder, percentile, reader, send, type SagaWiring } from './support.ts';

// ---- the results file ------------------------------------------------------------------------

export type Broker = 'memory' | 'kafka' | 'rabbit';

export interface SoakOptions {
  readonly broker: Broker;
  /** Orders to place (undefined: run for `minutes`). */
  readonly orders?: number;
  readonly minutes?: number;
  readonly rate: number;
  readonly restartEverySec: number;
  readonly sampleSec: number;
  readonly maxInflight: number;
  /** ORDER_RETENTION_MS of the processors: how long what they keep of an ended order stays. */
  readonly retentionMs: number;
}

export interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly placed: number;
  /** Orders terminal (COMPLETED, CANCELLED or REFUNDED) so far. */
  readonly done: number;
  readonly inflight: number;
  /** Terminal orders per second over the interval since the previous sample. */
  readonly donePerSec: number;
  readonly placedPerSec: number;
  /** Placement → terminal of the orders that ended in the interval (ms). */
  readonly latencyP50Ms?: number;
  readonly latencyP99Ms?: number;
  /** Per process (on the embedded default the one process, `embedded`); absent while it restarts. */
  readonly memory: Readonly<Record<string, MemorySample>>;
  /** Live key-value store entries per processor. */
  readonly storeEntries: Readonly<Record<string, number>>;
  readonly data: DataSize;
}

export interface Restart {
  /** Seconds since the load started, when the processor was stopped. */
  readonly t: number;
  readonly processor: string;
  /** SIGKILL (its own process) or a clean close (in the embedded process). */
  readonly how: 'SIGKILL' | 'close';
  /** Orders placed before the restart. */
  readonly ordersBefore: number;
  readonly tasks: number;
  /** Changelog records the restarted processor applied, all its tasks. */
  readonly restoredRecords: number;
  /** The engine's restore time (the longest of its tasks'). */
  readonly restoreMs: number;
  /** Stop → every task running again (process start, group join, restore). */
  readonly downMs: number;
}

export interface SoakResult {
  readonly date: string;
  readonly options: SoakOptions;
  /** Below the issue's soak (200,000 orders on memory, 30 minutes on a broker): a check of the harness, not the soak. */
  readonly short: boolean;
  readonly prefix: string;
  readonly samples: readonly Sample[];
  readonly restarts: readonly Restart[];
  readonly outcomes: Readonly<Record<string, number>>;
  readonly error?: string;
}

// ---- options ------------------------------------------------------------------------------------

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const PARTITIONS = 3;
const PRODUCTS = 20;
const TERMINAL = new Set(['COMPLETED', 'CANCELLED', 'REFUNDED']);
const BUYERS = benchBuyers('soak', 'Soak');
/** A restarted processor has this long to run every task again. */
const RESTORE_TIMEOUT_MS = 5 * 60_000;
/** After the last order is placed, the saga has this long to finish the ones in flight. */
const DRAIN_TIMEOUT_MS = 5 * 60_000;

function parseOptions(argv: string[]): SoakOptions & { out?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      broker: { type: 'string', default: 'memory' }, orders: { type: 'string' }, minutes: { type: 'string' }, rate: { type: 'string' },
      'restart-every': { type: 'string', default: '180' }, sample: { type: 'string', default: '5' }, 'max-inflight': { type: 'string' }, 'retention-ms': { type: 'string', default: '120000' }, out: { type: 'string' },
    },
  });
  const broker = values.broker;
  if (broker !== 'memory' && broker !== 'kafka' && broker !== 'rabbit') throw new Error(`--broker must be memory, kafka or rabbit, not ${broker}`);
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0, not ${v}`);
    return n;
  };
  let orders = num('orders', values.orders);
  let minutes = num('minutes', values.minutes);
  if (orders !== undefined && minutes !== undefined) throw new Error('give --orders or --minutes, not both');
  if (orders === undefined && minutes === undefined) { if (broker === 'memory') orders = 200_000; else minutes = 30; }
  const rate = num('rate', values.rate) ?? (broker === 'memory' ? 100 : 20);
  if (rate <= 0) throw new Error('--rate must be above 0');
  return {
    broker, ...(orders !== undefined ? { orders } : {}), ...(minutes !== undefined ? { minutes } : {}), rate,
    restartEverySec: num('restart-every', values['restart-every'])!, sampleSec: Math.max(1, num('sample', values.sample)!),
    maxInflight: num('max-inflight', values['max-inflight']) ?? Math.max(2_000, rate * 60), retentionMs: num('retention-ms', values['retention-ms'])!, ...(values.out ? { out: values.out } : {}),
  };
}

// ---- where the saga runs ------------------------------------------------------------------------

/** The saga's processors on one broker, sampled and restarted by name. */
interface Deployment {
  readonly names: readonly string[];
  /** Memory per process (absent: one that does not answer, restarting), live store entries per processor. */
  sample(): Promise<{ memory: Record<string, MemorySample>; storeEntries: Record<string, number> }>;
  restart(name: string): Promise<Omit<Restart, 't' | 'ordersBefore'>>;
  data(): DataSize;
  problem(): string | undefined;
  close(): Promise<void>;
  /** Where to look when it fails. */
  readonly logs: string;
}

const appEnv = (o: SoakOptions): Record<string, string> => ({
  GUARANTEE: 'exactly_once', TOPIC_PARTITIONS: String(PARTITIONS), DELIVERY_FAILURE_RATE: '0', ORDER_PAYMENT_DEADLINE_MS: String(60 * 60_000), ORDER_RETENTION_MS: String(o.retentionMs),
  // Kafka cleans only rolled segments (1 GiB by default): changelogs roll every minute, and the
  // tombstones of expired orders go after the order retention, as a user bounding restores would set.
  ...(o.broker === 'kafka' && o.retentionMs > 0 ? { KAFKA_COMPACTED_TOPIC_CONFIG: `segment.ms=60000,delete.retention.ms=${o.retentionMs}` } : {}),
});

/** Restarting `name` is done once it runs at least the tasks it ran before, restored; `problem` gives up sooner. */
async function tasksBack(read: () => Promise<readonly TaskRestore[] | undefined>, expected: number, name: string, problem: () => string | undefined): Promise<readonly TaskRestore[]> {
  const deadline = Date.now() + RESTORE_TIMEOUT_MS;
  for (;;) {
    const gone = problem();
    if (gone) throw new Error(`restarting ${name}: ${gone}`);
    const tasks = await read();
    if (tasks && tasks.length >= Math.max(1, expected)) return tasks;
    if (Date.now() > deadline) throw new Error(`${name} runs ${tasks?.length ?? 0} of its ${expected} tasks ${RESTORE_TIMEOUT_MS} ms after its restart`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function embedded(o: SoakOptions, transport: MemoryTransport, contracts: Contracts, prefix: string): Promise<Deployment> {
  const log: string[] = [];
  const logger = (line: string) => { log.push(line); if (log.length > 200) log.shift(); };
  const pg = await startPgSimulator({ port: 0, latencyMs: [1, 5], declineRate: 0, errorRate: 0, timeoutRate: 0, timeoutAfterChargeRate: 0 });
  const env = { ...appEnv(o), PG_URL: pg.url, PG_TIMEOUT_MS: '30000' };
  const running = new Map<string, RunningProcessor>();
  let restarting: string | undefined;
  let problem: string | undefined;
  const start = async (name: string) => {
    const spec = TEAM_SPECS.find((s) => s.name === name)!;
    const r = await startProcessor(spec, { transport, contracts, env: { ...env, APP_ID: `${prefix}${name}-processor` }, logger });
    running.set(name, r);
    r.stopped().catch((e: unknown) => { problem ??= `${name} stopped: ${e instanceof Error ? e.message : String(e)}\n${log.slice(-15).join('\n')}`; });
  };
  const close = async () => {
    for (const r of [...running.values()].reverse()) await r.close();
    running.clear();
    await pg.close();
  };
  try {
    for (const s of TEAM_SPECS) await start(s.name);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    names: TEAM_SPECS.map((s) => s.name),
    async sample() {
      // A processor restarting holds stores still empty or half restored: no entries for it then.
      return { memory: { embedded: memorySample() }, storeEntries: Object.fromEntries([...running].filter(([name]) => name !== restarting).map(([name, r]) => [name, appSample(r.app).storeEntries])) };
    },
    async restart(name) {
      const before = running.get(name)!;
      const expected = before.app.taskIds().length;
      const t0 = Date.now();
      restarting = name;
      running.delete(name);
      await before.close();
      await start(name);
      const tasks = await tasksBack(async () => (running.get(name) ? appSample(running.get(name)!.app).tasks : undefined), expected, name, () => problem);
      restarting = undefined;
      return { processor: name, how: 'close', tasks: tasks.length, ...restoreOf(tasks), downMs: Date.now() - t0 };
    },
    data() {
      let changelogBytes = 0, topicBytes = 0, changelogRecords = 0, topicRecords = 0;
      for (const [topic, t] of transport.broker.topics) {
        if (!topic.startsWith(prefix)) continue;
        for (const log of t.logs) {
          if (topic.endsWith('-changelog')) { changelogBytes += log.bytes; changelogRecords += log.size; } else { topicBytes += log.bytes; topicRecords += log.size; }
        }
      }
      return { changelogBytes, topicBytes, changelogRecords, topicRecords };
    },
    problem: () => problem,
    close,
    logs: '(in process: the last lines are in the error)',
  };
}

const SERVICES = process.env.ORDERSTREAM_SERVICES_DIR ?? join(ROOT, '.services');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a ? a.port : 0)); });
  });
}

async function probe(port: number): Promise<ProcessSample | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/soak`, { signal: AbortSignal.timeout(3000) });
    return res.ok ? (await res.json()) as ProcessSample : undefined;
  } catch {
    return undefined;
  }
}

async function processes(o: SoakOptions, target: BrokerTarget, prefix: string): Promise<Deployment & { cluster: Cluster; stateRoot: string }> {
  const stateRoot = mkdtempSync(join(tmpdir(), `soak-${target.name}-`));
  const logDir = join(stateRoot, 'logs');
  const names: ProcessorName[] = ['stock', 'delivery', 'payment', 'order'];
  let restarting: string | undefined;
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const))) as Record<ProcessorName, number>;
  const cluster = await startCluster({
    brokerEnv: { ...target.env, ...appEnv(o) }, schemaRegistryUrl: endpoints().schemaRegistryUrl, topicPrefix: prefix,
    scenario: { ...buildScenario({ seed: prefix, orders: 0 }), declineRate: 0, deliveryFailureRate: 0 },
    stateRoot, logDir, paymentDeadlineMs: 60 * 60_000, pgErrorRate: 0, pgLatencyMs: '1,5', readyTimeoutMs: 180_000,
    processorEntry: (name) => ({ script: 'bench/soak-processor.ts', env: { SOAK_PROCESSOR: name, SOAK_PORT: String(ports[name]) } }),
  }).catch((e: unknown) => {
    // startCluster stopped what it started and its error holds the failing log's tail.
    rmSync(stateRoot, { recursive: true, force: true });
    throw e;
  });
  return {
    cluster, stateRoot, names,
    async sample() {
      const memory: Record<string, MemorySample> = {};
      const storeEntries: Record<string, number> = {};
      await Promise.all(names.map(async (n) => {
        const p = await probe(ports[n]);
        if (!p) return;
        memory[n] = { rssBytes: p.rssBytes, heapUsedBytes: p.heapUsedBytes, heapTotalBytes: p.heapTotalBytes, externalBytes: p.externalBytes };
        // A processor restarting holds stores still empty or half restored: no entries for it then.
        if (n !== restarting) storeEntries[n] = p.storeEntries;
      }));
      return { memory, storeEntries };
    },
    async restart(name) {
      const n = name as ProcessorName;
      const expected = (await probe(ports[n]))?.tasks.length ?? 1;
      const t0 = Date.now();
      restarting = n;
      await cluster.kill(n);
      await cluster.restart(n);
      const tasks = await tasksBack(async () => (await probe(ports[n]))?.tasks, expected, name, () => cluster.problem());
      restarting = undefined;
      return { processor: name, how: 'SIGKILL', tasks: tasks.length, ...restoreOf(tasks), downMs: Date.now() - t0 };
    },
    data: () => brokerData(target.name, SERVICES, prefix),
    problem: () => cluster.problem(),
    close: () => cluster.stop(),
    logs: logDir,
  };
}

// ---- the load -----------------------------------------------------------------------------------

const order = (products: readonly string[], i: number): OrderPlaced => benchOrder(BUYERS, products, i);

/** Buyers placing orders at a steady rate and paying each at PENDING_PAYMENT; counts what ends. */
class Load {
  placed = 0;
  done = 0;
  throttledTicks = 0;
  readonly outcomes: Record<string, number> = {};
  /** Orders not terminal yet: placement time (performance.now()), paid. */
  readonly inflight = new Map<string, { at: number; customerId: string; amount: number; paid: boolean }>();
  /** Placement → terminal of orders ended since the last `takeLatencies`. */
  private latencies: number[] = [];
  private pays: OrderCommand[] = [];
  private lane: Promise<void> = Promise.resolve();
  readonly errors: string[] = [];

  constructor(private readonly run: SagaWiring, private readonly producer: Producer, private readonly products: readonly string[]) {}

  async onStatus(e: OrderStatusChanged): Promise<void> {
    const o = this.inflight.get(e.orderId);
    if (!o) return; // another run's, one already ended, or a re-sent copy after a crash
    if (TERMINAL.has(e.to)) {
      this.inflight.delete(e.orderId);
      this.done++;
      this.outcomes[e.to] = (this.outcomes[e.to] ?? 0) + 1;
      this.latencies.push(performance.now() - o.at);
    } else if (e.to === 'PENDING_PAYMENT' && !o.paid) {
      o.paid = true;
      this.pays.push({ commandId: randomUUID(), orderId: e.orderId, customerId: o.customerId, type: 'PAY', paymentKey: `pk-${e.orderId}`, amount: o.amount, reason: null, issuedAt: Date.now() });
    }
  }

  /** Places what is due by now at `rate` (up to `total`), and the PAYs that came due; one send each. */
  tick(elapsedMs: number, rate: number, total: number, maxInflight: number): Promise<void> {
    this.lane = this.lane.then(async () => {
      const pays = this.pays.splice(0);
      if (pays.length > 0) await send(this.run, this.producer, 'order-command-topic', pays.map((c) => ({ key: c.orderId, value: c })));
      const due = Math.min(total, Math.floor((elapsedMs / 1000) * rate)) - this.placed;
      if (due <= 0) return;
      if (this.inflight.size >= maxInflight) { this.throttledTicks++; return; }
      const batch = Array.from({ length: Math.min(due, 1000) }, (_, j) => order(this.products, this.placed + j));
      for (const o of batch) this.inflight.set(o.orderId, { at: performance.now(), customerId: o.customerId, amount: o.lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0), paid: false });
      this.placed += batch.length;
      await send(this.run, this.producer, 'order-placed', batch.map((o) => ({ key: o.orderId, value: o })));
    }).catch((e: unknown) => { this.errors.push(e instanceof Error ? e.message : String(e)); });
    return this.lane;
  }

  takeLatencies(): number[] {
    const l = this.latencies;
    this.latencies = [];
    return l;
  }
}

// ---- the run ------------------------------------------------------------------------------------

const mib = (b: number) => b / 1024 / 1024;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const clock = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

async function soak(o: SoakOptions, out: string): Promise<SoakResult> {
  const prefix = `soak-${o.broker}-${randomUUID().slice(0, 8)}-`;
  const target = o.broker === 'kafka' ? kafkaTarget() : o.broker === 'rabbit' ? rabbitTarget() : undefined;
  const registry: Registry = target ? remoteRegistry(endpoints().schemaRegistryUrl) : embeddedRegistry();
  // The embedded broker keeps its logs as long as the orders are kept: a user would bound both.
  const transport: Transport = target?.make() ?? new MemoryTransport(o.retentionMs > 0 ? { retentionMs: o.retentionMs, deleteRetentionMs: o.retentionMs } : { retentionMs: Infinity });
  const contracts = registryContracts(registry.client, prefix);
  const run: SagaWiring = { transport, contracts, prefix };
  const samples: Sample[] = [];
  const restarts: Restart[] = [];
  let error: string | undefined;
  let deployment: Deployment | undefined;
  let read: Consumer | undefined;
  const producer = transport.producer();
  let load: Load | undefined;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let restartFailure: string | undefined;
  let interrupted = false;
  const interrupt = () => { error ??= 'interrupted (SIGINT)'; interrupted = true; stopping = true; };
  process.once('SIGINT', interrupt);
  const tty = process.stderr.isTTY;
  try {
    // Contract topics first, then buyers and stock, so the processors find them from their start.
    const topics = [...new Set(TEAM_SPECS.flatMap((s) => s.topics))] as TopicName[];
    await ensureContractTopics(transport.admin(), contracts, topics, { partitions: PARTITIONS });
    await producer.connect();
    const sellerId = randomUUID();
    const products = Array.from({ length: PRODUCTS }, () => randomUUID());
    await send(run, producer, 'users-topic', BUYERS.map((u) => ({ key: u.id, value: { ...u, updatedAt: Date.now() } })));
    await send(run, producer, 'stock-levels-topic', products.map((productId) => ({ key: productId, value: { productId, sellerId, available: 1_000_000_000, updatedAt: Date.now() } })));
    deployment = transport instanceof MemoryTransport ? await embedded(o, transport, contracts, prefix) : await processes(o, target!, prefix);
    const d = deployment;
    const l = new Load(run, producer, products);
    load = l;
    const statusSerde = contracts.consumed('order-status-topic').valueSerde!;
    read = await reader(run, [contracts.topic('order-status-topic')], async (topic, _key, value) => l.onStatus(await statusSerde.deserialize(topic, value) as OrderStatusChanged));

    const total = o.orders ?? Infinity;
    const endAt = o.minutes !== undefined ? o.minutes * 60_000 : Infinity;
    const t0 = performance.now();
    const elapsed = () => performance.now() - t0;
    const placing = () => !stopping && l.placed < total && elapsed() < endAt;

    let last = { t: 0, placed: 0, done: 0 };
    const takeSample = async (): Promise<Sample> => {
      const t = elapsed() / 1000;
      const { memory, storeEntries } = await d.sample();
      const lat = l.takeLatencies();
      const dt = Math.max(1e-3, t - last.t);
      const s: Sample = {
        t: Math.round(t * 10) / 10, placed: l.placed, done: l.done, inflight: l.inflight.size,
        donePerSec: Math.round(((l.done - last.done) / dt) * 10) / 10, placedPerSec: Math.round(((l.placed - last.placed) / dt) * 10) / 10,
        ...(lat.length > 0 ? { latencyP50Ms: Math.round(percentile(lat, 0.5)), latencyP99Ms: Math.round(percentile(lat, 0.99)) } : {}),
        memory, storeEntries, data: d.data(),
      };
      last = { t, placed: l.placed, done: l.done };
      samples.push(s);
      return s;
    };
    const progress = (s: Sample) => {
      const rss = Object.values(s.memory).map((m) => mib(m.rssBytes));
      const r = restarts.at(-1);
      const line = `soak ${o.broker} ${clock(s.t)} placed ${fmt(s.placed)}${Number.isFinite(total) ? `/${fmt(total)}` : ''} done ${fmt(s.done)} (${s.donePerSec}/s) in flight ${fmt(s.inflight)}` +
        ` | rss ${rss.length ? `${fmt(Math.min(...rss))}-${fmt(Math.max(...rss))}` : '-'} MiB, changelogs ${mib(s.data.changelogBytes).toFixed(1)} MiB, topics ${mib(s.data.topicBytes).toFixed(1)} MiB` +
        ` | restarts ${restarts.length}${r ? ` (last ${r.processor}: ${fmt(r.restoredRecords)} records in ${fmt(r.restoreMs)} ms)` : ''}`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    };

    // Restarts: one processor after the other, every restartEverySec, while orders are placed.
    restarting = (async () => {
      let i = 0;
      while (o.restartEverySec > 0) {
        const wake = performance.now() + o.restartEverySec * 1000;
        while (placing() && performance.now() < wake) await new Promise((r) => setTimeout(r, 250));
        if (!placing() || d.problem()) return;
        const name = d.names[i++ % d.names.length]!;
        const t = elapsed() / 1000;
        const ordersBefore = l.placed;
        const r = await d.restart(name);
        restarts.push({ t: Math.round(t * 10) / 10, ordersBefore, ...r });
      }
    })();
    restarting.catch((e: unknown) => { restartFailure = e instanceof Error ? e.message : String(e); });

    let nextSample = o.sampleSec * 1000;
    let drainUntil: number | undefined;
    for (;;) {
      const problem = d.problem() ?? restartFailure ?? (l.errors.length > 0 ? `sends failed: ${l.errors.slice(0, 3).join('; ')}` : undefined);
      if (problem) throw new Error(problem);
      await l.tick(elapsed(), o.rate, placing() ? total : l.placed, o.maxInflight);
      if (elapsed() >= nextSample) { progress(await takeSample()); nextSample += o.sampleSec * 1000; }
      if (!placing()) {
        if (stopping) break;
        drainUntil ??= elapsed() + DRAIN_TIMEOUT_MS;
        if (l.inflight.size === 0) break;
        if (elapsed() > drainUntil) throw new Error(`${fmt(l.inflight.size)} orders still in flight ${DRAIN_TIMEOUT_MS / 1000} s after the last was placed`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await restarting;
    progress(await takeSample());
    if (tty) process.stderr.write('\n');
  } catch (e) {
    error ??= e instanceof Error ? e.message : String(e);
    if (tty) process.stderr.write('\n');
  } finally {
    // A restart under way ends before the saga is closed under it.
    stopping = true;
    await restarting?.catch(() => undefined);
    process.removeListener('SIGINT', interrupt);
    await read?.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await deployment?.close().catch((e: unknown) => console.error(`closing the saga: ${String(e)}`));
    if (target) {
      const left = await sweep(target, transport, registry.client, prefix);
      for (const x of left) console.error(`clean-up of ${prefix}: ${x}`);
    }
    await transport.close().catch(() => undefined);
    if (deployment && 'stateRoot' in deployment) {
      const root = (deployment as { stateRoot: string }).stateRoot;
      // On a failure the processes' logs stay for a look; an interruption asked for nothing.
      if (error && !interrupted) console.error(`logs kept in ${deployment.logs}`);
      else rmSync(root, { recursive: true, force: true });
    }
  }
  const short = o.broker === 'memory' ? (load?.placed ?? 0) < 200_000 : (samples.at(-1)?.t ?? 0) < 30 * 60;
  const result: SoakResult = { date: new Date().toISOString(), options: o, short, prefix, samples, restarts, outcomes: load?.outcomes ?? {}, ...(error ? { error } : {}) };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.json`, `${JSON.stringify(result, null, 1)}\n`);
  await renderPng(timeSeriesSvg(chartOf(result)), `${out}.png`);
  console.log(`wrote ${out}.json and ${out}.png`);
  return result;
}

/** The chart: one panel per measure over minutes since the start; restarts as dots. */
export function chartOf(r: SoakResult): Parameters<typeof timeSeriesSvg>[0] {
  const m = (t: number) => t / 60;
  const names = [...new Set(r.samples.flatMap((s) => Object.keys(s.memory)))];
  const series = (name: string, f: (s: Sample) => number | undefined, extra: Partial<Series> = {}): Series =>
    ({ name, points: r.samples.flatMap((s) => { const v = f(s); return v === undefined ? [] : [[m(s.t), v] as const]; }), ...extra });
  const procs = [...new Set(r.restarts.map((x) => x.processor))];
  const broker = r.options.broker !== 'memory';
  const panels: Panel[] = [
    { title: 'Memory: RSS (solid), V8 heap used (dashed)', unit: 'MiB', series: names.flatMap((n, i) => [
      series(`${n} rss`, (s) => s.memory[n] && mib(s.memory[n].rssBytes), { color: COLORS[i % COLORS.length]! }),
      series(`${n} heap`, (s) => s.memory[n] && mib(s.memory[n].heapUsedBytes), { color: COLORS[i % COLORS.length]!, dashed: true }),
    ]) },
    { title: broker ? 'The run\'s data on the broker\'s disk' : 'The run\'s topics in the memory transport (keys + values)', unit: 'MiB', series: [
      series('changelogs', (s) => mib(s.data.changelogBytes)), series('other topics', (s) => mib(s.data.topicBytes)),
      ...(r.options.broker === 'rabbit' ? [series('offsets streams', (s) => mib(s.data.offsetsBytes ?? 0))] : []),
    ] },
    { title: 'Live store entries per processor', unit: 'entries', series: [...new Set(r.samples.flatMap((s) => Object.keys(s.storeEntries)))].map((n) => series(n, (s) => s.storeEntries[n])) },
    { title: 'Throughput', unit: 'orders/s', series: [series('terminal/s', (s) => s.donePerSec), series('placed/s', (s) => s.placedPerSec, { dashed: true })] },
    { title: 'Orders in flight (placed, not terminal)', unit: 'orders', series: [series('in flight', (s) => s.inflight)] },
    { title: 'Restore time at each restart (the engine\'s, longest task)', unit: 'ms', series: procs.map((p) => ({ name: p, markers: true, points: r.restarts.filter((x) => x.processor === p).map((x) => [m(x.t), x.restoreMs] as const) })) },
    { title: 'Restored changelog records at each restart', unit: 'records', series: procs.map((p) => ({ name: p, markers: true, points: r.restarts.filter((x) => x.processor === p).map((x) => [m(x.t), x.restoredRecords] as const) })) },
  ];
  const o = r.options;
  return {
    title: `soak: the order saga on ${o.broker}${r.short ? ' — SHORT RUN' : ''}`,
    subtitle: `${o.orders !== undefined ? `${fmt(o.orders)} orders` : `${o.minutes} minutes`} at ${o.rate} orders/s, one processor restarted every ${o.restartEverySec} s (${r.restarts[0]?.how ?? 'none'}), retention ${o.retentionMs / 1000} s; ` +
      `${fmt(r.samples.at(-1)?.placed ?? 0)} placed, ${fmt(r.samples.at(-1)?.done ?? 0)} terminal; ${r.date.slice(0, 16)}Z${r.error ? `; ERROR: ${r.error.slice(0, 80)}` : ''}`,
    xLabel: 'minutes since the load started',
    panels,
  };
}

const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#f59e0b', '#7c3aed', '#0891b2'];

// --chart <results.json>: draws the PNG of an earlier run again (beside its JSON), nothing else.
const chartAt = process.argv.indexOf('--chart');
if (chartAt >= 0) {
  const json = process.argv[chartAt + 1];
  if (!json?.endsWith('.json')) throw new Error('--chart needs a soak results .json file');
  await renderPng(timeSeriesSvg(chartOf(JSON.parse(readFileSync(json, 'utf8')) as SoakResult)), json.replace(/\.json$/, '.png'));
  console.log(`wrote ${json.replace(/\.json$/, '.png')}`);
  process.exit(0);
}
const options = parseOptions(process.argv.slice(2));
const out = options.out ?? join(HERE, 'results', `soak-${options.broker}-${new Date().toISOString().slice(0, 10)}`);
const result = await soak(options, out);
const byProcessor = new Map<string, Restart[]>();
for (const x of result.restarts) (byProcessor.get(x.processor) ?? byProcessor.set(x.processor, []).get(x.processor)!).push(x);
for (const [p, xs] of byProcessor) {
  const a = xs[0]!;
  const b = xs.at(-1)!;
  console.log(`${p}: restart after ${fmt(a.ordersBefore)} orders restored ${fmt(a.restoredRecords)} records in ${fmt(a.restoreMs)} ms (down ${fmt(a.downMs)} ms)` +
    (xs.length > 1 ? `; after ${fmt(b.ordersBefore)} orders ${fmt(b.restoredRecords)} records in ${fmt(b.restoreMs)} ms (down ${fmt(b.downMs)} ms)` : ''));
}
if (result.error) { console.error(`soak failed: ${result.error}`); process.exitCode = 1; }
