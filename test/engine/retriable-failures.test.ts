/**
 * Retriable failures (the broker away) under every guarantee, injected on the memory transport:
 * the application stays RUNNING, re-initialises its tasks from their last commit, and its outputs
 * are exactly those of a fault-free run; a failure that outlasts taskTimeoutMs ends in ERROR with
 * TaskTimeoutFailure; a non-retriable one stops it at once, as before.
 */
import test from 'ava';
import {
  CommitFailure, Deduplicator, Serdes, StreamsApp, StreamsBuilder, TaskTimeoutFailure, isRetriable,
  type KeyValueStore, type ProcessingGuarantee, type Serde, type StreamsState,
} from '../../processors/engine/index.ts';
import { MemoryBroker, MemoryTransport, type ConsumedRecord, type Transport } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';
import { Faults, faultyTransport } from './faulty-transport.ts';
import { rabbitLike } from './rabbit-like.ts';

type Variant = 'transactions' | 'effectively-once' | 'at_least_once';

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];
const PER_WAVE = 20;

function topology() {
  const b = new StreamsBuilder();
  b.stream<string, number>('in').groupByKey().count({ storeName: 'n' }).toStream().to('out', { valueSerde: Serdes.long() as Serde<number | null> });
  return b.build();
}

interface Harness {
  readonly app: StreamsApp;
  readonly faults: Faults;
  readonly logs: string[];
  /** Every state the app was seen in, sampled every few ms. */
  readonly states: Set<StreamsState>;
  /** Outputs as read (with re-sent copies, if any) and after dropping copies by origin. */
  readonly raw: ConsumedRecord[];
  readonly kept: ConsumedRecord[];
  wave(n: number): Promise<void>;
  /** Waits until every key's count reached `perKey`. */
  outputsUpTo(perKey: number): Promise<void>;
  countsPerKey(): Record<string, number[]>;
  storeState(): Record<string, number>;
}

async function harness(t: import('ava').ExecutionContext, variant: Variant, config: { taskTimeoutMs?: number } = {}): Promise<Harness> {
  const broker = new MemoryBroker();
  const base: Transport = variant === 'effectively-once' ? rabbitLike(broker) : new MemoryTransport({ broker });
  const faults = new Faults();
  const transport = faultyTransport(base, faults);
  await base.admin().createTopics([{ name: 'in', partitions: 2, kind: 'replayable' }, { name: 'out', partitions: 2, kind: 'replayable' }]);
  const guarantee: ProcessingGuarantee = variant === 'at_least_once' ? 'at_least_once' : 'exactly_once';
  const logs: string[] = [];
  const app = new StreamsApp(topology(), {
    applicationId: 'rf', transport, guarantee, commitIntervalMs: 20, retryBackoffMs: 5, retryBackoffMaxMs: 40,
    logger: (l) => logs.push(l), ...config,
  });
  await app.start();
  const states = new Set<StreamsState>([app.state]);
  const sampler = setInterval(() => states.add(app.state), 2);
  t.teardown(async () => { clearInterval(sampler); await app.close(); });

  const producer = base.producer();
  await producer.connect();
  let sent = 0;
  const raw: ConsumedRecord[] = [];
  const kept: ConsumedRecord[] = [];
  const dedup = new Deduplicator();
  const reader = base.consumer({ groupId: 'reader', topics: ['out'] });
  await reader.connect();
  await reader.run(async (batch) => {
    for (const r of batch.records) { raw.push(r); if (dedup.admit(r)) kept.push(r); }
  });
  t.teardown(() => reader.disconnect());
  const countsPerKey = () => {
    const out: Record<string, number[]> = {};
    for (const r of kept) (out[JSON.parse(r.key!.toString()) as string] ??= []).push(Serdes.long().decode(r.value!));
    return out;
  };
  return {
    app, faults, logs, states, raw, kept, countsPerKey,
    async wave(n) {
      const records = Array.from({ length: n }, (_, i) => ({ topic: 'in', key: Buffer.from(JSON.stringify(KEYS[(sent + i) % KEYS.length])), value: Buffer.from('1') }));
      sent += n;
      await producer.send(records);
    },
    async outputsUpTo(perKey) {
      await waitUntil(() => KEYS.every((k) => countsPerKey()[k]?.at(-1) === perKey), `every key counted to ${perKey}`, 20_000);
    },
    storeState() {
      const out: Record<string, number> = {};
      for (const s of app.stores<KeyValueStore<string, number>>('n')) for (const { key, value } of s.all()) out[key] = value;
      return out;
    },
  };
}

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const expectedCounts = (n: number) => Object.fromEntries(KEYS.map((k) => [k, oneToN(n)]));

