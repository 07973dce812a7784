/**
 * The Kafka transport, on KafkaJS. Partitions are chosen here with Kafka's murmur2 (the same
 * function every transport uses) and sent explicitly, so a record's partition never depends
 * on a client default. Consumers commit explicitly; KafkaJS's auto-commit is off.
 */
import {
  Kafka, logLevel, type Admin as KafkaAdmin, type ConfigResourceTypes, type Consumer as KafkaConsumer, type ITopicConfig,
  type LogEntry, type Producer as KafkaProducer,
} from 'kafkajs';
import {
  BrokerUnreachableError, ClosedError, CommitError, HandlerError, InvalidPartitionError, NotAssignedError,
  ProduceError, RecordTooLargeError, TopicConflictError, TransportError, UnknownTopicError, type ErrorContext,
} from '../errors.ts';
import { Partitioner } from '../partitioner.ts';
import { CopartitionedAssigner } from './assigner.ts';
import { classifyKafkaError } from './faults.ts';
import { Backoff, type ReconnectOptions } from '../backoff.ts';
import { BROKER_DEFAULT_MAX_MESSAGE_BYTES, kafkaRecordSize, partitionBudget, splitRequests, type Placed, type RequestLimits } from './requests.ts';
import { topicConfigEntries, type TopicConfigOptions } from './topic-config.ts';
import type {
  Admin, BatchHandler, Capabilities, ConsumedRecord, Consumer, ConsumerOptions, GroupPositions, Headers, Producer, ProducerOptions,
  ProducerRecord, RecordMetadata, TopicDescription, TopicPartition, TopicPartitionOffset, TopicSpec, Transport,
} from '../types.ts';
import { checkTopicSpec, deferred, sleep, tpKey, withTimeout, type Deferred } from '../util.ts';

export interface KafkaTransportOptions extends TopicConfigOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Bound on establishing a connection; an unreachable broker fails within a few multiples of it. */
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** A consumer that stops heartbeating for this long leaves its group. */
  readonly sessionTimeoutMs?: number;
  /** KafkaJS log level routed to stderr; default errors only. */
  readonly logLevel?: 'nothing' | 'error' | 'warn' | 'info';
  /**
   * Records of one partition per produce request (default 2000): a send of more is split.
   * KafkaJS groups a request's records per partition in time quadratic in their count.
   */
  readonly maxRecordsPerPartition?: number;
  /** Record bytes per produce request, all partitions together (default 16 MiB, below the broker's 100 MiB socket.request.max.bytes). */
  readonly maxRequestBytes?: number;
  /** How a consumer rejoins after KafkaJS gave up on an outage (producers are replaced at their next call). */
  readonly reconnect?: ReconnectOptions;
}

const GROUP_ID_NOT_FOUND = 69;
/** ConfigResourceTypes.TOPIC: KafkaJS's enum is not an ESM named export of its CommonJS module. */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
/**
 * Worth waiting for: the coordinator loading or moving (14, 15, 16), and a group whose crashed
 * member has not yet timed out (68 NON_EMPTY_GROUP).
 */
const GROUP_DELETE_RETRIABLE = new Set([14, 15, 16, 68]);
const GROUP_DELETE_PATIENCE_MS = 30_000;

const ROUTINE = /group is rebalancing|coordinator is not available|coordinator is loading|not the correct coordinator|Response without match/i;

export const kafkaCapabilities: Capabilities = {
  transactions: true,
  compaction: true,
  replay: 'all-topics',
  groupsPerWorkTopic: 'many',
  // KafkaJS (eager protocol) has no revocation hook that the rebalance waits for: onRevoke is
  // called when the rebalance starts, concurrently with the rejoin.
  cooperativeRevocation: false,
};

export class KafkaTransport implements Transport {
  readonly name = 'kafka' as const;
  readonly capabilities = kafkaCapabilities;
  readonly kafka: Kafka;
  private readonly metadata: TopicMetadataCache;
  /** This process's running consumers per group: a transaction's positions are checked against them (zombie fencing). */
  readonly members = new Map<string, Set<KafkaConsumerClient>>();

