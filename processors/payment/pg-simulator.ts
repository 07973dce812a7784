/**
 * A stand-in for an external payment gateway (PG): a real HTTP server with the latency, declines,
 * transient errors and timeouts that make calling one hard, and the idempotency keys that make it
 * safe. Its stats count captures per order, which is how end-to-end tests see a double charge.
 *
 * Two kinds of silence: a plain timeout (`timeoutRate`) leaves nothing behind, so a retry gets a
 * fresh decision; a silent outcome (`timeoutAfterChargeRate`, or `hang(key, { afterCharge })`)
 * decides — captures the money — and then never answers, as a real gateway may when the
 * connection drops after the capture. A caller learns which by a lookup of the idempotency key
 * (`GET /v1/payments/<key>`) or a retry with it, which replays the stored outcome.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { numberFromEnv, type Env } from '../common/env.ts';
import { chance } from '../common/ids.ts';
import {
  IDEMPOTENCY_HEADER, PG_PATHS, type PgErrorBody, type PgHangRequest, type PgLookup, type PgPaymentBody, type PgRuntimeConfig, type PgStats,
} from './pg-protocol.ts';

export interface PgSimulatorConfig extends Partial<PgRuntimeConfig> {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Interface to listen on: 127.0.0.1 (default); 0.0.0.0 in a container that others call. */
  readonly host?: string;
  /** Draws for latency and transient failures; a test may script them. Default Math.random. */
  readonly random?: () => number;
}

export interface PgSimulator {
  readonly url: string;
  readonly port: number;
  stats(): PgStats;
  config(): PgRuntimeConfig;
  configure(patch: Partial<PgRuntimeConfig>): PgRuntimeConfig;
  /**
   * The next `times` (default 1) requests with this idempotency key get no answer, replays
   * included; with `afterCharge` (default true) the first of them is decided (captured) before
   * the silence; with `lookups` its lookups go unanswered too while the switch lasts. A test's
   * switch for one order, beside the rates that draw per request.
   */
  hang(key: string, options?: Omit<PgHangRequest, 'key'>): void;
  /** What the gateway holds for an idempotency key, as GET /v1/payments/<key> answers. */
  lookup(key: string): PgLookup;
  /** Forgets charges, refunds, idempotency keys and counters; keeps the configuration. */
  reset(): void;
  /** Stops listening and drops open connections (hanging ones too); safe to call again. */
  close(): Promise<void>;
}

export const DEFAULT_PG_CONFIG: PgRuntimeConfig = { latencyMs: [5, 30], declineRate: 0, errorRate: 0, timeoutRate: 0, timeoutAfterChargeRate: 0, seed: 'pg' };

/** A configuration value the simulator refuses, from its options or from POST /v1/config. */
export class PgConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgConfigError';
  }
}

interface Reply {
  readonly status: number;
  readonly body: object;
}

/**
 * `hang`: the simulated timeout — the gateway never answers and nothing was done. `silent`: the
 * request was decided (the reply is final and kept with the key) but its caller gets no answer.
 */
type Decision = Reply | 'hang' | { readonly silent: Reply };

/** A per-key switch set by `hang()`: how many more requests with the key go unanswered. */
interface HangSwitch {
  times: number;
  afterCharge: boolean;
  lookups: boolean;
}

interface KeyEntry {
  /** Which request the key was first used for; the same key for another request is a 409. */
  readonly fingerprint: string;
  /** Set once an outcome is final (captured, declined, refunded): later uses get it back. */
  settled?: Reply;
  /** The first request's decision while it is being made; duplicates wait for it. */
  pending?: Promise<Decision>;
}

type Operation = 'charge' | 'refund';

const MAX_BODY_BYTES = 64 * 1024;

