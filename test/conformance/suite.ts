/**
 * One conformance suite for every transport. Each file under test/conformance/ registers it
 * for one transport against the real broker (or, for memory, in process). A transport that
 * lacks a capability must fail with a clear, typed error: such cases assert that error.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import {
  BrokerUnreachableError, HandlerError, NotAssignedError, RecordTooLargeError, TopicConflictError, UnsupportedCapabilityError,
  partitionForKey, type ConsumedRecord, type Consumer, type ConsumerOptions, type TopicKind, type Transport,
} from '../../transports/index.ts';

export interface CrashableConsumer {
  /** Records the consumer has handled so far (and committed, if it commits). */
  seen(): readonly SeenRecord[];
  /** Kills it as a crash would: no commit, no leave, no callback. */
  kill(): Promise<void>;
}

export interface SeenRecord {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface ConformanceTarget {
  readonly name: string;
  /** A transport connected to the real broker. */
  make(): Transport;
  /** A transport pointed at an address where nothing listens. */
  makeUnreachable(): Transport;
  /** A consumer of `topic` in `groupId`, committing after each batch if `commit`, killable. */
  crashable(spec: { topic: string; groupId: string; commit: boolean }): Promise<CrashableConsumer>;
}

const WAIT_MS = 60_000;

export function conformance(target: ConformanceTarget): void {
  const title = (s: string) => `${target.name}: ${s}`;

  test.serial(title('admin creates topics idempotently and refuses a conflicting shape'), async (t) => {
    const { transport, topic } = await setup(t, target, 3);
    await transport.admin().createTopics([{ name: topic, partitions: 3 }]);
    const d = await transport.admin().describeTopic(topic);
    t.is(d?.partitions, 3);
    const err = await t.throwsAsync(transport.admin().createTopics([{ name: topic, partitions: 5 }]));
    t.true(err instanceof TopicConflictError, String(err));
    t.is(await transport.admin().describeTopic(`${topic}-absent`), undefined);
  });

  test.serial(title('admin lists the topics of a prefix, and only topics'), async (t) => {
    const { transport, topic } = await setup(t, target, 1, 'replayable');
    const others = [`${topic}.b`, `${topic}.a`];
    await transport.admin().createTopics(others.map((name) => ({ name, partitions: 2, kind: 'replayable' as const })));
    t.teardown(() => transport.admin().deleteTopics(others));
    t.deepEqual(await transport.admin().listTopics(`${topic}.`), [`${topic}.a`, `${topic}.b`]);
    t.deepEqual(await transport.admin().listTopics(topic), [topic, `${topic}.a`, `${topic}.b`]);
    await transport.admin().deleteTopics([`${topic}.a`]);
    t.deepEqual(await transport.admin().listTopics(`${topic}.`), [`${topic}.b`]);
  });

  test.serial(title('a topic created again with other retention hints keeps its partitions and records'), async (t) => {
    const { transport, topic } = await setup(t, target, 2, 'replayable');
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    await producer.send([{ ...rec(topic, 'k', 'v'), partition: 1 }]);
    // RabbitMQ refuses to declare a queue again with other arguments: an existing topic is left as it is.
    await transport.admin().createTopics([{ name: topic, partitions: 2, kind: 'replayable', retentionBytes: 1024 * 1024, segmentBytes: 128 * 1024 }]);
    t.is((await transport.admin().describeTopic(topic))?.partitions, 2);
    const p2 = transport.producer();
    await p2.connect();
    t.teardown(() => p2.disconnect());
    await p2.send([{ ...rec(topic, 'k', 'w'), partition: 1 }]);
  });

  test.serial(title('records of one key arrive in the order they were produced'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 4);
    const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
    const perKey = 200;
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    for (let i = 0; i < perKey; i += 50) {
      const batch = keys.flatMap((k) => Array.from({ length: 50 }, (_, j) => rec(topic, k, `${k}:${i + j}`)));
      await producer.send(batch);
    }
    const got = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= keys.length * perKey);
    for (const k of keys) {
      const seq = got.filter((r) => r.key?.toString() === k).map((r) => Number(r.value!.toString().split(':')[1]));
      t.deepEqual(seq, Array.from({ length: perKey }, (_, i) => i), `order of key ${k}`);
    }
  });

  test.serial(title('a key lands in the partition Kafka\'s murmur2 gives it'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 6);
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const keys = Array.from({ length: 60 }, (_, i) => `order-${i}-${randomUUID()}`);
    const meta = await producer.send(keys.map((k) => rec(topic, k, k)));
    meta.forEach((m, i) => t.is(m.partition, partitionForKey(Buffer.from(keys[i]!), 6)));
    const got = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= keys.length);
    for (const r of got) t.is(r.partition, partitionForKey(r.key!, 6), `key ${r.key?.toString()}`);
    // The fixed vector: the same key, the same partition number, on every transport.
    t.is(partitionForKey(Buffer.from('order-42'), 6), (await sendOne(transport, topic, 'order-42')).partition);
  });

  test.serial(title('a consumer killed without committing has its records redelivered'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 2);
    await produceNumbered(transport, topic, 400);
    const victim = await target.crashable({ topic, groupId: group, commit: false });
    await waitUntil(() => victim.seen().length >= 50, 'the victim to handle 50 records');
    await victim.kill();
    const seenByVictim = victim.seen().length;
    t.true(seenByVictim >= 50);
    const got = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= 400);
    t.deepEqual(sortedValues(got), range(400), 'every record, including those the victim handled, is delivered again');
  });

  test.serial(title('a committed position survives a crash and a restart'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 2);
    await produceNumbered(transport, topic, 600);
    const victim = await target.crashable({ topic, groupId: group, commit: true });
    await waitUntil(() => victim.seen().length >= 200, 'the victim to handle and commit 200 records');
    await victim.kill();
    // A fresh transport: nothing survives in this process's memory but what the broker keeps.
    const fresh = target.name === 'memory' ? transport : target.make();
    if (fresh !== transport) t.teardown(() => fresh.close());
    const got = await consumeUntil(t, fresh, { groupId: group, topics: [topic] }, (all, c) =>
      unionValues(victim.seen(), all).length >= 600 && c.assignment().length === 2);
    t.deepEqual(unionValues(victim.seen(), got), range(600), 'nothing is lost');
    t.true(got.length < 600, `the restarted consumer resumed after the committed position (read ${got.length} of 600)`);
    // Graceful variant: commit, leave, come back.
    const c = fresh.consumer({ groupId: group, topics: [topic] });
    await c.connect();
    const committed = await c.committed([{ topic, partition: 0 }, { topic, partition: 1 }]);
    t.true(committed.every((o) => o !== undefined && o > 0), `committed positions ${JSON.stringify(committed)}`);
    await c.disconnect();
  });

  test.serial(title('two consumers of one group split the partitions; one takes over when the other leaves'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 4);
    const events: string[] = [];
    const a = transport.consumer({ groupId: group, topics: [topic], onAssign: (p) => { events.push(`a+${p.length}`); }, onRevoke: (p) => { events.push(`a-${p.length}`); } });
    const b = transport.consumer({ groupId: group, topics: [topic], onAssign: (p) => { events.push(`b+${p.length}`); }, onRevoke: (p) => { events.push(`b-${p.length}`); } });
    const seenA = new Set<string>();
    const seenB = new Set<string>();
    await a.connect();
    await a.run(async (batch) => { for (const r of batch.records) seenA.add(r.value!.toString()); });
    t.teardown(() => a.disconnect());
    await waitUntil(() => a.assignment().length === 4, 'a to own all four partitions');
    await b.connect();
    await b.run(async (batch) => { for (const r of batch.records) seenB.add(r.value!.toString()); });
    let bLeft = false;
    t.teardown(() => (bLeft ? undefined : b.disconnect()));
    await waitUntil(() => a.assignment().length === 2 && b.assignment().length === 2, 'a and b to own two partitions each');
    const owned = [...a.assignment(), ...b.assignment()].map((tp) => tp.partition).sort();
    t.deepEqual(owned, [0, 1, 2, 3], 'the split covers every partition once');
    await produceNumbered(transport, topic, 200);
    await waitUntil(() => seenA.size + seenB.size >= 200, 'both to handle all 200 records');
    t.true(seenA.size > 0 && seenB.size > 0, `both consumed (a=${seenA.size}, b=${seenB.size})`);
    await b.disconnect();
    bLeft = true;
    await waitUntil(() => a.assignment().length === 4, 'a to take over all four partitions');
    await produceNumbered(transport, topic, 100, 200);
    await waitUntil(() => [...range(100, 200)].every((v) => seenA.has(String(v))), 'a to handle records of every partition');
    t.true(events.includes('b+2') && events.some((e) => e.startsWith('b-')), `callbacks: ${events.join(' ')}`);
  });

  test.serial(title('partition p of every topic goes to one member (co-partitioned assignment)'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 4);
    const other = `${topic}-b`;
    await transport.admin().createTopics([{ name: other, partitions: 4 }]);
    t.teardown(() => transport.admin().deleteTopics([other]));
    const members = ['a', 'b'].map(() => transport.consumer({ groupId: group, topics: [topic, other] }));
    for (const m of members) {
      await m.connect();
      await m.run(async () => {});
      t.teardown(() => m.disconnect());
    }
    await waitUntil(() => members.every((m) => m.assignment().length === 4), 'both members to own four partitions');
    for (const m of members) {
      const of = (name: string) => m.assignment().filter((tp) => tp.topic === name).map((tp) => tp.partition).sort();
      t.deepEqual(of(topic), of(other), 'the same partition numbers of both topics');
      t.is(of(topic).length, 2);
    }
  });

  test.serial(title('sendTransaction writes records and moves positions together, or says it cannot'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 2);
    const producer = transport.producer({ transactionalId: `tx-${group}` });
    await producer.connect();
    t.teardown(() => producer.disconnect());
    if (!transport.capabilities.transactions) {
      const err = await t.throwsAsync(producer.sendTransaction([rec(topic, 'k', 'v')]));
      t.true(err instanceof UnsupportedCapabilityError, String(err));
      t.regex(err!.message, /effectively-once/);
      return;
    }
    // The group must exist with a member for positions to be committed into it.
    const c = transport.consumer({ groupId: group, topics: [topic] });
    await c.connect();
    await c.run(async () => {});
    t.teardown(() => c.disconnect());
    await waitUntil(() => c.assignment().length === 2, 'the consumer to own both partitions');
    await producer.sendTransaction([rec(topic, 'k1', 'one'), rec(topic, 'k2', 'two')], { groupId: group, offsets: [{ topic, partition: 0, offset: 7 }] });
    // Kafka applies transactional offsets when the commit marker is written, a moment after commit returns.
    let p0: number | undefined;
    const deadline = Date.now() + 15_000;
    while ((p0 = (await c.committed([{ topic, partition: 0 }]))[0]) !== 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    t.is(p0, 7, 'the position moved with the records');
    const readBack = await consumeUntil(t, transport, { groupId: `${group}-reader`, topics: [topic] }, (all) => all.length >= 2);
    t.deepEqual(readBack.map((r) => r.value!.toString()).sort(), ['one', 'two']);
    await transport.admin().deleteGroups([`${group}-reader`]).catch(() => undefined);
  });

  test.serial(title('megabytes for one partition in one send arrive whole and in order, in a transaction too'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 2);
    const producer = transport.producer(transport.capabilities.transactions ? { transactionalId: `tx-${group}` } : {});
    await producer.connect();
    t.teardown(() => producer.disconnect());
    // 4 MB for one key's partition: four times Kafka's default max.message.bytes.
    const filler = Buffer.alloc(10_000, 0x62);
    const batch = (from: number) => Array.from({ length: 400 }, (_, i) => ({ topic, key: Buffer.from('one-key'), value: Buffer.concat([Buffer.from(`${from + i}:`), filler]) }));
    const meta = await producer.send(batch(0));
    if (meta[0]!.offset !== undefined) t.deepEqual(meta.map((m) => m.offset! - meta[0]!.offset!), range(400), 'consecutive offsets, in send order');
    let expected = 400;
    if (transport.capabilities.transactions) {
      await producer.sendTransaction(batch(400));
      expected = 800;
    }
    const got = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= expected);
    t.deepEqual(got.map((r) => Number(r.value!.toString().split(':')[0])), range(expected));
    t.true(got.every((r) => r.value!.length > 10_000));
  });

  test.serial(title('a record over maxRecordBytes is refused with a typed error before anything of its send is written'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 1);
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const limit = await producer.maxRecordBytes(topic);
    t.true(limit >= 64 * 1024, `limit ${limit}`);
    const big = { topic, key: Buffer.from('big'), value: Buffer.alloc(limit + 1) };
    t.true(producer.recordSize(big) > limit);
    t.true(producer.recordSize(rec(topic, 'k', 'v')) <= limit);
    const err = await t.throwsAsync(producer.send([rec(topic, 'k', 'before'), big, rec(topic, 'k', 'after')]));
    t.true(err instanceof RecordTooLargeError, String(err));
    const tooLarge = err as RecordTooLargeError;
    t.false(tooLarge.retriable);
    t.is(tooLarge.limit, limit);
    t.is(tooLarge.topic, topic);
    await producer.send([rec(topic, 'k', 'marker')]);
    const got = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= 1);
    t.deepEqual(got.map((r) => r.value!.toString()), ['marker'], 'nothing of the refused send');
  });

  for (const kind of ['replayable', 'work'] as TopicKind[]) {
    test.serial(title(`replay from an offset on a ${kind} topic`), async (t) => {
      const { transport, topic, group } = await setup(t, target, 1, kind);
      await produceNumbered(transport, topic, 50);
      const replays = target.name !== 'rabbit' || kind === 'replayable';
      const seen: ConsumedRecord[] = [];
      let seekError: unknown;
      let sought = false;
      const c = transport.consumer({ groupId: group, topics: [topic] });
      await c.connect();
      await c.run(async (batch) => {
        seen.push(...batch.records);
        if (!sought && seen.length >= 50) {
          sought = true;
          await c.seek({ topic, partition: 0, offset: 10 }).catch((e: unknown) => { seekError = e; });
        }
      });
      t.teardown(() => c.disconnect());
      if (replays) {
        await waitUntil(() => seen.length >= 90, 'the replay of offsets 10..49');
        t.deepEqual(seen.slice(50).map((r) => r.offset), range(10, 50), 'replayed offsets');
        t.deepEqual(seen.slice(50).map((r) => Number(r.value!.toString())), range(10, 50), 'replayed values');
        t.is(seekError, undefined);
      } else {
        await waitUntil(() => sought, 'the first pass');
        t.true(seekError instanceof UnsupportedCapabilityError, `seek on a work topic: ${String(seekError)}`);
        t.regex(String((seekError as Error).message), /replayable/, 'the error names the way out');
      }
      t.deepEqual(seen.slice(0, 50).map((r) => r.offset), range(50), 'first pass offsets');
      const notMine = await c.seek({ topic: `${topic}-other`, partition: 0, offset: 0 }).catch((e: unknown) => e);
      t.true(notMine instanceof NotAssignedError || notMine instanceof UnsupportedCapabilityError, String(notMine));
    });
  }

  test.serial(title('pause holds a partition back; resume releases it'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 2);
    const seen: ConsumedRecord[] = [];
    const c = transport.consumer({ groupId: group, topics: [topic] });
    await c.connect();
    await c.run(async (batch) => { seen.push(...batch.records); });
    t.teardown(() => c.disconnect());
    await waitUntil(() => c.assignment().length === 2, 'assignment');
    c.pause([{ topic, partition: 0 }]);
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    await producer.send([...range(20)].map((i) => ({ topic, partition: i % 2, key: null, value: Buffer.from(String(i)) })));
    await waitUntil(() => seen.filter((r) => r.partition === 1).length === 10, 'partition 1 to be delivered');
    t.is(seen.filter((r) => r.partition === 0).length, 0, 'paused partition 0 delivered nothing');
    c.resume([{ topic, partition: 0 }]);
    await waitUntil(() => seen.filter((r) => r.partition === 0).length === 10, 'partition 0 after resume');
  });

  test.serial(title('100,000 records in one run arrive complete'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 4);
    const total = 100_000;
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const seen = new Uint8Array(total);
    let count = 0;
    let duplicates = 0;
    const c = transport.consumer({ groupId: group, topics: [topic], maxBatchSize: 1000 });
    await c.connect();
    await c.run(async (batch) => {
      for (const r of batch.records) {
        const i = r.value!.readUInt32BE(0);
        if (seen[i]) duplicates++;
        else { seen[i] = 1; count++; }
      }
      const last = batch.records[batch.records.length - 1]!;
      await c.commit([{ topic, partition: batch.partition, offset: last.offset + 1 }]);
    });
    t.teardown(() => c.disconnect());
    const chunk = 2000;
    for (let i = 0; i < total; i += chunk) {
      await producer.send(Array.from({ length: chunk }, (_, j) => {
        const v = Buffer.alloc(4);
        v.writeUInt32BE(i + j);
        return { topic, key: Buffer.from(`k${(i + j) % 1000}`), value: v };
      }));
    }
    await waitUntil(() => count >= total, `all ${total} records (have ${count})`, 240_000);
    t.is(count, total);
    t.is(duplicates, 0, 'no record delivered twice without a failure');
  });

  test.serial(title('headers, null keys and null values round-trip'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 1);
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    await producer.send([
      { topic, key: null, value: Buffer.from('no key'), headers: { 'x-text': 'héllo', 'x-bin': binary } },
      { topic, key: Buffer.from('tombstone'), value: null },
      { topic, key: Buffer.from('empty'), value: Buffer.alloc(0), headers: { 'x-empty': Buffer.alloc(0) } },
      { topic, key: Buffer.from('ts'), value: Buffer.from('t'), timestamp: 1_700_000_000_123 },
    ]);
    const got = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= 4);
    const [a, b, c, d] = got;
    t.is(a!.key, null);
    t.is(a!.value!.toString(), 'no key');
    t.is(a!.headers['x-text']!.toString('utf8'), 'héllo');
    t.deepEqual(a!.headers['x-bin'], binary);
    t.is(b!.key!.toString(), 'tombstone');
    t.is(b!.value, null, 'a null value stays null (a tombstone), not an empty buffer');
    t.deepEqual(c!.value, Buffer.alloc(0), 'an empty value stays empty, not null');
    t.deepEqual(c!.headers['x-empty'], Buffer.alloc(0));
    t.is(d!.timestamp, 1_700_000_000_123, 'the producer\'s timestamp is kept');
  });

  test.serial(title('a handler error stops the consumer with the record\'s context, uncommitted'), async (t) => {
    const { transport, topic, group } = await setup(t, target, 1);
    await produceNumbered(transport, topic, 5);
    const c = transport.consumer({ groupId: group, topics: [topic] });
    await c.connect();
    await c.run(async () => { throw new Error('boom'); });
    const err = await t.throwsAsync(c.stopped());
    t.true(err instanceof HandlerError, String(err));
    t.is((err as HandlerError).topic, topic);
    t.is((err as HandlerError).partition, 0);
    t.is((err as HandlerError).offset, 0);
    const again = await consumeUntil(t, transport, { groupId: group, topics: [topic] }, (all) => all.length >= 5);
    t.deepEqual(sortedValues(again), range(5), 'the failed batch is delivered again');
  });

  test.serial(title('an unreachable broker gives a typed error within a bounded time'), async (t) => {
    const transport = target.makeUnreachable();
    t.teardown(() => transport.close());
    const started = Date.now();
    const producer = transport.producer();
    const err = await t.throwsAsync(producer.connect());
    t.true(err instanceof BrokerUnreachableError, `${err?.name}: ${err?.message}`);
    t.true((err as BrokerUnreachableError).retriable);
    const consumer = transport.consumer({ groupId: 'unreachable', topics: ['nowhere'] });
    const err2 = await t.throwsAsync(consumer.connect());
    t.true(err2 instanceof BrokerUnreachableError, `${err2?.name}: ${err2?.message}`);
    // A bound, not a timing claim: the calls returned rather than hanging the suite.
    t.log(`failed in ${Date.now() - started} ms`);
  });
}

