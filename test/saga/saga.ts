/**
 * One end-to-end run of the order saga on a real broker: the scenario's sellers and buyers against
 * the four processors and the payment gateway simulator, each its own process, then every check
 * of `checks.ts`, and the final state written for the other broker's run to compare.
 *
 * The crash variant (`crashes`: a plan of crashes.ts) is the same run with a smaller scenario,
 * a slower gateway (so payment calls are in flight when the payment processor dies), and
 * processors SIGKILLed and restarted as the same instance while the orders are placed; every
 * check and the predicted final state are the same as without crashes.
 *
 * Environment (all optional): SAGA_ORDERS (default 1000), SAGA_SEED (default saga-1),
 * SAGA_DEADLINE_MS (how long orders may take to settle, default 360000),
 * SAGA_CRASH_ORDERS and SAGA_CRASH_DEADLINE_MS (the same for the crash variant, default 400 and 200000),
 * SAGA_PAYMENT_DEADLINE_MS (the order processor's ORDER_PAYMENT_DEADLINE_MS, default 8000),
 * SAGA_IN_FLIGHT (most orders placed but unfinished at once; default all of them, 100 in the crash run),
 * SAGA_KEEP_LOGS=1 (keep the process logs of a passing run).
 */
import type { ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STOCK_LEVELS_STORE } from '../../processors/stock/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { remoteRegistry } from '../../schemas/index.ts';
import type { OrderStatus, OrderStatusChanged } from '../../schemas/index.ts';
import type { ConsumedRecord, Transport } from '../../transports/index.ts';
import { sweep, type BrokerTarget } from './brokers.ts';
import {
  chain, completedMismatches, deadLetterMismatches, duplicateEffects, reasonMismatches, gatewayMismatches, levelMismatches, listing, outcomeMismatches, sequenceProblems, stateDifferences,
} from './checks.ts';
import { SagaClient, type EngineDeadLetter } from './client.ts';
import { PROCESSORS, appIdOf, startCluster, type Cluster, type ClusterOptions } from './cluster.ts';
import { runCrashes, type CrashRecord, type CrashStep } from './crashes.ts';
import {
  TERMINAL, buildScenario, describeScenario, expectedLevels, expectedOutcome, predictedState, type FinalState, type Scenario,
} from './scenario.ts';

/** Where each run leaves its final state, for the other broker's run to compare. */
export const STATE_FILES = '/tmp/orderstream-saga';
/** Per-test bound beyond the settle deadline: start-up, the checks and clean-up. */
const OVERHEAD_MS = 2 * 60_000;

export interface SagaOptions {
  /** SIGKILL and restart processors while orders are placed (the crash variant). */
  readonly crashes?: readonly CrashStep[];
  /** A fault made while orders are placed at a steady rate (the fault variant, test/faults/). */
  readonly fault?: FaultPlan;
}

/**
 * A fault during a run (test/faults/): the orders are placed at a steady rate, the fault runs
 * beside them, and afterwards every check holds as without it, with one allowance — a paying
 * order whose buyer's PAY the fault delayed past the payment deadline ends CANCELLED
 * (PAYMENT_TIMEOUT) as an abandoned one would, and its late PAY is dead-lettered: it is judged as
 * abandoned. Besides, no processor process may have exited (each recovered in place).
 */
export interface FaultPlan {
  /** In the run prefix and the log: `broker-restart`, `zombie`, `poison`. */
  readonly name: string;
  readonly orders: number;
  /** Orders per batch, and the time between two batches: the steady load. */
  readonly batchSize: number;
  readonly placeEveryMs: number;
  /** From the test's start to every order terminal. */
  readonly settleMs: number;
  /** The test's own bound (t.timeout). */
  readonly timeoutMs: number;
  readonly paymentDeadlineMs: number;
  readonly processorEnv?: Readonly<Record<string, string>>;
  readonly instances?: ClusterOptions['instances'];
  /** Started once the stock levels are stored, beside the placing of the orders; resolves with what it did, for the log. */
  run(ctx: FaultContext): Promise<string>;
  /** Records the fault injected: the reader counts and skips them. */
  isInjected?(r: ConsumedRecord): boolean;
  /** Problems with the engine dead letters (default: any is one). */
  deadLetterProblems?(records: readonly EngineDeadLetter[]): string[];
}

