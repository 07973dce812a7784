/**
 * `Idempotency-Key` on POSTs that create or command (the IETF httpapi draft's semantics): the
 * same key with the same request replays the first response; with a different request, 422;
 * while the first is still running, 409 with Retry-After. A key is scoped to the caller and the
 * path, and expires after `ttlMs` (a TTL index where the database has one, a sweep where not).
 * A request that failed releases its key, so a retry runs again. Handlers also derive their ids
 * from the key, so even a crash between the broker's ack and the stored reply replays the same
 * order id.
 */
import { createHash } from 'node:crypto';
import { DuplicateKeyError } from '../../persistence/errors.ts';
import type { Collections, IdempotencyDoc } from '../collections.ts';
import { ApiError, badRequest, unprocessable } from '../errors.ts';
import type { Reply, RouteWrapper } from '../routing.ts';

export interface IdempotencySettings {
  readonly ttlMs: number;
  /** An IN_FLIGHT key older than this belongs to a request that died: it may be taken over. */
  readonly staleAfterMs: number;
}

export function idempotency(db: Pick<Collections, 'idempotency'>, settings: IdempotencySettings, now: () => number): RouteWrapper {
  return (spec, next) => {
    if (!spec.idempotent) return next;
    return async (call) => {
      const key = call.header('idempotency-key');
      if (key === undefined) return next(call);
      if (key.length > 200 || !/^[\x21-\x7e]+$/.test(key)) throw badRequest('must be 1-200 visible ASCII characters', 'Idempotency-Key');
      const id = `${call.principal?.userId ?? 'anonymous'}:${call.ctx.path}:${key}`;
      const requestHash = createHash('sha256').update(`${call.ctx.method} ${call.ctx.path}\n${canonical(call.body)}`).digest('base64');
      const t = now();
      const claim: IdempotencyDoc = { _id: id, requestHash, state: 'IN_FLIGHT', startedAt: t, reply: null, expiresAt: t + settings.ttlMs };
      try {
        await db.idempotency.insert(claim);
      } catch (e) {
        if (!(e instanceof DuplicateKeyError)) throw e;
        const prior = await db.idempotency.get(id);
        if (prior === undefined) return next(call); // expired between the two reads: a fresh request
        if (prior.requestHash !== requestHash) throw unprocessable('was already used with a different request', 'Idempotency-Key');
        if (prior.state === 'DONE' && prior.reply) return { ...prior.reply, headers: { ...prior.reply.headers, 'Idempotent-Replayed': 'true' } };
        const stale = prior.startedAt < t - settings.staleAfterMs;
        if (!stale || !(await db.idempotency.update(id, { startedAt: t, expiresAt: t + settings.ttlMs }, { state: 'IN_FLIGHT', startedAt: prior.startedAt }))) {
          throw new ApiError(409, 'IN_PROGRESS', 'a request with this Idempotency-Key is still in progress', { retryAfterSeconds: 1 });
        }
      }
      let reply: Reply;
      try {
        reply = await next(call);
      } catch (e) {
        await db.idempotency.delete(id).catch(() => undefined);
        throw e;
      }
      await db.idempotency.update(id, { state: 'DONE', reply: { status: reply.status, body: reply.body ?? null, headers: { ...reply.headers } } });
      return reply;
    };
  };
}


/** JSON with sorted keys, so that key order does not make two equal bodies differ. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
