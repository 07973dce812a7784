/**
 * A global store's topic meets the application's error policies as task input does: an
 * undecodable record is dead-lettered with the reason (or fails the application under `fail`),
 * and a failure that may pass costs no update. On the memory transport: this is the engine's
 * behaviour, not a broker's.
 */
import test from 'ava';
import { DeadLetterHeaders, Serdes, StreamsApp, StreamsBuilder, type Serde } from '../../processors/engine/index.ts';
import { MemoryTransport, type ConsumedRecord } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';

/** Strings, except `bad` (undecodable) and, while `unavailable` > 0, any value: a registry away. */
function flakyStrings(state: { unavailable: number }): Serde<string> {
  const plain = Serdes.string();
  return {
    serialize: (topic, v) => plain.serialize(topic, v),
    deserialize: (topic, bytes) => {
      if (state.unavailable > 0) {
        state.unavailable--;
        throw Object.assign(new Error('registry unreachable'), { retriable: true });
      }
      const v = plain.deserialize(topic, bytes) as string;
      if (v === 'bad') throw new Error('not a user record');
      return v;
    },
  };
}

async function setUp(t: import('ava').ExecutionContext, deserialization: 'dead-letter' | 'fail', serdeState = { unavailable: 0 }) {
  const transport = new MemoryTransport();
  await transport.admin().createTopics([{ name: 'users', partitions: 1, kind: 'replayable' }, { name: 'orders', partitions: 1 }, { name: 'enriched', partitions: 1 }]);
  const b = new StreamsBuilder();
  const users = b.globalTable('users', { keySerde: Serdes.string(), valueSerde: flakyStrings(serdeState) });
  b.stream('orders', { keySerde: Serdes.string(), valueSerde: Serdes.string() })
    .leftJoinGlobal(users, (_k, userId) => userId, (order, user) => `${order}:${user ?? 'unknown'}`)
    .to('enriched', { keySerde: Serdes.string(), valueSerde: Serdes.string() });
  const logs: string[] = [];
  const app = new StreamsApp(b.build(), {
    applicationId: 'global-errors', transport, errors: { deserialization }, logger: (l) => logs.push(l), retryBackoffMs: 20, retryBackoffMaxMs: 50,
  });
  const producer = transport.producer();
  await producer.connect();
  const got = new Map<string, ConsumedRecord[]>();
  const reader = transport.consumer({ groupId: 'reader', topics: ['enriched', 'global-errors-dlq'] });
  t.teardown(async () => { await reader.disconnect(); await app.close(); await producer.disconnect(); });
  const put = (topic: string, key: string, value: string) => producer.send([{ topic, key: Buffer.from(key), value: Buffer.from(value) }]);
  const read = async () => {
    await reader.connect();
    await reader.run(async (batch) => { got.set(batch.topic, [...(got.get(batch.topic) ?? []), ...batch.records]); });
  };
  return { app, put, read, got, logs };
}

test('an undecodable record of a global table goes to the dead-letter topic with the reason; the records after it are applied', async (t) => {
  const { app, put, read, got } = await setUp(t, 'dead-letter');
  await put('users', 'u1', 'Ana');
  await put('users', 'u2', 'bad');
  await put('users', 'u3', 'Bo');
  await app.start();
  await put('orders', 'o1', 'u1');
  await put('orders', 'o3', 'u3');
  await read();
  await waitUntil(() => (got.get('enriched')?.length ?? 0) >= 2 && (got.get('global-errors-dlq')?.length ?? 0) >= 1, 'two outputs and a dead letter');
  t.deepEqual(got.get('enriched')!.map((r) => r.value!.toString()), ['u1:Ana', 'u3:Bo']);
  const [dead] = got.get('global-errors-dlq')!;
  t.is(dead!.key!.toString(), 'u2');
  t.is(dead!.value!.toString(), 'bad', 'the original bytes');
  t.regex(dead!.headers[DeadLetterHeaders.reason]!.toString(), /not a user record/);
  t.is(dead!.headers[DeadLetterHeaders.stage]!.toString(), 'deserialization');
  t.is(dead!.headers[DeadLetterHeaders.topic]!.toString(), 'users');
  t.is(dead!.headers[DeadLetterHeaders.offset]!.toString(), '1');
  t.is(app.state, 'RUNNING');
});

test('under the fail policy an undecodable global record stops the application with the reason', async (t) => {
  const { app, put } = await setUp(t, 'fail');
  await put('users', 'u2', 'bad');
  const started = app.start().then(() => app.stopped());
  const err = await t.throwsAsync(started);
  t.regex(err!.message, /not a user record/);
  t.is(app.state, 'ERROR');
});

test('a global record that fails to decode for a while (registry away) is applied once it decodes: no update skipped', async (t) => {
  const serdeState = { unavailable: 0 };
  const { app, put, read, got, logs } = await setUp(t, 'dead-letter', serdeState);
  await app.start();
  serdeState.unavailable = 3;
  await put('users', 'u1', 'Ana');
  await waitUntil(() => serdeState.unavailable === 0 && app.state === 'RUNNING' && !logs.at(-1)?.includes('re-initialising'), 'the serde to come back');
  await put('orders', 'o1', 'u1');
  await read();
  await waitUntil(() => (got.get('enriched')?.length ?? 0) >= 1, 'the enriched order');
  t.deepEqual(got.get('enriched')!.map((r) => r.value!.toString()), ['u1:Ana'], 'the user was applied, not skipped');
  t.is(got.get('global-errors-dlq'), undefined, 'nothing dead-lettered');
  t.true(logs.some((l) => l.includes('re-initialising')), 'the application recovered in place');
});
