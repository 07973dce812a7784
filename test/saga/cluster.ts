/**
 * The saga's processes: the payment gateway simulator and the four team processors, each its own
 * `node --import tsx` child on one broker, isolated by a run-unique topic prefix and application
 * ids that start with it (so a sweep by prefix finds everything the run created). Output goes to
 * one log file per process; the test prints their tails when it fails.
 *
 * A processor can be killed (SIGKILL, as a crash) and started again with the same environment —
 * the same APP_ID, INSTANCE_ID and STATE_DIR, so it resumes as the same instance — and its log
 * continues in the same file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GatewayStats } from './checks.ts';
import type { Scenario } from './scenario.ts';

export type ProcessorName = 'stock' | 'delivery' | 'payment' | 'order';
export const PROCESSORS: readonly ProcessorName[] = ['stock', 'delivery', 'payment', 'order'];
/** One process of a processor: its first instance is named like the processor, further ones `order-2`, …. */
export type InstanceName = ProcessorName | `${ProcessorName}-${number}`;

export interface ClusterOptions {
  /** Broker connection and TRANSPORT for the children. */
  readonly brokerEnv: Readonly<Record<string, string>>;
  readonly schemaRegistryUrl: string;
  readonly topicPrefix: string;
  readonly scenario: Scenario;
  /** Where STATE_DIRs live (removed by the caller). */
  readonly stateRoot: string;
  /** Where the per-process logs go (kept when the test fails). */
  readonly logDir: string;
  readonly paymentDeadlineMs: number;
  /** Transient gateway errors (500s) the payment processor must retry through. */
  readonly pgErrorRate: number;
  /** PG_LATENCY_MS of the gateway simulator ("min,max"). */
  readonly pgLatencyMs: string;
  readonly readyTimeoutMs: number;
  /**
   * What runs a processor: default `processors/<name>/main.ts` and no extra environment. The soak
   * bench runs an instrumented entry that also reports memory and restores, on a port per processor.
   */
  readonly processorEntry?: (name: ProcessorName) => { readonly script: string; readonly env?: Readonly<Record<string, string>> };
  /** Extra environment of every processor (e.g. TASK_TIMEOUT_MS, a RABBIT_URL with a short heartbeat). */
  readonly processorEnv?: Readonly<Record<string, string>>;
  /** Instances per processor (default 1): instance n is `<name>-n` with INSTANCE_ID n, in the same group. */
  readonly instances?: Partial<Record<ProcessorName, number>>;
}

export interface Cluster {
  /** APP_ID of each processor (consumer group, internal topic prefix). */
  readonly appIds: Readonly<Record<ProcessorName, string>>;
  readonly pgUrl: string;
  /** Set once a child exits on its own (not by `kill`): the run cannot finish. */
  problem(): string | undefined;
  /** SIGKILL, as a crash; resolves once the process has exited. */
  kill(name: InstanceName): Promise<void>;
  /** Starts a killed processor again with the same environment; resolves once it printed "ready". */
  restart(name: InstanceName): Promise<void>;
  /** SIGSTOP: the process stays, frozen (a zombie once its session or lock has expired). */
  freeze(name: InstanceName): void;
  /** SIGCONT of a frozen process. */
  thaw(name: InstanceName): void;
  gatewayStats(): Promise<GatewayStats>;
  /** The last lines of every process's log. */
  logTails(lines?: number): string;
  /** SIGTERM, then SIGKILL after the grace period; resolves when every child has exited. */
  stop(graceMs?: number): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  /** Shared by every incarnation of the process (a restart appends). */
  readonly log: WriteStream;
  readonly logPath: string;
  readonly exited: Promise<void>;
  /** The rest of the ready line ("ready 4711" → "4711"). */
  readonly ready: Promise<string>;
  /** Killed by the test on purpose: its exit is no problem. */
  killed: boolean;
}