export interface FaultContext {
  readonly cluster: Cluster;
  readonly transport: Transport;
  /** The run's topic prefix (contract topic T is `<prefix>T`). */
  readonly prefix: string;
  readonly totalOrders: number;
  placed(): number;
  lap(what: string): void;
  /** Set once the run is over or failing: the fault should stop. */
  abort(): string | undefined;
}

/** What differs between the plain run and the crash run; everything else is shared. */
interface Variant {
  readonly name: 'plain' | 'crash' | 'fault';
  readonly orders: number;
  readonly settleMs: number;
  readonly pgLatencyMs: string;
  /** Most orders placed but unfinished at once. */
  readonly inFlight: number;
  readonly crashes: readonly CrashStep[];
}

function variantOf(options: SagaOptions, env: NodeJS.ProcessEnv): Variant {
  if (options.fault) {
    const f = options.fault;
    return { name: 'fault', orders: f.orders, settleMs: f.settleMs, pgLatencyMs: '5,40', inFlight: f.orders, crashes: [] };
  }
  if (options.crashes && options.crashes.length > 0) {
    return {
      name: 'crash', orders: Number(env.SAGA_CRASH_ORDERS ?? 400), settleMs: Number(env.SAGA_CRASH_DEADLINE_MS ?? 200_000),
      // Paced, so that the crashes spread over the run instead of all landing after a burst.
      pgLatencyMs: '30,150', inFlight: Number(env.SAGA_IN_FLIGHT ?? 100), crashes: options.crashes,
    };
  }
  // Unpaced: every order placed at once, so the processors run behind (the payment deadline must
  // still give every paying buyer their time).
  const orders = Number(env.SAGA_ORDERS ?? 1000);
  return { name: 'plain', orders, settleMs: Number(env.SAGA_DEADLINE_MS ?? 360_000), pgLatencyMs: '1,5', inFlight: Number(env.SAGA_IN_FLIGHT ?? orders), crashes: [] };
}

interface StateFile {
  readonly fingerprint: string;
  readonly broker: string;
  readonly checksPassed: boolean;
  readonly writtenAt: string;
  readonly state: FinalState;
}

