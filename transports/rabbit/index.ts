/**
 * The RabbitMQ transport, on amqplib (AMQP 0-9-1). See naming.ts for how topics, partitions and
 * groups map onto exchanges and queues. Works on RabbitMQ 3.10 (Debian) and newer: it needs
 * quorum queues, single-active-consumer and streams, nothing of 3.11+.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import {
  UnsupportedCapabilityError, BrokerUnreachableError, ClosedError, InvalidPartitionError, ProduceError, RecordTooLargeError, TopicConflictError,
  TransportError, UnknownTopicError,
} from '../errors.ts';
import { Partitioner } from '../partitioner.ts';
import type {
  Admin, Capabilities, Consumer, ConsumerOptions, Producer, ProducerOptions, ProducerRecord, RecordMetadata,
  TopicDescription, TopicKind, TopicSpec, Transport,
} from '../types.ts';
import { checkTopicSpec, plainRecordSize, withTimeout } from '../util.ts';
import { withChannel } from './channels.ts';
import { RabbitConsumer } from './consumer.ts';
import { Management } from './management.ts';
import {
  ARG_KIND, ARG_PARTITIONS, encode, groupExchange, offsetsStream, partitionQueue, queueArguments,
} from './naming.ts';

export interface RabbitTransportOptions {
  /** amqp://user:pass@host:port/vhost */
  readonly url: string;
  /** Management API base URL; default http://<amqp host>:15672 with the AMQP credentials. */
  readonly managementUrl?: string;
  readonly connectionTimeoutMs?: number;
  /** A group member silent for this long is considered gone and its partitions move. */
  readonly sessionTimeoutMs?: number;
  /**
   * The broker's `max_message_size` (rabbitmq.conf): RabbitMQ closes the channel of a publish
   * with a bigger body. Default 128 MiB, the default of 3.8 to 3.13 (Debian's 3.10.8 included).
   */
  readonly maxMessageBytes?: number;
  /** Bytes published before waiting for the broker's confirms (default 16 MiB): a send of more waits in between. */
  readonly maxUnconfirmedBytes?: number;
}

export const RABBIT_DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
/**
 * The key and headers travel in the AMQP content header frame, which cannot be split: it must fit
 * in the negotiated frame_max (amqplib asks for 128 KiB), with room for the other properties.
 */
const HEADER_FRAME_BUDGET = 131_072 - 4096;

export const rabbitCapabilities: Capabilities = {
  // No transaction spans consume and publish: the engine deduplicates on the source position.
  transactions: false,
  compaction: false,
  replay: 'replayable-topics',
  groupsPerWorkTopic: 'one',
  cooperativeRevocation: true,
};

export class RabbitTransport implements Transport {
  readonly name = 'rabbit' as const;
  readonly capabilities = rabbitCapabilities;
  readonly management: Management;
  private shared: Promise<ChannelModel> | undefined;
  private readonly topics = new Map<string, TopicDescription>();

  constructor(readonly options: RabbitTransportOptions) {
    this.management = new Management(options.url, options.managementUrl);
  }

  get address(): string {
    const u = new URL(this.options.url);
    return `${u.hostname}:${u.port || 5672}`;
  }

  /** A new AMQP connection, or BrokerUnreachableError within the connection timeout. */
  async connect(): Promise<ChannelModel> {
    const ms = this.options.connectionTimeoutMs ?? 5000;
    try {
      const conn = await withTimeout(amqp.connect(this.options.url, { timeout: ms }), ms + 1000,
        () => new BrokerUnreachableError(this.address, { transport: 'rabbit' }));
      // An error event with no listener would crash the process; closing is reported by users of it.
      conn.on('error', () => undefined);
      return conn;
    } catch (cause) {
      if (cause instanceof TransportError) throw cause;
      throw new BrokerUnreachableError(this.address, { transport: 'rabbit', cause });
    }
  }

  /** The connection shared by admin and producers (consumers each hold their own). */
  sharedConnection(): Promise<ChannelModel> {
    this.shared ??= this.connect().then((c) => {
      c.on('close', () => { this.shared = undefined; });
      return c;
    }, (e: unknown) => { this.shared = undefined; throw e; });
    return this.shared;
  }

  /** Runs `fn` on a fresh channel of the shared connection, closed after. */
  async withChannel<T>(fn: (ch: ConfirmChannel) => Promise<T>): Promise<T> {
    return withChannel(await this.sharedConnection(), fn);
  }

  async describe(name: string): Promise<TopicDescription | undefined> {
    const cached = this.topics.get(name);
    if (cached) return cached;
    const ex = await this.management.exchange(name);
    const partitions = Number(ex?.arguments[ARG_PARTITIONS]);
    if (!ex || !Number.isInteger(partitions)) return undefined;
    const d: TopicDescription = { name, partitions, kind: ex.arguments[ARG_KIND] === 'replayable' ? 'replayable' : 'work' };
    this.topics.set(name, d);
    return d;
  }

  async require(name: string, groupId?: string): Promise<TopicDescription> {
    const d = await this.describe(name);
    if (!d) throw new UnknownTopicError({ transport: 'rabbit', topic: name, groupId });
    return d;
  }

  forget(name: string): void {
    this.topics.delete(name);
  }

  admin(): Admin {
    return new RabbitAdmin(this);
  }

  producer(options: ProducerOptions = {}): Producer {
    return new RabbitProducer(this, options);
  }

  consumer(options: ConsumerOptions): Consumer {
    return new RabbitConsumer(this, options);
  }