// ---------------------------------------------------------------- helpers

async function setup(t: ExecutionContext, target: ConformanceTarget, partitions: number, kind: TopicKind = 'work') {
  const id = randomUUID().slice(0, 8);
  const topic = `conformance-${id}`;
  const group = `conformance-group-${id}`;
  const transport = target.make();
  await transport.admin().createTopics([{ name: topic, partitions, kind }]);
  t.teardown(async () => {
    try {
      await transport.admin().deleteGroups([group]);
      await transport.admin().deleteTopics([topic]);
    } finally {
      await transport.close();
    }
  });
  return { transport, topic, group };
}

function rec(topic: string, key: string, value: string) {
  return { topic, key: Buffer.from(key), value: Buffer.from(value) };
}

async function sendOne(transport: Transport, topic: string, key: string) {
  const p = transport.producer();
  await p.connect();
  try {
    return (await p.send([rec(topic, key, key)]))[0]!;
  } finally {
    await p.disconnect();
  }
}

export async function produceNumbered(transport: Transport, topic: string, n: number, from = 0): Promise<void> {
  const p = transport.producer();
  await p.connect();
  try {
    for (let i = from; i < from + n; i += 500) {
      const end = Math.min(from + n, i + 500);
      await p.send([...range(i, end)].map((v) => rec(topic, `key-${v % 17}`, String(v))));
    }
  } finally {
    await p.disconnect();
  }
}

