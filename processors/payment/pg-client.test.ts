import test from 'ava';
import { CircuitBreaker } from './circuit-breaker.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CircuitOpenError, PgAbortedError, PgOutcomeUnknownError, PgRejectedError, PgUnavailableError } from './errors.ts';
import { PgClient, type PgClientOptions } from './pg-client.ts';
import { startPgSimulator, type PgSimulatorConfig } from './pg-simulator.ts';

const order = (id: string, amount = 500) => ({ orderId: id, paymentKey: `pk-${id}`, amount });

/** A simulator and a client with short back-offs; both closed when the test ends. */
async function setup(t: { teardown(fn: () => Promise<void>): void }, sim: PgSimulatorConfig, client: Partial<PgClientOptions> = {}) {
  const simulator = await startPgSimulator({ latencyMs: [0, 0], ...sim });
  t.teardown(() => simulator.close());
  return { sim: simulator, client: new PgClient({ baseUrl: simulator.url, backoffBaseMs: 1, backoffMaxMs: 5, timeoutMs: 1000, ...client }) };
}

/** A clock the test moves, so the breaker's cooldown passes without waiting. */
function manualClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

test('a charge is captured; a decline is an answer, not retried', async (t) => {
  const { sim, client } = await setup(t, { declineRate: 1 });
  const declined = await client.charge(order('d1'));
  t.is(declined.outcome, 'DECLINED');
  t.is(sim.stats().requests, 1);
  sim.configure({ declineRate: 0 });
  const captured = await client.charge(order('c1'));
  t.like(captured, { outcome: 'CAPTURED', amount: 500 });
  t.deepEqual(sim.stats().charges, { c1: 1 });
});

test('a 503 is retried with the same idempotency key and charges once', async (t) => {
  const draws = [0, 0.1, 0, 0.9]; // per request: latency draw, then failure draw
  const { sim, client } = await setup(t, { errorRate: 0.5, random: () => draws.shift() ?? 0.9 });
  const r = await client.charge(order('r1'));
  t.is(r.outcome, 'CAPTURED');
  t.is(sim.stats().transientErrors, 1);
  t.is(sim.stats().requests, 2);
  t.deepEqual(sim.stats().charges, { r1: 1 });
});

test('a timed-out attempt is retried and the order is charged once', async (t) => {
  const draws = [0, 0.1, 0, 0.9];
  const { sim, client } = await setup(t, { timeoutRate: 0.5, random: () => draws.shift() ?? 0.9 }, { timeoutMs: 1000 });
  const r = await client.charge(order('t1'));
  t.is(r.outcome, 'CAPTURED');
  t.is(sim.stats().timeouts, 1);
  t.deepEqual(sim.stats().charges, { t1: 1 });
});

test('retries exhausted: PgUnavailableError with the order and the attempts, nothing charged', async (t) => {
  const { sim, client } = await setup(t, { errorRate: 1 }, { retries: 2 });
  const e = await t.throwsAsync(client.charge(order('u1')), { instanceOf: PgUnavailableError });
  t.is(e?.orderId, 'u1');
  t.is(e?.attempts, 3);
  t.regex(e?.message ?? '', /HTTP 503/);
  t.is(sim.stats().requests, 3);
  t.deepEqual(sim.stats().charges, {});
});

test('a network error (nothing listening) is a transport failure', async (t) => {
  const { sim } = await setup(t, {});
  const url = sim.url;
  await sim.close();
  const client = new PgClient({ baseUrl: url, retries: 1, backoffBaseMs: 1 });
  const e = await t.throwsAsync(client.charge(order('n1')), { instanceOf: PgUnavailableError });
  t.regex(e?.message ?? '', /network error/);
});

test('4xx other than a decline is not retried: a refund without a charge is PgRejectedError 404', async (t) => {
  const { sim, client } = await setup(t, {});
  const e = await t.throwsAsync(client.refund(order('x1')), { instanceOf: PgRejectedError });
  t.is(e?.status, 404);
  t.is(e?.orderId, 'x1');
  t.is(sim.stats().requests, 1);
  await client.charge(order('x1'));
  t.like(await client.refund(order('x1')), { outcome: 'REFUNDED', amount: 500 });
  t.like(await client.refund(order('x1')), { outcome: 'REFUNDED' }, 'the same key replays');
  t.deepEqual(sim.stats().refunds, { x1: 1 });
});

