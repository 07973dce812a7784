/**
 * Deterministic crash-point exploration of the saga (FoundationDB simulation / TigerBeetle VOPR,
 * on the memory broker): the four processors in this process, each instance on its own
 * `CrashingTransport`, a seeded scenario of orders, one processor abandoned at a chosen step of
 * the commit protocol, a new instance started on the same broker, and after the run is quiet
 * every invariant of test/saga/checks.ts.
 *
 * A crash point is (processor, step, phase). Exhaustive mode enumerates, per processor, steps
 * 1, 2, … until a run whose instance ends before reaching the step (the enumeration is what the
 * instance really reaches, not a count that timing could make stale); random mode draws seeds,
 * processors, steps and phases from a seeded PRNG (never Math.random).
 *
 * Guarantees: `exactly_once` on the transactional memory transport (one sendTransaction per
 * commit), `effectively_once` on the rabbit-like one (no transactions: outputs + changelog,
 * checkpoint, offsets as three writes, each a crash point).
 */
import { startProcessor, registryContracts, type Env, type ProcessorSpec, type RunningProcessor } from '../../processors/common/index.ts';
import { deliverySpec } from '../../processors/delivery/index.ts';
import { orderSpec } from '../../processors/order/index.ts';
import { paymentSpec, startPgSimulator } from '../../processors/payment/index.ts';
import { STOCK_LEVELS_STORE, stockSpec } from '../../processors/stock/index.ts';
import { embeddedRegistry } from '../../schemas/index.ts';
import { MemoryTransport } from '../../transports/index.ts';
import {
  completedMismatches, deadLetterMismatches, duplicateEffects, gatewayMismatches, levelMismatches, outcomeMismatches, reasonMismatches, sequenceProblems,
} from '../saga/checks.ts';
import { SagaClient } from '../saga/client.ts';
import { TERMINAL, buildScenario, expectedOutcome, prng, type Scenario } from '../saga/scenario.ts';
import { AbandonedError, CrashingTransport, type CrashPhase, type Step, type StepKind } from './crashing-transport.ts';

export type Guarantee = 'exactly_once' | 'effectively_once';
export type ProcessorName = 'stock' | 'order' | 'payment' | 'delivery';
export const PROCESSOR_NAMES: readonly ProcessorName[] = ['stock', 'order', 'payment', 'delivery'];
const SPECS: Record<ProcessorName, ProcessorSpec> = { stock: stockSpec, order: orderSpec, payment: paymentSpec, delivery: deliverySpec };

export interface Crash {
  readonly processor: ProcessorName;
  readonly step: number;
  readonly phase: CrashPhase;
}

export interface RunOptions {
  readonly seed: string;
  readonly orders: number;
  readonly guarantee: Guarantee;
  readonly crash?: Crash;
  /** A second crash: this processor's instance `instance` (2 = the first successor when it is the crashed one) at its step. */
  readonly again?: Crash & { readonly instance: number };
  /** Breaks the broker's atomicity (CrashingTransportOptions.tornTransactions): for the test that the checks catch it. */
  readonly tornTransactions?: boolean;
  /** How long the saga may take to settle (default 30 s). */
  readonly settleMs?: number;
}

export interface RunResult {
  readonly options: RunOptions;
  /** Steps each processor's first instance made (up to its crash). */
  readonly steps: Record<ProcessorName, number>;
  /** Steps of every instance by kind (which parts of the commit protocol the run went through). */
  readonly kinds: Partial<Record<StepKind, number>>;
  /** The step the crash landed on; undefined when the instance never reached it. */
  readonly crashedAt: Step | undefined;
  /** The step the second crash landed on, if any. */
  readonly againAt: Step | undefined;
  readonly failures: readonly string[];
  readonly ms: number;
}

export { prng };

