/** Helpers every benchmark shares: the statistics they print, the wait for an outcome, and the saga's topics. */
import type { Contracts } from '../processors/common/index.ts';
import { isMarker } from '../processors/engine/index.ts';
import { sampleValue, type OrderPlaced, type TopicName, type TopicValue, type User } from '../schemas/index.ts';
import type { Consumer, Producer, Transport } from '../transports/index.ts';

/** What a saga bench talks to: a transport, the contract topics' names and serdes, and the run's prefix. */
export interface SagaWiring {
  readonly transport: Transport;
  readonly contracts: Contracts;
  /** Run-unique: topics, groups and subjects start with it (a sweep by prefix finds them). */
  readonly prefix: string;
}

/** The middle value (upper middle for an even count); rounds and samples are summarised by it. */
export const median = (xs: readonly number[]): number => percentile(xs, 0.5);

/** The value at fraction `q` of the sorted samples (nearest rank, q in [0, 1]). */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new RangeError('percentile of no samples');
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Polls `condition` every 5 ms; throws with `what()` (say how far it got) after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: () => string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends values to a contract topic with its registry serde, one send. */
export async function send<T extends TopicName>(run: SagaWiring, producer: Producer, topic: T, values: readonly { key: string; value: TopicValue<T> }[]): Promise<void> {
  const name = run.contracts.topic(topic);
  const serde = run.contracts.produced(topic).valueSerde!;
  await producer.send(await Promise.all(values.map(async (v) => ({ topic: name, key: Buffer.from(v.key), value: await serde.serialize(name, v.value) }))));
}

/** A reader of `topics` from the beginning, skipping the engine's end-of-stream markers (RabbitMQ). */
export async function reader(run: SagaWiring, topics: string[], onRecord: (topic: string, key: string, value: Buffer) => Promise<void>): Promise<Consumer> {
  const consumer = run.transport.consumer({ groupId: `${run.prefix}bench-reader`, topics, autoOffsetReset: 'earliest' });
  await consumer.connect();
  await consumer.run(async (batch) => {
    for (const r of batch.records) if (!isMarker(r) && r.value) await onRecord(batch.topic, r.key?.toString() ?? '', r.value);
  });
  return consumer;
}

/** Twenty buyers of one benchmark (`tag` names them in their e-mail addresses). */
export function benchBuyers(tag: string, title: string): User[] {
  return Array.from({ length: 20 }, (_, i): User => ({ ...sampleValue('users-topic'), email: `buyer-${i}@${tag}.example`, name: `${title} Buyer ${i}`, role: 'BUYER' }));
}

/** The i-th order of a load: buyers and products in turn, one line of 1–3 units. */
export function benchOrder(buyers: readonly User[], products: readonly string[], i: number): OrderPlaced {
  return {
    ...sampleValue('order-placed'),
    customerId: buyers[i % buyers.length]!.id,
    lines: [{ productId: products[i % products.length]!, quantity: 1 + (i % 3), unitPrice: 1_000 + (i % 7) * 100 }],
    placedAt: Date.now(),
  };
}

