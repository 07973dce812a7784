/**
 * The in-memory transport: partitioned logs, consumer groups with round-robin assignment,
 * committed positions and replay, all in this process. It is the embedded default and the
 * fast unit-test transport; it never stands in for a broker in a test that claims to cover one.
 */
import {
  BrokerUnreachableError, ClosedError, HandlerError, InvalidPartitionError, NotAssignedError,
  RecordTooLargeError, TopicConflictError, UnknownTopicError,
} from '../errors.ts';
import { Partitioner } from '../partitioner.ts';
import type {
  Admin, BatchHandler, Capabilities, GroupPositions, Consumer, ConsumerOptions, Producer, ProducerRecord,
  RecordMetadata, TopicDescription, TopicKind, TopicPartition, TopicPartitionOffset, TopicSpec, Transport,
} from '../types.ts';
import { assignCopartitioned, checkTopicSpec, deferred, plainRecordSize, toHeaders, tpKey, type Deferred } from '../util.ts';
import { PartitionLog, type LogPolicy } from './partition-log.ts';

export interface MemoryTransportOptions extends MemoryBrokerOptions {
  /** Share one broker between transports (e.g. a producer side and a consumer side in one process); its own options then apply. */
  readonly broker?: MemoryBroker;
  /**
   * The largest record (key, value, header names and values) a topic takes; default 1 MiB, as
   * Kafka's default `max.message.bytes`, so that a topology meets the limit here before on a broker.
   */
  readonly maxRecordBytes?: number | ((topic: string) => number);
}

export const MEMORY_DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/** How the broker bounds its logs (see partition-log.ts): everything it holds is in this process's memory. */
export interface MemoryBrokerOptions {
  /**
   * Records of a topic that is not compacted go this long after they were appended, unless the
   * topic's spec says otherwise. Default 1 hour (Kafka keeps 7 days, on disk; here it is RAM, and
   * every reader runs in this process, so none is hours behind). Infinity keeps everything.
   */
  readonly retentionMs?: number;
  /** Compacted topics: how long a tombstone is kept after the value it deletes. Default 1 hour. */
  readonly deleteRetentionMs?: number;
}

export const MEMORY_DEFAULT_RETENTION_MS = 60 * 60 * 1000;
/** Below this many appended records a compacted partition is not cleaned: small logs stay as written. */
const MIN_CLEANABLE_RECORDS = 1000;

export const memoryCapabilities: Capabilities = {
  // A transaction is applied in one synchronous step: records and positions together.
  transactions: true,
  compaction: true,
  replay: 'all-topics',
  groupsPerWorkTopic: 'many',
  cooperativeRevocation: true,
};

export class MemoryTransport implements Transport {
  readonly name = 'memory' as const;
  readonly capabilities = memoryCapabilities;
  readonly broker: MemoryBroker;
  private readonly maxRecordBytes: (topic: string) => number;

  constructor(options: MemoryTransportOptions = {}) {
    this.broker = options.broker ?? new MemoryBroker(options);
    const max = options.maxRecordBytes ?? MEMORY_DEFAULT_MAX_RECORD_BYTES;
    this.maxRecordBytes = typeof max === 'number' ? () => max : max;
  }

  admin(): Admin {
    return new MemoryAdmin(this.broker);
  }

  producer(): Producer {
    return new MemoryProducer(this.broker, this.maxRecordBytes);
  }

  consumer(options: ConsumerOptions): Consumer {
    return new MemoryConsumer(this.broker, options);
  }

  async close(): Promise<void> {
    // The broker outlives a transport: another transport may share it.
  }
}

interface Topic {
  readonly kind: TopicKind;
  readonly logs: PartitionLog[];
}

interface Group {
  readonly members: Map<string, MemoryConsumer>;
  readonly committed: Map<string, number>;
  /** Serialises rebalances so callbacks of one finish before the next starts. */
  rebalancing: Promise<void>;
}

/** The in-process "cluster": topics, their logs, and the groups reading them. */
export class MemoryBroker {
  readonly topics = new Map<string, Topic>();
  readonly groups = new Map<string, Group>();
  private down = false;
  private waiters: (() => void)[] = [];
  private readonly options: MemoryBrokerOptions;

  constructor(options: MemoryBrokerOptions = {}) {
    this.options = options;
  }

  /** How a new topic's partitions are bounded. */
  policy(spec: TopicSpec): LogPolicy {
    return {
      compacted: spec.compacted === true,
      retentionMs: spec.retentionMs ?? this.options.retentionMs ?? MEMORY_DEFAULT_RETENTION_MS,
      deleteRetentionMs: this.options.deleteRetentionMs ?? MEMORY_DEFAULT_RETENTION_MS,
      minCleanableRecords: MIN_CLEANABLE_RECORDS,
    };
  }

  /** Simulates a broker that is gone: every later call fails as an unreachable broker would. */
  shutdown(): void {
    this.down = true;
    this.wake();
  }

  ensureUp(context: { topic?: string; groupId?: string } = {}): void {
    if (this.down) throw new BrokerUnreachableError('memory://', { transport: 'memory', ...context });
  }

