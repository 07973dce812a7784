/**
 * What the tasks wrote since the last commit, as Kafka Streams' `RecordCollectorImpl`: outputs
 * (typed, serialized at commit time) and changelog entries (bytes), each checked against the
 * transport's limit per record. `drain` hands one commit's worth over as producer records and
 * empties the buffers; `drop` forgets them (a dirty close).
 */
import { partitionForKey, type Producer, type ProducerRecord, type Transport } from '../../../transports/index.ts';
import { CommitFailure, RecordTooLargeFailure } from '../errors.ts';
import { ORIGIN_HEADER, UNIT_HEADER, encodeOrigin } from './effectively-once.ts';
import { oversizedDeadLetter, type ErrorHandling } from './error-handling.ts';
import type { Metrics } from './metrics.ts';
import type { OutputRecord } from './task.ts';

export interface CollectorOptions {
  readonly transport: Transport;
  /** The producer of the moment: a re-initialisation replaces it. */
  readonly producer: () => Producer;
  /** Partition count per topic, for key partitioning. */
  readonly partitions: ReadonlyMap<string, number>;
  readonly errors: ErrorHandling;
  /** Outputs carry their origin and changelog entries a commit unit header (effectively-once). */
  readonly effectivelyOnce: boolean;
  readonly metrics: Metrics;
  readonly logger: (line: string) => void;
}

/** One commit's records, in the order they were written. */
export interface Collected {
  readonly outputs: ProducerRecord[];
  readonly changelog: ProducerRecord[];
}

interface Pending {
  readonly record: OutputRecord;
  readonly taskId: string;
}

export class RecordCollector {
  readonly #options: CollectorOptions;
  #pending: Pending[] = [];
  #changelog: ProducerRecord[] = [];
  /** The transport's largest record per topic (`Producer.maxRecordBytes`), read once. */
  readonly #limits = new Map<string, number>();
  #deadLetters: Promise<void> | undefined;

  constructor(options: CollectorOptions) {
    this.#options = options;
  }

  /** Records buffered since the last drain. */
  get size(): number {
    return this.#pending.length + this.#changelog.length;
  }

  /** Reads the limits of topics written synchronously (changelogs), so that `log` can check them. */
  async loadLimits(topics: Iterable<string>): Promise<void> {
    for (const t of topics) await this.#limit(t);
  }

  emit(record: OutputRecord, taskId: string): void {
    this.#pending.push({ record, taskId });
  }

  /**
   * A store write whose changelog entry the transport would refuse. The store already holds it
   * (stores log after writing) and a skipped entry would leave the store ahead of its changelog,
   * so that a restore loses the write silently: the task stops instead, naming store and sizes.
   */
  log(record: ProducerRecord, store: string, taskId: string): void {
    const limit = this.#limits.get(record.topic);
    if (limit !== undefined) {
      // Effectively-once adds its commit unit header at commit time.
      const size = this.#options.producer().recordSize(record) + (this.#options.effectivelyOnce ? UNIT_HEADER.length + 48 : 0);
      if (size > limit) {
        throw new RecordTooLargeFailure(
          `changelog entry of store ${store} is ${size} bytes, over the limit of ${limit} bytes of ${record.topic}; the store cannot stay in step with its changelog, so the task stops (raise the topic's max.message.bytes or keep smaller values)`,
          size, limit, { taskId, topic: record.topic, partition: record.partition });
      }
    }
    this.#changelog.push(record);
  }

  /** Serializes and hands over everything buffered; the buffers are empty afterwards. */
  async drain(): Promise<Collected> {
    const pending = this.#pending;
    const outputs = await this.#withinLimits(pending, await this.#serialize(pending));
    const changelog = this.#changelog;
    this.#pending = [];
    this.#changelog = [];
    return { outputs, changelog };
  }

  /** Forgets what is buffered: the tasks start again from their last commit. */
  drop(): void {
    this.#pending = [];
    this.#changelog = [];
  }

  async #serialize(pending: readonly Pending[]): Promise<ProducerRecord[]> {
    const out: ProducerRecord[] = [];
    for (const { record: r, taskId } of pending) {
      // Awaited only when a serde is asynchronous: an await per record is a microtask turn each.
      let key = r.key === null || r.key === undefined ? null : r.keySerde ? r.keySerde.serialize(r.topic, r.key) : (r.key as Buffer);
      if (key instanceof Promise) key = await key;
      let value = r.value === null || r.value === undefined ? null : r.valueSerde ? r.valueSerde.serialize(r.topic, r.value) : (r.value as Buffer);
      if (value instanceof Promise) value = await value;
      let partition: number | undefined;
      const count = this.#options.partitions.get(r.topic);
      if (r.partitioner && count !== undefined) partition = r.partitioner(r.key, r.value, count);
      else if (count !== undefined && key !== null) partition = partitionForKey(key, count);
      const headers = this.#options.effectivelyOnce && r.origin
        ? { ...r.headers, [ORIGIN_HEADER]: encodeOrigin({ writer: taskId, ...r.origin }) }
        : r.headers;
      out.push({ topic: r.topic, key, value, headers, timestamp: r.timestamp, partition });
    }
    return out;
  }

  async #limit(topic: string): Promise<number> {
    let limit = this.#limits.get(topic);
    if (limit === undefined) {
      limit = await this.#options.producer().maxRecordBytes(topic);
      this.#limits.set(topic, limit);
    }
    return limit;
  }

  /**
   * Outputs the transport would refuse, each alone over its topic's limit, leave the commit under
   * the `production` policy (default: to the dead-letter topic with size and limit), so that one
   * record neither fails the commit nor stops the task.
   */
  async #withinLimits(pending: readonly Pending[], outputs: ProducerRecord[]): Promise<ProducerRecord[]> {
    const { errors, metrics, logger, transport } = this.#options;
    const producer = this.#options.producer();
    const limits = new Map<string, number>();
    for (const topic of new Set(outputs.map((r) => r.topic))) limits.set(topic, await this.#limit(topic));
    let out: ProducerRecord[] | undefined;
    for (let i = 0; i < outputs.length; i++) {
      const r = outputs[i]!;
      const limit = limits.get(r.topic)!;
      const size = producer.recordSize(r);
      if (size <= limit) { out?.push(r); continue; }
      out ??= outputs.slice(0, i);
      const { taskId, record } = pending[i]!;
      const failure = new RecordTooLargeFailure(`output of ${size} bytes is over the limit of ${limit} bytes of topic ${r.topic}`, size, limit, {
        taskId, topic: record.origin?.topic, partition: record.origin?.partition, offset: record.origin?.offset,
      });
      if (errors.production === 'fail') throw new CommitFailure(failure.message, failure.context, { cause: failure });
      logger(`production failure, ${errors.production === 'dead-letter' ? 'sent to dead letters' : 'skipped'}: ${failure.message}`);
      if (errors.production !== 'dead-letter') { metrics.failed(taskId, 'production'); continue; }
      metrics.deadLettered(taskId, 'production');
      const dlq = errors.deadLetterTopic;
      await (this.#deadLetters ??= transport.admin().createTopics([{ name: dlq, partitions: 1, kind: 'replayable' }])
        .catch((e: unknown) => { this.#deadLetters = undefined; throw e; }));
      out.push(oversizedDeadLetter(dlq, failure, r, record.origin, taskId, await this.#limit(dlq), (d) => producer.recordSize(d)));
    }
    return out ?? outputs;
  }
}