export async function startPgSimulator(options: PgSimulatorConfig = {}): Promise<PgSimulator> {
  const random = options.random ?? Math.random;
  let config = validateConfig({ ...DEFAULT_PG_CONFIG, ...withoutUndefined(options) });
  let state = emptyState();
  const hangs = new Map<string, HangSwitch>();

  const server: Server = createServer((req, res) => {
    state.requests++;
    route(req, res).catch((e: unknown) => {
      // A bug in the simulator, not a simulated failure: say so rather than hang the client.
      if (!res.headersSent && !res.destroyed) send(res, { status: 500, body: { reason: `simulator error: ${e instanceof Error ? e.message : String(e)}` } });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path === PG_PATHS.stats && req.method === 'GET') return send(res, { status: 200, body: snapshot() });
    if (path?.startsWith(`${PG_PATHS.payments}/`) && req.method === 'GET') {
      let key: string;
      try {
        key = decodeURIComponent(path.slice(PG_PATHS.payments.length + 1));
      } catch {
        return send(res, { status: 400, body: { reason: 'the idempotency key in the path is not valid URL encoding' } });
      }
      // Switched silent for lookups too: the response stays open like a hung charge.
      if (hangs.get(key)?.lookups) {
        state.lookups++;
        return;
      }
      const found = lookup(key);
      return send(res, { status: found.state === 'NOT_FOUND' ? 404 : 200, body: found });
    }
    if (req.method !== 'POST') return send(res, { status: path && isKnownPath(path) ? 405 : 404, body: { reason: `no ${req.method} ${path}` } });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (e) {
      return send(res, { status: 400, body: { reason: e instanceof Error ? e.message : String(e) } });
    }
    switch (path) {
      case PG_PATHS.charges: return payment('charge', req, res, body);
      case PG_PATHS.refunds: return payment('refund', req, res, body);
      case PG_PATHS.config:
        try {
          return send(res, { status: 200, body: configure(body as Partial<PgRuntimeConfig>) });
        } catch (e) {
          if (e instanceof PgConfigError) return send(res, { status: 400, body: { reason: e.message } });
          throw e;
        }
      case PG_PATHS.reset:
        reset();
        return send(res, { status: 200, body: {} });
      case PG_PATHS.hang: {
        const h = body as Partial<PgHangRequest> | null;
        if (typeof h?.key !== 'string' || h.key === '') return send(res, { status: 400, body: { reason: 'key must be a non-empty string' } });
        try {
          hang(h.key, h);
        } catch (e) {
          return send(res, { status: 400, body: { reason: e instanceof Error ? e.message : String(e) } });
        }
        return send(res, { status: 200, body: {} });
      }
      default: return send(res, { status: 404, body: { reason: `no POST ${path}` } });
    }
  }

  async function payment(op: Operation, req: IncomingMessage, res: ServerResponse, raw: unknown): Promise<void> {
    const key = req.headers[IDEMPOTENCY_HEADER];
    if (typeof key !== 'string' || key === '') return send(res, { status: 400, body: { reason: `the ${IDEMPOTENCY_HEADER} header is required` } });
    const invalid = invalidBody(raw);
    if (invalid) return send(res, { status: 400, body: { reason: invalid } });
    const body = raw as PgPaymentBody;
    const fingerprint = JSON.stringify([op, body.orderId, body.paymentKey, body.amount]);
    const generation = state;
    let entry = state.keys.get(key);
    if (entry && entry.fingerprint !== fingerprint) {
      return send(res, { status: 409, body: { reason: `idempotency key ${key} was used for another request` } });
    }
    const silence = takeHang(key);
    if (entry?.settled) {
      state.replays++;
      if (silence) return unanswered(state);
      return send(res, entry.settled);
    }
    if (entry?.pending) {
      state.replays++;
      const first = await entry.pending;
      if (silence) return unanswered(generation);
      // The first request's silence is its own: a duplicate that waited for it is answered.
      return answer(res, typeof first === 'object' && 'silent' in first ? first.silent : first);
    }
    entry = { fingerprint };
    const pending = decide(op, body, silence);
    entry.pending = pending;
    state.keys.set(key, entry);
    const decision = await pending;
    entry.pending = undefined;
    // Final outcomes stay with the key; a 503, a 404 or a hang left nothing, so a retry is decided afresh.
    const reply = decision === 'hang' ? undefined : 'silent' in decision ? decision.silent : decision;
    if (reply && (reply.status === 200 || reply.status === 402)) entry.settled = reply;
    else if (generation.keys.get(key) === entry) generation.keys.delete(key);
    answer(res, decision);
  }

  async function decide(op: Operation, body: PgPaymentBody, silence: HangSwitch | undefined): Promise<Decision> {
    const [min, max] = config.latencyMs;
    await sleep(min + random() * (max - min));
    const s = state;
    const decided = () => (op === 'charge' ? capture(s, body) : refund(s, body));
    if (silence) {
      s.timeouts++;
      if (!silence.afterCharge) return 'hang';
      s.silentOutcomes++;
      return { silent: decided() };
    }
    const draw = random();
    if (draw < config.errorRate) {
      s.transientErrors++;
      return { status: 503, body: { reason: 'gateway temporarily unavailable (simulated)' } };
    }
    if (draw < config.errorRate + config.timeoutRate) {
      s.timeouts++;
      return 'hang';
    }
    if (draw < config.errorRate + config.timeoutRate + config.timeoutAfterChargeRate) {
      s.timeouts++;
      s.silentOutcomes++;
      return { silent: decided() };
    }
    return decided();
  }

  /** A request that draws or is switched to no answer after the decision was already kept (a replay). */
  function unanswered(s: State): void {
    s.timeouts++;
  }

  function hang(key: string, options: Omit<PgHangRequest, 'key'> = {}): void {
    const times = options.times ?? 1;
    if (!Number.isSafeInteger(times) || times < 1) throw new PgConfigError(`times must be a positive integer, not ${JSON.stringify(times)}`);
    hangs.set(key, { times, afterCharge: options.afterCharge ?? true, lookups: options.lookups ?? false });
  }

  /** Uses up one of the key's silences: only the first silenced request can be the one that decides. */
  function takeHang(key: string): HangSwitch | undefined {
    const h = hangs.get(key);
    if (!h) return undefined;
    const taken = { ...h };
    if (--h.times <= 0) hangs.delete(key);
    return taken;
  }

  function lookup(key: string): PgLookup {
    state.lookups++;
    const entry = state.keys.get(key);
    if (entry?.settled) return { key, state: 'SETTLED', status: entry.settled.status, result: entry.settled.body };
    if (entry?.pending) return { key, state: 'PROCESSING' };
    return { key, state: 'NOT_FOUND' };
  }

  function capture(s: State, body: PgPaymentBody): Reply {
    if (chance(config.seed, body.orderId) < config.declineRate) {
      bump(s.declines, body.orderId, 1);
      return { status: 402, body: { status: 'DECLINED', reason: 'card declined (simulated)' } satisfies PgErrorBody };
    }
    bump(s.charges, body.orderId, 1);
    bump(s.chargedAmounts, body.orderId, body.amount);
    return { status: 200, body: { chargeId: randomUUID(), status: 'CAPTURED', amount: body.amount } };
  }

  function refund(s: State, body: PgPaymentBody): Reply {
    const captured = s.chargedAmounts[body.orderId] ?? 0;
    if (captured === 0) return { status: 404, body: { status: 'NOT_FOUND', reason: `no captured charge for order ${body.orderId}` } satisfies PgErrorBody };
    const left = captured - (s.refundedAmounts[body.orderId] ?? 0);
    if (body.amount > left) return { status: 422, body: { reason: `refund of ${body.amount} exceeds the ${left} left of the captured amount` } };
    bump(s.refunds, body.orderId, 1);
    bump(s.refundedAmounts, body.orderId, body.amount);
    return { status: 200, body: { refundId: randomUUID(), status: 'REFUNDED', amount: body.amount } };
  }

  function answer(res: ServerResponse, decision: Decision): void {
    // A hang keeps the response open; the client's timeout closes the connection, or close() does.
    if (decision !== 'hang' && !('silent' in decision)) send(res, decision);
  }

  function configure(patch: Partial<PgRuntimeConfig>): PgRuntimeConfig {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new PgConfigError('config must be a JSON object');
    config = validateConfig({ ...config, ...withoutUndefined(patch) });
    return config;
  }

  function reset(): void {
    state = emptyState();
    hangs.clear();
  }

  function snapshot(): PgStats {
    const { keys: _keys, ...stats } = state;
    return structuredClone(stats);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats: snapshot,
    config: () => config,
    configure,
    hang,
    lookup: (key) => lookup(key),
    reset,
    close: () => (closed ??= new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      // Hanging responses and idle keep-alive sockets would hold close() open.
      server.closeAllConnections();
    })),
  };
}

