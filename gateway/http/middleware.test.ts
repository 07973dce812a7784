import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import Koa from 'koa';
import { DatabaseUnavailableError, DuplicateKeyError } from '../../persistence/errors.ts';
import { BrokerUnreachableError } from '../../transports/errors.ts';
import { errors } from './middleware.ts';

/** A gateway whose one route throws `thrown`, behind the error middleware. */
async function answerTo(t: { teardown(fn: () => void): void }, thrown: () => unknown) {
  const app = new Koa();
  app.use(async (ctx, next) => { ctx.state.requestId = 'r-1'; await next(); });
  app.use(errors());
  app.use(() => { throw thrown(); });
  const server = createServer(app.callback()).listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await new Promise((r) => server.once('listening', r));
  const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { error: { code: string; message: string } } };
}

test('the database away is 503 DATABASE_UNAVAILABLE with Retry-After, not 500', async (t) => {
  const r = await answerTo(t, () => new DatabaseUnavailableError('connect ECONNREFUSED 127.0.0.1:27017', { collection: 'users' }));
  t.is(r.status, 503);
  t.is(r.retryAfter, '2');
  t.is(r.body.error.code, 'DATABASE_UNAVAILABLE');
  t.regex(r.body.error.message, /the database is unavailable, try again shortly: users: connect ECONNREFUSED/);
});

test('any retriable cause (a broker unreachable, wrapped) is 503 DEPENDENCY_UNAVAILABLE', async (t) => {
  const r = await answerTo(t, () => new Error('lookup failed', { cause: new BrokerUnreachableError('127.0.0.1:9092', { transport: 'kafka' }) }));
  t.is(r.status, 503);
  t.is(r.body.error.code, 'DEPENDENCY_UNAVAILABLE');
  t.is(r.retryAfter, '2');
});

test('a bug or a fact about the data stays 500, without the internal message', async (t) => {
  for (const thrown of [() => new TypeError('x is undefined'), () => new DuplicateKeyError('u-1', { collection: 'users' })]) {
    const r = await answerTo(t, thrown);
    t.is(r.status, 500);
    t.is(r.retryAfter, null);
    t.deepEqual(r.body.error.code, 'INTERNAL');
    t.is(r.body.error.message, 'internal error');
  }
});