  constructor(readonly options: KafkaTransportOptions) {
    const level = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO }[options.logLevel ?? 'error'];
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'orderstream',
      brokers: [...options.brokers],
      connectionTimeout: options.connectionTimeoutMs ?? 3000,
      requestTimeout: options.requestTimeoutMs ?? 30000,
      logLevel: level,
      logCreator: () => ({ namespace, label, log }: LogEntry) => {
        const line = `[kafkajs ${label} ${namespace}] ${log.message}${log.error ? `: ${String(log.error)}` : ''}`;
        // Coordinator hand-offs and rebalances are routine and retried by KafkaJS; real errors stay visible.
        if (ROUTINE.test(line)) return;
        console.error(line);
      },
      retry: { retries: 4, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    this.metadata = new TopicMetadataCache(this);
  }

  /** Where an unreachable broker is reported. */
  get address(): string {
    return this.options.brokers.join(',');
  }

  /**
   * Turns a KafkaJS error into ours. A broker outage (connection refused or closed, however deep
   * in KafkaJS's wrappers) becomes BrokerUnreachableError; a broker answer that means "not now"
   * (coordinator moving, leader loading) a TransportError with `retriable` true; a fenced
   * producer and everything else stay non-retriable.
   */
  wrap(e: unknown, message: string, context: Omit<ErrorContext, 'transport' | 'cause'> = {}): TransportError {
    if (e instanceof TransportError) return e;
    const ctx = { transport: 'kafka' as const, ...context, cause: e };
    const type = (e as { type?: string } | null)?.type;
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return new UnknownTopicError(ctx);
    switch (classifyKafkaError(e)) {
      case 'connection': return new BrokerUnreachableError(this.address, ctx);
      case 'retriable': return new TransportError(message, ctx, true);
      default: return new TransportError(message, ctx, false);
    }
  }

  /** Connects a KafkaJS client within a bounded time, whatever its retry settings. */
  async connectBounded(client: { connect(): Promise<void>; disconnect(): Promise<void> }, what: string): Promise<void> {
    const bound = (this.options.connectionTimeoutMs ?? 3000) * 4;
    try {
      await withTimeout(client.connect(), bound, () => new BrokerUnreachableError(this.address, { transport: 'kafka' }));
    } catch (e) {
      void client.disconnect().catch(() => undefined);
      throw this.wrap(e, `${what} could not connect`);
    }
  }

  admin(): Admin {
    return new KafkaAdminClient(this, this.metadata);
  }

  producer(options: ProducerOptions = {}): Producer {
    return new KafkaProducerClient(this, this.metadata, options);
  }

  consumer(options: ConsumerOptions): Consumer {
    return new KafkaConsumerClient(this, this.metadata, options);
  }

  async close(): Promise<void> {
    await this.metadata.close();
  }
}

/**
 * Partition counts and record-size limits, fetched once per topic: the partitioner needs the one
 * and the request split the other before a send.
 */
class TopicMetadataCache {
  private admin: KafkaAdmin | undefined;
  private connecting: Promise<KafkaAdmin> | undefined;
  private readonly counts = new Map<string, number>();
  private readonly budgets = new Map<string, number>();

  constructor(private readonly transport: KafkaTransport) {}

