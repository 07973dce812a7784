/**
 * Crash and rebalance tests on a real broker: worker processes run the crash topology under
 * exactly_once while input flows; they are killed with SIGKILL and restarted, or a second worker
 * joins and leaves. Afterwards every input has exactly one join result, the counts per key run
 * 1..n without a repeat, and a fresh instance restores the store to the expected counts.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Deduplicator, Serdes, StreamsApp, type KeyValueStore } from '../../processors/engine/index.ts';
import type { Transport } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';
import { crashTopics, crashTopology, type CrashTopics } from './crash-topology.ts';

export interface CrashTarget {
  readonly name: string;
  make(): Transport;
  /** TRANSPORT and connection settings for the worker processes. */
  readonly env: Record<string, string>;
}

const workerPath = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
const KEYS = 10;
const RECORDS = 1200;

interface Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

async function startWorker(target: CrashTarget, id: string, appId: string, instanceId: string): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', workerPath], {
    env: { ...process.env, ...target.env, CRASH_ID: id, APP_ID: appId, INSTANCE_ID: instanceId, GUARANTEE: 'exactly_once' },
    stdio: ['ignore', 'pipe', process.env.ORDERSTREAM_WORKER_LOGS ? 'inherit' : 'ignore'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${instanceId} exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => { if (line === 'ready') resolve(); });
  });
  return { child, exited };
}

async function stop(w: Worker, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill(signal);
  await w.exited;
}

interface Harness {
  readonly topics: CrashTopics;
  readonly appId: string;
  readonly transport: Transport;
  produce(from: number, to: number): Promise<void>;
  readonly joined: Map<number, number>;
  readonly counts: Map<string, number[]>;
  rawDuplicates(): number;
}

async function harness(t: ExecutionContext, target: CrashTarget): Promise<Harness> {
  const id = randomUUID().slice(0, 8);
  const topics = crashTopics(id);
  const appId = `crash-app-${id}`;
  const transport = target.make();
  const admin = transport.admin();
  const names = Object.values(topics);
  await admin.createTopics(names.map((name) => ({ name, partitions: 2, kind: 'replayable' as const })));
  const producer = transport.producer();
  await producer.connect();
  await producer.send(Array.from({ length: KEYS }, (_, k) => ({ topic: topics.prices, key: json(`k${k}`), value: json(100 + k) })));
  const joined = new Map<number, number>();
  const counts = new Map<string, number[]>();
  const dedup = new Deduplicator();
  let received = 0;
  const reader = transport.consumer({ groupId: `${appId}-reader`, topics: [topics.counts, topics.joined] });
  await reader.connect();
  await reader.run(async (batch) => {
    for (const r of batch.records) {
      received++;
      // Under effectively-once (RabbitMQ), a re-sent copy after a crash carries the same origin.
      if (!dedup.admit(r)) continue;
      if (batch.topic === topics.joined) {
        const { seq } = JSON.parse(r.value!.toString()) as { seq: number };
        joined.set(seq, (joined.get(seq) ?? 0) + 1);
      } else {
        const key = JSON.parse(r.key!.toString()) as string;
        (counts.get(key) ?? counts.set(key, []).get(key)!).push(Serdes.long().decode(r.value!));
      }
    }
  });
  t.teardown(async () => {
    await reader.disconnect();
    await producer.disconnect();
    const internal = new StreamsApp(crashTopology(topics), { applicationId: appId, transport, guarantee: 'exactly_once' }).internalTopicNames();
    await admin.deleteGroups([appId, `${appId}-reader`]).catch(() => undefined);
    await admin.deleteTopics([...names, ...internal]).catch(() => undefined);
    await transport.close();
  });
  return {
    topics, appId, transport, joined, counts,
    rawDuplicates: () => received - (joined.size + [...counts.values()].reduce((n, v) => n + v.length, 0)),
    async produce(from, to) {
      for (let i = from; i < to; i += 40) {
        const end = Math.min(to, i + 40);
        await producer.send(Array.from({ length: end - i }, (_, j) => ({ topic: topics.input, key: json(`k${(i + j) % KEYS}`), value: json(i + j) })));
        await new Promise((r) => setTimeout(r, 40));
      }
    },
  };
}

async function checkExactlyOnce(t: ExecutionContext, target: CrashTarget, h: Harness, stopWorkers: () => Promise<void>): Promise<void> {
  await waitUntil(() => h.joined.size >= RECORDS && [...h.counts.values()].reduce((n, v) => n + v.length, 0) >= RECORDS,
    `all results (joined ${h.joined.size}, counts ${[...h.counts.values()].reduce((n, v) => n + v.length, 0)} of ${RECORDS})`, 120_000);
  await new Promise((r) => setTimeout(r, 1500));
  const missing = Array.from({ length: RECORDS }, (_, i) => i).filter((i) => !h.joined.has(i));
  t.deepEqual(missing, [], 'every input has a join result');
  t.deepEqual([...h.joined].filter(([, n]) => n > 1), [], 'no input has two join results');
  for (let k = 0; k < KEYS; k++) {
    const expected = Array.from({ length: RECORDS / KEYS }, (_, i) => i + 1);
    t.deepEqual(h.counts.get(`k${k}`), expected, `counts of k${k} run 1..n once`);
  }
  t.log(`${target.name}: ${h.rawDuplicates()} re-sent copies dropped by origin`);
  await stopWorkers();
  // A fresh instance restores the store from the changelog alone.
  const app = new StreamsApp(crashTopology(h.topics), { applicationId: h.appId, instanceId: 'verifier', transport: h.transport, guarantee: 'exactly_once', logger: () => {} });
  await app.start();
  try {
    await waitUntil(() => app.taskIds().length === 2, 'the verifier to own both tasks', 60_000);
    const restored = new Map<string, number>();
    for (const s of app.stores<KeyValueStore<string, number>>('counts')) for (const { key, value } of s.all()) restored.set(key, value);
    t.deepEqual(Object.fromEntries([...restored].sort()), Object.fromEntries(Array.from({ length: KEYS }, (_, k) => [`k${k}`, RECORDS / KEYS])), 'restored counts');
  } finally {
    await app.close();
  }
}

export function crashSuite(target: CrashTarget): void {
  test.serial(`${target.name}: SIGKILLed workers lose nothing and duplicate nothing (exactly_once)`, async (t) => {
    const h = await harness(t, target);
    let worker = await startWorker(target, h.topics.input.slice(-8), h.appId, 'w1');
    t.teardown(() => stop(worker, 'SIGKILL'));
    const producing = h.produce(0, RECORDS);
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((r) => setTimeout(r, 1500 + kill * 500));
      await stop(worker, 'SIGKILL');
      worker = await startWorker(target, h.topics.input.slice(-8), h.appId, 'w1');
    }
    await producing;
    await checkExactlyOnce(t, target, h, () => stop(worker, 'SIGTERM'));
  });

  test.serial(`${target.name}: a second worker joins and leaves mid-stream; results stay exact`, async (t) => {
    const h = await harness(t, target);
    const w1 = await startWorker(target, h.topics.input.slice(-8), h.appId, 'w1');
    t.teardown(() => stop(w1, 'SIGKILL'));
    await h.produce(0, RECORDS / 3);
    const w2 = await startWorker(target, h.topics.input.slice(-8), h.appId, 'w2');
    await h.produce(RECORDS / 3, (2 * RECORDS) / 3);
    await stop(w2, 'SIGTERM');
    await h.produce((2 * RECORDS) / 3, RECORDS);
    await checkExactlyOnce(t, target, h, () => stop(w1, 'SIGTERM'));
  });
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}