  topic(name: string): Topic {
    const t = this.topics.get(name);
    if (!t) throw new UnknownTopicError({ transport: 'memory', topic: name });
    return t;
  }

  group(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = { members: new Map(), committed: new Map(), rebalancing: Promise.resolve() };
      this.groups.set(id, g);
    }
    return g;
  }

  /** Resolves at the next change (append, resume, seek, rebalance) or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); resolve(); }
      this.waiters.push(done);
    });
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

class MemoryAdmin implements Admin {
  constructor(private readonly broker: MemoryBroker) {}

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.broker.ensureUp();
    for (const spec of specs) {
      const kind = spec.kind ?? 'work';
      checkTopicSpec(spec, 'memory');
      const existing = this.broker.topics.get(spec.name);
      if (existing) {
        if (existing.logs.length !== spec.partitions || existing.kind !== kind) {
          throw new TopicConflictError(
            `topic exists with ${existing.logs.length} partitions (${existing.kind}), not ${spec.partitions} (${kind})`,
            { transport: 'memory', topic: spec.name });
        }
        continue;
      }
      const policy = this.broker.policy(spec);
      this.broker.topics.set(spec.name, { kind, logs: Array.from({ length: spec.partitions }, () => new PartitionLog(policy)) });
    }
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    this.broker.ensureUp();
    for (const n of names) this.broker.topics.delete(n);
  }

  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    this.broker.ensureUp();
    const t = this.broker.topics.get(name);
    return t && { name, partitions: t.logs.length, kind: t.kind };
  }

  async listTopics(prefix: string): Promise<string[]> {
    this.broker.ensureUp();
    return [...this.broker.topics.keys()].filter((n) => n.startsWith(prefix)).sort();
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    this.broker.ensureUp();
    for (const id of groupIds) this.broker.groups.delete(id);
  }
}

class MemoryProducer implements Producer {
  private readonly partitioner = new Partitioner();
  private connected = false;

  constructor(private readonly broker: MemoryBroker, private readonly limit: (topic: string) => number) {}

  async connect(): Promise<void> {
    this.broker.ensureUp();
    this.connected = true;
  }

  async maxRecordBytes(topic: string): Promise<number> {
    return this.limit(topic);
  }

  recordSize(record: ProducerRecord): number {
    return plainRecordSize(record);
  }

  async send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    return this.append(records);
  }

  async sendTransaction(records: readonly ProducerRecord[], positions?: GroupPositions): Promise<void> {
    const group = positions && this.broker.groups.get(positions.groupId);
    if (positions && !group) throw new NotAssignedError({ transport: 'memory', groupId: positions.groupId });
    this.append(records);
    for (const o of positions?.offsets ?? []) group!.committed.set(tpKey(o), o.offset);
  }

  /** Checks every record first, then appends all of them: nothing is half-written. */
  private append(records: readonly ProducerRecord[]): RecordMetadata[] {
    if (!this.connected) throw new ClosedError('producer is not connected', { transport: 'memory' });
    this.broker.ensureUp();
    const placed = records.map((r) => {
      const topic = this.broker.topic(r.topic);
      const partition = r.partition ?? this.partitioner.partition(r.key, topic.logs.length);
      const log = topic.logs[partition];
      if (!log) throw new InvalidPartitionError(`partition out of range 0..${topic.logs.length - 1}`, { transport: 'memory', topic: r.topic, partition });
      const size = plainRecordSize(r);
      const limit = this.limit(r.topic);
      if (size > limit) throw new RecordTooLargeError(size, limit, { transport: 'memory', topic: r.topic, partition, key: r.key });
      return { r, partition, log };
    });
    const out = placed.map(({ r, partition, log }) => {
      const offset = log.append({
        topic: r.topic, partition, key: r.key, value: r.value, headers: toHeaders(r.headers), timestamp: r.timestamp ?? Date.now(),
      });
      return { topic: r.topic, partition, offset };
    });
    this.broker.wake();
    return out;
  }

  async disconnect(): Promise<void> {
    this.connected = false;
  }
}

let memberSeq = 0;

