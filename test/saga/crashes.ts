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
  /** Orders whose PAY was sent and whose payment outcome was not yet seen, at the kill. */
  readonly awaitingPayment: number;
  /** ms from the kill to "ready" of the new process. */
  readonly downMs: number;
}

export interface CrashDriverOptions {
  readonly plan: readonly CrashStep[];
  readonly cluster: Cluster;
  readonly totalOrders: number;
  readonly placed: () => number;
  readonly awaitingPayment: () => number;
  /** Logs a line with the run's lap time. */
  readonly lap: (what: string) => void;
  /** Stops the driver: the run is failing anyway. */
  readonly abort: () => string | undefined;
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
    // The charger must have gateway calls in flight: wait (a little) for PAYs not yet answered.
    const waitUntil = Date.now() + 10_000;
    while (step.processor === 'payment' && o.awaitingPayment() === 0 && Date.now() < waitUntil && !o.abort()) await new Promise((r) => setTimeout(r, 5));
    const placed = o.placed();
    const awaitingPayment = o.awaitingPayment();
    const killedAt = Date.now();
    await o.cluster.kill(step.processor);
    o.lap(`SIGKILL ${step.processor} at ${placed}/${o.totalOrders} orders placed (${awaitingPayment} awaiting their payment outcome)`);
    await o.cluster.restart(step.processor);
    const downMs = Date.now() - killedAt;
    o.lap(`${step.processor} ready again, ${downMs} ms after the kill`);
    records.push({ step, placed, awaitingPayment, downMs });
  }
  return records;
}