interface Case {
  readonly variant: Variant;
  readonly title: string;
  readonly inject: (faults: Faults) => void | Promise<void>;
  /** The fault ends by itself (N calls) or is healed after this many ms. */
  readonly healAfterMs?: number;
}

const cases: Case[] = [
  { variant: 'transactions', title: 'three failed transactions', inject: (f) => f.failNext('sendTransaction', 3) },
  { variant: 'transactions', title: 'the broker away for 300 ms', inject: (f) => f.outage(), healAfterMs: 300 },
  { variant: 'effectively-once', title: 'the checkpoint fails after the outputs were written, twice', inject: (f) => f.failNext('send', 2, { skip: 1 }) },
  { variant: 'effectively-once', title: 'the positions commit fails after the checkpoint, twice', inject: (f) => f.failNext('commit', 2) },
  { variant: 'effectively-once', title: 'the broker away for 300 ms', inject: (f) => f.outage(), healAfterMs: 300 },
  { variant: 'at_least_once', title: 'three failed sends', inject: (f) => f.failNext('send', 3) },
  { variant: 'at_least_once', title: 'the broker away for 300 ms', inject: (f) => f.outage(), healAfterMs: 300 },
];

for (const c of cases) {
  test(`${c.variant}: ${c.title} — stays RUNNING, outputs and state as without faults`, async (t) => {
    const h = await harness(t, c.variant);
    await h.wave(PER_WAVE);
    await h.outputsUpTo(PER_WAVE / KEYS.length);
    await c.inject(h.faults);
    await h.wave(PER_WAVE);
    if (c.healAfterMs !== undefined) {
      await new Promise((r) => setTimeout(r, c.healAfterMs));
      t.is(h.app.state, 'RUNNING', 'running while the broker is away');
      h.faults.heal();
    }
    await h.outputsUpTo((2 * PER_WAVE) / KEYS.length);
    await h.wave(PER_WAVE); // and it goes on after the fault
    await h.outputsUpTo((3 * PER_WAVE) / KEYS.length);
    t.true(h.faults.injected > 0, 'faults were injected');
    t.true(h.logs.some((l) => l.includes('re-initialising tasks')), 'the tasks were re-initialised');
    t.deepEqual([...h.states], ['RUNNING'], 'never left RUNNING');
    t.deepEqual(h.countsPerKey(), expectedCounts((3 * PER_WAVE) / KEYS.length), 'each count once, none missing');
    if (c.variant !== 'effectively-once') t.is(h.raw.length, 3 * PER_WAVE, 'not even a copy was written');
    await waitUntil(() => Object.keys(h.storeState()).length === KEYS.length, 'the store restored');
    t.deepEqual(h.storeState(), Object.fromEntries(KEYS.map((k) => [k, (3 * PER_WAVE) / KEYS.length])), 'the store counted each input once');
  });
}

test('a failure that outlasts taskTimeoutMs ends in ERROR with TaskTimeoutFailure and the cause', async (t) => {
  const h = await harness(t, 'transactions', { taskTimeoutMs: 400 });
  await h.wave(PER_WAVE);
  await h.outputsUpTo(PER_WAVE / KEYS.length);
  h.faults.outage();
  const started = Date.now();
  await h.wave(PER_WAVE);
  const err = await t.throwsAsync(h.app.stopped());
  const took = Date.now() - started;
  t.true(err instanceof TaskTimeoutFailure, err?.message);
  t.is(h.app.state, 'ERROR');
  t.regex(err!.message, /no progress for \d+ ms \(taskTimeoutMs 400\).*ECONNREFUSED/);
  t.true(isRetriable(err!.cause), 'the cause was retriable');
  t.false(isRetriable(err), 'the timeout itself is not');
  t.true(took >= 400 && took < 3000, `stopped after ${took} ms`);
  t.true(h.logs.filter((l) => l.includes('re-initialising tasks')).length >= 2, 'retried more than once');
});

