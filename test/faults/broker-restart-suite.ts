/**
 * A broker stopped for ~10 s and started again (data kept) under one producer and one consumer
 * that are never re-created: sends during the outage reject with retriable typed errors within a
 * bound, sends after it succeed, and the consumer receives what was produced after the restart.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { TransportError, type ConsumedRecord, type Producer, type ProducerRecord, type Transport } from '../../transports/index.ts';
import { withTimeout } from '../../transports/util.ts';
import { waitUntil } from '../conformance/suite.ts';
import { privateBroker, type BrokerName } from './private-broker.ts';

const OUTAGE_MS = 10_000;
/** A send while the broker is away must settle (reject) within this. */
const SEND_BOUND_MS = 20_000;
/** After the broker is back, sends must succeed again within this. */
const RECOVERY_MS = 45_000;

export interface RestartSuite {
  readonly name: BrokerName;
  make(env: Record<string, string>): Transport;
}

interface Outcome { readonly ok: boolean; readonly ms: number; readonly error?: unknown }

async function attempt(fn: () => Promise<unknown>): Promise<Outcome> {
  const start = Date.now();
  try {
    await withTimeout(fn(), SEND_BOUND_MS, () => new Error(`call did not settle within ${SEND_BOUND_MS} ms`));
    return { ok: true, ms: Date.now() - start };
  } catch (error) {
    return { ok: false, ms: Date.now() - start, error };
  }
}