  async close(): Promise<void> {
    const s = this.shared;
    this.shared = undefined;
    if (s) await (await s.catch(() => undefined))?.close().catch(() => undefined);
  }
}

class RabbitAdmin implements Admin {
  constructor(private readonly transport: RabbitTransport) {}

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      const kind: TopicKind = spec.kind ?? 'work';
      checkTopicSpec(spec, 'rabbit');
      const existing = await this.transport.describe(spec.name);
      if (existing && (existing.partitions !== spec.partitions || existing.kind !== kind)) {
        throw new TopicConflictError(
          `topic exists with ${existing.partitions} partitions (${existing.kind}), not ${spec.partitions} (${kind})`,
          { transport: 'rabbit', topic: spec.name });
      }
      await this.transport.withChannel(async (ch) => {
        await ch.assertExchange(spec.name, 'direct', { durable: true, arguments: { [ARG_PARTITIONS]: spec.partitions, [ARG_KIND]: kind } });
        for (let p = 0; p < spec.partitions; p++) {
          const q = partitionQueue(spec.name, p);
          await ch.assertQueue(q, { durable: true, arguments: queueArguments(kind, spec.retentionMs) });
          await ch.bindQueue(q, spec.name, String(p));
        }
      });
    }
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const d = await this.transport.describe(name);
      this.transport.forget(name);
      if (!d) continue;
      await this.transport.withChannel(async (ch) => {
        for (let p = 0; p < d.partitions; p++) await ch.deleteQueue(partitionQueue(name, p));
        await ch.deleteExchange(name);
      });
    }
  }

  describeTopic(name: string): Promise<TopicDescription | undefined> {
    this.transport.forget(name);
    return this.transport.describe(name);
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    for (const g of groupIds) {
      await this.transport.withChannel(async (ch) => {
        await ch.deleteQueue(offsetsStream(g));
        await ch.deleteExchange(groupExchange(g));
      });
    }
  }
}

class RabbitProducer implements Producer {
  private channel: ConfirmChannel | undefined;
  private readonly partitioner = new Partitioner();

  constructor(private readonly transport: RabbitTransport, _options: ProducerOptions) {}

  async connect(): Promise<void> {
    const conn = await this.transport.sharedConnection();
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    ch.on('close', () => { if (this.channel === ch) this.channel = undefined; });
    this.channel = ch;
  }

  async maxRecordBytes(): Promise<number> {
    return this.transport.options.maxMessageBytes ?? RABBIT_DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Key, value and headers: more than the body `max_message_size` counts, so a record within it always fits. */
  recordSize(record: ProducerRecord): number {
    return plainRecordSize(record);
  }

  async send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    const ch = this.channel;
    if (!ch) throw new ClosedError('producer is not connected', { transport: 'rabbit' });
    const topics = new Map<string, TopicDescription>();
    for (const name of new Set(records.map((r) => r.topic))) topics.set(name, await this.transport.require(name));
    const limit = await this.maxRecordBytes();
    const placed = records.map((r) => {
      const topic = topics.get(r.topic)!;
      const partition = r.partition ?? this.partitioner.partition(r.key, topic.partitions);
      if (partition < 0 || partition >= topic.partitions) {
        throw new InvalidPartitionError(`partition out of range 0..${topic.partitions - 1}`, { transport: 'rabbit', topic: r.topic, partition, key: r.key });
      }
      // Refused before anything is published: a broker refusal would close the channel mid-send.
      const size = plainRecordSize(r);
      if (size > limit) throw new RecordTooLargeError(size, limit, { transport: 'rabbit', topic: r.topic, partition, key: r.key });
      const headerBytes = size - (r.value?.length ?? 0);
      if (headerBytes > HEADER_FRAME_BUDGET) {
        throw new RecordTooLargeError(headerBytes, HEADER_FRAME_BUDGET, { transport: 'rabbit', topic: r.topic, partition, key: r.key, cause: new Error('key and headers must fit in one AMQP frame') });
      }
      return { r, partition, size };
    });
    const window = this.transport.options.maxUnconfirmedBytes ?? 16 * 1024 * 1024;
    const out: RecordMetadata[] = [];
    let unconfirmed = 0;
    try {
      for (const { r, partition, size } of placed) {
        const m = encode(r.key, r.value, r.headers, r.timestamp ?? Date.now());
        // mandatory: a message no queue takes comes back instead of vanishing.
        const ok = ch.publish(r.topic, String(partition), m.content, { headers: m.headers, persistent: true, mandatory: true });
        if (!ok) await new Promise((resolve) => ch.once('drain', resolve));
        out.push({ topic: r.topic, partition, offset: undefined });
        // Bounds what the broker holds unconfirmed for this channel, whatever the backlog: a
        // commit of a hundred megabytes would otherwise sit in its memory until the last confirm.
        unconfirmed += size;
        if (unconfirmed >= window) { await ch.waitForConfirms(); unconfirmed = 0; }
      }
      await ch.waitForConfirms();
    } catch (cause) {
      const first = records[0];
      throw new ProduceError('broker did not confirm the records', { transport: 'rabbit', topic: first?.topic, key: first?.key, cause });
    }
    return out;
  }

  async sendTransaction(): Promise<void> {
    throw new UnsupportedCapabilityError('transactions',
      'RabbitMQ has no transaction spanning consume and publish; the engine gives effectively-once on it by deduplicating on source positions (guarantee "exactly_once")',
      { transport: 'rabbit' });
  }

  async disconnect(): Promise<void> {
    const ch = this.channel;
    this.channel = undefined;
    await ch?.close().catch(() => undefined);
  }
}