/** A command line that reproduces one run. */
export function reproduce(o: RunOptions): string {
  const c = (o.crash ? ` --crash ${o.crash.processor}:${o.crash.step}:${o.crash.phase}` : '')
    + (o.again ? ` --again ${o.again.processor}:${o.again.instance}:${o.again.step}:${o.again.phase}` : '');
  return `npm run simulate -- --seed ${o.seed} --orders ${o.orders} --guarantee ${o.guarantee}${c}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Slot {
  readonly name: ProcessorName;
  readonly transports: CrashingTransport[];
  readonly instances: RunningProcessor[];
  /** A successor being started after a crash. */
  restarting: Promise<void> | undefined;
}

/** One run of the saga, with at most one crash; never throws for what the saga did wrong. */
export async function runOnce(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const failures: string[] = [];
  const s = buildScenario({ seed: options.seed, orders: options.orders, products: { ample: 4, scarce: 1, unknown: 1 } });
  const memory = new MemoryTransport();
  const registry = embeddedRegistry().client;
  const contracts = registryContracts(registry);
  const pg = await startPgSimulator({ port: 0, latencyMs: [1, 3], seed: s.pgSeed, declineRate: s.declineRate, random: prng(`${options.seed}-pg-latency`) });
  const rabbitLike = options.guarantee === 'effectively_once';
  const env: Record<ProcessorName, Env> = {
    stock: {}, order: { ORDER_PAYMENT_DEADLINE_MS: '3000' }, // Several runs share this process's event loop: a 2 s gateway timeout then fails charges (and
    // opens the breaker) for load, not for a crash — outside what this harness explores.
    payment: { PG_URL: pg.url, PG_TIMEOUT_MS: '10000' },
    delivery: { DELIVERY_SEED: s.deliverySeed, DELIVERY_FAILURE_RATE: String(s.deliveryFailureRate) },
  };
  const slots = new Map<ProcessorName, Slot>(PROCESSOR_NAMES.map((name) => [name, { name, transports: [], instances: [], restarting: undefined }]));
  let ended = false;
  const logs: string[] = [];

  const start = async (slot: Slot): Promise<void> => {
    const instance = slot.transports.length + 1;
    const crash = options.crash?.processor === slot.name && instance === 1 ? options.crash
      : options.again?.processor === slot.name && options.again.instance === instance ? options.again : undefined;
    const transport = new CrashingTransport(memory, {
      rabbitLike,
      ...(options.tornTransactions ? { tornTransactions: true } : {}),
      ...(crash ? { crashAt: { step: crash.step, phase: crash.phase } } : {}),
      onCrash: () => { const r = restart(slot).finally(() => { if (slot.restarting === r) slot.restarting = undefined; }); slot.restarting = r; },
    });
    slot.transports.push(transport);
    const logger = (line: string) => { if (logs.length < 2000) logs.push(`[${slot.name}#${slot.transports.length}] ${line}`); };
    try {
      const running = await startProcessor(SPECS[slot.name], {
        transport, contracts, logger,
        // Snapshots as often as the small scenarios allow, so that their writes are crash points too.
        env: { GUARANTEE: 'exactly_once', APP_ID: `${slot.name}-processor`, INSTANCE_ID: '1', COMMIT_INTERVAL_MS: '20', SNAPSHOT_MIN_RECORDS: '3', SNAPSHOT_RATIO: '1', ...env[slot.name] },
      });
      slot.instances.push(running);
      running.stopped().catch((e: unknown) => {
        if (!transport.crashed && !ended) failures.push(`${slot.name} instance ${slot.transports.indexOf(transport) + 1} stopped: ${errorText(e)}`);
      });
    } catch (e) {
      if (!transport.crashed) throw e;
      // Abandoned while starting: its successor is on the way.
    }
  };
  const restart = async (slot: Slot): Promise<void> => {
    // Let the dead instance's failing call unwind first (as the OS would reap it), then close
    // what is left of it locally: every call of it fails, so nothing reaches the broker.
    await sleep(0);
    const dead = slot.instances.at(-1);
    if (dead && slot.transports.at(-1)?.crashed) await Promise.race([dead.close().catch(() => undefined), sleep(2000)]);
    await start(slot).catch((e: unknown) => { failures.push(`restarting ${slot.name} failed: ${errorText(e)}`); });
  };

  let client: SagaClient | undefined;
  try {
    for (const slot of slots.values()) await start(slot);
    for (const slot of slots.values()) await slot.restarting;
    const c = (client = await SagaClient.start({
      transport: memory, registry, prefix: '', scenario: s,
      stockChangelog: `stock-processor-${STOCK_LEVELS_STORE}-changelog`,
      engineDeadLetterTopics: PROCESSOR_NAMES.map((p) => `${p}-processor-dlq`),
      batchSize: 10, maxInFlight: s.orders.length,
      isTerminal: (orderId) => TERMINAL.has(client?.observation.statuses.get(orderId)?.at(-1)?.to ?? 'CREATED'),
      abort: () => (Date.now() - started > (options.settleMs ?? 30_000) ? 'past the settle deadline' : undefined),
    }));
    const obs = c.observation;
    const settleBy = started + (options.settleMs ?? 30_000);
    const until = async (what: string, done: () => boolean): Promise<boolean> => {
      while (!done()) {
        if (Date.now() > settleBy) { failures.push(`not settled within ${options.settleMs ?? 30_000} ms: ${what}`); return false; }
        await sleep(10);
      }
      return true;
    };
    await c.publishUsers();
    await c.setStockLevels();
    if (await until('the stock changelog holding every level', () => c.levelsMissing().length === 0)) {
      await c.placeOrders();
      const levels = () => new Map([...obs.levels].map(([p, vs]) => [p, vs.at(-1)!]));
      const completedExpected = s.orders.filter((o) => expectedOutcome(s, o).status === 'COMPLETED').length;
      const settled = () => s.orders.every((o) => TERMINAL.has(obs.statuses.get(o.placed.orderId)?.at(-1)?.to ?? 'CREATED'))
        && levelMismatches(s, levels()).length === 0 && new Set([...obs.completed.values()].map((e) => e.orderId)).size >= completedExpected
        && obs.orderDeadLetters.length >= s.rejected.length;
      const ok = await until('every order terminal, levels and order-completed events as predicted', settled);
      // Quiet: no transport call of any instance for a while, no restart under way.
      const total = () => [...slots.values()].reduce((n, sl) => n + sl.transports.reduce((m, t) => m + t.stepCount, 0), 0);
      let last = -1;
      let quietSince = Date.now();
      if (ok) await until('quiet (no commit-protocol call for 200 ms)', () => {
        const n = total();
        if (n !== last) { last = n; quietSince = Date.now(); }
        return Date.now() - quietSince >= 200 && [...slots.values()].every((sl) => sl.restarting === undefined);
      });
      await c.drain();
      failures.push(...checkAll(s, c, pg.stats()));
    }
  } catch (e) {
    failures.push(`run failed: ${errorText(e)}`);
  } finally {
    ended = true;
    await client?.close().catch(() => undefined);
    for (const slot of slots.values()) await slot.restarting?.catch(() => undefined);
    for (const slot of slots.values()) for (const i of slot.instances) await Promise.race([i.close().catch(() => undefined), sleep(3000)]);
    await pg.close();
  }
  const steps = Object.fromEntries(PROCESSOR_NAMES.map((p) => [p, slots.get(p)!.transports[0]?.stepCount ?? 0])) as Record<ProcessorName, number>;
  const kinds: Partial<Record<StepKind, number>> = {};
  for (const slot of slots.values()) for (const tr of slot.transports) for (const step of tr.steps) kinds[step.kind] = (kinds[step.kind] ?? 0) + 1;
  const crashedAt = options.crash ? slots.get(options.crash.processor)!.transports[0]?.crashedAt : undefined;
  const againAt = options.again ? slots.get(options.again.processor)!.transports[options.again.instance - 1]?.crashedAt : undefined;
  if (failures.length > 0 && process.env.SIMULATE_LOGS) failures.push(`logs:\n${logs.slice(-200).join('\n')}`);
  return { options, steps, kinds, crashedAt, againAt, failures, ms: Date.now() - started };
}