  async client(): Promise<KafkaAdmin> {
    if (this.admin) return this.admin;
    this.connecting ??= (async () => {
      const admin = this.transport.kafka.admin();
      await this.transport.connectBounded(admin, 'admin');
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
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const n = md.topics[0]?.partitions.length ?? 0;
      if (n === 0) throw new UnknownTopicError({ transport: 'kafka', topic });
      this.counts.set(topic, n);
      return n;
    } catch (e) {
      throw this.transport.wrap(e, 'cannot read topic metadata', { topic });
    }
  }

  /**
   * Record bytes one partition's batch may carry: the topic's `max.message.bytes` less the batch
   * header and some headroom. Where the config cannot be read (no DescribeConfigs right), the
   * broker's default.
   */
  async partitionBudget(topic: string): Promise<number> {
    const known = this.budgets.get(topic);
    if (known !== undefined) return known;
    let max = BROKER_DEFAULT_MAX_MESSAGE_BYTES;
    try {
      const admin = await this.client();
      const res = await admin.describeConfigs({
        includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['max.message.bytes'] }],
      });
      const value = Number(res.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (Number.isInteger(value) && value > 0) max = value;
    } catch (e) {
      // An outage must not leave the broker's default cached in place of the topic's own limit.
      if (classifyKafkaError(e) !== 'other') throw this.transport.wrap(e, 'cannot read the topic\'s max.message.bytes', { topic });
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
    await a?.disconnect();
  }
}

class KafkaAdminClient implements Admin {
  constructor(private readonly transport: KafkaTransport, private readonly metadata: TopicMetadataCache) {}

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.metadata.client();
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = [];
    for (const spec of specs) {
      checkTopicSpec(spec, 'kafka');
      if (existing.has(spec.name)) {
        const have = await this.metadata.partitions(spec.name);
        if (have !== spec.partitions) {
          throw new TopicConflictError(`topic exists with ${have} partitions, not ${spec.partitions}`, { transport: 'kafka', topic: spec.name });
        }
        continue;
      }
      const configEntries = topicConfigEntries(spec, this.transport.options);
      missing.push({ topic: spec.name, numPartitions: spec.partitions, replicationFactor: 1, configEntries });
    }
    if (missing.length === 0) return;
    // While several clients create topics at once, the leader wait may ask a broker that has not
    // heard of a new topic yet (UNKNOWN_TOPIC_OR_PARTITION): the topic exists, so wait and re-check.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.createTopics({ topics: missing, waitForLeaders: true });
        return;
      } catch (e) {
        const type = (e as { type?: string }).type;
        // Another client creating the same topic at the same moment is not an error.
        if (type === 'TOPIC_ALREADY_EXISTS') return;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= 10) throw this.transport.wrap(e, 'cannot create topics', { topic: missing.map((m) => m.topic).join(',') });
        await new Promise((r) => setTimeout(r, 200 * attempt));
        const now = new Set(await admin.listTopics());
        if (missing.every((m) => now.has(m.topic))) return;
      }
    }
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const admin = await this.metadata.client();
    const existing = new Set(await admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    for (const n of names) this.metadata.forget(n);
    if (present.length === 0) return;
    try {
      await admin.deleteTopics({ topics: present, timeout: 10000 });
    } catch (e) {
      throw this.transport.wrap(e, 'cannot delete topics', { topic: present.join(',') });
    }
  }

  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    const admin = await this.metadata.client();
    if (!(await admin.listTopics()).includes(name)) return undefined;
    // Every Kafka topic is a replayable log; "work" is a RabbitMQ-side distinction.
    return { name, partitions: await this.metadata.partitions(name), kind: 'replayable' };
  }

  async listTopics(prefix: string): Promise<string[]> {
    const admin = await this.metadata.client();
    return (await admin.listTopics()).filter((n) => n.startsWith(prefix)).sort();
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    const admin = await this.metadata.client();
    let pending = [...groupIds];
    const deadline = Date.now() + GROUP_DELETE_PATIENCE_MS;
    while (pending.length > 0) {
      let failed: { groupId: string; errorCode: number }[] = [];
      try {
        await admin.deleteGroups(pending);
      } catch (e) {
        failed = (e as { groups?: { groupId: string; errorCode: number }[] }).groups ?? [];
        if (failed.length === 0) throw this.transport.wrap(e, 'cannot delete consumer groups', { groupId: pending.join(',') });
      }
      // A group that never committed does not exist on the broker: nothing to forget.
      failed = failed.filter((g) => g.errorCode !== GROUP_ID_NOT_FOUND);
      const fatal = failed.find((g) => !GROUP_DELETE_RETRIABLE.has(g.errorCode));
      if (fatal || (failed.length > 0 && Date.now() > deadline)) {
        const g = fatal ?? failed[0]!;
        throw new TransportError(`cannot delete consumer group (Kafka error code ${g.errorCode})`, { transport: 'kafka', groupId: g.groupId });
      }
      pending = failed.map((g) => g.groupId);
      if (pending.length > 0) await sleep(500);
    }
  }
}

class KafkaProducerClient implements Producer {
  private producer: KafkaProducer;
  private readonly partitioner = new Partitioner();
  private connected = false;
  /**
   * Set when a failure may have left the KafkaJS producer unusable: a transaction whose abort
   * failed too (KafkaJS then refuses every new one), or a connection lost mid-request. The next
   * call replaces the client; for a transactional one, connecting again (InitProducerId) aborts
   * whatever the broker still holds open for this id, so the next transaction can begin.
   */
  private broken = false;
  /** Another instance took over this transactional id: replacing the client would fence it back. */
  private fenced: unknown;

  constructor(private readonly transport: KafkaTransport, private readonly metadata: TopicMetadataCache, private readonly options: ProducerOptions) {
    this.producer = this.client();
  }

