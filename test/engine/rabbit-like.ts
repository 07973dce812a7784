/**
 * A memory broker seen through a transport without transactions, as RabbitMQ is: the engine
 * takes its effectively-once path on it. For start-up checks and forced crashes that a real
 * broker cannot be made to hit on cue; the broker suites cover the real RabbitMQ.
 */
import { MemoryTransport, type MemoryBroker, type Producer, type Transport } from '../../transports/index.ts';

export interface RabbitLikeOptions {
  /**
   * While armed, the next send that writes a checkpoint fails (a crash just before it lands);
   * `retriable` makes it a failure the application recovers from in place.
   */
  readonly failCheckpoints?: { armed: boolean; readonly retriable?: boolean };
}

export function rabbitLike(broker: MemoryBroker, options: RabbitLikeOptions = {}): Transport {
  const inner = new MemoryTransport({ broker });
  const fail = options.failCheckpoints;
  return Object.assign(Object.create(inner) as MemoryTransport, {
    name: 'rabbit' as const,
    capabilities: { ...inner.capabilities, transactions: false, compaction: false },
    producer: (): Producer => {
      const p = inner.producer();
      return {
        connect: () => p.connect(),
        disconnect: () => p.disconnect(),
        sendTransaction: (records, positions) => p.sendTransaction(records, positions),
        maxRecordBytes: (topic) => p.maxRecordBytes(topic),
        recordSize: (record) => p.recordSize(record),
        send: async (records) => {
          if (fail?.armed && records.some((r) => r.topic.endsWith('-checkpoints'))) {
            fail.armed = false;
            throw Object.assign(new Error('simulated crash before the checkpoint landed'), { retriable: fail.retriable === true });
          }
          return p.send(records);
        },
      };
    },
  });
}
