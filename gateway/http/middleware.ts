/**
 * The gateway's middleware, outermost first: request id → access log → error rendering →
 * metrics → bearer token → JSON body. Each is a plain Koa middleware; app.ts composes them.
 */
import { randomUUID } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import type { Histogram } from 'prom-client';
import type { TokenService } from '../auth/tokens.ts';
import { retriableCause } from '../../errors/index.ts';
import { PersistenceError } from '../../persistence/errors.ts';
import { ApiError, unavailable } from '../errors.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** Takes a sane X-Request-Id from the client (or a proxy), else makes one; echoes it back. */
export function requestId(): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const id = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}

/** One structured line per request, with the request id; `ctx.state.log` carries it to handlers. */
export function accessLog(logger: Logger): Middleware {
  return async (ctx, next) => {
    const log = logger.child({ requestId: ctx.state.requestId as string });
    ctx.state.log = log;
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, userId: (ctx.state.principal as { userId?: string } | undefined)?.userId };
      if (ctx.status >= 500) log.error(line, 'request failed');
      else log.info(line, 'request');
    }
  };
}

/** Every 4xx/5xx as `{ error: { code, message, field?, requestId } }`. */
export function errors(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError(404, 'NOT_FOUND', `no route ${ctx.method} ${ctx.path}`);
    } catch (e) {
      const err = routerRefusal(ctx, e) ?? toApiError(e);
      if (err.status >= 500) (ctx.state.log as Logger | undefined)?.error({ err: e }, 'unhandled error');
      ctx.status = err.status;
      for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
      if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
      ctx.body = { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), requestId: ctx.state.requestId as string } };
    }
  };
}

/**
 * The router throws 405 (a method it has, not on this path) and 501 (a method it has on no path,
 * e.g. TRACE) without the Allow header RFC 9110 requires of a 405; both become a 405 listing the
 * path's methods, or a 404 when no route has the path at all.
 */
function routerRefusal(ctx: Context, e: unknown): ApiError | undefined {
  const status = (e as { status?: unknown }).status;
  if (e instanceof ApiError || (status !== 405 && status !== 501)) return undefined;
  const matched = (ctx as Context & { matched?: readonly { readonly methods: readonly string[] }[] }).matched ?? [];
  const allowed = [...new Set(matched.flatMap((layer) => layer.methods))];
  if (allowed.length === 0) return new ApiError(404, 'NOT_FOUND', `no route ${ctx.method} ${ctx.path}`);
  return new ApiError(405, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allowed.join(', ')}`, { headers: { Allow: allowed.join(', ') } });
}

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  // Koa/http-errors from the body parser: 400 bad JSON, 413, 415.
  const status = (e as { status?: unknown; expose?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = ({ 400: 'BAD_REQUEST', 405: 'METHOD_NOT_ALLOWED', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' } as Record<number, string>)[status] ?? 'BAD_REQUEST';
    const message = status === 400 ? `body: is not valid JSON (${(e as Error).message})` : (e as Error).message;
    return new ApiError(status, code, message, status === 400 ? { field: 'body' } : {});
  }
  // A dependency away (the database restarting, a broker unreachable) is no bug of ours: the
  // caller may retry, so it gets 503 and Retry-After, not 500.
  const away = retriableCause(e);
  if (away) {
    const db = away instanceof PersistenceError;
    return unavailable(db ? 'DATABASE_UNAVAILABLE' : 'DEPENDENCY_UNAVAILABLE', `${db ? 'the database' : 'a dependency'} is unavailable, try again shortly: ${away.message}`, RETRY_AFTER_SECONDS, e);
  }
  return new ApiError(500, 'INTERNAL', 'internal error', { cause: e });
}

/** What a 503 caused by a dependency away asks the caller to wait. */
const RETRY_AFTER_SECONDS = 2;

/** Request durations per route template (never the raw path: ids would explode the label set). */
export function httpMetrics(histogram: Histogram<'method' | 'route' | 'status'>): Middleware {
  return async (ctx, next) => {
    const end = histogram.startTimer();
    try {
      await next();
    } finally {
      end({ method: ctx.method, route: (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched', status: String(ctx.status) });
    }
  };
}

/**
 * A bearer token, if sent, becomes `ctx.state.principal`; a bad one is kept as `authError` and
 * only matters on routes that need a caller (a public route ignores a stale token).
 */
export function bearer(tokens: TokenService): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      try {
        if (!m) throw new ApiError(401, 'UNAUTHORIZED', 'Authorization must be "Bearer <access token>"', { headers: { 'WWW-Authenticate': 'Bearer' } });
        ctx.state.principal = tokens.verifyAccess(m[1]!);
      } catch (e) {
        ctx.state.authError = e;
      }
    }
    await next();
  };
}

/** JSON bodies only, up to `limit`; anything else is refused where a route expects a body. */
export function jsonBody(limit: string): Middleware {
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: limit, encoding: 'utf-8', jsonStrict: true });
  return async (ctx: Context, next: Next) => {
    let parsed = false;
    try {
      await parse(ctx, () => { parsed = true; return next(); });
    } catch (e) {
      // A body that does not decode as its Content-Encoding says fails inside zlib, with no status.
      if (!parsed && typeof (e as { status?: unknown }).status !== 'number') {
        throw new ApiError(400, 'BAD_REQUEST', `body: could not be decoded as Content-Encoding ${ctx.get('content-encoding') || 'identity'}`, { field: 'body', cause: e });
      }
      throw e;
    }
  };
}
