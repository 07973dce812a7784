/**
 * The RabbitMQ transport, on amqplib (AMQP 0-9-1). See naming.ts for how topics, partitions and
 * groups map onto exchanges and queues. Works on RabbitMQ 3.10 (Debian) and newer: it needs
 * quorum queues, single-active-consumer and streams, nothing of 3.11+.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import {
  UnsupportedCapabilityError, BrokerUnreachableError, ClosedError, ConnectionLostError, InvalidPartitionError, ProduceError, RecordTooLargeError,
  TopicConflictError, TransportError, UnknownTopicError,
} from '../errors.ts';
import { Partitioner } from '../partitioner.ts';
import type {
  Admin, Capabilities, Consumer, ConsumerOptions, Producer, ProducerOptions, ProducerRecord, RecordMetadata,
  TopicDescription, TopicKind, TopicSpec, Transport,
} from '../types.ts';
import { checkTopicSpec, plainRecordSize, withTimeout } from '../util.ts';
import { Backoff, type ReconnectOptions } from '../backoff.ts';
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
  /**
   * Reconnection after a lost connection (amqplib does not reconnect): consumers retry with this
   * back-off until `maxElapsedMs`; producers reconnect at their next send, no sooner than the
   * back-off allows, and fail sends in between at once with a retriable error.
   */
  readonly reconnect?: ReconnectOptions;
  /**
   * Size bound of a group's offsets stream (x-max-length-bytes), default 256 MiB. Fixed when the
   * stream is first declared: a group whose stream exists with another bound cannot join.
   */
  readonly offsetsMaxBytes?: number;
  /**
   * A member re-writes the committed position of every partition it owns on assignment, and again
   * for a partition not committed within this long (default 60 s), so that retention never drops a
   * live group's position. 0 turns both off (positions then survive only within `offsetsMaxBytes`
   * of later commits).
   */
  readonly offsetsRefreshMs?: number;
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
  /** Connections the broker (or we) closed: a call that failed on one failed for the loss. */
  private readonly closedConnections = new WeakSet<ChannelModel>();
  /** Back-off of the shared connection: while it runs, callers get `sharedFailure` at once. */
  private sharedBackoff: Backoff | undefined;
  private sharedRetryAt = 0;
  private sharedFailure: TransportError | undefined;

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
      conn.on('close', () => { this.closedConnections.add(conn); });
      return conn;
    } catch (cause) {
      if (cause instanceof TransportError) throw cause;
      throw new BrokerUnreachableError(this.address, { transport: 'rabbit', cause });
    }
  }

  /** Whether `conn` is closed, so that a call that failed on it failed because of that. */
  isClosed(conn: ChannelModel): boolean {
    return this.closedConnections.has(conn);
  }

  /**
   * The connection shared by admin and producers (consumers each hold their own). After a loss
   * the next caller opens a new one; after a failed attempt, callers within the back-off wait get
   * the same retriable error at once instead of knocking on a broker that is away.
   */
  sharedConnection(): Promise<ChannelModel> {
    if (this.shared) return this.shared;
    if (this.sharedFailure && Date.now() < this.sharedRetryAt) return Promise.reject(this.sharedFailure);
    this.shared = this.connect().then((c) => {
      this.sharedBackoff = undefined;
      this.sharedFailure = undefined;
      c.on('close', () => { if (this.shared === attempt) this.shared = undefined; });
      return c;
    }, (e: unknown) => {
      this.shared = undefined;
      this.sharedBackoff ??= new Backoff(this.options.reconnect);
      this.sharedRetryAt = Date.now() + this.sharedBackoff.next();
      this.sharedFailure = e instanceof TransportError ? e : new BrokerUnreachableError(this.address, { transport: 'rabbit', cause: e });
      throw this.sharedFailure;
    });
    const attempt = this.shared;
    return attempt;
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
    this.sharedFailure = undefined;
    if (s) await (await s.catch(() => undefined))?.close().catch(() => undefined);
  }
}

