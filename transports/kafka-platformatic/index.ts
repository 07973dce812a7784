/**
 * The Kafka transport on @platformatic/kafka (maintained; 1.35 is the Node 20 line), beside the
 * KafkaJS one and with the same capabilities. Partitions are chosen with our murmur2 and sent
 * explicitly; sends are split with the KafkaJS transport's request planner (`../kafka/requests.ts`);
 * consumers commit explicitly. The client's message stream fetches every assigned partition, so
 * per-partition pause and seek are done here: records of a paused or repositioned partition are
 * dropped and fetched again from the position we keep.
 */
import {
  Admin as PltAdmin, Consumer as PltConsumer, Producer as PltProducer, type Message, type MessagesStream,
} from '@platformatic/kafka';
import {
  BrokerUnreachableError, ClosedError, CommitError, HandlerError, InvalidPartitionError, NotAssignedError, ProduceError,
  RecordTooLargeError, TopicConflictError, TransportError, UnknownTopicError, type ErrorContext,
} from '../errors.ts';
import { kafkaCapabilities } from '../kafka/index.ts';
import { BROKER_DEFAULT_MAX_MESSAGE_BYTES, kafkaRecordSize, partitionBudget, splitRequests, type Placed, type RequestLimits } from '../kafka/requests.ts';
import { Partitioner } from '../partitioner.ts';
import type {
  Admin, BatchHandler, ConsumedRecord, Consumer, ConsumerOptions, GroupPositions, Headers, Producer, ProducerOptions, ProducerRecord,
  RecordMetadata, TopicDescription, TopicPartition, TopicPartitionOffset, TopicSpec, Transport,
} from '../types.ts';
import { checkTopicSpec, deferred, sleep, toHeaders, tpKey, withTimeout, type Deferred } from '../util.ts';
import { copartitionedAssigner } from './assigner.ts';
import { splitByTimestamp } from './timestamps.ts';
import { topicConfigEntries, type TopicConfigOptions } from '../kafka/topic-config.ts';

export interface PlatformaticKafkaTransportOptions extends TopicConfigOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Bound on establishing a connection; an unreachable broker fails within a few multiples of it. */
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** A consumer that stops heartbeating for this long leaves its group. */
  readonly sessionTimeoutMs?: number;
  /**
   * Delay between the client's retries (default 20 ms). The client's default of 250 ms is paid on
   * every CONCURRENT_TRANSACTIONS answer, i.e. between most back-to-back transactions.
   */
  readonly retryDelayMs?: number;
  /** Records of one partition per produce request (default 2000), as on the KafkaJS transport. */
  readonly maxRecordsPerPartition?: number;
  /** Record bytes per produce request, all partitions together (default 16 MiB). */
  readonly maxRequestBytes?: number;
}

/** ConfigResourceTypes.TOPIC. */
const TOPIC_RESOURCE = 2;
const READ_COMMITTED = 1;
const EARLIEST = -2n;
const LATEST = -1n;
/** Coordinator loading or moving, a member not yet timed out (NON_EMPTY_GROUP). */
const GROUP_DELETE_RETRIABLE = /COORDINATOR_LOAD_IN_PROGRESS|COORDINATOR_NOT_AVAILABLE|NOT_COORDINATOR|NON_EMPTY_GROUP/;
const GROUP_DELETE_PATIENCE_MS = 30_000;

/** Kafka error ids anywhere in a client error (its `apiId`, nested `errors`, `cause`). */
function apiIds(e: unknown, out: string[] = [], depth = 0): string[] {
  if (!e || typeof e !== 'object' || depth > 6) return out;
  const x = e as { apiId?: unknown; errors?: unknown; cause?: unknown; code?: unknown };
  if (typeof x.apiId === 'string') out.push(x.apiId);
  if (typeof x.code === 'string') out.push(x.code);
  if (Array.isArray(x.errors)) for (const c of x.errors) apiIds(c, out, depth + 1);
  if (x.cause) apiIds(x.cause, out, depth + 1);
  return out;
}