export async function runSaga(t: ExecutionContext, target: BrokerTarget, options: SagaOptions = {}): Promise<void> {
  const env = process.env;
  const variant = variantOf(options, env);
  const settleMs = variant.settleMs;
  const fault = options.fault;
  t.timeout(fault?.timeoutMs ?? settleMs + OVERHEAD_MS);
  const scenario = buildScenario({ seed: env.SAGA_SEED ?? 'saga-1', orders: variant.orders });
  t.log(describeScenario(scenario));
  const started = Date.now();
  const settleBy = started + settleMs;
  const lap = (what: string) => t.log(`${target.name}: ${what} after ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const prefix = `saga-${target.name}-${variant.name === 'crash' ? 'crash-' : fault ? `${fault.name}-` : ''}${randomUUID().slice(0, 8)}-`;
  const runDir = mkdtempSync(join(tmpdir(), `${prefix}`));
  const transport = target.make();
  const registry = remoteRegistry(endpoints().schemaRegistryUrl).client;
  let cluster: Cluster | undefined;
  let client: SagaClient | undefined;
  let failed = false;
  /** Set when the run is over (passed or not): a crash still planned is not made. */
  let ended = false;
  let crashFailure: string | undefined;
  t.teardown(async () => {
    ended = true;
    await client?.close().catch((e: unknown) => t.log(`closing the client: ${String(e)}`));
    await cluster?.stop();
    const leftovers = await sweep(target, transport, registry, prefix);
    for (const l of leftovers) t.log(`clean-up: ${l}`);
    await transport.close();
    if (failed || env.SAGA_KEEP_LOGS) t.log(`process logs kept in ${join(runDir, 'logs')}`);
    else rmSync(runDir, { recursive: true, force: true });
    rmSync(join(runDir, 'state'), { recursive: true, force: true });
  });

  // Every check runs and every failing one is reported (ava shows only a test's first failed
  // assertion): they are collected and asserted together at the end.
  const failures: string[] = [];
  const check = (ok: boolean, message: string): void => {
    if (!ok) failures.push(message);
  };

  try {
    cluster = await startCluster({
      brokerEnv: target.env,
      schemaRegistryUrl: endpoints().schemaRegistryUrl,
      topicPrefix: prefix,
      scenario,
      stateRoot: join(runDir, 'state'),
      logDir: join(runDir, 'logs'),
      paymentDeadlineMs: fault?.paymentDeadlineMs ?? Number(env.SAGA_PAYMENT_DEADLINE_MS ?? 8000),
      pgErrorRate: 0.02,
      pgLatencyMs: variant.pgLatencyMs,
      readyTimeoutMs: 90_000,
      ...(fault?.processorEnv ? { processorEnv: fault.processorEnv } : {}),
      ...(fault?.instances ? { instances: fault.instances } : {}),
    });
    lap('processors ready');
    const running = cluster;
    client = await SagaClient.start({
      transport, registry, prefix, scenario,
      stockChangelog: `${appIdOf(prefix, 'stock')}-${STOCK_LEVELS_STORE}-changelog`,
      engineDeadLetterTopics: PROCESSORS.map((p) => `${appIdOf(prefix, p)}-dlq`),
      batchSize: fault?.batchSize ?? 10,
      maxInFlight: variant.inFlight,
      ...(fault ? { placeEveryMs: fault.placeEveryMs } : {}),
      ...(fault?.isInjected ? { isInjected: (r: ConsumedRecord) => fault.isInjected!(r) } : {}),
      isTerminal: (orderId) => TERMINAL.has(client?.observation.statuses.get(orderId)?.at(-1)?.to ?? 'CREATED'),
      abort: () => (Date.now() > settleBy ? `not done within the settle deadline of ${settleMs} ms` : cluster?.problem() ?? crashFailure),
    });
    const c = client;
    const obs = c.observation;
    let readerFailure: string | undefined;
    c.readerStopped().catch((e: unknown) => { readerFailure = `the test's reader stopped: ${e instanceof Error ? e.message : String(e)}`; });
    const waitFor = (what: string, done: () => boolean, ms: number, report: () => string = () => '') =>
      until(done, ms, () => running.problem() ?? crashFailure ?? readerFailure ?? (obs.errors.length > 0 ? listing('reader errors', obs.errors) : undefined),
        () => `timed out after ${ms} ms waiting for ${what}${report() ? `\n${report()}` : ''}`);

    // The buyers first: the order processor holds an order whose buyer it does not know yet.
    await c.publishUsers();
    await c.setStockLevels();
    // The stock processor must hold every level before the first order, or a line could fail
    // for a level not yet applied; its changelog says when it does.
    await waitFor('the stock changelog to hold every level set', () => c.levelsMissing().length === 0, 60_000,
      () => listing('products without their level in the changelog', c.levelsMissing()));
    lap('stock levels stored');

    const crashing = runCrashes({
      plan: variant.crashes, cluster: running, totalOrders: scenario.orders.length, lap,
      placed: () => obs.placed,
      unfinished: () => scenario.orders.slice(0, obs.placed).filter((o) => !TERMINAL.has(obs.statuses.get(o.placed.orderId)?.at(-1)?.to ?? 'CREATED')).length,
      awaitingPayment: () => [...c.paySentAt.keys()].filter((id) => obs.statuses.get(id)?.at(-1)?.to === 'PENDING_PAYMENT').length,
      abort: () => (ended ? 'the run ended' : Date.now() > settleBy ? 'past the settle deadline' : running.problem()),
    });
    crashing.catch((e: unknown) => { crashFailure = `crashing a processor failed: ${e instanceof Error ? e.message : String(e)}`; });
    const faulting = fault?.run({
      cluster: running, transport, prefix, totalOrders: scenario.orders.length, lap,
      placed: () => obs.placed,
      abort: () => (ended ? 'the run ended' : Date.now() > settleBy ? 'past the settle deadline' : running.problem()),
    });
    faulting?.catch((e: unknown) => { crashFailure = `the fault (${fault!.name}) failed: ${e instanceof Error ? e.message : String(e)}`; });
    await c.placeOrders();
    lap(`${scenario.orders.length} orders placed`);
    const crashes = await crashing;
    if (faulting) lap(`fault ${fault!.name}: ${await faulting}`);
    const terminal = () => scenario.orders.every((o) => TERMINAL.has(obs.statuses.get(o.placed.orderId)?.at(-1)?.to ?? 'CREATED'));
    await waitFor('every order to reach COMPLETED, CANCELLED or REFUNDED', terminal, Math.max(0, settleBy - Date.now()), () => stuckReport(scenario, obs.statuses));
    lap('every order terminal');
    // The fault variant's one allowance (FaultPlan): paying orders timed out are judged as abandoned.
    const timedOut = fault ? paidButTimedOut(scenario, obs.statuses) : new Set<string>();
    const judged = timedOut.size === 0 ? scenario : asAbandoned(scenario, timedOut);
    if (fault) t.log(`${target.name}: ${timedOut.size} paying orders timed out (PAYMENT_TIMEOUT) because of the fault, judged as abandoned${timedOut.size > 0 ? `: ${[...timedOut].slice(0, 5).join(', ')}` : ''}`);

    // A timed-out order's late PAY is refused (PAY while CANCELLED): expected, not a lost order.
    const orderDeadLetters = () => obs.orderDeadLetters.filter((d) => !(timedOut.has(d.orderId) && d.errorType === 'TransitionRejected' && (d.reason ?? '').includes('PAY while CANCELLED')));
    // Stock releases and order-completed events may trail the terminal status: wait for the
    // expected picture (bounded), then check whatever is there.
    const levels = () => new Map([...obs.levels].map(([p, vs]) => [p, vs.at(-1)!]));
    const completedExpected = judged.orders.filter((o) => expectedOutcome(judged, o).status === 'COMPLETED').length;
    const settled = () => levelMismatches(judged, levels()).length === 0 && new Set([...obs.completed.values()].map((e) => e.orderId)).size >= completedExpected
      && orderDeadLetters().length >= scenario.rejected.length;
    await waitFor('final levels and order-completed events', settled, 30_000).catch((e: unknown) => {
      // Not yet the expected picture: the checks below say what is wrong; a dead process is fatal.
      if (running.problem()) throw e;
    });
    // A quiet moment to catch anything that should not come (events after terminal, repeats).
    await new Promise((r) => setTimeout(r, 2000));
    await c.drain();
    lap('settled');
    const stats = await running.gatewayStats();

    const mismatches = outcomeMismatches(judged, obs.statuses);
    check(mismatches.length === 0, listing('orders ended other than predicted (orderId: expected, actual, status chain)',
      mismatches.map((m) => `${m.orderId}: expected ${m.expected}, got ${m.actual}; ${m.chain}`)));
    const reasons = reasonMismatches(judged, obs.statuses);
    check(reasons.length === 0, listing('orders that ended as predicted but for another reason', reasons));
    const sequences = scenario.orders.flatMap((o) => {
      const events = obs.statuses.get(o.placed.orderId) ?? [];
      const problems = sequenceProblems(events, o.placed.fulfilment);
      return problems.length > 0 ? [`${o.placed.orderId}: ${problems.join('; ')} — ${chain(events)}`] : [];
    });
    check(sequences.length === 0, listing('orders with status sequences no sane machine makes', sequences));
    const duplicates = duplicateEffects(obs.statusLog, obs.completedLog);
    check(duplicates.length === 0, listing(`duplicated effects (${obs.repeatedEvents} events repeated an eventId; exactly_once outputs must not repeat)`, duplicates));
    check(obs.foreign.length === 0, listing('events about orders not in the scenario', obs.foreign));
    const levelProblems = levelMismatches(judged, levels());
    check(levelProblems.length === 0, listing('products whose final level is wrong', levelProblems));
    check(obs.negativeLevels.length === 0, listing('negative levels written to the stock changelog', obs.negativeLevels));
    const gateway = gatewayMismatches(judged, stats);
    check(gateway.length === 0, listing('orders charged or refunded wrongly at the gateway', gateway));
    const completed = completedMismatches(judged, obs.completed);
    check(completed.length === 0, listing('order-completed problems', completed));
    const deadLetters = deadLetterMismatches(judged, orderDeadLetters());
    check(deadLetters.length === 0, listing('problems on order-dead-letter-topic (only the rejected orders belong there)', deadLetters));
    if (fault?.deadLetterProblems) {
      const problems = fault.deadLetterProblems(obs.engineDeadLetterRecords);
      check(problems.length === 0, listing('problems with the engine dead letters', problems));
    } else {
      check(obs.engineDeadLetters.length === 0, listing('records on the processors\' engine dead-letter topics', obs.engineDeadLetters));
    }
    check(running.problem() === undefined, `a process gave up: ${running.problem() ?? ''}`);
    check(obs.errors.length === 0, listing('reader or client errors', obs.errors));
    const copies = [...obs.originCopies].map(([topic, n]) => `${n} on ${topic.slice(prefix.length)}`).join(', ') || 'none';
    t.log(`${target.name}: ${obs.paid} PAY commands, ${obs.statusLog.length} status events (${duplicates.length} duplicated effects), ${obs.completed.size} order-completed events; re-sent copies dropped by origin: ${copies}; gateway replays ${stats.replays}`);
    if (fault) t.log(`${target.name}: the reader was redelivered ${obs.redelivered} records it had read, skipped ${obs.injectedSeen} injected ones; the client retried ${obs.sendRetries} sends`);
    if (crashes.length > 0) t.log(`${target.name}: ${describeCrashes(crashes)}`);
    const paymentCrashes = crashes.filter((r) => r.step.processor === 'payment');
    check(paymentCrashes.every((r) => (r.callsInFlight ?? 0) > 0),
      `the payment processor was killed with no gateway call in flight (found none within 20 s): the crash did not test the charger's recovery`);

    const state: FinalState = {
      orders: Object.fromEntries(scenario.orders.map((o) => [o.placed.orderId, obs.statuses.get(o.placed.orderId)?.at(-1)?.to ?? 'UNKNOWN'] as [string, OrderStatus | 'UNKNOWN'])),
      levels: Object.fromEntries([...levels()].filter(([p]) => expectedLevels(scenario).has(p)).sort(([a], [b]) => a.localeCompare(b))),
    };
    // The real guarantee: this run against the scenario's prediction, which is the same for both
    // brokers. Comparing with the other broker's file only repeats it when both passed, and
    // catches a difference when the prediction itself was wrong in the same way for one of them.
    const predicted = stateDifferences(predictedState(judged), state);
    check(predicted.length === 0, listing('differences from the predicted final state (predicted vs this run)', predicted));
    // A fault run's prediction depends on what the fault delayed: nothing to compare across brokers.
    if (!fault) compareWithOtherBroker(t, check, scenario, variant.name, target.name, state, failures.length === 0);
    lap('checked');
    if (failures.length > 0) failed = true;
    t.is(failures.length, 0, `${failures.length} checks failed:\n\n${failures.join('\n\n')}`);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    ended = true;
    if (failed && cluster) t.log(`process logs (tails):\n${cluster.logTails()}`);
    if (failed && client) dumpObservation(join(runDir, 'logs', 'observed.json'), client);
  }
}