class RabbitAdmin implements Admin {
  constructor(private readonly transport: RabbitTransport) {}

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    // The vhost's queues, listed once per call and only if some topic exists already.
    let queues: Promise<Set<string>> | undefined;
    for (const spec of specs) {
      const kind: TopicKind = spec.kind ?? 'work';
      checkTopicSpec(spec, 'rabbit');
      const existing = await this.transport.describe(spec.name);
      if (existing && (existing.partitions !== spec.partitions || existing.kind !== kind)) {
        throw new TopicConflictError(
          `topic exists with ${existing.partitions} partitions (${existing.kind}), not ${spec.partitions} (${kind})`,
          { transport: 'rabbit', topic: spec.name });
      }
      // A queue is re-declared only with the arguments it has (else the broker closes the channel,
      // PRECONDITION_FAILED): those of an existing topic are left as they are, whatever the spec says.
      const present = existing ? await (queues ??= this.transport.management.queues('').then((names) => new Set(names))) : new Set<string>();
      await this.transport.withChannel(async (ch) => {
        await ch.assertExchange(spec.name, 'direct', { durable: true, arguments: { [ARG_PARTITIONS]: spec.partitions, [ARG_KIND]: kind } });
        for (let p = 0; p < spec.partitions; p++) {
          const q = partitionQueue(spec.name, p);
          if (!present.has(q)) await ch.assertQueue(q, { durable: true, arguments: queueArguments(kind, spec) });
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

  async listTopics(prefix: string): Promise<string[]> {
    // A topic is an exchange carrying its partition count; group and lock exchanges carry none.
    const exchanges = await this.transport.management.exchanges(prefix);
    return exchanges.filter((e) => Number.isInteger(Number(e.arguments?.[ARG_PARTITIONS]))).map((e) => e.name).sort();
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
  private opening: Promise<ConfirmChannel> | undefined;
  /** The connection `channel` is on: a send that failed on a closed one failed for the loss. */
  private conn: ChannelModel | undefined;
  /** Between connect() and disconnect(): a lost channel is then re-opened, not an error for good. */
  private open = false;
  private readonly partitioner = new Partitioner();

  constructor(private readonly transport: RabbitTransport, _options: ProducerOptions) {}

  async connect(): Promise<void> {
    await this.ensureChannel();
    this.open = true;
  }

  /**
   * The confirm channel, re-opened on the shared connection after a loss. While the broker is
   * away this rejects at once (within the connection timeout at most) with a retriable error.
   */
  private ensureChannel(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= (async () => {
      const conn = await this.transport.sharedConnection();
      let ch: ConfirmChannel;
      try {
        ch = await conn.createConfirmChannel();
      } catch (cause) {
        throw new ConnectionLostError(this.transport.address, { transport: 'rabbit', cause });
      }
      ch.on('error', () => undefined);
      ch.on('close', () => { if (this.channel === ch) this.channel = undefined; });
      this.channel = ch;
      this.conn = conn;
      return ch;
    })().finally(() => { this.opening = undefined; });
    return this.opening;
  }

  async maxRecordBytes(): Promise<number> {
    return this.transport.options.maxMessageBytes ?? RABBIT_DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Key, value and headers: more than the body `max_message_size` counts, so a record within it always fits. */
  recordSize(record: ProducerRecord): number {
    return plainRecordSize(record);
  }

  async send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    if (!this.open) throw new ClosedError('producer is not connected', { transport: 'rabbit' });
    const ch = await this.ensureChannel();
    const conn = this.conn!;
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
        // A channel closed while waiting (connection lost) never drains: the next publish throws.
        if (!ok) await drainOrClose(ch);
        out.push({ topic: r.topic, partition, offset: undefined });
        // Bounds what the broker holds unconfirmed for this channel, whatever the backlog: a
        // commit of a hundred megabytes would otherwise sit in its memory until the last confirm.
        unconfirmed += size;
        if (unconfirmed >= window) { await ch.waitForConfirms(); unconfirmed = 0; }
      }
      await ch.waitForConfirms();
    } catch (cause) {
      const first = records[0];
      const context = { transport: 'rabbit' as const, topic: first?.topic, key: first?.key, cause };
      // The connection's close event may follow the rejection of the confirms it caused.
      if (!this.transport.isClosed(conn)) await new Promise((r) => setTimeout(r, 50));
      if (this.transport.isClosed(conn)) throw new ConnectionLostError(this.transport.address, context);
      throw new ProduceError('broker did not confirm the records', context);
    }
    return out;
  }

  async sendTransaction(): Promise<void> {
    throw new UnsupportedCapabilityError('transactions',
      'RabbitMQ has no transaction spanning consume and publish; the engine gives effectively-once on it by deduplicating on source positions (guarantee "exactly_once")',
      { transport: 'rabbit' });
  }

  async disconnect(): Promise<void> {
    this.open = false;
    await this.opening?.catch(() => undefined);
    const ch = this.channel;
    this.channel = undefined;
    await ch?.close().catch(() => undefined);
  }
}

/** Resolves when the channel can take more, or has closed (a channel that closed never drains). */
function drainOrClose(ch: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { ch.off('drain', done); ch.off('close', done); resolve(); };
    ch.on('drain', done);
    ch.on('close', done);
  });
}
