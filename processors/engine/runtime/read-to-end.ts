/**
 * Reads chosen partitions of topics from the beginning up to "now". "Now" is a marker record this
 * reader writes to each partition first: when it comes back, everything written before it has
 * been seen. This works alike on every transport (RabbitMQ streams tell no end offset), and on
 * Kafka's compacted changelogs the marker is a tombstone of one fixed key, so compaction drops it.
 */
import { randomUUID } from 'node:crypto';
import type { ConsumedRecord, Consumer, Producer, TopicPartition, Transport } from '../../../transports/index.ts';
import { StreamsError } from '../errors.ts';

export const MARKER_HEADER = 'orderstream.marker';
export const MARKER_KEY = Buffer.from('__orderstream.marker');

export function isMarker(r: ConsumedRecord): boolean {
  return r.headers[MARKER_HEADER] !== undefined;
}

export interface ReadToEndOptions {
  readonly transport: Transport;
  /** A non-transactional producer for the markers. */
  readonly producer: Producer;
  readonly partitions: readonly TopicPartition[];
  readonly groupPrefix: string;
  readonly groupId?: string;
  readonly onRecord: (r: ConsumedRecord) => void;
  /** This reader's marker came back on a partition: `offset` is where the end was. */
  readonly onEnd?: (tp: TopicPartition, offset: number) => void;
  /**
   * Where to start per partition (`topic\u0000partition`), instead of the beginning: the reader
   * seeks there at the partition's first batch, if that is before the end (its marker's offset);
   * records before it may still be handed over (already fetched), so `onRecord` filters too.
   */
  readonly from?: ReadonlyMap<string, number>;
  /**
   * Keys of `from` known to be at or before the end, sought even where the transport tells no
   * offset for the marker (RabbitMQ): elsewhere a start past the end would never see the marker.
   */
  readonly trusted?: ReadonlySet<string>;
  readonly timeoutMs?: number;
  /** Keep reading after the end (a global store follows its topic); the caller disconnects. */
  readonly follow?: boolean;
}

/** Resolves at the end; with `follow`, to the consumer that keeps reading. */
export async function readToEnd(options: ReadToEndOptions): Promise<Consumer | undefined> {
  if (options.partitions.length === 0) return undefined;
  const id = randomUUID();
  const wanted = new Set(options.partitions.map((p) => `${p.topic}\u0000${p.partition}`));
  const watched = new Set(wanted);
  const sent = await options.producer.send(options.partitions.map((p) => ({
    topic: p.topic, partition: p.partition, key: MARKER_KEY, value: null, headers: { [MARKER_HEADER]: id },
  })));
  // Seek targets at or before the end only: past the marker the reader would never see it.
  const seekTo = new Map<string, number>();
  for (const m of sent) {
    const key = `${m.topic}\u0000${m.partition}`;
    const start = options.from?.get(key);
    if (start !== undefined && start > 0 && (m.offset === undefined ? options.trusted?.has(key) : start <= m.offset)) seekTo.set(key, start);
  }
  const groupId = options.groupId ?? `${options.groupPrefix}-${id.slice(0, 8)}`;
  const topics = [...new Set(options.partitions.map((p) => p.topic))];
  const consumer = options.transport.consumer({ groupId, topics, autoOffsetReset: 'earliest', maxBatchSize: 2000 });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => { resolveDone = r; });
  await consumer.connect();
  try {
    await consumer.run(async (batch) => {
      const key = `${batch.topic}\u0000${batch.partition}`;
      if (!wanted.has(key) && !(options.follow && watched.has(key))) return;
      const start = seekTo.get(key);
      if (start !== undefined) {
        seekTo.delete(key);
        if ((batch.records[0]?.offset ?? start) < start) { await consumer.seek({ topic: batch.topic, partition: batch.partition, offset: start }); return; }
      }
      for (const r of batch.records) {
        if (isMarker(r)) {
          if (r.headers[MARKER_HEADER]!.toString() === id && wanted.has(key)) options.onEnd?.(r, r.offset);
          if (r.headers[MARKER_HEADER]!.toString() === id && wanted.delete(key) && wanted.size === 0) resolveDone();
          if (!options.follow && !wanted.has(key)) return;
          continue;
        }
        options.onRecord(r);
      }
    });
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      // Both may pass (a broker restarting): retriable, so the application retries the restore.
      consumer.stopped().then(() => { throw new StreamsError('restore consumer stopped before reaching the end', {}, { retriable: true }); }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StreamsError(`restore did not reach the end of ${[...wanted].length} partitions in ${timeoutMs} ms`, {}, { retriable: true })), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (options.follow) return consumer;
  } catch (e) {
    await consumer.disconnect().catch(() => undefined);
    throw e;
  }
  await consumer.disconnect().catch(() => undefined);
  await options.transport.admin().deleteGroups([groupId]).catch(() => undefined);
  return undefined;
}