export function appIdOf(topicPrefix: string, name: ProcessorName): string {
  return `${topicPrefix}app-${name}`;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  mkdirSync(o.logDir, { recursive: true });
  /** The current incarnation of each process. */
  const children = new Map<string, Child>();
  const logs = new Map<string, WriteStream>();
  const launched = new Map<string, { script: string; env: Record<string, string> }>();
  let stopping = false;
  let problem: string | undefined;

  // Should the test process die first (ava's timeout, an uncaught error), take the children along.
  const orphanGuard = () => { for (const c of children.values()) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL'); };
  process.once('exit', orphanGuard);

  const launch = (name: string, script: string, env: Record<string, string>): Child => {
    const logPath = join(o.logDir, `${name}.log`);
    const log = logs.get(name) ?? logs.set(name, createWriteStream(logPath, { flags: 'a' })).get(name)!;
    launched.set(name, { script, env });
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.pipe(log, { end: false });
    const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      log.write(`\n[saga] ${name} exited (code ${code}, signal ${signal})\n`);
      if (!stopping && !c.killed) problem ??= `${name} exited on its own (code ${code}, signal ${signal}); see ${logPath}`;
      resolve();
    }));
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not print "ready" within ${o.readyTimeoutMs} ms; log ${logPath}:\n${tail(logPath, 30)}`)), o.readyTimeoutMs);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}) before it was ready; log ${logPath}:\n${tail(logPath, 30)}`)); });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        log.write(`[stdout] ${line}\n`);
        if (line === 'ready' || line.startsWith('ready ')) { clearTimeout(timer); resolve(line.slice(6)); }
      });
    });
    ready.catch(() => undefined);
    const c: Child = { name, child, log, logPath, exited, ready, killed: false };
    children.set(name, c);
    return c;
  };

  const running = (name: InstanceName, what: string): Child => {
    const c = children.get(name);
    if (!c) throw new Error(`${what} ${name}: no such process`);
    if (c.child.exitCode !== null || c.child.signalCode !== null) throw new Error(`${what} ${name}: it has exited (code ${c.child.exitCode}, signal ${c.child.signalCode})`);
    return c;
  };
  const signal = (name: InstanceName, sig: 'SIGSTOP' | 'SIGCONT'): void => {
    const c = running(name, sig);
    c.log.write(`\n[saga] ${new Date().toISOString()} ${sig} ${name} (pid ${c.child.pid}) on purpose\n`);
    c.child.kill(sig);
  };

  const kill = async (name: InstanceName): Promise<void> => {
    const c = children.get(name);
    if (!c) throw new Error(`kill ${name}: no such process`);
    if (c.child.exitCode !== null || c.child.signalCode !== null) throw new Error(`kill ${name}: it has already exited (code ${c.child.exitCode}, signal ${c.child.signalCode})`);
    c.killed = true;
    c.log.write(`\n[saga] ${new Date().toISOString()} SIGKILL ${name} (pid ${c.child.pid}) on purpose\n`);
    c.child.kill('SIGKILL');
    await c.exited;
  };

  const restart = async (name: InstanceName): Promise<void> => {
    const c = children.get(name);
    const how = launched.get(name);
    if (!c || !how) throw new Error(`restart ${name}: never started`);
    if (c.child.exitCode === null && c.child.signalCode === null) throw new Error(`restart ${name}: still running (pid ${c.child.pid})`);
    if (stopping) throw new Error(`restart ${name}: the cluster is stopping`);
    c.log.write(`[saga] ${new Date().toISOString()} restarting ${name}\n`);
    await launch(name, how.script, how.env).ready;
  };

  const stop = async (graceMs = 15_000): Promise<void> => {
    stopping = true;
    // Processors first (they may still call the gateway while closing), the gateway last.
    const all = [...children.values()];
    await Promise.all(all.filter((c) => c.name !== 'pg-simulator').map((c) => terminate(c, graceMs)));
    await Promise.all(all.filter((c) => c.name === 'pg-simulator').map((c) => terminate(c, graceMs)));
    for (const log of logs.values()) log.end();
    process.removeListener('exit', orphanGuard);
  };

  const s = o.scenario;
  try {
    const pg = launch('pg-simulator', 'processors/payment/pg-simulator-main.ts', {
      PG_PORT: '0', PG_LATENCY_MS: o.pgLatencyMs, PG_SEED: s.pgSeed, PG_DECLINE_RATE: String(s.declineRate),
      PG_ERROR_RATE: String(o.pgErrorRate), PG_TIMEOUT_RATE: '0',
    });
    const port = Number((await pg.ready).trim());
    if (!Number.isInteger(port) || port <= 0) throw new Error(`pg-simulator printed no port after "ready" (got ${JSON.stringify(await pg.ready)})`);
    const pgUrl = `http://127.0.0.1:${port}`;
    const appIds = Object.fromEntries(PROCESSORS.map((n) => [n, appIdOf(o.topicPrefix, n)])) as Record<ProcessorName, string>;
    const extra: Record<ProcessorName, Record<string, string>> = {
      stock: {},
      delivery: { DELIVERY_SEED: s.deliverySeed, DELIVERY_FAILURE_RATE: String(s.deliveryFailureRate) },
      payment: { PG_URL: pgUrl },
      order: { ORDER_PAYMENT_DEADLINE_MS: String(o.paymentDeadlineMs) },
    };
    // One after the other: started together, four processes creating ~40 topics at once made
    // KafkaJS's wait for the new topics' leaders give up (UNKNOWN_TOPIC_OR_PARTITION) and a
    // processor exit at start-up.
    for (const name of PROCESSORS) {
      const entry = o.processorEntry?.(name) ?? { script: `processors/${name}/main.ts` };
      for (let n = 1; n <= (o.instances?.[name] ?? 1); n++) {
        const instance: InstanceName = n === 1 ? name : `${name}-${n}`;
        await launch(instance, entry.script, {
          ...o.brokerEnv,
          SCHEMA_REGISTRY_URL: o.schemaRegistryUrl,
          GUARANTEE: 'exactly_once',
          TOPIC_PREFIX: o.topicPrefix,
          APP_ID: appIds[name],
          INSTANCE_ID: String(n),
          STATE_DIR: join(o.stateRoot, instance),
          ...extra[name],
          ...entry.env,
          ...o.processorEnv,
        }).ready;
      }
    }
    return {
      appIds,
      pgUrl,
      problem: () => problem,
      kill,
      restart,
      freeze: (name) => signal(name, 'SIGSTOP'),
      thaw: (name) => signal(name, 'SIGCONT'),
      gatewayStats: () => gatewayStats(pgUrl),
      logTails: (lines = 40) => [...children.values()].map((c) => `--- ${c.name} (${c.logPath}) ---\n${tail(c.logPath, lines)}`).join('\n'),
      stop,
    };
  } catch (e) {
    await stop(3000);
    throw e;
  }
}

async function gatewayStats(pgUrl: string): Promise<GatewayStats> {
  const res = await fetch(`${pgUrl}/v1/stats`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${pgUrl}/v1/stats answered ${res.status}`);
  const body = (await res.json()) as Partial<GatewayStats>;
  if (typeof body.charges !== 'object' || typeof body.refunds !== 'object' || body.charges === null || body.refunds === null) {
    throw new Error(`GET ${pgUrl}/v1/stats: no charges/refunds maps in ${JSON.stringify(body).slice(0, 200)}`);
  }
  const count = (n: unknown) => (typeof n === 'number' ? n : 0);
  return { charges: body.charges, refunds: body.refunds, replays: count(body.replays), requests: count(body.requests) };
}

async function terminate(c: Child, graceMs: number): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  // A process a test froze (SIGSTOP) would not see the SIGTERM.
  c.child.kill('SIGCONT');
  c.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      c.log.write(`\n[saga] ${c.name} still running ${graceMs} ms after SIGTERM: SIGKILL\n`);
      c.child.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([c.exited, killed]);
  clearTimeout(timer);
  await c.exited;
}

/** The last lines of a log file (or why there is none), for a failing test's output. */
export function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no log: ${e instanceof Error ? e.message : String(e)})`;
  }
}