interface State {
  requests: number;
  charges: Record<string, number>;
  refunds: Record<string, number>;
  declines: Record<string, number>;
  chargedAmounts: Record<string, number>;
  refundedAmounts: Record<string, number>;
  replays: number;
  transientErrors: number;
  timeouts: number;
  silentOutcomes: number;
  lookups: number;
  keys: Map<string, KeyEntry>;
}

function emptyState(): State {
  return {
    requests: 0, charges: {}, refunds: {}, declines: {}, chargedAmounts: {}, refundedAmounts: {},
    replays: 0, transientErrors: 0, timeouts: 0, silentOutcomes: 0, lookups: 0, keys: new Map(),
  };
}

export function validateConfig(c: PgRuntimeConfig): PgRuntimeConfig {
  const l = c.latencyMs as unknown;
  if (!Array.isArray(l) || l.length !== 2 || !l.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0) || l[0] > l[1]) {
    throw new PgConfigError(`latencyMs must be [min, max] with 0 <= min <= max, not ${JSON.stringify(l)}`);
  }
  for (const name of ['declineRate', 'errorRate', 'timeoutRate', 'timeoutAfterChargeRate'] as const) {
    const v = c[name] as unknown;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new PgConfigError(`${name} must be a number in [0, 1], not ${JSON.stringify(v)}`);
  }
  if (c.errorRate + c.timeoutRate + c.timeoutAfterChargeRate > 1) {
    throw new PgConfigError(`errorRate + timeoutRate + timeoutAfterChargeRate must not exceed 1 (${c.errorRate} + ${c.timeoutRate} + ${c.timeoutAfterChargeRate})`);
  }
  if (typeof c.seed !== 'string') throw new PgConfigError(`seed must be a string, not ${JSON.stringify(c.seed)}`);
  return {
    latencyMs: [l[0] as number, l[1] as number], declineRate: c.declineRate, errorRate: c.errorRate, timeoutRate: c.timeoutRate,
    timeoutAfterChargeRate: c.timeoutAfterChargeRate, seed: c.seed,
  };
}

