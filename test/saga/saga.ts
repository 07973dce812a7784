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
import type { OrderStatus } from '../../schemas/index.ts';
import { sweep, type BrokerTarget } from './brokers.ts';
import {
  chain, completedMismatches, deadLetterMismatches, duplicateEffects, reasonMismatches, gatewayMismatches, levelMismatches, listing, outcomeMismatches, sequenceProblems, stateDifferences,
} from './checks.ts';
import { SagaClient } from './client.ts';
import { PROCESSORS, appIdOf, startCluster, type Cluster } from './cluster.ts';
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
}

/** What differs between the plain run and the crash run; everything else is shared. */
interface Variant {
  readonly name: 'plain' | 'crash';
  readonly orders: number;
  readonly settleMs: number;
  readonly pgLatencyMs: string;
  /** Most orders placed but unfinished at once. */
  readonly inFlight: number;
  readonly crashes: readonly CrashStep[];
}

function variantOf(options: SagaOptions, env: NodeJS.ProcessEnv): Variant {
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
  t.timeout(settleMs + OVERHEAD_MS);
  const scenario = buildScenario({ seed: env.SAGA_SEED ?? 'saga-1', orders: variant.orders });
  t.log(describeScenario(scenario));
  const started = Date.now();
  const settleBy = started + settleMs;
  const lap = (what: string) => t.log(`${target.name}: ${what} after ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const prefix = `saga-${target.name}-${variant.name === 'crash' ? 'crash-' : ''}${randomUUID().slice(0, 8)}-`;
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
      paymentDeadlineMs: Number(env.SAGA_PAYMENT_DEADLINE_MS ?? 8000),
      pgErrorRate: 0.02,
      pgLatencyMs: variant.pgLatencyMs,
      readyTimeoutMs: 90_000,
    });
    lap('processors ready');
    const running = cluster;
    client = await SagaClient.start({
      transport, registry, prefix, scenario,
      stockChangelog: `${appIdOf(prefix, 'stock')}-${STOCK_LEVELS_STORE}-changelog`,
      engineDeadLetterTopics: PROCESSORS.map((p) => `${appIdOf(prefix, p)}-dlq`),
      batchSize: 10,
      maxInFlight: variant.inFlight,
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
    await c.placeOrders();
    lap(`${scenario.orders.length} orders placed`);
    const crashes = await crashing;
    const terminal = () => scenario.orders.every((o) => TERMINAL.has(obs.statuses.get(o.placed.orderId)?.at(-1)?.to ?? 'CREATED'));
    await waitFor('every order to reach COMPLETED, CANCELLED or REFUNDED', terminal, Math.max(0, settleBy - Date.now()), () => stuckReport(scenario, obs.statuses));
    lap('every order terminal');

    // Stock releases and order-completed events may trail the terminal status: wait for the
    // expected picture (bounded), then check whatever is there.
    const levels = () => new Map([...obs.levels].map(([p, vs]) => [p, vs.at(-1)!]));
    const completedExpected = scenario.orders.filter((o) => expectedOutcome(scenario, o).status === 'COMPLETED').length;
    const settled = () => levelMismatches(scenario, levels()).length === 0 && new Set([...obs.completed.values()].map((e) => e.orderId)).size >= completedExpected
      && obs.orderDeadLetters.length >= scenario.rejected.length;
    await waitFor('final levels and order-completed events', settled, 30_000).catch((e: unknown) => {
      // Not yet the expected picture: the checks below say what is wrong; a dead process is fatal.
      if (running.problem()) throw e;
    });
    // A quiet moment to catch anything that should not come (events after terminal, repeats).
    await new Promise((r) => setTimeout(r, 2000));
    await c.drain();
    lap('settled');
    const stats = await running.gatewayStats();

    const mismatches = outcomeMismatches(scenario, obs.statuses);
    check(mismatches.length === 0, listing('orders ended other than predicted (orderId: expected, actual, status chain)',
      mismatches.map((m) => `${m.orderId}: expected ${m.expected}, got ${m.actual}; ${m.chain}`)));
    const reasons = reasonMismatches(scenario, obs.statuses);
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
    const levelProblems = levelMismatches(scenario, levels());
    check(levelProblems.length === 0, listing('products whose final level is wrong', levelProblems));
    check(obs.negativeLevels.length === 0, listing('negative levels written to the stock changelog', obs.negativeLevels));
    const gateway = gatewayMismatches(scenario, stats);
    check(gateway.length === 0, listing('orders charged or refunded wrongly at the gateway', gateway));
    const completed = completedMismatches(scenario, obs.completed);
    check(completed.length === 0, listing('order-completed problems', completed));
    const deadLetters = deadLetterMismatches(scenario, obs.orderDeadLetters);
    check(deadLetters.length === 0, listing('problems on order-dead-letter-topic (only the rejected orders belong there)', deadLetters));
    check(obs.engineDeadLetters.length === 0, listing('records on the processors\' engine dead-letter topics', obs.engineDeadLetters));
    check(obs.errors.length === 0, listing('reader or client errors', obs.errors));
    const copies = [...obs.originCopies].map(([topic, n]) => `${n} on ${topic.slice(prefix.length)}`).join(', ') || 'none';
    t.log(`${target.name}: ${obs.paid} PAY commands, ${obs.statusLog.length} status events (${duplicates.length} duplicated effects), ${obs.completed.size} order-completed events; re-sent copies dropped by origin: ${copies}; gateway replays ${stats.replays}`);
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
    const predicted = stateDifferences(predictedState(scenario), state);
    check(predicted.length === 0, listing('differences from the predicted final state (predicted vs this run)', predicted));
    compareWithOtherBroker(t, check, scenario, variant.name, target.name, state, failures.length === 0);
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
