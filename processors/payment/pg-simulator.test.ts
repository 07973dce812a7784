import test from 'ava';
import { chance } from '../common/index.ts';
import { IDEMPOTENCY_HEADER, PG_PATHS } from './pg-protocol.ts';
import { startPgSimulator, type PgSimulator } from './pg-simulator.ts';

async function post(sim: PgSimulator, path: string, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { [IDEMPOTENCY_HEADER]: key } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const order = (id: string, amount = 1200) => ({ orderId: id, paymentKey: `pk-${id}`, amount });

test('a charge captures once; the same key again replays the outcome without a new charge', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  const first = await post(sim, PG_PATHS.charges, order('o1'), 'charge:o1');
  t.is(first.status, 200);
  t.is(first.body.status, 'CAPTURED');
  t.is(first.body.amount, 1200);
  const again = await post(sim, PG_PATHS.charges, order('o1'), 'charge:o1');
  t.deepEqual(again, first);
  const stats = sim.stats();
  t.deepEqual(stats.charges, { o1: 1 });
  t.deepEqual(stats.chargedAmounts, { o1: 1200 });
  t.is(stats.replays, 1);
});

test('concurrent duplicates wait for the first and share its outcome', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [20, 20] });
  t.teardown(() => sim.close());
  const answers = await Promise.all(Array.from({ length: 5 }, () => post(sim, PG_PATHS.charges, order('o2'), 'charge:o2')));
  t.true(answers.every((a) => a.status === 200 && a.body.chargeId === answers[0]!.body.chargeId));
  t.deepEqual(sim.stats().charges, { o2: 1 });
});

test('a second key for the same order charges again, and the stats show the double charge', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  await post(sim, PG_PATHS.charges, order('o3'), 'a');
  await post(sim, PG_PATHS.charges, order('o3'), 'b');
  t.deepEqual(sim.stats().charges, { o3: 2 });
});

test('declines are decided by chance(seed, orderId) and are final for the key', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0], declineRate: 0.5, seed: 's1' });
  t.teardown(() => sim.close());
  const ids = Array.from({ length: 12 }, (_, i) => `order-${i}`);
  for (const id of ids) {
    const r = await post(sim, PG_PATHS.charges, order(id), `charge:${id}`);
    const declined = chance('s1', id) < 0.5;
    t.is(r.status, declined ? 402 : 200, id);
    if (declined) t.is(r.body.status, 'DECLINED');
  }
  const declinedIds = ids.filter((id) => chance('s1', id) < 0.5);
  t.true(declinedIds.length > 0 && declinedIds.length < ids.length, 'the seed splits these ids');
  t.deepEqual(Object.keys(sim.stats().declines).sort(), declinedIds.sort());
  t.deepEqual(Object.keys(sim.stats().charges).sort(), ids.filter((id) => !declinedIds.includes(id)).sort());
});

test('a 503 charges nothing and a retry with the same key is decided afresh', async (t) => {
  const draws = [0, 0.1, 0, 0.9]; // latency, failure draw (error), latency, failure draw (none)
  const sim = await startPgSimulator({ latencyMs: [0, 0], errorRate: 0.5, random: () => draws.shift() ?? 0.9 });
  t.teardown(() => sim.close());
  const first = await post(sim, PG_PATHS.charges, order('o4'), 'charge:o4');
  t.is(first.status, 503);
  t.deepEqual(sim.stats().charges, {});
  const retry = await post(sim, PG_PATHS.charges, order('o4'), 'charge:o4');
  t.is(retry.status, 200);
  t.deepEqual(sim.stats().charges, { o4: 1 });
  t.is(sim.stats().transientErrors, 1);
});