/** Writes this run's final state and, when the other broker's run of the same scenario passed, compares. */
function compareWithOtherBroker(
  t: ExecutionContext, check: (ok: boolean, m: string) => void, s: Scenario, variant: Variant['name'], broker: string, state: FinalState, passed: boolean,
): void {
  mkdirSync(STATE_FILES, { recursive: true });
  const file = (b: string) => join(STATE_FILES, `${s.seed}-${s.orders.length}${variant === 'crash' ? '-crash' : ''}-${b}.json`);
  const mine: StateFile = { fingerprint: s.fingerprint, broker, checksPassed: passed, writtenAt: new Date().toISOString(), state };
  writeFileSync(file(broker), JSON.stringify(mine, null, 1));
  const other = broker === 'kafka' ? 'rabbit' : 'kafka';
  if (!existsSync(file(other))) { t.log(`no final state of ${other} yet (${file(other)}); compared with the prediction only`); return; }
  const theirs = JSON.parse(readFileSync(file(other), 'utf8')) as StateFile;
  if (theirs.fingerprint !== s.fingerprint) { t.log(`${file(other)} is of another scenario version; not compared`); return; }
  if (!theirs.checksPassed) { t.log(`${other}'s last run (${theirs.writtenAt}) failed its own checks; not compared`); return; }
  const diff = stateDifferences(theirs.state, state);
  check(diff.length === 0, listing(`differences between ${other} (${theirs.writtenAt}) and ${broker} (${other} vs ${broker})`, diff));
  if (diff.length === 0) t.log(`same final state as ${other}'s run of ${theirs.writtenAt}`);
}