test('the breaker opens after N consecutive transport failures and then fails fast without calling', async (t) => {
  const clock = manualClock();
  const { sim, client } = await setup(t, { errorRate: 1 }, { retries: 0, breaker: { failureThreshold: 3, cooldownMs: 1000, now: clock.now } });
  for (const id of ['b1', 'b2', 'b3']) await t.throwsAsync(client.charge(order(id)), { instanceOf: PgUnavailableError });
  t.is(client.circuitState(), 'open');
  const e = await t.throwsAsync(client.charge(order('b4')), { instanceOf: CircuitOpenError });
  t.is(e?.orderId, 'b4');
  t.is(sim.stats().requests, 3, 'an open circuit makes no call');
});

test('half-open lets one probe through: success closes the circuit', async (t) => {
  const clock = manualClock();
  const { sim, client } = await setup(t, { errorRate: 1 }, { retries: 0, breaker: { failureThreshold: 2, cooldownMs: 1000, now: clock.now } });
  for (const id of ['h1', 'h2']) await t.throwsAsync(client.charge(order(id)), { instanceOf: PgUnavailableError });
  sim.configure({ errorRate: 0, latencyMs: [50, 50] });
  clock.advance(1000);
  t.is(client.circuitState(), 'half-open');
  const [probe, other] = await Promise.allSettled([client.charge(order('h3')), client.charge(order('h4'))]);
  t.is(probe.status, 'fulfilled');
  t.true(other.status === 'rejected' && other.reason instanceof CircuitOpenError, 'a second call while the probe is out fails fast');
  t.is(client.circuitState(), 'closed');
  t.like(await client.charge(order('h4')), { outcome: 'CAPTURED' });
  t.deepEqual(sim.stats().charges, { h3: 1, h4: 1 });
});

test('half-open: a failed probe opens the circuit again', async (t) => {
  const clock = manualClock();
  const { client } = await setup(t, { errorRate: 1 }, { retries: 0, breaker: { failureThreshold: 2, cooldownMs: 1000, now: clock.now } });
  for (const id of ['p1', 'p2']) await t.throwsAsync(client.charge(order(id)), { instanceOf: PgUnavailableError });
  clock.advance(1000);
  await t.throwsAsync(client.charge(order('p3')), { instanceOf: PgUnavailableError });
  t.is(client.circuitState(), 'open');
  await t.throwsAsync(client.charge(order('p4')), { instanceOf: CircuitOpenError });
});

test('retries stop when the circuit opens mid-way', async (t) => {
  const { sim, client } = await setup(t, { errorRate: 1 }, { retries: 5, breaker: { failureThreshold: 2, cooldownMs: 60_000 } });
  await t.throwsAsync(client.charge(order('m1')), { instanceOf: CircuitOpenError });
  t.is(sim.stats().requests, 2);
});

test('declines and other 4xx keep the circuit closed: the gateway answered', async (t) => {
  const { client } = await setup(t, { declineRate: 1 }, { breaker: { failureThreshold: 1 } });
  await client.charge(order('k1'));
  await t.throwsAsync(client.refund(order('k2')), { instanceOf: PgRejectedError });
  t.is(client.circuitState(), 'closed');
});

test('an aborted call is PgAbortedError and does not count against the gateway', async (t) => {
  const { client } = await setup(t, { timeoutRate: 1 }, { breaker: { failureThreshold: 1 }, timeoutMs: 10_000 });
  const controller = new AbortController();
  const call = client.charge(order('a1'), controller.signal);
  setTimeout(() => controller.abort(), 50);
  const e = await t.throwsAsync(call, { instanceOf: PgAbortedError });
  t.is(e?.orderId, 'a1');
  t.is(client.circuitState(), 'closed');
});

test('a shared breaker object is used as given', (t) => {
  const breaker = new CircuitBreaker({ failureThreshold: 1 });
  t.is(new PgClient({ baseUrl: 'http://127.0.0.1:1', breaker }).breaker, breaker);
});