  private client(): KafkaProducer {
    // Idempotent: a retried batch is written once; acks=all is implied. A transactional id fences
    // an earlier incarnation of the same writer and aborts its open transaction on connect.
    return this.transport.kafka.producer({
      idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false,
      transactionalId: this.options.transactionalId,
      // Short, so that a writer that died mid-transaction holds read_committed readers back briefly.
      transactionTimeout: this.options.transactionalId ? 15000 : undefined,
    });
  }

  async connect(): Promise<void> {
    await this.transport.connectBounded(this.producer, 'producer');
    this.connected = true;
  }

  /** Replaces a client a failure left unusable; while the broker is away this fails, retriable. */
  private async repair(): Promise<void> {
    if (this.fenced !== undefined) {
      throw new TransportError('producer was fenced by a newer instance with the same transactional id', { transport: 'kafka', cause: this.fenced });
    }
    if (!this.broken) return;
    const old = this.producer;
    await old.disconnect().catch(() => undefined);
    const next = this.client();
    await this.transport.connectBounded(next, 'producer');
    this.producer = next;
    this.broken = false;
  }

  /** Marks the client for replacement after a failure a broker outage (or restart) caused. */
  private failed(e: unknown): TransportError {
    const fault = classifyKafkaError(e);
    if (fault === 'fenced') this.fenced = e;
    else if (fault === 'connection' || fault === 'retriable') this.broken = true;
    return this.transport.wrap(e, 'records were not acknowledged');
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
      let acks;
      try {
        acks = await this.producer.sendBatch({ acks: -1, topicMessages: topicMessages(request) });
      } catch (e) {
        this.failed(e);
        const first = request[0]?.record;
        throw this.transport.wrap(e, 'records were not acknowledged', first && { topic: first.topic, key: first.key });
      }
      // Records of one partition in one request get consecutive offsets from the batch's base offset.
      const base = new Map(acks.map((a) => [tpKey({ topic: a.topicName, partition: a.partition }), Number(a.baseOffset ?? a.offset)]));
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
    // The broker refuses a transaction while it still writes the markers of the previous one, or
    // aborts the one a crashed predecessor left open: nothing was written, so begin again.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.repair();
        await this.transactionOnce(requests, positions);
        return;
      } catch (e) {
        if (attempt >= 20 || !isConcurrentTransactions(e)) throw e;
        await sleep(Math.min(1000, 50 * attempt));
      }
    }
  }

  /** However many requests the records take, the transaction commits once, with the positions. */
  private async transactionOnce(requests: readonly Placed[][], positions: GroupPositions | undefined): Promise<void> {
    const txn = await this.producer.transaction().catch((e: unknown) => {
      // KafkaJS refuses a transaction while its state machine still holds the last one (an abort
      // that failed with the broker away): the client is replaced at the next call.
      this.broken = true;
      const wrapped = this.transport.wrap(e, 'cannot begin a transaction');
      throw wrapped.retriable ? wrapped : new TransportError('cannot begin a transaction (the producer is reset at the next call)', { transport: 'kafka', cause: e }, true);
    });
    try {
      for (const request of requests) await txn.sendBatch({ acks: -1, topicMessages: topicMessages(request) });
      if (positions && positions.offsets.length > 0) {
        const topics = new Map<string, { partition: number; offset: string }[]>();
        for (const o of positions.offsets) {
          let list = topics.get(o.topic);
          if (!list) topics.set(o.topic, (list = []));
          list.push({ partition: o.partition, offset: String(o.offset) });
        }
        this.checkLease(positions);
        await txn.sendOffsets({ consumerGroupId: positions.groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) });
        this.checkLease(positions);
      }
      await txn.commit();
    } catch (e) {
      const aborted = await txn.abort().then(() => true, () => false);
      this.failed(e);
      if (!aborted && this.fenced === undefined) this.broken = true;
      const first = requests[0]?.[0]?.record;
      throw this.transport.wrap(e, 'transaction aborted', { topic: first?.topic, key: first?.key, groupId: positions?.groupId });
    }
  }

  /**
   * Zombie fencing, as far as KafkaJS allows. Kafka fences a zombie's transactional offsets by the
   * group generation (TxnOffsetCommit v3, KIP-447), which KafkaJS does not send: a member frozen
   * past its session (a GC pause, SIGSTOP) whose partitions another instance took over would, on
   * waking, commit the outputs of records that instance already processed. So the positions are
   * checked against this process's member of the group first: it must have heartbeated (or
   * joined) within its session timeout; otherwise the transaction is aborted with a
   * retriable error and the engine resumes from the last commit. A freeze between this check and
   * the commit request itself is not caught (the residual window; the generation would close it).
   */
  private checkLease(positions: GroupPositions): void {
    const members = [...(this.transport.members.get(positions.groupId) ?? [])];
    if (members.length === 0) return;
    const problems = members.map((m) => m.leaseProblem(positions.offsets));
    if (problems.some((p) => p === undefined)) return;
    throw new TransportError(`positions not committed: ${problems[0]}`, { transport: 'kafka', groupId: positions.groupId }, true);
  }

  /**
   * Chooses each record's partition (ours, not KafkaJS's), refuses a record no request could
   * carry before anything is written, and splits the rest into requests the broker accepts.
   */
  private async plan(records: readonly ProducerRecord[]): Promise<Placed[][]> {
    if (!this.connected) throw new ClosedError('producer is not connected', { transport: 'kafka' });
    await this.repair();
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
    const { maxRequestBytes, maxRecordsPerPartition } = this.transport.options;
    const limits: RequestLimits = {
      partitionBytes: (topic) => budgets.get(topic)!,
      requestBytes: maxRequestBytes ?? 16 * 1024 * 1024,
      partitionRecords: maxRecordsPerPartition ?? 2000,
    };
    return splitRequests(placed, limits);
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.producer.disconnect();
  }
}