function errorText(e: unknown): string {
  if (e instanceof AbandonedError) return e.message;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Every invariant of the saga's end-to-end checks, as one list of problems. */
export function checkAll(s: Scenario, c: SagaClient, stats: { charges: Record<string, number>; refunds: Record<string, number> }): string[] {
  const obs = c.observation;
  const out: string[] = [];
  for (const m of outcomeMismatches(s, obs.statuses)) out.push(`outcome ${m.orderId}: expected ${m.expected}, got ${m.actual}; ${m.chain}`);
  for (const r of reasonMismatches(s, obs.statuses)) out.push(`reason ${r}`);
  for (const o of s.orders) for (const p of sequenceProblems(obs.statuses.get(o.placed.orderId) ?? [], o.placed.fulfilment)) out.push(`sequence ${o.placed.orderId}: ${p}`);
  for (const d of duplicateEffects(obs.statusLog, obs.completedLog)) out.push(`duplicate ${d}`);
  for (const f of obs.foreign) out.push(`foreign ${f}`);
  const levels = new Map([...obs.levels].map(([p, vs]) => [p, vs.at(-1)!]));
  for (const l of levelMismatches(s, levels)) out.push(`level ${l}`);
  for (const n of obs.negativeLevels) out.push(`negative level ${n}`);
  for (const g of gatewayMismatches(s, stats)) out.push(`gateway ${g}`);
  for (const m of completedMismatches(s, obs.completed)) out.push(`completed ${m}`);
  for (const d of deadLetterMismatches(s, obs.orderDeadLetters)) out.push(`dead letter ${d}`);
  for (const d of obs.engineDeadLetters) out.push(`engine dead letter ${d}`);
  for (const e of obs.errors) out.push(`reader ${e}`);
  return out;
}

export interface Summary {
  readonly guarantee: Guarantee;
  /** Crash points enumerated or drawn. */
  readonly points: number;
  /** Distinct (processor, step, phase) points a crash really landed on. */
  readonly reached: number;
  readonly failures: readonly RunResult[];
  readonly runs: number;
  readonly ms: number;
}

export function describeSummary(s: Summary): string {
  const lines = [`${s.guarantee}: ${s.reached} distinct crash points reached (of ${s.points} tried, ${s.runs} runs, ${(s.ms / 1000).toFixed(1)} s), ${s.failures.length} failures`];
  for (const f of s.failures) lines.push(`  FAIL ${reproduce(f.options)}\n    ${f.failures.slice(0, 8).join('\n    ')}`);
  return lines.join('\n');
}

export interface ExhaustiveOptions {
  readonly seed: string;
  readonly orders: number;
  readonly guarantee: Guarantee;
  readonly processors?: readonly ProcessorName[];
  readonly phases?: readonly CrashPhase[];
  /** Upper bound of steps per processor (a guard against a run that never ends). */
  readonly maxSteps?: number;
  /** Runs at once (default 1). */
  readonly parallel?: number;
  readonly progress?: (line: string) => void;
}

/** The phases that differ on a guarantee: a partial send exists only without transactions. */
export function phasesOf(g: Guarantee): CrashPhase[] {
  return g === 'effectively_once' ? ['before', 'after', 'partial'] : ['before', 'after'];
}

/**
 * Every crash point of a small scenario: a run without crash counts each processor's steps,
 * then each (processor, step, phase) is run; a processor's enumeration ends at the first step its
 * instance no longer reaches.
 */
export async function exhaustive(o: ExhaustiveOptions): Promise<Summary & { baseline: Record<ProcessorName, number> }> {
  const started = Date.now();
  const base = await runOnce({ seed: o.seed, orders: o.orders, guarantee: o.guarantee });
  const failures: RunResult[] = base.failures.length > 0 ? [base] : [];
  o.progress?.(`baseline ${o.guarantee}: steps ${JSON.stringify(base.steps)} in ${base.ms} ms${base.failures.length ? ` — FAILED: ${base.failures[0]}` : ''}`);
  const reached = new Set<string>();
  let points = 0;
  let runs = 1;
  for (const processor of o.processors ?? PROCESSOR_NAMES) {
    for (const phase of o.phases ?? phasesOf(o.guarantee)) {
      // Runs in parallel (each on its own broker and gateway): they mostly wait on timers.
      const parallel = Math.max(1, o.parallel ?? 1);
      let done = false;
      for (let first = 1; !done && first <= (o.maxSteps ?? 200); first += parallel) {
        const steps = Array.from({ length: parallel }, (_, i) => first + i);
        const results = await Promise.all(steps.map((step) => runOnce({ seed: o.seed, orders: o.orders, guarantee: o.guarantee, crash: { processor, step, phase } })));
        for (const [i, r] of results.entries()) {
          const step = steps[i]!;
          runs++;
          if (r.failures.length > 0) failures.push(r);
          if (!r.crashedAt) {
            if (r.failures.length > 0) o.progress?.(`${processor}:${step}:${phase} not reached and FAILED: ${r.failures[0]}`);
            done = true;
            continue;
          }
          // Past the first unreached step, a reached one is timing's luck: not part of the enumeration.
          if (done) continue;
          points++;
          reached.add(`${processor}:${step}:${phase}`);
          o.progress?.(`${processor}:${step}:${phase} (${r.crashedAt.kind}) ${r.failures.length ? `FAILED: ${r.failures[0]}` : 'ok'} ${r.ms} ms`);
        }
      }
    }
  }
  return { guarantee: o.guarantee, points, reached: reached.size, failures, runs, ms: Date.now() - started, baseline: base.steps };
}

export interface RandomOptions {
  /** Seeds are `<prefix>-<i>`, i = 0 … seeds − 1. */
  readonly seeds: number;
  readonly seedPrefix?: string;
  readonly orders: number;
  readonly guarantee: Guarantee;
  /** Crash points drawn per seed. */
  readonly pointsPerSeed?: number;
  readonly progress?: (line: string) => void;
}

/**
 * Seeds × crash points on a larger scenario: each seed's baseline run counts the steps, then
 * the seed's PRNG draws processor, step (within the count) and phase.
 */
export async function random(o: RandomOptions): Promise<Summary> {
  const started = Date.now();
  const failures: RunResult[] = [];
  const reached = new Set<string>();
  let points = 0;
  let runs = 0;
  for (let i = 0; i < o.seeds; i++) {
    const seed = `${o.seedPrefix ?? 'sim'}-${i}`;
    const base = await runOnce({ seed, orders: o.orders, guarantee: o.guarantee });
    runs++;
    if (base.failures.length > 0) failures.push(base);
    const rand = prng(`${seed}-crashes`);
    const phases = phasesOf(o.guarantee);
    const draw = (): Crash => {
      const processor = PROCESSOR_NAMES[Math.floor(rand() * PROCESSOR_NAMES.length)]!;
      return { processor, step: 1 + Math.floor(rand() * Math.max(1, base.steps[processor])), phase: phases[Math.floor(rand() * phases.length)]! };
    };
    const runsOfSeed: RunOptions[] = Array.from({ length: o.pointsPerSeed ?? 2 }, () => ({ seed, orders: o.orders, guarantee: o.guarantee, crash: draw() }));
    // And one run with two crashes: the second may hit the first one's successor while it restores.
    const first = draw();
    const second = draw();
    runsOfSeed.push({ seed, orders: o.orders, guarantee: o.guarantee, crash: first, again: { ...second, instance: second.processor === first.processor ? 2 : 1 } });
    // A seed's crash runs at once (each on its own broker and gateway).
    const results = await Promise.all(runsOfSeed.map((options) => runOnce(options)));
    for (const r of results) {
      const { processor, step, phase } = r.options.crash!;
      const a = r.options.again;
      runs++;
      points += a ? 2 : 1;
      if (r.crashedAt) reached.add(`${seed}:${processor}:${step}:${phase}`);
      if (a && r.againAt) reached.add(`${seed}:${processor}:${step}:${phase}+${a.processor}#${a.instance}:${a.step}:${a.phase}`);
      if (r.failures.length > 0) failures.push(r);
      const then = a ? ` then ${a.processor}#${a.instance}:${a.step}:${a.phase}${r.againAt ? ` (${r.againAt.kind})` : ' (not reached)'}` : '';
      o.progress?.(`[${i + 1}/${o.seeds}] ${seed} ${processor}:${step}:${phase}${r.crashedAt ? ` (${r.crashedAt.kind})` : ' (not reached)'}${then} ${r.failures.length ? `FAILED: ${r.failures[0]}` : 'ok'} ${r.ms} ms`);
    }
  }
  return { guarantee: o.guarantee, points, reached: reached.size, failures, runs, ms: Date.now() - started };
}
