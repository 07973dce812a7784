/**
 * Local checkpoints of persistent (LMDB) stores, on the memory transport: a clean restart restores
 * only the changelog tail past the checkpoint, an unclean one wipes and restores in full, and
 * either way the store equals a full replay of its changelog.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBroker, MemoryTransport, type Producer } from '../../../transports/index.ts';
import { waitUntil } from '../../../test/conformance/suite.ts';
import { StreamsBuilder } from '../dsl/builder.ts';
import type { KeyValueStore } from '../stores/store.ts';
import type { ProcessingGuarantee } from './config.ts';
import { CHECKPOINT_FILE, readLocalCheckpoint } from './local-checkpoint.ts';
import { StreamsApp } from './streams.ts';

function topology() {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey().count({ storeName: 'n', persistent: true }).toStream().to('out');
  return b.build();
}

interface Harness {
  readonly transport: MemoryTransport;
  readonly dir: (name: string) => string;
  send(n: number, from: number): Promise<void>;
  app(instance: string, options?: { guarantee?: ProcessingGuarantee; taskTimeoutMs?: number }): Promise<StreamsApp>;
}

async function harness(t: import('ava').ExecutionContext, applicationId: string, guarantee: ProcessingGuarantee): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'local-checkpoint-'));
  const broker = new MemoryBroker();
  const transport = new MemoryTransport({ broker });
  await transport.admin().createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }]);
  const producer: Producer = transport.producer();
  await producer.connect();
  const running: StreamsApp[] = [];
  t.teardown(async () => {
    for (const a of running) await a.close().catch(() => undefined);
    await producer.disconnect();
    rmSync(root, { recursive: true, force: true });
  });
  return {
    transport,
    dir: (name) => join(root, name),
    send: async (n, from) => {
      await producer.send(Array.from({ length: n }, (_, i) => ({ topic: 'in', key: Buffer.from(JSON.stringify(`k${(from + i) % 3}`)), value: Buffer.from('"x"') })));
    },
    app: async (instance, options = {}) => {
      const app = new StreamsApp(topology(), {
        applicationId, transport, guarantee: options.guarantee ?? guarantee,
        instanceId: instance, stateDir: join(root, instance), commitIntervalMs: 10_000, logger: () => {}, taskTimeoutMs: options.taskTimeoutMs ?? 300_000,
      });
      running.push(app);
      await app.start();
      return app;
    },
  };
}

const restoredOf = (app: StreamsApp) => app.metrics.snapshot('0_0')?.restoredRecords ?? 0;
const contents = (app: StreamsApp) => app.stores<KeyValueStore<string, number>>('n')[0]!.all().map((kv) => [kv.key, kv.value]);
const checkpointOf = (dir: string) => join(dir, '0_0', CHECKPOINT_FILE);

async function waitRunning(app: StreamsApp): Promise<void> {
  await waitUntil(() => app.taskIds().length === 1, 'the task assigned');
}

for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  test(`${guarantee}: a clean restart restores only the changelog tail past the local checkpoint, and equals a full replay`, async (t) => {
    const h = await harness(t, `lc-clean-${guarantee}`, guarantee);
    const a = await h.app('a');
    await waitRunning(a);
    await h.send(6, 0);
    await waitUntil(() => a.recordsProcessed() === 6, 'six records');
    await a.close();
    t.true(existsSync(checkpointOf(h.dir('a'))), 'a clean close writes the checkpoint');

    // Another instance takes the task and writes more of the changelog meanwhile.
    const b = await h.app('b');
    await waitRunning(b);
    const written = restoredOf(b);
    await h.send(4, 6);
    await waitUntil(() => b.recordsProcessed() === 4, 'four more records');
    await b.close();

    const again = await h.app('a');
    await waitRunning(again);
    t.false(existsSync(checkpointOf(h.dir('a'))), 'deleted once the task runs: a crash now would leave none');
    const tail = restoredOf(again);
    const got = contents(again);
    await again.close();

    const fresh = await h.app('c');
    await waitRunning(fresh);
    const full = restoredOf(fresh);
    t.true(written > 0 && full > written, `full ${full}, first instance's ${written}`);
    t.is(tail, full - written, 'only what the other instance wrote is restored');
    t.deepEqual(got, contents(fresh), 'the same store as a full replay');
    t.deepEqual(got, [['k0', 4], ['k1', 3], ['k2', 3]]);
  });
}

test('exactly_once: an unclean shutdown leaves no checkpoint, and the restart wipes and restores in full', async (t) => {
  const h = await harness(t, 'lc-unclean', 'exactly_once');
  let broken = false;
  const makeProducer = h.transport.producer.bind(h.transport);
  h.transport.producer = () => {
    const p = makeProducer();
    const send = p.sendTransaction.bind(p);
    p.sendTransaction = (records, positions) => (broken ? Promise.reject(new Error('disk on fire')) : send(records, positions));
    return p;
  };
  const a = await h.app('a', { taskTimeoutMs: 0 });
  await waitRunning(a);
  await h.send(6, 0);
  await waitUntil(() => a.recordsProcessed() === 6, 'six records');
  await a.close();
  t.true(existsSync(checkpointOf(h.dir('a'))));

  const b = await h.app('a', { taskTimeoutMs: 0 });
  await waitRunning(b);
  t.is(restoredOf(b), 0, 'clean restart: nothing past the checkpoint');
  t.false(existsSync(checkpointOf(h.dir('a'))));
  await h.send(3, 6);
  await waitUntil(() => b.recordsProcessed() === 3, 'three records, in the store, not committed');
  broken = true;
  await b.stopped().catch(() => undefined);
  t.is(b.state, 'ERROR');
  t.false(existsSync(checkpointOf(h.dir('a'))), 'no checkpoint after an unclean shutdown');
  broken = false;

  const c = await h.app('a');
  await waitRunning(c);
  t.is(restoredOf(c), 6, 'restored in full: the six committed entries, not the store as the crash left it');
  await waitUntil(() => c.recordsProcessed() === 3, 'the uncommitted records processed again');
  t.deepEqual(contents(c), [['k0', 3], ['k1', 3], ['k2', 3]], 'each record counted once');
});

test('a checkpoint past the changelog end (another changelog) is ignored: restored in full', async (t) => {
  const h = await harness(t, 'lc-stale', 'at_least_once');
  const a = await h.app('a');
  await waitRunning(a);
  await h.send(6, 0);
  await waitUntil(() => a.recordsProcessed() === 6, 'six records');
  await a.close();
  const cp = readLocalCheckpoint(join(h.dir('a'), '0_0'))!.get('n')!;
  writeFileSync(checkpointOf(h.dir('a')), JSON.stringify({ version: 1, stores: { n: { ...cp, offset: cp.offset + 1000 } } }));
  const b = await h.app('a');
  await waitRunning(b);
  t.is(restoredOf(b), 6);
  t.deepEqual(contents(b), [['k0', 2], ['k1', 2], ['k2', 2]]);
});