const has = (e: unknown, id: string | RegExp): boolean => apiIds(e).some((i) => (typeof id === 'string' ? i === id : id.test(i)));

export class PlatformaticKafkaTransport implements Transport {
  readonly name = 'kafka' as const;
  readonly capabilities = kafkaCapabilities;
  private readonly metadata: TopicMetadataCache;

  constructor(readonly options: PlatformaticKafkaTransportOptions) {
    this.metadata = new TopicMetadataCache(this);
  }

  /** Options every client of this transport shares. */
  base(kind: string) {
    return {
      clientId: `${this.options.clientId ?? 'orderstream'}-${kind}`,
      bootstrapBrokers: [...this.options.brokers],
      connectTimeout: this.options.connectionTimeoutMs ?? 3000,
      timeout: this.options.requestTimeoutMs ?? 30000,
      retries: 10,
      retryDelay: this.options.retryDelayMs ?? 20,
    };
  }

  get address(): string {
    return this.options.brokers.join(',');
  }

  wrap(e: unknown, message: string, context: Omit<ErrorContext, 'transport' | 'cause'> = {}): TransportError {
    if (e instanceof TransportError) return e;
    const ctx = { transport: 'kafka' as const, ...context, cause: e };
    if (has(e, 'UNKNOWN_TOPIC_OR_PARTITION') || has(e, 'UNKNOWN_TOPIC_ID')) return new UnknownTopicError(ctx);
    if (has(e, /^PLT_KFK_(NETWORK|TIMEOUT)$/) && !apiIds(e).some((i) => /^[A-Z_]+$/.test(i) && !i.startsWith('PLT_'))) {
      return new BrokerUnreachableError(this.address, ctx);
    }
    const retriable = (e as { canRetry?: boolean } | null)?.canRetry === true;
    return new TransportError(message, ctx, retriable);
  }

  /** Proves the broker answers within a bounded time (the client connects lazily). */
  async reach(client: PltAdmin | PltProducer | PltConsumer, what: string): Promise<void> {
    const bound = (this.options.connectionTimeoutMs ?? 3000) * 4;
    try {
      await withTimeout(client.metadata({ topics: [] }), bound, () => new BrokerUnreachableError(this.address, { transport: 'kafka' }));
    } catch (e) {
      void client.close().catch(() => undefined);
      const w = this.wrap(e, `${what} could not connect`);
      throw w instanceof BrokerUnreachableError ? w : new BrokerUnreachableError(this.address, { transport: 'kafka', cause: e });
    }
  }

  admin(): Admin {
    return new PltAdminClient(this, this.metadata);
  }

  producer(options: ProducerOptions = {}): Producer {
    return new PltProducerClient(this, this.metadata, options);
  }

  consumer(options: ConsumerOptions): Consumer {
    return new PltConsumerClient(this, this.metadata, options);
  }

  async close(): Promise<void> {
    await this.metadata.close();
  }
}

/** Partition counts, record-size limits and group coordinators, fetched once. */
class TopicMetadataCache {
  private admin: PltAdmin | undefined;
  private connecting: Promise<PltAdmin> | undefined;
  private readonly counts = new Map<string, number>();
  private readonly budgets = new Map<string, number>();

  constructor(private readonly transport: PlatformaticKafkaTransport) {}