export class MemoryConsumer implements Consumer {
  private readonly memberId = `member-${++memberSeq}`;
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private owned: TopicPartition[] = [];
  private running = false;
  private readonly done: Deferred<void> = deferred();
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly broker: MemoryBroker, private readonly options: ConsumerOptions) {}

  async connect(): Promise<void> {
    this.broker.ensureUp({ groupId: this.options.groupId });
    for (const t of this.options.topics) this.broker.topic(t);
  }

  async run(handler: BatchHandler): Promise<void> {
    this.broker.ensureUp({ groupId: this.options.groupId });
    const group = this.broker.group(this.options.groupId);
    group.members.set(this.memberId, this);
    this.running = true;
    await this.rebalance(group);
    this.loop = this.deliver(handler);
  }

  private rebalance(group: Group): Promise<void> {
    group.rebalancing = group.rebalancing.then(async () => {
      const partitions: TopicPartition[] = [];
      const topics = new Set([...group.members.values()].flatMap((m) => m.options.topics));
      for (const t of topics) {
        const topic = this.broker.topics.get(t);
        topic?.logs.forEach((_, partition) => partitions.push({ topic: t, partition }));
      }
      const plan = assignCopartitioned([...group.members.keys()], partitions);
      for (const [id, member] of group.members) {
        const wanted = (plan.get(id) ?? []).filter((tp) => member.options.topics.includes(tp.topic));
        await member.reassign(wanted, group);
      }
      this.broker.wake();
    });
    return group.rebalancing;
  }

  private async reassign(wanted: TopicPartition[], group: Group): Promise<void> {
    const wantedKeys = new Set(wanted.map(tpKey));
    const ownedKeys = new Set(this.owned.map(tpKey));
    const revoked = this.owned.filter((tp) => !wantedKeys.has(tpKey(tp)));
    const assigned = wanted.filter((tp) => !ownedKeys.has(tpKey(tp)));
    if (revoked.length) {
      await this.options.onRevoke?.(revoked);
      for (const tp of revoked) this.positions.delete(tpKey(tp));
    }
    this.owned = wanted;
    for (const tp of assigned) {
      const committed = group.committed.get(tpKey(tp));
      const end = this.broker.topic(tp.topic).logs[tp.partition]!.endOffset;
      this.positions.set(tpKey(tp), committed ?? (this.options.autoOffsetReset === 'latest' ? end : 0));
    }
    if (assigned.length) await this.options.onAssign?.(assigned);
  }

  private async deliver(handler: BatchHandler): Promise<void> {
    const max = this.options.maxBatchSize ?? 500;
    while (this.running) {
      let delivered = false;
      for (const tp of this.owned) {
        const key = tpKey(tp);
        const position = this.positions.get(key);
        if (position === undefined || this.paused.has(key)) continue;
        const log = this.broker.topics.get(tp.topic)?.logs[tp.partition];
        if (!log || position >= log.endOffset) continue;
        const records = log.read(position, max);
        // Everything from `position` on was cleaned away (expired tombstones): nothing to hand over.
        if (records.length === 0) { this.positions.set(key, log.endOffset); continue; }
        try {
          await handler({ topic: tp.topic, partition: tp.partition, records, highWatermark: log.endOffset });
        } catch (cause) {
          this.fail(new HandlerError('handler failed; batch not committed', {
            transport: 'memory', groupId: this.options.groupId, topic: tp.topic, partition: tp.partition, offset: position, cause,
          }));
          return;
        }
        // A seek or revocation during the handler has already moved the position.
        if (this.positions.get(key) === position) this.positions.set(key, records[records.length - 1]!.offset + 1);
        delivered = true;
        if (!this.running) break;
      }
      if (!delivered) await this.broker.changed(50);
    }
  }

  private fail(error: Error): void {
    this.running = false;
    // A revocation callback that throws while leaving (the handler's owner failed too) adds nothing to `error`.
    void this.leave().catch(() => undefined).finally(() => this.done.reject(error));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.broker.ensureUp({ groupId: this.options.groupId });
    const group = this.broker.group(this.options.groupId);
    for (const o of offsets) {
      if (!this.owns(o)) throw new NotAssignedError({ transport: 'memory', groupId: this.options.groupId, topic: o.topic, partition: o.partition, offset: o.offset });
    }
    for (const o of offsets) group.committed.set(tpKey(o), o.offset);
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    this.broker.ensureUp({ groupId: this.options.groupId });
    const group = this.broker.group(this.options.groupId);
    return partitions.map((tp) => group.committed.get(tpKey(tp)));
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(tpKey(tp));
    this.broker.wake();
  }

  async seek(target: TopicPartitionOffset): Promise<void> {
    if (!this.owns(target)) throw new NotAssignedError({ transport: 'memory', groupId: this.options.groupId, topic: target.topic, partition: target.partition, offset: target.offset });
    this.positions.set(tpKey(target), Math.max(0, target.offset));
    this.broker.wake();
  }

  assignment(): TopicPartition[] {
    return [...this.owned];
  }

  stopped(): Promise<void> {
    return this.done.promise;
  }

  async disconnect(): Promise<void> {
    if (!this.running && this.done.settled) return;
    this.running = false;
    this.broker.wake();
    await this.loop;
    await this.leave();
    this.done.resolve();
  }

  /**
   * Ends this consumer as a crash would: no callback, no commit; the group moves its partitions
   * to the other members, which resume from the last committed positions.
   */
  async crash(): Promise<void> {
    this.running = false;
    await this.leave({ graceful: false });
    this.done.resolve();
  }

  /** Leaves the group; a graceful leave revokes (callbacks first), a crash just vanishes. */
  private async leave({ graceful } = { graceful: true }): Promise<void> {
    const group = this.broker.groups.get(this.options.groupId);
    if (!group?.members.delete(this.memberId)) return;
    if (graceful) await this.reassign([], group);
    else this.owned = [];
    const other = group.members.values().next();
    if (!other.done) await other.value.rebalance(group);
  }

  private owns(tp: TopicPartition): boolean {
    return this.owned.some((o) => o.topic === tp.topic && o.partition === tp.partition);
  }
}
