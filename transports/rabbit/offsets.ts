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

/**
 * Old segments go once the stream passes its size bound; a partition whose group has not committed
 * for that long loses its position (rewriting positions on assignment is still to do, see README).
 */
const READ_TIMEOUT_MS = 15_000;
const READ_ATTEMPTS = 3;

const RETENTION = { 'x-queue-type': 'stream', 'x-max-length-bytes': 256 * 1024 * 1024, 'x-stream-max-segment-size-bytes': 8 * 1024 * 1024 };

export class OffsetStore {
  private readonly stream: string;
  private writing: Promise<ConfirmChannel> | undefined;

  constructor(private readonly conn: ChannelModel, private readonly groupId: string) {
    this.stream = offsetsStream(groupId);
  }

  async init(): Promise<void> {
    await withChannel(this.conn, (ch) => ch.assertQueue(this.stream, { durable: true, arguments: RETENTION }));
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

  async write(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    try {
      const ch = await this.writer();
      for (const o of offsets) ch.sendToQueue(this.stream, Buffer.from(JSON.stringify({ t: o.topic, p: o.partition, o: o.offset })), { persistent: true });
      await ch.waitForConfirms();
    } catch (cause) {
      const o = offsets[0]!;
      // The offsets stream refuses nothing a retry could not fix: a nack, a lost channel or connection.
      throw new CommitError('committed positions were not confirmed', { transport: 'rabbit', groupId: this.groupId, topic: o.topic, partition: o.partition, offset: o.offset, cause }, true);
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