  async client(): Promise<PltAdmin> {
    if (this.admin) return this.admin;
    this.connecting ??= (async () => {
      const admin = new PltAdmin(this.transport.base('admin'));
      await this.transport.reach(admin, 'admin');
      this.admin = admin;
      return admin;
    })().finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  async partitions(topic: string): Promise<number> {
    const known = this.counts.get(topic);
    if (known !== undefined) return known;
    const admin = await this.client();
    try {
      const md = await admin.metadata({ topics: [topic], forceUpdate: true });
      const n = md.topics.get(topic)?.partitionsCount ?? 0;
      if (n === 0) throw new UnknownTopicError({ transport: 'kafka', topic });
      this.counts.set(topic, n);
      return n;
    } catch (e) {
      throw this.transport.wrap(e, 'cannot read topic metadata', { topic });
    }
  }

  /** The topic's `max.message.bytes` less the batch header and headroom; the broker default where unreadable. */
  async partitionBudget(topic: string): Promise<number> {
    const known = this.budgets.get(topic);
    if (known !== undefined) return known;
    let max = BROKER_DEFAULT_MAX_MESSAGE_BYTES;
    try {
      const admin = await this.client();
      const res = await admin.describeConfigs({ resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configurationKeys: ['max.message.bytes'] }] });
      const value = Number(res[0]?.configs.find((c) => c.name === 'max.message.bytes')?.value);
      if (Number.isInteger(value) && value > 0) max = value;
    } catch (e) {
      if (e instanceof BrokerUnreachableError) throw e;
    }
    const budget = partitionBudget(max);
    this.budgets.set(topic, budget);
    return budget;
  }

  forget(topic: string): void {
    this.counts.delete(topic);
    this.budgets.delete(topic);
  }

  async close(): Promise<void> {
    const a = this.admin;
    this.admin = undefined;
    this.counts.clear();
    this.budgets.clear();
    await a?.close();
  }
}

class PltAdminClient implements Admin {
  constructor(private readonly transport: PlatformaticKafkaTransport, private readonly metadata: TopicMetadataCache) {}

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.metadata.client();
    const existing = new Set(await admin.listTopics());
    for (const spec of specs) {
      checkTopicSpec(spec, 'kafka');
      if (existing.has(spec.name)) {
        const have = await this.metadata.partitions(spec.name);
        if (have !== spec.partitions) {
          throw new TopicConflictError(`topic exists with ${have} partitions, not ${spec.partitions}`, { transport: 'kafka', topic: spec.name });
        }
        continue;
      }
      const configs = topicConfigEntries(spec, this.transport.options);
      try {
        await admin.createTopics({ topics: [spec.name], partitions: spec.partitions, replicas: 1, configs });
      } catch (e) {
        // Another client creating the same topic at the same moment is not an error.
        if (!has(e, 'TOPIC_ALREADY_EXISTS')) throw this.transport.wrap(e, 'cannot create topics', { topic: spec.name });
      }
      await this.waitForLeaders(spec.name);
    }
  }

  /** A new topic's partitions have leaders once metadata lists them all with one. */
  private async waitForLeaders(topic: string): Promise<void> {
    const admin = await this.metadata.client();
    for (let attempt = 1; attempt <= 50; attempt++) {
      try {
        const md = await admin.metadata({ topics: [topic], forceUpdate: true });
        const t = md.topics.get(topic);
        if (t && t.partitionsCount > 0 && t.partitions.every((p) => p && p.leader >= 0)) return;
      } catch {
        // Not known to the broker answering yet.
      }
      await sleep(100);
    }
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const admin = await this.metadata.client();
    const existing = new Set(await admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    for (const n of names) this.metadata.forget(n);
    if (present.length === 0) return;
    try {
      await admin.deleteTopics({ topics: present });
    } catch (e) {
      if (!has(e, 'UNKNOWN_TOPIC_OR_PARTITION')) throw this.transport.wrap(e, 'cannot delete topics', { topic: present.join(',') });
    }
  }

  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    const admin = await this.metadata.client();
    if (!(await admin.listTopics()).includes(name)) return undefined;
    return { name, partitions: await this.metadata.partitions(name), kind: 'replayable' };
  }

  async listTopics(prefix: string): Promise<string[]> {
    const admin = await this.metadata.client();
    return (await admin.listTopics()).filter((n) => n.startsWith(prefix)).sort();
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    const admin = await this.metadata.client();
    const deadline = Date.now() + GROUP_DELETE_PATIENCE_MS;
    for (const groupId of groupIds) {
      for (;;) {
        try {
          await admin.deleteGroups({ groups: [groupId] });
          break;
        } catch (e) {
          // A group that never committed does not exist on the broker: nothing to forget.
          if (has(e, 'GROUP_ID_NOT_FOUND')) break;
          if (!has(e, GROUP_DELETE_RETRIABLE) || Date.now() > deadline) throw this.transport.wrap(e, 'cannot delete consumer group', { groupId });
          await sleep(500);
        }
      }
    }
  }
}

