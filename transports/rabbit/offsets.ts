/**
 * Committed positions of a consumer group on RabbitMQ, which keeps none for AMQP consumers:
 * an append-only stream per group of {topic, partition, offset} records, the last one per
 * partition winning. Reading it to the end uses a marker: publish a unique record, read from
 * the start until it comes back; everything committed before is then known.
 */
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { CommitError } from '../errors.ts';
import type { TopicPartition, TopicPartitionOffset } from '../types.ts';
import { deferred, tpKey, withTimeout } from '../util.ts';
import { withChannel } from './channels.ts';
import { offsetsStream } from './naming.ts';

interface OffsetEntry {
  readonly t?: string;
  readonly p?: number;
  readonly o?: number;
  readonly marker?: string;
}

const READ_TIMEOUT_MS = 15_000;
const READ_ATTEMPTS = 3;

/**
 * Old segments go once the stream passes its size bound, so a position written once is lost after
 * that much later commit traffic of its group. Kafka keeps a live group's offsets for as long as
 * the group lives (KIP-211, Kafka 2.1: offsets.retention.minutes counts only from the moment the
 * group is empty); a stream has no such notion, so the owner of a partition re-writes its position
 * on assignment and periodically while it does not move (see RabbitConsumer.refreshOffsets).
 */
export const OFFSETS_DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const MAX_SEGMENT_BYTES = 8 * 1024 * 1024;

function retention(maxBytes: number): Record<string, unknown> {
  // A segment is the unit retention drops: several of them fit in the bound, or nothing would go.
  const segment = Math.max(4096, Math.min(MAX_SEGMENT_BYTES, Math.floor(maxBytes / 4)));
  return { 'x-queue-type': 'stream', 'x-max-length-bytes': maxBytes, 'x-stream-max-segment-size-bytes': segment };
}

export class OffsetStore {
  private readonly stream: string;
  private writing: Promise<ConfirmChannel> | undefined;

  constructor(private readonly conn: ChannelModel, private readonly groupId: string, private readonly maxBytes = OFFSETS_DEFAULT_MAX_BYTES) {
    this.stream = offsetsStream(groupId);
  }

  async init(): Promise<void> {
    await withChannel(this.conn, (ch) => ch.assertQueue(this.stream, { durable: true, arguments: retention(this.maxBytes) }));
  }

  /** One confirm channel for every commit: opening one per commit costs more than the write. */
  private writer(): Promise<ConfirmChannel> {
    this.writing ??= this.conn.createConfirmChannel().then((ch) => {
      ch.on('error', () => undefined);
      ch.on('close', () => { this.writing = undefined; });
      return ch;
    }, (e: unknown) => { this.writing = undefined; throw e; });
    return this.writing;
  }

  /**
   * Publishes positions and waits for their confirms. `offsets` may be a function, called once the
   * channel is ready and right before publishing, so that what it returns is current then (a
   * re-write must not publish a position older than a commit published meanwhile).
   */
  async write(given: readonly TopicPartitionOffset[] | (() => readonly TopicPartitionOffset[])): Promise<void> {
    let offsets = typeof given === 'function' ? [] : given;
    if (typeof given !== 'function' && offsets.length === 0) return;
    try {
      const ch = await this.writer();
      if (typeof given === 'function') offsets = given();
      if (offsets.length === 0) return;
      for (const o of offsets) ch.sendToQueue(this.stream, Buffer.from(JSON.stringify({ t: o.topic, p: o.partition, o: o.offset })), { persistent: true });
      await ch.waitForConfirms();
    } catch (cause) {
      const o = offsets[0];
      // The offsets stream refuses nothing a retry could not fix: a nack, a lost channel or connection.
      throw new CommitError('committed positions were not confirmed', { transport: 'rabbit', groupId: this.groupId, topic: o?.topic, partition: o?.partition, offset: o?.offset, cause }, true);
    }
  }

  /**
   * The latest committed position of each partition asked for. Each attempt is bounded: a
   * marker that is never confirmed or never read back is retried on a fresh channel, then
   * reported, rather than left to stall a rebalance.
   */
  async read(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    let last: unknown;
    for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
      try {
        const latest = await withTimeout(this.readToEnd(), READ_TIMEOUT_MS,
          () => new CommitError(`reading committed positions took over ${READ_TIMEOUT_MS} ms`, { transport: 'rabbit', groupId: this.groupId }));
        return partitions.map((tp) => latest.get(tpKey(tp)));
      } catch (e) {
        last = e;
      }
    }
    throw new CommitError(`cannot read committed positions after ${READ_ATTEMPTS} attempts`, { transport: 'rabbit', groupId: this.groupId, cause: last }, true);
  }

  private readToEnd(): Promise<Map<string, number>> {
    const marker = randomUUID();
    const latest = new Map<string, number>();
    const reached = deferred();
    return withChannel(this.conn, async (ch) => {
      ch.sendToQueue(this.stream, Buffer.from(JSON.stringify({ marker })), { persistent: true });
      await ch.waitForConfirms();
      await ch.prefetch(1000);
      await ch.consume(this.stream, (msg: ConsumeMessage | null) => {
        if (!msg) return;
        const e = JSON.parse(msg.content.toString()) as OffsetEntry;
        if (e.marker === marker) reached.resolve();
        else if (e.t !== undefined && e.p !== undefined && e.o !== undefined) latest.set(tpKey({ topic: e.t, partition: e.p }), e.o);
        ch.ack(msg);
      }, { noAck: false, arguments: { 'x-stream-offset': 'first' } });
      await reached.promise;
      return latest;
    });
  }
}