function invalidBody(b: unknown): string | undefined {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return 'body must be a JSON object {orderId, paymentKey, amount}';
  const { orderId, paymentKey, amount } = b as Record<string, unknown>;
  if (typeof orderId !== 'string' || orderId === '') return 'orderId must be a non-empty string';
  if (typeof paymentKey !== 'string' || paymentKey === '') return 'paymentKey must be a non-empty string';
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) return `amount must be a positive integer (minor units), not ${JSON.stringify(amount)}`;
  return undefined;
}

function isKnownPath(path: string): boolean {
  return (Object.values(PG_PATHS) as string[]).includes(path);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('body is not valid JSON');
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
}

function bump(counts: Record<string, number>, key: string, by: number): void {
  counts[key] = (counts[key] ?? 0) + by;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The simulator process's configuration (see pg-simulator-main.ts). */
export function pgConfigFromEnv(env: Env): Partial<PgRuntimeConfig> & { port: number; host: string } {
  return {
    port: numberFromEnv(env, 'PG_PORT', 8090),
    host: env.PG_HOST || '127.0.0.1',
    latencyMs: latencyFromEnv(env.PG_LATENCY_MS),
    declineRate: numberFromEnv(env, 'PG_DECLINE_RATE', DEFAULT_PG_CONFIG.declineRate),
    errorRate: numberFromEnv(env, 'PG_ERROR_RATE', DEFAULT_PG_CONFIG.errorRate),
    timeoutRate: numberFromEnv(env, 'PG_TIMEOUT_RATE', DEFAULT_PG_CONFIG.timeoutRate),
    timeoutAfterChargeRate: numberFromEnv(env, 'PG_TIMEOUT_AFTER_CHARGE_RATE', DEFAULT_PG_CONFIG.timeoutAfterChargeRate),
    seed: env.PG_SEED || DEFAULT_PG_CONFIG.seed,
  };
}

function latencyFromEnv(raw: string | undefined): readonly [number, number] {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PG_CONFIG.latencyMs;
  const parts = raw.split(',').map((s) => Number(s.trim()));
  if (parts.length === 1 && Number.isFinite(parts[0])) return [parts[0]!, parts[0]!];
  if (parts.length !== 2 || !parts.every(Number.isFinite)) throw new Error(`PG_LATENCY_MS must be "min,max" in ms, not ${JSON.stringify(raw)}`);
  return [parts[0]!, parts[1]!];
}