type OutMessage = { topic: string; partition: number; key?: Buffer; value?: Buffer; headers?: Map<Buffer, Buffer>; timestamp?: bigint };

class PltProducerClient implements Producer {
  private readonly producer: PltProducer;
  private readonly partitioner = new Partitioner();
  private connected = false;

  constructor(private readonly transport: PlatformaticKafkaTransport, private readonly metadata: TopicMetadataCache, private readonly options: ProducerOptions) {
    this.producer = this.make();
  }

  /** Idempotent, acks=all; a transactional id fences an earlier incarnation of the same writer. */
  private make(): PltProducer {
    return new PltProducer({
      ...this.transport.base('producer'), idempotent: true, acks: -1, autocreateTopics: false,
      // InitProducerId with "no producer yet" (-1/-1): the client's default of 0/0 is taken by the
      // broker as an old incarnation's id, answered PRODUCER_FENCED whenever the transactional id
      // has state (every restart), and the predecessor's open transaction is never aborted.
      // Its transaction timeout is the request timeout: short, so a writer that died holds
      // read_committed readers back briefly (15 s, as on the KafkaJS transport).
      ...(this.options.transactionalId ? { transactionalId: this.options.transactionalId, producerId: -1n, producerEpoch: -1, timeout: 15000 } : {}),
    });
  }

  async connect(): Promise<void> {
    await this.transport.reach(this.producer, 'producer');
    this.connected = true;
  }

  maxRecordBytes(topic: string): Promise<number> {
    return this.metadata.partitionBudget(topic);
  }

  recordSize(record: ProducerRecord): number {
    return kafkaRecordSize(record);
  }