/** "order killed at 60 placed (40 unfinished, 3 awaiting payment), down 6.1 s; …" */
function describeCrashes(crashes: readonly CrashRecord[]): string {
  const calls = (r: CrashRecord) => (r.callsInFlight === undefined ? '' : `, ${r.callsInFlight} gateway calls in flight`);
  return `${crashes.length} crashes: ${crashes.map((r) => `${r.step.processor} killed at ${r.placed} placed (${r.unfinished} unfinished, ${r.awaitingPayment} awaiting payment${calls(r)}), down ${(r.downMs / 1000).toFixed(1)} s`).join('; ')}`;
}

/** Paying orders that ended CANCELLED by the payment deadline: their PAY came too late. */
function paidButTimedOut(s: Scenario, statuses: ReadonlyMap<string, readonly OrderStatusChanged[]>): Set<string> {
  return new Set(s.orders.filter((o) => {
    const last = statuses.get(o.placed.orderId)?.at(-1);
    return o.behaviour === 'PAY' && !o.outOfStock && last?.to === 'CANCELLED' && (last.reason ?? '').startsWith('PAYMENT_TIMEOUT');
  }).map((o) => o.placed.orderId));
}

/** The scenario with the given orders' buyers abandoning instead of paying. */
function asAbandoned(s: Scenario, ids: ReadonlySet<string>): Scenario {
  return { ...s, orders: s.orders.map((o) => (ids.has(o.placed.orderId) ? { ...o, behaviour: 'ABANDON' as const } : o)) };
}

