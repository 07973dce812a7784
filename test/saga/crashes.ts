/**
 * Crashes during a saga run: at planned points (a share of the orders placed) one processor is
 * SIGKILLed and started again as the same instance, one crash after the other, while orders
 * flow. What the run must show afterwards is what it shows without crashes: no accepted order
 * lost, no effect duplicated.
 */
import type { Cluster, ProcessorName } from './cluster.ts';

export interface CrashStep {
  /** Share of the scenario's orders placed when the crash happens, in (0, 1). */
  readonly atPlaced: number;
  readonly processor: ProcessorName;
}

/**
 * Every processor crashes at least once, order and stock twice, spread over the placing of the
 * orders. Payment's crash comes when PAYs are flowing, so its charger has gateway calls in
 * flight (the crash run gives the gateway simulator enough latency for that).
 */
export const CRASH_PLAN: readonly CrashStep[] = [
  { atPlaced: 0.15, processor: 'order' },
  { atPlaced: 0.30, processor: 'stock' },
  { atPlaced: 0.45, processor: 'payment' },
  { atPlaced: 0.55, processor: 'delivery' },
  { atPlaced: 0.70, processor: 'order' },
  { atPlaced: 0.85, processor: 'stock' },
];

/** What happened at one crash, for the test log. */
export interface CrashRecord {
  readonly step: CrashStep;
  /** Orders placed when the process was killed. */
  readonly placed: number;
  /** Orders placed and not yet terminal, at the kill. */
  readonly unfinished: number;
  /** Orders whose PAY was sent and whose payment outcome was not yet seen, at the kill. */
  readonly awaitingPayment: number;
  /** ms from the kill to "ready" of the new process. */
  readonly downMs: number;
  /** Payment only: gateway calls that arrived at the simulator just before the kill (0: none found in time). */
  readonly callsInFlight?: number;
}

export interface CrashDriverOptions {
  readonly plan: readonly CrashStep[];
  readonly cluster: Cluster;
  readonly totalOrders: number;
  readonly placed: () => number;
  readonly unfinished: () => number;
  readonly awaitingPayment: () => number;
  /** Logs a line with the run's lap time. */
  readonly lap: (what: string) => void;
  /** Stops the driver: the run is failing anyway. */
  readonly abort: () => string | undefined;
}

/**
 * Waits (bounded) until the gateway simulator receives a payment call, and returns how many came
 * since the previous look. The simulator takes at least its minimum latency (the crash run's is
 * well above the polling interval) to decide a call, so these are in flight when the kill follows.
 */
async function newGatewayCalls(o: CrashDriverOptions): Promise<number> {
  const until = Date.now() + 20_000;
  let before = (await o.cluster.gatewayStats()).requests;
  while (Date.now() < until && !o.abort()) {
    await new Promise((r) => setTimeout(r, 5));
    const now = (await o.cluster.gatewayStats()).requests;
    // The look itself is one request.
    if (now - before > 1) return now - before - 1;
    before = now;
  }
  return 0;
}

/** Runs the plan's crashes in order; resolves when the last processor is ready again. */
export async function runCrashes(o: CrashDriverOptions): Promise<CrashRecord[]> {
  const records: CrashRecord[] = [];
  for (const step of o.plan) {
    const due = Math.ceil(step.atPlaced * o.totalOrders);
    while (o.placed() < due) {
      const problem = o.abort();
      if (problem) throw new Error(`waiting to crash ${step.processor} at ${due} orders placed (${o.placed()} so far): ${problem}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const callsInFlight = step.processor === 'payment' ? await newGatewayCalls(o) : undefined;
    const placed = o.placed();
    const unfinished = o.unfinished();
    const awaitingPayment = o.awaitingPayment();
    const killedAt = Date.now();
    await o.cluster.kill(step.processor);
    const calls = callsInFlight === undefined ? '' : `, ${callsInFlight} gateway calls just started`;
    o.lap(`SIGKILL ${step.processor} at ${placed}/${o.totalOrders} orders placed (${unfinished} unfinished, ${awaitingPayment} awaiting their payment outcome${calls})`);
    await o.cluster.restart(step.processor);
    const downMs = Date.now() - killedAt;
    o.lap(`${step.processor} ready again, ${downMs} ms after the kill`);
    records.push({ step, placed, unfinished, awaitingPayment, downMs, ...(callsInFlight === undefined ? {} : { callsInFlight }) });
  }
  return records;
}