  async send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    const requests = await this.plan(records);
    const out: RecordMetadata[] = new Array(records.length);
    for (const request of requests) {
      let result;
      try {
        result = await this.producer.send({ messages: messages(request), acks: -1 });
      } catch (e) {
        const first = request[0]?.record;
        throw this.transport.wrap(e, 'records were not acknowledged', first && { topic: first.topic, key: first.key });
      }
      // Records of one partition in one request get consecutive offsets from the batch's base offset.
      const base = new Map((result.offsets ?? []).map((a) => [tpKey(a), Number(a.offset)]));
      const seen = new Map<string, number>();
      for (const { topic, partition, index } of request) {
        const k = tpKey({ topic, partition });
        const i = seen.get(k) ?? 0;
        seen.set(k, i + 1);
        const b = base.get(k);
        if (b === undefined) throw new ProduceError('broker returned no acknowledgement for the partition', { transport: 'kafka', topic, partition });
        out[index] = { topic, partition, offset: b + i };
      }
    }
    return out;
  }

  async sendTransaction(records: readonly ProducerRecord[], positions?: GroupPositions): Promise<void> {
    if (!this.options.transactionalId) {
      throw new TransportError('sendTransaction needs a producer created with a transactionalId', { transport: 'kafka' });
    }
    const requests = await this.plan(records);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.transactionOnce(requests, positions);
        return;
      } catch (e) {
        // The previous transaction's markers still being written (CONCURRENT_TRANSACTIONS) or the
        // coordinator moving: nothing was written, begin again. PRODUCER_FENCED and the rest are the caller's.
        if (attempt >= 20 || !has(e, /^(CONCURRENT_TRANSACTIONS|COORDINATOR_LOAD_IN_PROGRESS|COORDINATOR_NOT_AVAILABLE|NOT_COORDINATOR)$/)) throw e;
        await sleep(Math.min(1000, 20 * attempt));
      }
    }
  }

  private async transactionOnce(requests: readonly Placed[][], positions: GroupPositions | undefined): Promise<void> {
    const txn = await this.producer.beginTransaction().catch((e: unknown) => { throw this.transport.wrap(e, 'cannot begin a transaction'); });
    try {
      for (const request of requests) await txn.send({ messages: messages(request), acks: -1 });
      if (positions && positions.offsets.length > 0) {
        const { groupId } = positions;
        const coordinatorId = await this.coordinator(groupId);
        // The client takes the group from a consumer and each position from a consumed message;
        // only their group id, and the coordinator, are used. Generation -1 and no member id:
        // the broker checks no generation, as with KafkaJS's sendOffsets.
        await txn.addConsumer({ groupId } as unknown as PltConsumer);
        for (const o of positions.offsets) {
          const m = { topic: o.topic, partition: o.partition, offset: BigInt(o.offset) - 1n, metadata: { consumer: { groupId, generationId: -1, memberId: '', coordinatorId } } };
          await txn.addOffset(m as unknown as Message);
        }
      }
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => undefined);
      const first = requests[0]?.[0]?.record;
      throw this.transport.wrap(e, 'transaction aborted', { topic: first?.topic, key: first?.key, groupId: positions?.groupId });
    }
  }

  private readonly coordinators = new Map<string, number>();

  private async coordinator(groupId: string): Promise<number> {
    const known = this.coordinators.get(groupId);
    if (known !== undefined) return known;
    const admin = await this.metadata.client();
    const res = await admin.findCoordinator({ keyType: 0, keys: [groupId] });
    const id = res[0]!.nodeId;
    this.coordinators.set(groupId, id);
    return id;
  }

  private async plan(records: readonly ProducerRecord[]): Promise<Placed[][]> {
    if (!this.connected) throw new ClosedError('producer is not connected', { transport: 'kafka' });
    const counts = new Map<string, number>();
    const budgets = new Map<string, number>();
    for (const topic of new Set(records.map((r) => r.topic))) {
      counts.set(topic, await this.metadata.partitions(topic));
      budgets.set(topic, await this.metadata.partitionBudget(topic));
    }
    const placed: Placed[] = new Array(records.length);
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      const n = counts.get(record.topic)!;
      const partition = record.partition ?? this.partitioner.partition(record.key, n);
      if (partition < 0 || partition >= n) {
        throw new InvalidPartitionError(`partition out of range 0..${n - 1}`, { transport: 'kafka', topic: record.topic, partition, key: record.key });
      }
      const size = kafkaRecordSize(record);
      const limit = budgets.get(record.topic)!;
      if (size > limit) throw new RecordTooLargeError(size, limit, { transport: 'kafka', topic: record.topic, partition, key: record.key });
      placed[index] = { topic: record.topic, partition, record, index, size };
    }
    const limits: RequestLimits = {
      partitionBytes: (topic) => budgets.get(topic)!,
      requestBytes: this.transport.options.maxRequestBytes ?? 16 * 1024 * 1024,
      partitionRecords: this.transport.options.maxRecordsPerPartition ?? 2000,
    };
    const now = Date.now();
    return splitRequests(placed, limits).flatMap((request) => splitByTimestamp(request, now));
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.producer.close();
  }
}

function messages(request: readonly Placed[]): OutMessage[] {
  const now = Date.now();
  return request.map(({ topic, partition, record }) => {
    const m: OutMessage = { topic, partition };
    if (record.key) m.key = record.key;
    if (record.value) m.value = record.value;
    // The client's default (no-op) serializers take header names as bytes too.
    if (record.headers) m.headers = new Map(Object.entries(toHeaders(record.headers)).map(([name, v]) => [Buffer.from(name), v]));
    // Explicit, so the batch's first timestamp is the one splitByTimestamp measured from.
    m.timestamp = BigInt(record.timestamp ?? now);
    return m;
  });
}

/** Where one owned partition is read, as this adapter sees it. */
interface PartitionState {
  /** Records below this are stale (fetched before a seek or before the stable position was known). */
  next: bigint | undefined;
  /** After a backward move: records at or above this come from a fetch started before it. */
  ceiling: bigint | undefined;
  /** The first record dropped at or above the ceiling: seen again, it comes from the new fetch. */
  firstStale: bigint | undefined;
  /** Undelivered records, in order. */
  queue: ConsumedRecord[];
  paused: boolean;
  /** Until the stable committed position is known, records are dropped. */
  ready: boolean;
}

