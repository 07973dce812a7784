/** The event publisher while the broker is away: 503 with Retry-After, then back by itself. */
import test from 'ava';
import { Serdes } from '../processors/engine/index.ts';
import type { Contracts } from '../processors/common/index.ts';
import { ClosedError, MemoryBroker, MemoryTransport, type Producer, type Transport } from '../transports/index.ts';
import { Faults, faultyTransport } from '../test/engine/faulty-transport.ts';
import { ApiError } from './errors.ts';
import { EventPublisher } from './events.ts';

const json = { serialize: (_t: string, v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (_t: string, b: Buffer) => JSON.parse(b.toString()) as unknown };
const contracts: Contracts = {
  topic: (name: string) => name,
  consumed: () => ({ keySerde: Serdes.string(), valueSerde: json }),
  produced: () => ({ keySerde: Serdes.string(), valueSerde: json }),
  record: () => undefined,
} as unknown as Contracts;

const command = (id: string) => ({ commandId: id, orderId: `o-${id}`, customerId: 'c', issuedAt: 0 }) as never;

async function setup(wrap: (t: Transport) => Transport = (t) => t) {
  const broker = new MemoryBroker();
  const memory = new MemoryTransport({ broker });
  await memory.admin().createTopics([{ name: 'order-command-topic', partitions: 1 }]);
  const written = () => broker.topic('order-command-topic').logs[0]!.endOffset;
  return { transport: wrap(memory), written };
}

async function unavailable(t: import('ava').ExecutionContext, p: Promise<void>): Promise<ApiError> {
  const err = await t.throwsAsync(p);
  t.true(err instanceof ApiError, err?.message);
  const e = err as ApiError;
  t.is(e.status, 503);
  t.is(e.code, 'BROKER_UNAVAILABLE');
  t.is(e.retryAfterSeconds, 5, 'Retry-After');
  t.regex(e.message, /broker did not acknowledge/);
  return e;
}

test('the broker away: 503 with Retry-After; back: accepted again, without a restart', async (t) => {
  const faults = new Faults();
  const { transport, written } = await setup((m) => faultyTransport(m, faults));
  const events = new EventPublisher(transport, contracts, { timeoutMs: 500, retryAfterSeconds: 5 });
  t.teardown(() => events.close());
  await events.publish('order-command-topic', command('1'));
  faults.outage();
  await unavailable(t, events.publish('order-command-topic', command('2')));
  await unavailable(t, events.publish('order-command-topic', command('3')));
  faults.heal();
  await events.publish('order-command-topic', command('4'));
  t.is(written(), 2, 'what got a 503 was not written; the rest was');
});

test('a send that hangs answers 503 after the timeout', async (t) => {
  let hang = true;
  const { transport } = await setup((m) => Object.assign(Object.create(m) as Transport, {
    producer: (): Producer => {
      const p = m.producer();
      return { ...bind(p), send: async (r) => { if (hang) await new Promise(() => {}); return p.send(r); } };
    },
  }));
  const events = new EventPublisher(transport, contracts, { timeoutMs: 100, retryAfterSeconds: 5 });
  const started = Date.now();
  await unavailable(t, events.publish('order-command-topic', command('1')));
  t.true(Date.now() - started < 1000);
  hang = false;
});

test('a producer that stays dead after losing its connection is replaced', async (t) => {
  let made = 0;
  const { transport, written } = await setup((m) => Object.assign(Object.create(m) as Transport, {
    producer: (): Producer => {
      const p = m.producer();
      // The first producer is dead for good, as an amqplib channel is once its connection is lost.
      const dead = made++ === 0;
      return { ...bind(p), send: async (r) => { if (dead) throw new ClosedError('producer is not connected', { transport: 'memory' }); return p.send(r); } };
    },
  }));
  const events = new EventPublisher(transport, contracts, { timeoutMs: 500, retryAfterSeconds: 5 });
  t.teardown(() => events.close());
  await unavailable(t, events.publish('order-command-topic', command('1')));
  await events.publish('order-command-topic', command('2'));
  t.is(made, 2);
  t.is(written(), 1);
});

function bind(p: Producer): Producer {
  return {
    connect: () => p.connect(), disconnect: () => p.disconnect(), send: (r) => p.send(r),
    sendTransaction: (r, pos) => p.sendTransaction(r, pos), maxRecordBytes: (topic) => p.maxRecordBytes(topic), recordSize: (r) => p.recordSize(r),
  };
}