test('a timeout never answers and charges nothing; the client giving up frees the key', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0], timeoutRate: 1 });
  t.teardown(() => sim.close());
  const giveUp = new AbortController();
  const hung = fetch(`${sim.url}${PG_PATHS.charges}`, {
    method: 'POST', headers: { [IDEMPOTENCY_HEADER]: 'charge:o5' }, body: JSON.stringify(order('o5')), signal: giveUp.signal,
  });
  // Give up only once the simulator has decided to hang, whatever the machine's speed.
  while (sim.stats().timeouts === 0) await new Promise((r) => setTimeout(r, 5));
  giveUp.abort();
  // fetch rejects with a DOMException, which ava's throwsAsync does not take for an error.
  const name = await hung.then(() => 'answered', (e: unknown) => (e as { name?: string }).name);
  t.is(name, 'AbortError', 'no answer came');
  t.deepEqual(sim.stats().charges, {});
  sim.configure({ timeoutRate: 0 });
  const retry = await post(sim, PG_PATHS.charges, order('o5'), 'charge:o5');
  t.is(retry.status, 200);
  t.deepEqual(sim.stats().charges, { o5: 1 });
});

test('refunds need a captured charge, are idempotent and counted per order', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  const none = await post(sim, PG_PATHS.refunds, order('o6'), 'refund:o6');
  t.is(none.status, 404);
  await post(sim, PG_PATHS.charges, order('o6'), 'charge:o6');
  const refunded = await post(sim, PG_PATHS.refunds, order('o6'), 'refund:o6');
  t.is(refunded.status, 200);
  t.is(refunded.body.status, 'REFUNDED');
  t.deepEqual(await post(sim, PG_PATHS.refunds, order('o6'), 'refund:o6'), refunded);
  const more = await post(sim, PG_PATHS.refunds, order('o6'), 'refund:o6:second');
  t.is(more.status, 422, 'nothing left to refund');
  t.deepEqual(sim.stats().refunds, { o6: 1 });
  t.deepEqual(sim.stats().refundedAmounts, { o6: 1200 });
});

test('bad requests: no key, invalid body, invalid JSON, a key reused for another request', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  t.is((await post(sim, PG_PATHS.charges, order('o7'))).status, 400);
  const invalid = await post(sim, PG_PATHS.charges, { orderId: 'o7', paymentKey: 'pk', amount: -5 }, 'k');
  t.is(invalid.status, 400);
  t.regex(String(invalid.body.reason), /amount/);
  t.is((await post(sim, PG_PATHS.charges, '{nope', 'k')).status, 400);
  t.is((await post(sim, PG_PATHS.charges, order('o7'), 'k')).status, 200);
  const reused = await post(sim, PG_PATHS.charges, order('o7', 999), 'k');
  t.is(reused.status, 409);
  t.deepEqual(sim.stats().charges, { o7: 1 });
});

test('config and reset over HTTP; stats over GET', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  const changed = await post(sim, PG_PATHS.config, { declineRate: 1 });
  t.is(changed.status, 200);
  t.is(changed.body.declineRate, 1);
  t.is((await post(sim, PG_PATHS.config, { errorRate: 2 })).status, 400);
  t.is((await post(sim, PG_PATHS.charges, order('o8'), 'charge:o8')).status, 402);
  const stats = (await (await fetch(`${sim.url}${PG_PATHS.stats}`)).json()) as { requests: number; declines: Record<string, number> };
  t.deepEqual(stats.declines, { o8: 1 });
  t.is(stats.requests, 4);
  t.is((await post(sim, PG_PATHS.reset, {})).status, 200);
  t.deepEqual(sim.stats().declines, {});
  t.is(sim.config().declineRate, 1, 'reset keeps the configuration');
});

async function lookup(sim: PgSimulator, key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}${PG_PATHS.payments}/${encodeURIComponent(key)}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A request the test gives up on after `ms`, as a client's timeout would. */
async function postAbandoned(sim: PgSimulator, path: string, body: unknown, key: string, ms: number): Promise<'no answer'> {
  await abandonable(sim, path, body, key, ms).catch(() => undefined);
  return 'no answer';
}

