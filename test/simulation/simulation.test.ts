/**
 * Crash-point exploration in CI, bounded: every crash point of a one-order scenario under
 * exactly_once (transactional memory broker) and effectively-once (rabbit-like), then a few
 * random seeds × points on a larger scenario. Zero invariant failures; the points reached are
 * the points enumerated. `npm run simulate -- --seeds N` runs the longer exploration.
 */
import test from 'ava';
import { CrashingTransport } from './crashing-transport.ts';
import { MemoryTransport } from '../../transports/index.ts';
import { describeSummary, exhaustive, random, runOnce } from './simulate.ts';

test('the crashing transport counts commit-protocol calls and abandons the instance at its step', async (t) => {
  const memory = new MemoryTransport();
  await memory.admin().createTopics([{ name: 'a', partitions: 1 }, { name: 'x-checkpoints', partitions: 1 }]);
  let crashed = 0;
  const ct = new CrashingTransport(memory, { rabbitLike: true, crashAt: { step: 3, phase: 'partial' }, onCrash: () => { crashed++; } });
  t.is(ct.name, 'rabbit');
  t.false(ct.capabilities.transactions);
  const p = ct.producer();
  await p.connect();
  const rec = (v: string) => ({ topic: 'a', key: null, value: Buffer.from(v) });
  await p.send([rec('1')]);
  await p.send([{ topic: 'x-checkpoints', key: null, value: Buffer.from('{}') }]);
  await t.throwsAsync(p.send([rec('2'), rec('3'), rec('4'), rec('5')]), { name: 'AbandonedError' });
  await t.throwsAsync(p.send([rec('6')]), { name: 'AbandonedError' }, 'every later call fails');
  t.is(crashed, 1);
  t.deepEqual(ct.steps.map((s) => s.kind), ['send', 'checkpoint', 'send']);
  t.deepEqual(memory.broker.topic('a').logs[0]!.all().map((r) => r.value!.toString()), ['1', '2', '3'], 'half of the partial send landed');
});

test('a run without crash passes every check on both guarantees', async (t) => {
  for (const guarantee of ['exactly_once', 'effectively_once'] as const) {
    const r = await runOnce({ seed: 'ci-base', orders: 2, guarantee });
    t.deepEqual(r.failures, [], guarantee);
    t.true(Object.values(r.steps).every((n) => n > 0), `${guarantee}: every processor made calls (${JSON.stringify(r.steps)})`);
    // Without compaction (rabbit-like) the harness's low thresholds make stores write snapshots.
    if (guarantee === 'effectively_once') t.true((r.kinds.snapshot ?? 0) > 0, `snapshots written (${JSON.stringify(r.kinds)})`);
    else t.is(r.kinds.snapshot, undefined, 'no snapshots where the transport compacts');
  }
});

for (const guarantee of ['exactly_once', 'effectively_once'] as const) {
  // `after` a step is `before` the next one as the broker sees it; `npm run simulate` runs all phases.
  test(`every crash point of a one-order scenario, ${guarantee}`, async (t) => {
    t.timeout(120_000);
    const s = await exhaustive({ seed: 'ci-small', orders: 1, guarantee, parallel: guarantee === 'exactly_once' ? 4 : 8, phases: guarantee === 'exactly_once' ? ['after'] : ['after', 'partial'] });
    t.log(describeSummary(s));
    t.true(s.reached > 0);
    t.is(s.reached, s.points, 'every enumerated point reached');
    t.true(s.reached >= Object.values(s.baseline).reduce((a, b) => a + b, 0) / 2, `most of the baseline's steps explored (${JSON.stringify(s.baseline)})`);
    t.deepEqual(s.failures.map((f) => f.failures), [], describeSummary(s));
  });
}

test('random seeds × crash points, 4 orders', async (t) => {
  t.timeout(120_000);
  for (const guarantee of ['exactly_once', 'effectively_once'] as const) {
    const s = await random({ seeds: 1, seedPrefix: `ci-${guarantee}`, orders: 4, guarantee, pointsPerSeed: 3 });
    t.log(describeSummary(s));
    t.true(s.reached > 0, guarantee);
    t.deepEqual(s.failures.map((f) => f.failures), [], describeSummary(s));
  }
});

test('the checks catch a broken broker: torn transactions of the order processor', async (t) => {
  t.timeout(60_000);
  // Half of a transaction's outputs land without its positions: its successor processes the
  // same input again and writes those outputs a second time (a dead letter twice, a status event twice…).
  const runs = await Promise.all([2, 3, 4, 5, 6, 7].map((step) => runOnce({
    seed: 'ci-small', orders: 1, guarantee: 'exactly_once', tornTransactions: true, crash: { processor: 'order', step, phase: 'partial' },
  })));
  const torn = runs.filter((r) => r.crashedAt?.kind === 'sendTransaction' && r.crashedAt.size > 2);
  t.true(torn.length > 0, 'some crash tore a transaction');
  t.true(torn.some((r) => r.failures.length > 0), runs.map((r) => `${r.crashedAt?.kind}: ${r.failures.join('; ')}`).join('\n'));
});
