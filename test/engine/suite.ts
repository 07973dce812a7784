/**
 * The shared topology cases on a real transport: each runs as an application (StreamsApp) on
 * fresh, uniquely named topics, inputs produced step by step, outputs read back by a plain
 * consumer and compared per key with the expected ones.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { Serdes, StreamsApp, StreamsBuilder, type ProcessingGuarantee, type Serde } from '../../processors/engine/index.ts';
import type { Transport } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';
import { cases, runOnDriver, type TopologyCase } from './cases.ts';

export interface EngineTarget {
  readonly name: string;
  make(): Transport;
  readonly guarantee: ProcessingGuarantee;
}

const PARTITIONS = 2;

export function engineSuite(target: EngineTarget): void {
  for (const c of cases) {
    test.serial(`${target.name} (${target.guarantee}): ${c.name}`, async (t) => {
      await runCase(t, target, c);
    });
  }
}

async function runCase(t: ExecutionContext, target: EngineTarget, c: TopologyCase): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const topic = (n: string) => `engine-${n}-${id}`;
  const applicationId = `engine-app-${id}`;
  const transport = target.make();
  const admin = transport.admin();
  const userTopics = [...c.inputs, ...Object.keys(c.outputs)].map(topic);
  await admin.createTopics(userTopics.map((name) => ({ name, partitions: c.partitions ?? PARTITIONS, kind: 'replayable' as const })));
  const b = new StreamsBuilder();
  c.build(b, topic);
  const app = new StreamsApp(b.build(), { applicationId, transport, guarantee: target.guarantee, commitIntervalMs: 100, logger: (l) => t.log(l) });
  const collectorGroup = `${applicationId}-reader`;
  t.teardown(async () => {
    await app.close().catch(() => undefined);
    await admin.deleteGroups([applicationId, collectorGroup]).catch(() => undefined);
    await admin.deleteTopics([...userTopics, ...app.internalTopicNames()]).catch(() => undefined);
    await transport.close();
  });
  await app.start();

  const got: Record<string, Record<string, unknown[]>> = {};
  const serdes = new Map(Object.entries(c.outputs).map(([n, o]) => [topic(n), { name: n, value: o.value ?? (Serdes.json() as Serde<unknown>) }]));
  const reader = transport.consumer({ groupId: collectorGroup, topics: [...serdes.keys()], autoOffsetReset: 'earliest' });
  await reader.connect();
  await reader.run(async (batch) => {
    const s = serdes.get(batch.topic)!;
    for (const r of batch.records) {
      const key = r.key === null ? 'null' : r.key.toString();
      const value = r.value === null ? null : await s.value.deserialize(batch.topic, r.value);
      ((got[s.name] ??= {})[key] ??= []).push(value);
    }
  });
  t.teardown(() => reader.disconnect());

  const producer = transport.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const { counts } = runOnDriver(c);
  for (const [i, step] of c.steps.entries()) {
    await producer.send(step.map((r) => ({
      topic: topic(r.topic), timestamp: r.timestamp,
      key: r.key === null ? null : Buffer.from(JSON.stringify(r.key)),
      value: r.value === null ? null : Buffer.from(JSON.stringify(r.value)),
    })));
    await waitUntil(() => app.recordsProcessed() >= counts[i]!, `step ${i + 1} processed (${app.recordsProcessed()} of ${counts[i]} records)`, 60_000);
  }
  const expectedCount = Object.values(c.expected).flatMap((perKey) => Object.values(perKey)).reduce((n, v) => n + v.length, 0);
  const count = () => Object.values(got).flatMap((perKey) => Object.values(perKey)).reduce((n, v) => n + v.length, 0);
  await waitUntil(() => count() >= expectedCount, `${expectedCount} outputs (have ${count()})`, 60_000);
  await new Promise((r) => setTimeout(r, 300));
  for (const [name, perKey] of Object.entries(c.expected)) t.deepEqual(got[name] ?? {}, perKey, name);
  t.is(app.recordsProcessed(), counts[counts.length - 1]!, 'no record processed twice');
}