function abandonable(sim: PgSimulator, path: string, body: unknown, key: string, ms: number): Promise<Response> {
  return fetch(`${sim.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', [IDEMPOTENCY_HEADER]: key }, body: JSON.stringify(body), signal: AbortSignal.timeout(ms),
  });
}

test('lookup by idempotency key: not found, then the settled answer (captured or declined) without a new charge', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0], declineRate: 0.5, seed: 'lk' });
  t.teardown(() => sim.close());
  const [kept, declined] = [0, 1].map((want) => Array.from({ length: 50 }, (_, i) => `lk-${i}`).find((id) => (chance('lk', id) < 0.5 ? 1 : 0) === want)!);
  t.deepEqual(await lookup(sim, `charge:${kept}`), { status: 404, body: { key: `charge:${kept}`, state: 'NOT_FOUND' } });
  const charged = await post(sim, PG_PATHS.charges, order(kept!), `charge:${kept}`);
  t.deepEqual(await lookup(sim, `charge:${kept}`), { status: 200, body: { key: `charge:${kept}`, state: 'SETTLED', status: 200, result: charged.body } });
  await post(sim, PG_PATHS.charges, order(declined!), `charge:${declined}`);
  const d = await lookup(sim, `charge:${declined}`);
  t.like(d.body, { state: 'SETTLED', status: 402, result: { status: 'DECLINED' } });
  t.deepEqual(sim.stats().charges, { [kept!]: 1 });
  t.is(sim.stats().lookups, 3);
  t.deepEqual(sim.lookup(`charge:${kept}`), { key: `charge:${kept}`, state: 'SETTLED', status: 200, result: charged.body });
});

test('a silent outcome (hang after charge): no answer, yet charged; lookup and a retry with the key both tell, no second charge', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  sim.hang('charge:s1');
  t.is(await postAbandoned(sim, PG_PATHS.charges, order('s1'), 'charge:s1', 300), 'no answer');
  t.deepEqual(sim.stats().charges, { s1: 1 });
  t.is(sim.stats().silentOutcomes, 1);
  t.like((await lookup(sim, 'charge:s1')).body, { state: 'SETTLED', status: 200, result: { status: 'CAPTURED' } });
  const retry = await post(sim, PG_PATHS.charges, order('s1'), 'charge:s1');
  t.is(retry.body.status, 'CAPTURED');
  t.deepEqual(sim.stats().charges, { s1: 1 });
});

test('a hang before the charge leaves nothing; times counts replays too; the rate draws silent outcomes', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [0, 0] });
  t.teardown(() => sim.close());
  sim.hang('charge:b1', { afterCharge: false });
  await postAbandoned(sim, PG_PATHS.charges, order('b1'), 'charge:b1', 200);
  t.deepEqual(sim.stats().charges, {});
  t.is((await lookup(sim, 'charge:b1')).status, 404);
  // Two silences over HTTP: the first captures, the second is a replay that also goes unanswered.
  const r = await fetch(`${sim.url}${PG_PATHS.hang}`, { method: 'POST', body: JSON.stringify({ key: 'charge:b2', times: 2 }) });
  t.is(r.status, 200);
  await postAbandoned(sim, PG_PATHS.charges, order('b2'), 'charge:b2', 200);
  await postAbandoned(sim, PG_PATHS.charges, order('b2'), 'charge:b2', 200);
  t.is((await post(sim, PG_PATHS.charges, order('b2'), 'charge:b2')).status, 200);
  t.deepEqual(sim.stats().charges, { b2: 1 });
  t.is(sim.stats().timeouts, 3);
  sim.configure({ timeoutAfterChargeRate: 1 });
  t.is(await postAbandoned(sim, PG_PATHS.charges, order('b3'), 'charge:b3', 200), 'no answer');
  t.deepEqual(sim.stats().charges, { b2: 1, b3: 1 });
  t.throws(() => sim.configure({ timeoutRate: 0.5, timeoutAfterChargeRate: 0.6 }), { message: /must not exceed 1/ });
});