/** Counts of orders per latest status among those not yet terminal, with a few examples. */
export function stuckReport(s: Scenario, statuses: ReadonlyMap<string, readonly { from?: OrderStatus | null; to: OrderStatus }[]>): string {
  const stuck = new Map<string, string[]>();
  for (const o of s.orders) {
    const events = statuses.get(o.placed.orderId) ?? [];
    const last = events.at(-1)?.to ?? 'no status yet';
    if (TERMINAL.has(last as OrderStatus)) continue;
    (stuck.get(last) ?? stuck.set(last, []).get(last)!).push(
      `${o.placed.orderId} (${o.behaviour}, ${o.placed.fulfilment}, expected ${expectedOutcome(s, o).cause}): ${events.map((e) => e.to).join('→') || '-'}`);
  }
  const total = [...stuck.values()].reduce((n, v) => n + v.length, 0);
  return [`${total} of ${s.orders.length} orders not terminal: ${[...stuck].map(([k, v]) => `${v.length} in ${k}`).join(', ')}`,
    ...[...stuck.values()].flatMap((v) => v.slice(0, 4).map((x) => `  ${x}`))].join('\n');
}

/** Polls `done` until it holds; rejects on a problem or at the deadline. */
async function until(done: () => boolean, ms: number, problem: () => string | undefined, timeout: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    const p = problem();
    if (p) throw new Error(p);
    if (Date.now() > deadline) throw new Error(timeout());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Everything the reader saw, for the post-mortem of a failed run (kept with the process logs). */
function dumpObservation(path: string, client: SagaClient): void {
  const o = client.observation;
  writeFileSync(path, JSON.stringify({
    statuses: Object.fromEntries(o.statuses), completed: [...o.completed.values()], levels: Object.fromEntries(o.levels),
    pays: Object.fromEntries(client.paySentAt), orderDeadLetters: o.orderDeadLetters.map((d) => ({ ...d, payload: d.payload.length })),
    engineDeadLetters: o.engineDeadLetters, errors: o.errors,
  }, null, 1));
}
