/**
 * The whole system as separate processes on one broker, as the compose files run it: the PG
 * simulator, the four processors, the read-model projection and any number of gateway
 * instances, each a `node --import tsx` child with its own log file, isolated by a run-unique
 * topic prefix, application ids, database and state directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tail } from '../saga/cluster.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SystemProcessesOptions {
  /** TRANSPORT and broker settings. */
  readonly brokerEnv: Readonly<Record<string, string>>;
  readonly schemaRegistryUrl: string;
  readonly mongoUrl: string;
  readonly database: string;
  readonly prefix: string;
  readonly jwtSecret: string;
  readonly stateRoot: string;
  readonly logDir: string;
  readonly readyTimeoutMs?: number;
}

export interface SystemProcesses {
  /** Starts a gateway instance; resolves with its URL once it printed `ready <url>`. */
  gateway(name: string, env?: Readonly<Record<string, string>>): Promise<string>;
  problem(): string | undefined;
  logTails(lines?: number): string;
  stop(): Promise<void>;
}

interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly exited: Promise<void>;
  readonly ready: Promise<string>;
}

export async function startSystemProcesses(o: SystemProcessesOptions): Promise<SystemProcesses> {
  mkdirSync(o.logDir, { recursive: true });
  const children: Child[] = [];
  const logs: WriteStream[] = [];
  let stopping = false;
  let problem: string | undefined;
  const guard = () => { for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL'); };
  process.once('exit', guard);
  const common = {
    ...o.brokerEnv, SCHEMA_REGISTRY_URL: o.schemaRegistryUrl, TOPIC_PREFIX: o.prefix, GUARANTEE: 'exactly_once',
    MONGO_URL: o.mongoUrl, MONGO_DB: o.database, JWT_SECRET: o.jwtSecret, LOG_LEVEL: 'warn',
  };

  const launch = (name: string, script: string, env: Record<string, string>): Child => {
    const logPath = join(o.logDir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    logs.push(log);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], { cwd: ROOT, env: { ...process.env, ...common, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.pipe(log, { end: false });
    const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      log.write(`\n[test] ${name} exited (code ${code}, signal ${signal})\n`);
      if (!stopping) problem ??= `${name} exited on its own (code ${code}, signal ${signal}); see ${logPath}`;
      resolve();
    }));
    const timeoutMs = o.readyTimeoutMs ?? 120_000;
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${tail(logPath, 30)}`)), timeoutMs);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}) before it was ready:\n${tail(logPath, 30)}`)); });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        log.write(`[stdout] ${line}\n`);
        if (line === 'ready' || line.startsWith('ready ')) { clearTimeout(timer); resolve(line.slice(6)); }
      });
    });
    ready.catch(() => undefined);
    const c = { name, child, logPath, exited, ready };
    children.push(c);
    return c;
  };

  const stop = async () => {
    stopping = true;
    await Promise.all(children.map(async (c) => {
      if (c.child.exitCode !== null || c.child.signalCode !== null) return;
      c.child.kill('SIGTERM');
      const timer = setTimeout(() => c.child.kill('SIGKILL'), 15_000);
      await c.exited;
      clearTimeout(timer);
    }));
    for (const l of logs) l.end();
    process.removeListener('exit', guard);
  };

  try {
    const pgPort = (await launch('pg-simulator', 'processors/payment/pg-simulator-main.ts', { PG_PORT: '0', PG_LATENCY_MS: '0,5' }).ready).trim();
    const appId = (name: string) => `${o.prefix}app-${name}`;
    const extra: Record<string, Record<string, string>> = {
      stock: {}, delivery: { DELIVERY_FAILURE_RATE: '0' }, payment: { PG_URL: `http://127.0.0.1:${pgPort}` }, order: { ORDER_PAYMENT_DEADLINE_MS: '120000' },
    };
    // One after the other: many processes creating topics at once overwhelm KafkaJS's metadata waits.
    for (const name of ['stock', 'delivery', 'payment', 'order']) {
      await launch(name, `processors/${name}/main.ts`, { APP_ID: appId(name), INSTANCE_ID: '1', STATE_DIR: join(o.stateRoot, name), ...extra[name] }).ready;
    }
    await launch('read-model', 'processors/read-model/main.ts', { APP_ID: appId('read-model'), STOCK_APP_ID: appId('stock') }).ready;
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    gateway: async (name, env = {}) => (await launch(name, 'gateway/main.ts', { PORT: '0', GATEWAY_ID: `${o.prefix}${name}`, ...env }).ready).trim(),
    problem: () => problem,
    logTails: (lines = 30) => children.map((c) => `--- ${c.name} (${c.logPath}) ---\n${tail(c.logPath, lines)}`).join('\n'),
    stop,
  };
}