/** Retries `fn` on retriable errors until it succeeds; any other error fails the test. */
async function untilSuccess(fn: () => Promise<unknown>, what: string, errors: unknown[]): Promise<number> {
  const deadline = Date.now() + RECOVERY_MS;
  const start = Date.now();
  for (;;) {
    const o = await attempt(fn);
    if (o.ok) return Date.now() - start;
    errors.push(o.error);
    if (!(o.error instanceof TransportError && o.error.retriable)) throw o.error;
    if (Date.now() > deadline) throw new Error(`${what} did not succeed within ${RECOVERY_MS} ms after the restart: ${String(o.error)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const describe = (e: unknown) => (e instanceof TransportError ? `${e.name}(retriable=${e.retriable})` : `${(e as Error)?.name}: ${String(e)}`);

export function brokerRestartSuite(suite: RestartSuite): void {
  test.serial(`${suite.name}: producer and consumer survive a ~10 s broker stop/start without being re-created`, async (t) => {
    t.timeout(150_000);
    const broker = await privateBroker(suite.name);
    let transport: Transport | undefined;
    try {
      await broker.up();
      transport = suite.make(broker.env);
      const id = randomUUID().slice(0, 8);
      // A work topic (RabbitMQ: quorum queues, re-subscribed) and a replayable one (streams,
      // resumed from the committed offset); on Kafka both are plain topics.
      const topics = [`faults-work-${id}`, `faults-log-${id}`];
      const groupId = `faults-group-${id}`;
      const admin = transport.admin();
      await admin.createTopics([{ name: topics[0]!, partitions: 2, kind: 'work' }, { name: topics[1]!, partitions: 2, kind: 'replayable' }]);
      const producer: Producer = transport.producer();
      await producer.connect();
      const txProducer = transport.capabilities.transactions ? transport.producer({ transactionalId: `faults-tx-${id}` }) : undefined;
      await txProducer?.connect();

      const received: ConsumedRecord[] = [];
      const commitErrors: unknown[] = [];
      let commitsInFlight = 0;
      const consumer = transport.consumer({ groupId, topics });
      await consumer.connect();
      await consumer.run(async (batch) => {
        received.push(...batch.records);
        // A commit during the outage fails; the records come again (at least once), which is fine here.
        commitsInFlight++;
        await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.records.at(-1)!.offset + 1 }])
          .catch((e: unknown) => { commitErrors.push(e); })
          .finally(() => { commitsInFlight--; });
      });
      let stoppedWith: unknown;
      void consumer.stopped().then(() => { stoppedWith = 'resolved'; }, (e: unknown) => { stoppedWith = e; });

      const batch = (tag: string): ProducerRecord[] => topics.flatMap((topic) => [0, 1, 2, 3].map((i) => ({
        topic, key: Buffer.from(`k${i}`), value: Buffer.from(`${tag}-${i}`),
      })));
      const has = (tag: string) => topics.every((topic) => [0, 1, 2, 3].every((i) => received.some((r) => r.topic === topic && r.value?.toString() === `${tag}-${i}`)));

      await producer.send(batch('before'));
      await waitUntil(() => has('before') && commitsInFlight === 0, 'records sent before the outage, committed', 60_000, consumer);

      // A send still in flight when the broker goes away either completes or rejects retriable.
      const big = Array.from({ length: 20_000 }, (_, i) => ({ topic: topics[0]!, key: Buffer.from(`k${i}`), value: Buffer.alloc(512, 1) }));
      const inFlight = attempt(() => producer.send(big));
      await broker.down();
      const interrupted = await inFlight;
      const outageStart = Date.now();
      const outage: Outcome[] = [];
      while (Date.now() - outageStart < OUTAGE_MS) {
        outage.push(await attempt(() => producer.send(batch('during'))));
        if (txProducer) outage.push(await attempt(() => txProducer.sendTransaction(batch('during-tx'))));
        await new Promise((r) => setTimeout(r, 500));
      }
      await broker.up();
      const downFor = Date.now() - outageStart;

      const recoveryErrors: unknown[] = [];
      const sendRecovery = await untilSuccess(() => producer.send(batch('after')), 'send', recoveryErrors);
      const txRecovery = txProducer ? await untilSuccess(() => txProducer.sendTransaction(batch('after-tx')), 'sendTransaction', recoveryErrors) : 0;
      const consumeStart = Date.now();
      await waitUntil(() => has('after') && (!txProducer || has('after-tx')), 'records sent after the restart', 90_000, consumer);

      const failed = outage.filter((o) => !o.ok);
      t.log(`broker down ${downFor} ms; ${outage.length} calls during it: ${failed.length} rejected in ${failed.map((o) => o.ms).join(',')} ms as ${[...new Set(failed.map((o) => describe(o.error)))].join(', ')}`);
      t.log(`first successful send ${sendRecovery} ms after up${txProducer ? `, transaction ${txRecovery} ms` : ''}; ${recoveryErrors.length} retriable rejections meanwhile; records after the restart consumed within ${Date.now() - consumeStart} ms; ${commitErrors.length} commits failed during the outage`);
      t.log(`a send in flight at the stop: ${interrupted.ok ? `completed in ${interrupted.ms} ms` : `rejected in ${interrupted.ms} ms as ${describe(interrupted.error)}`}`);
      t.true(interrupted.ok || (interrupted.error instanceof TransportError && interrupted.error.retriable), `in-flight send: ${describe(interrupted.error)}`);
      t.true(failed.length > 0, 'calls made while the broker was away were rejected');
      for (const o of failed) {
        t.true(o.error instanceof TransportError && o.error.retriable, `rejected with a retriable TransportError, not ${describe(o.error)}`);
      }
      for (const e of commitErrors) t.true(e instanceof TransportError && e.retriable, `commit rejected retriable, not ${describe(e)}`);
      t.is(stoppedWith, undefined, 'the consumer is still running');
      // Resumed from the committed positions (streams: the stored offset; queues: acknowledged
      // records gone), not from the start: what was committed before the outage came once.
      t.is(received.filter((r) => r.value?.toString().startsWith('before-')).length, 8, 'records committed before the outage were not delivered again');
      await consumer.disconnect();
      await producer.disconnect();
      await txProducer?.disconnect();
    } finally {
      await transport?.close().catch(() => undefined);
      await broker.dispose();
    }
  });
}