function isConcurrentTransactions(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = (c as Error & { cause?: unknown }).cause) {
    if ((c as Error & { type?: string }).type === 'CONCURRENT_TRANSACTIONS' || /another concurrent operation on the same transaction/.test(c.message)) return true;
  }
  return false;
}

function topicMessages(request: readonly Placed[]) {
  const byTopic = new Map<string, { partition: number; key: Buffer | null; value: Buffer | null; headers: ProducerRecord['headers']; timestamp: string | undefined }[]>();
  for (const { topic, partition, record } of request) {
    let list = byTopic.get(topic);
    if (!list) byTopic.set(topic, (list = []));
    list.push({
      partition, key: record.key, value: record.value, headers: record.headers,
      timestamp: record.timestamp === undefined ? undefined : String(record.timestamp),
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

class KafkaConsumerClient implements Consumer {
  /** Replaced when KafkaJS gives up on a broker outage (a crash it does not restart from). */
  private consumer: KafkaConsumer;
  private owned: TopicPartition[] = [];
  /** Rebalance callbacks run in order, and batches wait for them (KafkaJS does not await its events). */
  private callbacks: Promise<void> = Promise.resolve();
  private readonly done: Deferred<void> = deferred();
  private connected = false;
  private running = false;
  private started: Deferred<void> = deferred();
  private handler: BatchHandler | undefined;
  private recovering: Promise<void> | undefined;

  private readonly heartbeatMs: number;
  private readonly session: number;
  /** Last proof of membership: a heartbeat answered or the group joined (KafkaJS events). */
  private aliveAt = 0;

  constructor(private readonly transport: KafkaTransport, private readonly metadata: TopicMetadataCache, private readonly options: ConsumerOptions) {
    this.session = transport.options.sessionTimeoutMs ?? 10000;
    this.heartbeatMs = Math.max(100, Math.floor(this.session / 10));
    this.consumer = this.build();
  }

  /** A KafkaJS consumer whose events count only while it is the current one. */
  private build(): KafkaConsumer {
    const c = this.transport.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.session,
      rebalanceTimeout: Math.max(this.session, 30000),
      heartbeatInterval: this.heartbeatMs,
      partitionAssigners: [CopartitionedAssigner],
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      retry: {
        retries: 5, initialRetryTime: 200, maxRetryTime: 2000,
        // KafkaJS restarts itself after retriable crashes; an outage it calls non-retriable (a
        // connection error wrapped in KafkaJSNonRetriableError) is recovered from below instead.
        // Nor once this client is being disconnected or was replaced: KafkaJS asks this after its
        // own disconnect of the crashed consumer, so a disconnect() that came meanwhile (the
        // engine re-initialising its tasks while the broker is away) did not cancel the restart,
        // and the restarted ghost rejoined the group and held partitions nobody processed.
        restartOnFailure: async (e) => classifyKafkaError(e) !== 'fenced' && this.running && c === this.consumer,
      },
    });
    const { REBALANCING, GROUP_JOIN, CRASH, HEARTBEAT } = c.events;
    c.on(REBALANCING, () => { if (c === this.consumer) this.changeAssignment([]); });
    c.on(HEARTBEAT, () => { if (c === this.consumer) this.aliveAt = Date.now(); });
    c.on(GROUP_JOIN, (e) => {
      if (c !== this.consumer) return;
      this.aliveAt = Date.now();
      const assignment = e.payload.memberAssignment as Record<string, number[]>;
      this.changeAssignment(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition }))));
      this.started.resolve();
    });
    c.on(CRASH, (e) => {
      if (c !== this.consumer || !this.running) return;
      // KafkaJS left the group; what this member owned is gone until it joins again.
      this.changeAssignment([]);
      if (e.payload.restart) return;
      const error = this.transport.wrap(e.payload.error, 'consumer crashed', { groupId: this.options.groupId });
      if (error.retriable) { this.recover(error); return; }
      this.running = false;
      this.done.reject(error);
      this.started.reject(e.payload.error);
    });
    return c;
  }

  /**
   * After a crash KafkaJS does not restart from (the broker away longer than its retries), a
   * new client joins the group again with back-off and resumes from the committed positions;
   * past `reconnect.maxElapsedMs` the consumer stops with the last error.
   */
  private recover(cause: TransportError): void {
    if (this.recovering) return;
    const backoff = new Backoff(this.transport.options.reconnect);
    this.recovering = (async () => {
      let last: TransportError = cause;
      while (this.running) {
        if (backoff.exhausted()) { this.fail(last); return; }
        await sleep(backoff.next());
        if (!this.running) return;
        const next = this.build();
        this.consumer = next;
        try {
          await this.transport.connectBounded(next, 'consumer');
          if (!this.running) { await next.disconnect().catch(() => undefined); return; }
          await this.start(next);
          return;
        } catch (e) {
          last = this.transport.wrap(e, 'consumer could not rejoin', { groupId: this.options.groupId });
          await next.disconnect().catch(() => undefined);
          if (!last.retriable) { this.fail(last); return; }
        }
      }
    })().finally(() => { this.recovering = undefined; });
  }

  private changeAssignment(next: TopicPartition[]): void {
    const nextKeys = new Set(next.map(tpKey));
    const prev = this.owned;
    const prevKeys = new Set(prev.map(tpKey));
    const revoked = prev.filter((tp) => !nextKeys.has(tpKey(tp)));
    const assigned = next.filter((tp) => !prevKeys.has(tpKey(tp)));
    this.owned = next;
    this.callbacks = this.callbacks.then(async () => {
      if (revoked.length) await this.options.onRevoke?.(revoked);
      if (assigned.length) await this.options.onAssign?.(assigned);
    }).catch((e) => this.fail(this.transport.wrap(e, 'rebalance callback failed', { groupId: this.options.groupId })));
  }

  async connect(): Promise<void> {
    await this.transport.connectBounded(this.consumer, 'consumer');
    this.connected = true;
  }

  async run(handler: BatchHandler): Promise<void> {
    if (!this.connected) throw new ClosedError('consumer is not connected', { transport: 'kafka', groupId: this.options.groupId });
    this.handler = handler;
    this.running = true;
    const members = this.transport.members.get(this.options.groupId) ?? this.transport.members.set(this.options.groupId, new Set()).get(this.options.groupId)!;
    members.add(this);
    void this.done.promise.catch(() => undefined).finally(() => members.delete(this));
    await this.start(this.consumer);
    await withTimeout(this.started.promise, 60000, () => new TransportError('consumer did not join its group in 60 s', { transport: 'kafka', groupId: this.options.groupId }));
  }

  /** Subscribes `c` and starts its fetch loop with the handler. */
  private async start(c: KafkaConsumer): Promise<void> {
    const handler = this.handler!;
    try {
      await c.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.autoOffsetReset !== 'latest' });
    } catch (e) {
      throw this.transport.wrap(e, 'cannot subscribe', { groupId: this.options.groupId, topic: this.options.topics.join(',') });
    }
    const max = this.options.maxBatchSize ?? 500;
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        await this.callbacks;
        const records = batch.messages.map((m): ConsumedRecord => ({
          topic: batch.topic, partition: batch.partition, offset: Number(m.offset),
          key: m.key, value: m.value, headers: toHeaders(m.headers), timestamp: Number(m.timestamp),
        }));
        for (let i = 0; i < records.length && this.running && c === this.consumer && isRunning() && !isStale(); i += max) {
          const chunk = records.slice(i, i + max);
          // KafkaJS heartbeats only between batches: a handler slower than the session timeout (a
          // long commit, calls to a slow service) would cost the member its place in the group. A
          // heartbeat that fails here (a rebalance began) stops the keeper; the heartbeat after
          // the handler reports it to KafkaJS, which rejoins.
          const keepAlive = setInterval(() => heartbeat().catch(() => clearInterval(keepAlive)), this.heartbeatMs);
          try {
            await handler({ topic: batch.topic, partition: batch.partition, records: chunk, highWatermark: Number(batch.highWatermark) });
          } catch (cause) {
            this.fail(new HandlerError('handler failed; batch not committed', {
              transport: 'kafka', groupId: this.options.groupId, topic: batch.topic, partition: batch.partition, offset: chunk[0]!.offset, cause,
            }));
            return;
          } finally {
            clearInterval(keepAlive);
          }
          resolveOffset(String(chunk[chunk.length - 1]!.offset));
          await heartbeat();
        }
      },
    });
  }

  private fail(error: Error): void {
    if (this.done.settled) return;
    this.running = false;
    void this.consumer.disconnect().finally(() => this.done.reject(error));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) {
      if (!this.owns(o)) throw new NotAssignedError({ transport: 'kafka', groupId: this.options.groupId, topic: o.topic, partition: o.partition, offset: o.offset });
    }
    try {
      await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
    } catch (e) {
      const o = offsets[0];
      // Retriable when the broker is away or its coordinator moving: the same commit may succeed later.
      throw new CommitError('commit failed', { transport: 'kafka', groupId: this.options.groupId, topic: o?.topic, partition: o?.partition, offset: o?.offset, cause: e },
        this.transport.wrap(e, 'commit failed').retriable);
    }
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    const admin = await this.metadata.client();
    try {
      const topics = [...new Set(partitions.map((p) => p.topic))];
      const res = await admin.fetchOffsets({ groupId: this.options.groupId, topics });
      const by = new Map(res.flatMap((t) => t.partitions.map((p) => [tpKey({ topic: t.topic, partition: p.partition }), Number(p.offset)] as const)));
      return partitions.map((tp) => {
        const o = by.get(tpKey(tp));
        return o === undefined || o < 0 ? undefined : o;
      });
    } catch (e) {
      throw this.transport.wrap(e, 'cannot fetch committed offsets', { groupId: this.options.groupId });
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.consumer.pause(group(partitions));
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.consumer.resume(group(partitions));
  }

  async seek(target: TopicPartitionOffset): Promise<void> {
    if (!this.owns(target)) throw new NotAssignedError({ transport: 'kafka', groupId: this.options.groupId, topic: target.topic, partition: target.partition, offset: target.offset });
    this.consumer.seek({ topic: target.topic, partition: target.partition, offset: String(target.offset) });
  }

  assignment(): TopicPartition[] {
    return [...this.owned];
  }

  stopped(): Promise<void> {
    return this.done.promise;
  }

  async disconnect(): Promise<void> {
    this.running = false;
    this.connected = false;
    await this.recovering;
    await this.consumer.disconnect();
    this.changeAssignment([]);
    await this.callbacks;
    this.done.resolve();
  }

  /** Why this member may no longer own `offsets`' partitions (undefined: it may commit them). */
  leaseProblem(offsets: readonly TopicPartition[]): string | undefined {
    const silent = Date.now() - this.aliveAt;
    if (silent > this.session) return `no heartbeat for ${silent} ms (session timeout ${this.session} ms): the group may have given this member's partitions to another`;
    // Not the assignment: a commit on revocation (the engine's, as Kafka Streams') comes after
    // KafkaJS announced the rebalance, and is legitimate while the generation lasts.
    void offsets;
    return undefined;
  }

  private owns(tp: TopicPartition): boolean {
    return this.owned.some((o) => o.topic === tp.topic && o.partition === tp.partition);
  }
}

function group(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const tp of partitions) (m.get(tp.topic) ?? m.set(tp.topic, []).get(tp.topic)!).push(tp.partition);
  return [...m].map(([topic, ps]) => ({ topic, partitions: ps }));
}

function toHeaders(h: Record<string, unknown> | undefined): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    // KafkaJS yields an array when a header name repeats; the last value wins, as in a map.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = Buffer.isBuffer(last) ? last : Buffer.from(String(last));
  }
  return out;
}
