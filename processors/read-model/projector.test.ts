/**
 * The projector on the memory transport with the embedded (LMDB) persistence and the in-process
 * registry: the shared scenario (test/read-model/scenario.ts), plus what only a fake failure can
 * show — a database that is unavailable is retried, not dead-lettered; a record that cannot be
 * applied is dead-lettered and the stream goes on; copies re-sent by an exactly_once writer on
 * RabbitMQ are dropped by their origin header.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { MemoryTransport } from '../../transports/index.ts';
import { embeddedRegistry } from '../../schemas/index.ts';
import { embeddedPersistence } from '../../persistence/index.ts';
import { DatabaseUnavailableError, PersistenceError } from '../../persistence/errors.ts';
import type { Collection, CollectionSpec, Doc, Persistence } from '../../persistence/types.ts';
import { registryContracts } from '../common/index.ts';
import { DeadLetterHeaders, ORIGIN_HEADER } from '../engine/index.ts';
import { BOUND_MS, collect, eventually, Feeder, projectorEnv, runScenario, statusEvent } from '../../test/read-model/scenario.ts';
import { startProjection, type RunningProjection } from './projector.ts';
import { ORDERS_VIEW, type OrderView } from './views.ts';

test('memory + embedded: the views from out-of-order, repeated and poison records, and a restart', async (t) => {
  const transport = new MemoryTransport();
  const persistence = embeddedPersistence();
  t.teardown(async () => { await persistence.close(); await transport.close(); });
  await runScenario(t, { transport, registry: embeddedRegistry().client, persistence, prefix: `rm-${randomUUID().slice(0, 8)}.` });
});

/** Fails calls of the views' collections while `fail(collection, method, args)` says so. */
function faulty(inner: Persistence, fail: (collection: string, method: string, args: unknown[]) => Error | undefined): Persistence {
  return {
    name: inner.name,
    ping: () => inner.ping(),
    close: () => inner.close(),
    async collection<T extends Doc>(spec: CollectionSpec): Promise<Collection<T>> {
      const c = await inner.collection<T>(spec);
      return new Proxy(c, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const error = fail(spec.name, String(property), args);
            if (error) return Promise.reject(error);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
  };
}

interface Bench {
  readonly feed: Feeder;
  readonly orders: Collection<OrderView>;
  readonly projection: RunningProjection;
  readonly deadLetters: Awaited<ReturnType<typeof collect>>['records'];
}

/** A projector whose database calls go through `fail`; the test reads the same database directly. */
async function bench(t: ExecutionContext, fail: (collection: string, method: string, args: unknown[]) => Error | undefined = () => undefined): Promise<Bench> {
  const persistence = embeddedPersistence();
  const transport = new MemoryTransport();
  const registry = embeddedRegistry().client;
  const prefix = `rm-${randomUUID().slice(0, 8)}.`;
  const contracts = registryContracts(registry, prefix);
  const projection = await startProjection({ transport, registry, contracts, persistence: faulty(persistence, fail), env: projectorEnv(prefix), logger: () => {} });
  const producer = transport.producer();
  await producer.connect();
  const dlq = await collect(transport, projection.deadLetterTopic, `${prefix}dlq-reader`);
  t.teardown(async () => {
    await dlq.consumer.disconnect();
    await producer.disconnect();
    await projection.close();
    await persistence.close();
    await transport.close();
  });
  return { feed: new Feeder(producer, registry, contracts), orders: await persistence.collection<OrderView>(ORDERS_VIEW), projection, deadLetters: dlq.records };
}

test('an unavailable database is retried with back-off until it answers; nothing is dead-lettered', async (t) => {
  let failures = 5;
  const b = await bench(t, (collection, method) => {
    if (collection !== 'orders' || method !== 'get' || failures === 0) return undefined;
    failures--;
    return new DatabaseUnavailableError('connection refused', { collection });
  });
  const orderId = randomUUID();
  await b.feed.send('order-status-topic', orderId, statusEvent(orderId, 1));
  await b.feed.send('order-status-topic', orderId, statusEvent(orderId, 2));
  await eventually(async () => (await b.orders.get(orderId))?.sequence === 2, () => 'the order at sequence 2');
  t.is(failures, 0, 'every injected failure was met');
  t.deepEqual((await b.orders.get(orderId))!.timeline.map((e) => e.to), ['CREATED', 'PENDING_PAYMENT']);
  t.is(b.deadLetters.length, 0);
});

test('a record that cannot be applied is dead-lettered (stage processing) and the stream goes on', async (t) => {
  const broken = randomUUID();
  const b = await bench(t, (collection, method, args) =>
    (collection === 'orders' && method === 'get' && args[0] === broken ? new PersistenceError('document too large', { collection }) : undefined));
  const fine = randomUUID();
  await b.feed.send('order-status-topic', broken, statusEvent(broken, 1));
  await b.feed.send('order-status-topic', fine, statusEvent(fine, 1));
  await eventually(async () => b.deadLetters.length === 1 && (await b.orders.get(fine)) !== undefined, () => 'one dead letter and the next order');
  const letter = b.deadLetters[0]!;
  t.is(letter.headers[DeadLetterHeaders.stage]?.toString(), 'processing');
  t.is(letter.headers[DeadLetterHeaders.error]?.toString(), 'PersistenceError');
  t.regex(letter.headers[DeadLetterHeaders.reason]?.toString() ?? '', /document too large/);
  t.is(letter.headers[DeadLetterHeaders.topic]?.toString(), b.projection.topics[1]);
  t.is(letter.key?.toString(), broken);
});

test('a copy re-sent by an exactly_once writer (same origin) is dropped; the next original is applied', async (t) => {
  const b = await bench(t);
  const orderId = randomUUID();
  const origin = (offset: number) => ({ [ORIGIN_HEADER]: `order-processor|order-processing-topic|0|${offset}|1` });
  await b.feed.send('order-status-topic', orderId, statusEvent(orderId, 1), origin(5));
  // Made different on purpose: only the origin says it is a copy, the projection alone would apply it.
  await b.feed.send('order-status-topic', orderId, statusEvent(orderId, 2), origin(5));
  await b.feed.send('order-status-topic', orderId, statusEvent(orderId, 3), origin(6));
  await eventually(async () => (await b.orders.get(orderId))?.sequence === 3, () => 'the order at sequence 3', BOUND_MS);
  t.deepEqual((await b.orders.get(orderId))!.timeline.map((e) => e.sequence), [1, 3]);
});