class PltConsumerClient implements Consumer {
  private readonly consumer: PltConsumer;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private readonly parts = new Map<string, PartitionState>();
  /** Per partition, the offset after the last record the client's stream delivered. */
  private readonly received = new Map<string, bigint>();
  private owned: TopicPartition[] = [];
  private callbacks: Promise<void> = Promise.resolve();
  private readonly done: Deferred<void> = deferred();
  private started: Deferred<void> = deferred();
  private connected = false;
  private running = false;
  private handler: BatchHandler | undefined;
  private draining = false;
  private buffered = 0;
  private readonly maxBatch: number;
  private readonly session: number;

  constructor(private readonly transport: PlatformaticKafkaTransport, private readonly metadata: TopicMetadataCache, private readonly options: ConsumerOptions) {
    this.session = transport.options.sessionTimeoutMs ?? 10000;
    this.maxBatch = options.maxBatchSize ?? 500;
    this.consumer = new PltConsumer({
      ...transport.base('consumer'), groupId: options.groupId, autocreateTopics: false,
      sessionTimeout: this.session, rebalanceTimeout: Math.max(this.session, 30000), heartbeatInterval: Math.max(100, Math.floor(this.session / 10)),
    });
    this.consumer.on('consumer:group:join', (e) => {
      this.changeAssignment((e.assignments ?? []).flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition }))));
      this.started.resolve();
    });
    this.consumer.on('consumer:group:rebalance', () => this.changeAssignment([]));
  }

  private changeAssignment(next: TopicPartition[]): void {
    const nextKeys = new Set(next.map(tpKey));
    const prevKeys = new Set(this.owned.map(tpKey));
    const revoked = this.owned.filter((tp) => !nextKeys.has(tpKey(tp)));
    const assigned = next.filter((tp) => !prevKeys.has(tpKey(tp)));
    this.owned = next;
    for (const tp of revoked) {
      const s = this.parts.get(tpKey(tp));
      if (s) this.buffered -= s.queue.length;
      this.parts.delete(tpKey(tp));
    }
    for (const tp of assigned) this.parts.set(tpKey(tp), { next: undefined, ceiling: undefined, firstStale: undefined, queue: [], paused: false, ready: false });
    this.callbacks = this.callbacks.then(async () => {
      if (revoked.length) await this.options.onRevoke?.(revoked);
      if (assigned.length) {
        await this.position(assigned);
        await this.options.onAssign?.(assigned);
      }
    }).catch((e) => this.fail(this.transport.wrap(e, 'rebalance callback failed', { groupId: this.options.groupId })));
    this.callbacks.then(() => this.schedule(), () => undefined);
  }

  /**
   * Where newly assigned partitions start: the committed position read with require_stable (the
   * client's own stream reads it without, so a transaction still being completed would be read
   * as its predecessor's position), else the reset policy.
   */
  private async position(tps: readonly TopicPartition[]): Promise<void> {
    const committed = await this.stableCommitted(tps);
    const missing = tps.filter((_, i) => committed[i] === undefined);
    const reset = new Map<string, bigint>();
    if (missing.length) {
      const admin = await this.metadata.client();
      const timestamp = this.options.autoOffsetReset === 'latest' ? LATEST : EARLIEST;
      const byTopic = new Map<string, number[]>();
      for (const tp of missing) (byTopic.get(tp.topic) ?? byTopic.set(tp.topic, []).get(tp.topic)!).push(tp.partition);
      const res = await admin.listOffsets({
        topics: [...byTopic].map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp })) })),
        isolationLevel: READ_COMMITTED,
      });
      for (const t of res) for (const p of t.partitions) reset.set(tpKey({ topic: t.name, partition: p.partitionIndex }), p.offset);
    }
    tps.forEach((tp, i) => {
      const s = this.parts.get(tpKey(tp));
      if (!s) return;
      const at = committed[i] !== undefined ? BigInt(committed[i]!) : reset.get(tpKey(tp)) ?? 0n;
      this.reposition(tp, s, at);
      s.ready = true;
    });
  }

  /** Moves the client's fetch position of a partition and drops what was fetched from elsewhere. */
  private reposition(tp: TopicPartition, s: PartitionState, at: bigint): void {
    this.buffered -= s.queue.length;
    s.queue = [];
    const key = `${tp.topic}:${tp.partition}`;
    // Records still coming from fetches made before this move start where the stream stood.
    const was = this.received.get(tpKey(tp)) ?? this.stream?.offsetsToFetch.get(key);
    s.ceiling = was !== undefined && at < was ? was : undefined;
    s.firstStale = undefined;
    s.next = at;
    this.stream?.offsetsToFetch.set(key, at);
  }

  async connect(): Promise<void> {
    await this.transport.reach(this.consumer, 'consumer');
    this.connected = true;
  }

  async run(handler: BatchHandler): Promise<void> {
    if (!this.connected) throw new ClosedError('consumer is not connected', { transport: 'kafka', groupId: this.options.groupId });
    this.handler = handler;
    this.running = true;
    try {
      this.stream = await this.consumer.consume({
        topics: [...this.options.topics], autocommit: false, mode: 'committed',
        fallbackMode: this.options.autoOffsetReset === 'latest' ? 'latest' : 'earliest',
        isolationLevel: READ_COMMITTED, maxWaitTime: 100, partitionAssigner: copartitionedAssigner,
        sessionTimeout: this.session, rebalanceTimeout: Math.max(this.session, 30000), heartbeatInterval: Math.max(100, Math.floor(this.session / 10)),
      });
    } catch (e) {
      this.running = false;
      throw this.transport.wrap(e, 'cannot subscribe', { groupId: this.options.groupId, topic: this.options.topics.join(',') });
    }
    // The join may have been announced before the stream existed: apply positions known so far.
    for (const [k, s] of this.parts) if (s.next !== undefined) this.stream.offsetsToFetch.set(k.replace('\u0000', ':'), s.next);
    this.stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => this.receive(m));
    this.stream.on('error', (e: Error) => this.fail(this.transport.wrap(e, 'consumer crashed', { groupId: this.options.groupId })));
    if (this.consumer.assignments) this.started.resolve();
    await withTimeout(this.started.promise, 60000, () => new TransportError('consumer did not join its group in 60 s', { transport: 'kafka', groupId: this.options.groupId }));
  }

  private receive(m: Message<Buffer, Buffer, Buffer, Buffer>): void {
    const k = tpKey(m);
    this.received.set(k, m.offset + 1n);
    const s = this.parts.get(k);
    if (!s || !s.ready) return;
    if (s.next !== undefined && m.offset < s.next) return;
    if (s.ceiling !== undefined) {
      if (m.offset >= s.ceiling && m.offset !== s.firstStale) {
        // From a fetch started before a backward move: ask again from the position we keep.
        s.firstStale ??= m.offset;
        this.stream?.offsetsToFetch.set(`${m.topic}:${m.partition}`, s.next!);
        return;
      }
      s.ceiling = undefined;
      s.firstStale = undefined;
    }
    s.next = m.offset + 1n;
    const headers: Headers = {};
    for (const [name, value] of m.headers) headers[name.toString()] = value;
    s.queue.push({
      topic: m.topic, partition: m.partition, offset: Number(m.offset), key: m.key ?? null, value: m.value ?? null, headers,
      timestamp: Number(m.timestamp),
    });
    this.buffered++;
    // Bound what waits in memory: the client's stream stops fetching while paused.
    if (this.buffered > this.maxBatch * 20 && this.deliverable() > this.maxBatch * 20 && this.stream && !this.stream.isPaused()) this.stream.pause();
    this.schedule();
  }

  /** Records waiting for partitions that are not paused (a paused partition's records wait in memory). */
  private deliverable(): number {
    let n = 0;
    for (const s of this.parts.values()) if (!s.paused) n += s.queue.length;
    return n;
  }

  private schedule(): void {
    if (this.draining || !this.running) return;
    this.draining = true;
    setImmediate(() => void this.drain());
  }

  /** Hands batches over one at a time, partition by partition, as the KafkaJS transport does. */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        await this.callbacks;
        if (!this.running) return;
        let handed = false;
        for (const [, s] of this.parts) {
          if (!this.running) return;
          if (s.paused || s.queue.length === 0) continue;
          const chunk = s.queue.splice(0, this.maxBatch);
          this.buffered -= chunk.length;
          handed = true;
          const first = chunk[0]!;
          try {
            await this.handler!({ topic: first.topic, partition: first.partition, records: chunk });
          } catch (cause) {
            this.fail(new HandlerError('handler failed; batch not committed', {
              transport: 'kafka', groupId: this.options.groupId, topic: first.topic, partition: first.partition, offset: first.offset, cause,
            }));
            return;
          }
        }
        if (this.stream?.isPaused() && this.deliverable() < this.maxBatch * 5 && this.running) this.stream.resume();
        if (!handed) return;
      }
    } finally {
      this.draining = false;
      if (this.running && [...this.parts.values()].some((s) => !s.paused && s.queue.length > 0)) this.schedule();
    }
  }

  private fail(error: Error): void {
    if (this.done.settled) return;
    this.running = false;
    void this.close().finally(() => this.done.reject(error));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) {
      if (!this.owns(o)) throw new NotAssignedError({ transport: 'kafka', groupId: this.options.groupId, topic: o.topic, partition: o.partition, offset: o.offset });
    }
    try {
      await this.consumer.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset) - 1n, leaderEpoch: -1 })) });
    } catch (e) {
      const o = offsets[0];
      throw new CommitError('commit failed', { transport: 'kafka', groupId: this.options.groupId, topic: o?.topic, partition: o?.partition, offset: o?.offset, cause: e });
    }
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    try {
      return await this.stableCommitted(partitions);
    } catch (e) {
      throw this.transport.wrap(e, 'cannot fetch committed offsets', { groupId: this.options.groupId });
    }
  }

  /** OffsetFetch with require_stable: waits out transactional offsets not yet completed. */
  private async stableCommitted(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    const admin = await this.metadata.client();
    const byTopic = new Map<string, number[]>();
    for (const tp of partitions) (byTopic.get(tp.topic) ?? byTopic.set(tp.topic, []).get(tp.topic)!).push(tp.partition);
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await admin.listConsumerGroupOffsets({
          groups: [{ groupId: this.options.groupId, topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
          requireStable: true,
        });
        const by = new Map<string, bigint>();
        for (const g of res) for (const t of g.topics) for (const p of t.partitions) by.set(tpKey({ topic: t.name, partition: p.partitionIndex }), p.committedOffset);
        return partitions.map((tp) => {
          const o = by.get(tpKey(tp));
          return o === undefined || o < 0n ? undefined : Number(o);
        });
      } catch (e) {
        if (attempt >= 100 || !has(e, 'UNSTABLE_OFFSET_COMMIT')) throw e;
        await sleep(50);
      }
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const s = this.parts.get(tpKey(tp));
      if (!s || s.paused) continue;
      s.paused = true;
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const s = this.parts.get(tpKey(tp));
      if (s) s.paused = false;
    }
    this.schedule();
  }

  async seek(target: TopicPartitionOffset): Promise<void> {
    const s = this.parts.get(tpKey(target));
    if (!s || !this.owns(target)) throw new NotAssignedError({ transport: 'kafka', groupId: this.options.groupId, topic: target.topic, partition: target.partition, offset: target.offset });
    this.reposition(target, s, BigInt(target.offset));
    this.schedule();
  }

  assignment(): TopicPartition[] {
    return [...this.owned];
  }

  stopped(): Promise<void> {
    return this.done.promise;
  }

  private async close(): Promise<void> {
    this.running = false;
    this.connected = false;
    await this.stream?.close().catch(() => undefined);
    await (this.consumer.close(true) as unknown as Promise<void>).catch(() => undefined);
  }

  async disconnect(): Promise<void> {
    await this.close();
    this.changeAssignment([]);
    await this.callbacks;
    this.done.resolve();
  }

  private owns(tp: TopicPartition): boolean {
    return this.parts.has(tpKey(tp));
  }
}