/** Runs a consumer (committing after each batch) until `done` holds, then disconnects it. */
async function consumeUntil(
  t: ExecutionContext, transport: Transport, options: ConsumerOptions,
  done: (all: ConsumedRecord[], c: Consumer) => boolean,
): Promise<ConsumedRecord[]> {
  const all: ConsumedRecord[] = [];
  const c = transport.consumer(options);
  await c.connect();
  await c.run(async (batch) => {
    all.push(...batch.records);
    const last = batch.records[batch.records.length - 1]!;
    await c.commit([{ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 }]);
  });
  try {
    await waitUntil(() => done(all, c), `records (have ${all.length})`, WAIT_MS, c);
  } finally {
    await c.disconnect();
  }
  t.log(`consumed ${all.length} records`);
  return all;
}

export async function waitUntil(cond: () => boolean, what: string, ms = WAIT_MS, consumer?: Consumer): Promise<void> {
  const deadline = Date.now() + ms;
  let failure: unknown;
  void consumer?.stopped().catch((e: unknown) => { failure = e; });
  while (!cond()) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function range(from: number, to?: number): number[] {
  const [a, b] = to === undefined ? [0, from] : [from, to];
  return Array.from({ length: b - a }, (_, i) => a + i);
}

function sortedValues(records: readonly ConsumedRecord[]): number[] {
  return [...new Set(records.map((r) => Number(r.value!.toString())))].sort((x, y) => x - y);
}

function unionValues(a: readonly SeenRecord[], b: readonly ConsumedRecord[]): number[] {
  return [...new Set([...a.map((r) => Number(r.value)), ...b.map((r) => Number(r.value!.toString()))])].sort((x, y) => x - y);
}