test('every attempt times out but the first charged (a silent outcome): the lookup finds it, CAPTURED, charged once', async (t) => {
  const { sim, client } = await setup(t, { latencyMs: [0, 0] }, { timeoutMs: 500, retries: 2 });
  sim.hang('charge:sc1', { times: 10 });
  const r = await client.charge(order('sc1'));
  t.like(r, { outcome: 'CAPTURED', amount: order('sc1').amount });
  t.deepEqual(sim.stats().charges, { sc1: 1 });
  // One lookup finds it, unless a loaded machine makes that lookup time out too (then the next one does).
  t.true(sim.stats().lookups >= 1);
  t.is(sim.stats().timeouts, sim.stats().lookups, 'every attempt went unanswered: only lookups told');
});

test('a timeout that charged nothing: the lookup finds nothing, the retry with the same key charges once', async (t) => {
  const { sim, client } = await setup(t, { latencyMs: [0, 0] }, { timeoutMs: 500, retries: 2 });
  sim.hang('charge:nf1', { afterCharge: false });
  const r = await client.charge(order('nf1'));
  t.is(r.outcome, 'CAPTURED');
  t.deepEqual(sim.stats().charges, { nf1: 1 });
  t.true(sim.stats().lookups >= 1);
});

test('timeouts that charged nothing on every attempt: PgUnavailableError saying the gateway has no record, nothing charged', async (t) => {
  const { sim, client } = await setup(t, { latencyMs: [0, 0] }, { timeoutMs: 400, retries: 1 });
  sim.hang('charge:nf2', { afterCharge: false, times: 2 });
  const e = await t.throwsAsync(client.charge(order('nf2')), { instanceOf: PgUnavailableError });
  t.false(e instanceof PgOutcomeUnknownError, 'the gateway said it has nothing: a known failure');
  t.regex(e?.message ?? '', /no answer within 400 ms; the gateway has no record of it/);
  t.deepEqual(sim.stats().charges, {});
  t.is(sim.stats().lookups, 2, 'one lookup per timed-out attempt');
});

test('a silent refund is found by its key too; reconcile: false keeps the old behaviour (FAILED though charged)', async (t) => {
  const { sim, client } = await setup(t, { latencyMs: [0, 0] }, { timeoutMs: 400, retries: 1 });
  await client.charge(order('rf1'));
  sim.hang('refund:rf1', { times: 5 });
  t.is((await client.refund(order('rf1'))).outcome, 'REFUNDED');
  t.deepEqual(sim.stats().refunds, { rf1: 1 });
  const blind = new PgClient({ baseUrl: sim.url, timeoutMs: 150, retries: 1, backoffBaseMs: 1, reconcile: false });
  sim.hang('charge:old1', { times: 5 });
  await t.throwsAsync(blind.charge(order('old1')), { instanceOf: PgUnavailableError });
  t.deepEqual(sim.stats().charges, { rf1: 1, old1: 1 }, 'the gap the lookup closes: money taken, charge reported failed');
});

test('a gateway silent to charges and lookups alike: PgOutcomeUnknownError, not a plain failure', async (t) => {
  // Answers nothing at all (a gateway gone quiet, or a network that drops every answer).
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { silent.closeAllConnections(); silent.close(() => resolve()); }));
  const client = new PgClient({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 100, retries: 1, backoffBaseMs: 1 });
  const e = await t.throwsAsync(client.charge(order('uk1')), { instanceOf: PgOutcomeUnknownError });
  t.regex(e?.message ?? '', /outcome unknown \(.*lookup: no answer within 100 ms/);
  t.true(e instanceof PgUnavailableError, 'still a PgUnavailableError for callers that only know that');
});

test('an unknown attempt followed by an open circuit stays unknown, not CircuitOpenError', async (t) => {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { silent.closeAllConnections(); silent.close(() => resolve()); }));
  const client = new PgClient({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 100, retries: 3, backoffBaseMs: 1, breaker: { failureThreshold: 1 } });
  const e = await t.throwsAsync(client.charge(order('uk2')), { instanceOf: PgOutcomeUnknownError });
  t.regex(e?.message ?? '', /then the circuit opened/);
});