test('a non-retriable failure still stops the application at once', async (t) => {
  const h = await harness(t, 'transactions');
  await h.wave(PER_WAVE);
  await h.outputsUpTo(PER_WAVE / KEYS.length);
  const before = h.faults.calls.get('sendTransaction') ?? 0;
  h.faults.failNext('sendTransaction', 1, { error: () => new Error('disk on fire') });
  await h.wave(PER_WAVE);
  const err = await t.throwsAsync(h.app.stopped());
  t.true(err instanceof CommitFailure, err?.message);
  t.regex(err!.message, /disk on fire/);
  t.is(h.app.state, 'ERROR');
  t.false(h.logs.some((l) => l.includes('re-initialising tasks')), 'no retry');
  t.is(h.faults.calls.get('sendTransaction'), before + 1, 'no transaction after the failed one');
});

test('taskTimeoutMs 0: the first retriable failure is fatal', async (t) => {
  const h = await harness(t, 'at_least_once', { taskTimeoutMs: 0 });
  await h.wave(PER_WAVE);
  await h.outputsUpTo(PER_WAVE / KEYS.length);
  h.faults.failNext('send', 1);
  await h.wave(PER_WAVE);
  const err = await t.throwsAsync(h.app.stopped());
  t.true(err instanceof CommitFailure && err.retriable, err?.message);
  t.false(h.logs.some((l) => l.includes('re-initialising tasks')));
});

test('a commit on revocation that fails retriably: the tasks kept start again from their last commit, nothing lost or doubled', async (t) => {
  const broker = new MemoryBroker();
  const memory = new MemoryTransport({ broker });
  await memory.admin().createTopics([{ name: 'in', partitions: 2, kind: 'replayable' }, { name: 'out', partitions: 2, kind: 'replayable' }]);
  const faults = new Faults();
  const logs: string[] = [];
  const config = { applicationId: 'rv', guarantee: 'exactly_once' as const, retryBackoffMs: 5, retryBackoffMaxMs: 40 };
  // A commits only when it must (revocation, close), so its work is uncommitted when B joins.
  const a = new StreamsApp(topology(), { ...config, transport: faultyTransport(memory, faults), instanceId: 'a', commitIntervalMs: 600_000, idleCommitMs: 0, logger: (l) => logs.push(l) });
  const b = new StreamsApp(topology(), { ...config, transport: memory, instanceId: 'b', commitIntervalMs: 20, logger: () => {} });
  t.teardown(async () => { await a.close(); await b.close(); });
  await a.start();
  const producer = memory.producer();
  await producer.connect();
  await producer.send(Array.from({ length: PER_WAVE }, (_, i) => ({ topic: 'in', key: Buffer.from(JSON.stringify(KEYS[i % KEYS.length])), value: Buffer.from('1') })));
  await waitUntil(() => a.recordsProcessed() >= PER_WAVE, 'A processed everything, committed nothing');
  faults.failNext('sendTransaction', 1);
  await b.start();
  await waitUntil(() => logs.some((l) => l.includes('commit on revocation failed')), 'the revocation commit failed');
  await waitUntil(() => a.state === 'RUNNING' && a.taskIds().length === 1 && !logs.at(-1)!.includes('re-initialising'), 'A re-initialised its remaining task');
  t.is(a.state, 'RUNNING');
  await a.close(); // its final commit hands over what it did since
  const raw: ConsumedRecord[] = [];
  const reader = memory.consumer({ groupId: 'reader', topics: ['out'] });
  await reader.connect();
  await reader.run(async (batch) => { raw.push(...batch.records); });
  t.teardown(() => reader.disconnect());
  const counts = () => {
    const out: Record<string, number[]> = {};
    for (const r of raw) (out[JSON.parse(r.key!.toString()) as string] ??= []).push(Serdes.long().decode(r.value!));
    return out;
  };
  await waitUntil(() => KEYS.every((k) => counts()[k]?.at(-1) === PER_WAVE / KEYS.length), 'every key counted to the end');
  t.deepEqual(counts(), expectedCounts(PER_WAVE / KEYS.length));
  t.is(raw.length, PER_WAVE);
});
