/**
 * The Transport interface: what the engine sees of a broker. Topics are partitioned, ordered
 * logs; consumers belong to groups that split a topic's partitions; positions are committed
 * explicitly. Every implementation (memory, kafka, rabbit) passes one conformance suite.
 */

/** Header values are bytes on the wire; strings are accepted on produce and arrive as Buffers. */
export type Headers = Record<string, Buffer>;
export type HeadersInit = Record<string, Buffer | string>;

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read, as in Kafka: committing `o` means every record below `o` is done. */
  readonly offset: number;
}

export interface ProducerRecord {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: HeadersInit;
  /** Overrides the partitioner. */
  readonly partition?: number;
  /** Event time in ms since the epoch; defaults to the time of sending. */
  readonly timestamp?: number;
}

export interface RecordMetadata extends TopicPartition {
  /** The offset the broker gave the record, where the broker tells it (Kafka, memory, RabbitMQ streams). */
  readonly offset: number | undefined;
}

export interface ConsumedRecord extends TopicPartition {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  readonly timestamp: number;
  /**
   * The record's position in its partition. Stable and replayable on Kafka, memory and
   * RabbitMQ streams; on RabbitMQ work queues a per-assignment delivery sequence (see README).
   */
  readonly offset: number;
}

/** The records of one partition, in partition order. */
export interface RecordBatch extends TopicPartition {
  readonly records: readonly ConsumedRecord[];
  /** The partition's end offset when the batch was fetched, where the broker tells it (for lag). */
  readonly highWatermark?: number;
}

/**
 * `work`: consumed by one group, each record processed once (Kafka topic; RabbitMQ quorum queues
 * with single-active-consumer). `replayable`: read from any offset by any number of groups
 * (Kafka topic; RabbitMQ streams) — changelogs, tables, anything a consumer may need to re-read.
 */
export type TopicKind = 'work' | 'replayable';

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly kind?: TopicKind;
  /** Hint: keep only the latest value per key (Kafka log compaction). Ignored where unsupported. */
  readonly compacted?: boolean;
  /** Hint: how long records are kept; undefined means the broker's default. */
  readonly retentionMs?: number;
  /**
   * Hint: the most bytes a partition keeps, its oldest records dropped past it (RabbitMQ streams'
   * max-length-bytes); undefined means no bound. Honoured by RabbitMQ only.
   */
  readonly retentionBytes?: number;
  /** Hint: the size of the segments retention drops whole (RabbitMQ streams'). Honoured by RabbitMQ only. */
  readonly segmentBytes?: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: number;
  readonly kind: TopicKind;
}

export interface Capabilities {
  /** Atomic read-process-write across consume and produce (Kafka transactions). */
  readonly transactions: boolean;
  /** Log compaction honoured by the broker. */
  readonly compaction: boolean;
  /** Which topics can be re-read from an earlier offset (seek, replay). */
  readonly replay: 'all-topics' | 'replayable-topics';
  /** How many consumer groups may read one work topic. */
  readonly groupsPerWorkTopic: 'many' | 'one';
  /** Whether a rebalance is announced before partitions move (revocation callback first). */
  readonly cooperativeRevocation: boolean;
}

export type Capability = keyof Capabilities | 'seek';

export interface ProducerOptions {
  /** Records held before a send is forced; `send` always resolves only once they are acknowledged. */
  readonly maxBatchSize?: number;
  /**
   * Makes the producer transactional (where `capabilities.transactions`): one id per writer that
   * must be fenced when it restarts, e.g. `<application>-<instance>`.
   */
  readonly transactionalId?: string;
}

/** Positions of a consumer group, committed as part of a transaction. */
export interface GroupPositions {
  readonly groupId: string;
  readonly offsets: readonly TopicPartitionOffset[];
}

export interface Producer {
  connect(): Promise<void>;
  /** Sends records (batched per partition) and resolves when the broker has acknowledged all of them. */
  send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]>;
  /**
   * Sends the records and commits the group's positions as one atomic unit: a reader sees all of
   * the records and the positions move, or neither (Kafka transactions; the memory broker). A
   * transport without transactions throws `UnsupportedCapabilityError`; the producer must have
   * been created with a `transactionalId`.
   */
  sendTransaction(records: readonly ProducerRecord[], positions?: GroupPositions): Promise<void>;
  /**
   * The largest record `topic` accepts, as `recordSize` counts it (read from the broker once per
   * topic). `send` and `sendTransaction` split any number of records into requests the broker
   * takes, but reject a record bigger than this with `RecordTooLargeError` before writing any.
   */
  maxRecordBytes(topic: string): Promise<number>;
  /** A record's size as this transport counts it against `maxRecordBytes` (its framing included). */
  recordSize(record: ProducerRecord): number;
  disconnect(): Promise<void>;
}

export interface RebalanceListener {
  /** Called before records of these partitions are handed to the handler. */
  onAssign?(partitions: TopicPartition[]): Promise<void> | void;
  /** Called when these partitions are taken away; commit what is done here. */
  onRevoke?(partitions: TopicPartition[]): Promise<void> | void;
}

export interface ConsumerOptions extends RebalanceListener {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a partition with no committed position starts. Default `earliest`. */
  readonly autoOffsetReset?: 'earliest' | 'latest';
  /** Upper bound of records per batch handed to the handler. */
  readonly maxBatchSize?: number;
}

export type BatchHandler = (batch: RecordBatch) => Promise<void>;

export interface Consumer {
  connect(): Promise<void>;
  /**
   * Joins the group and starts delivering; resolves once delivery has started. Batches of one
   * partition are handed over one at a time, in order: the next waits until the handler's promise
   * settles. A handler that throws stops the consumer without committing; `stopped()` rejects
   * with a `HandlerError` that carries the batch's topic, partition and first offset.
   */
  run(handler: BatchHandler): Promise<void>;
  /** Commits positions (next offset to read) of partitions this consumer owns. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The last committed positions of this group, for the given partitions (undefined: none). */
  committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** Moves the read position of an owned partition of a replayable topic. */
  seek(target: TopicPartitionOffset): Promise<void>;
  assignment(): TopicPartition[];
  /** Resolves when the consumer stops: `disconnect()`, or a handler error (rejects with it). */
  stopped(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface Admin {
  /** Creates missing topics; an existing topic with another partition count or kind is an error. */
  createTopics(specs: readonly TopicSpec[]): Promise<void>;
  deleteTopics(names: readonly string[]): Promise<void>;
  describeTopic(name: string): Promise<TopicDescription | undefined>;
  /** Names of the existing topics that start with `prefix`, sorted. */
  listTopics(prefix: string): Promise<string[]>;
  /** Forgets consumer groups and their committed positions (groups must have no members). */
  deleteGroups(groupIds: readonly string[]): Promise<void>;
}

export interface Transport {
  readonly name: TransportName;
  readonly capabilities: Capabilities;
  admin(): Admin;
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): Consumer;
  /** Closes shared connections; producers and consumers should be disconnected first. */
  close(): Promise<void>;
}

export type TransportName = 'memory' | 'kafka' | 'rabbit';
