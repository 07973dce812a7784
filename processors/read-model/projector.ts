/**
 * The projector: the one writer of the read models. A plain consumer (group `APP_ID`, default
 * `read-model-projector`) reads `order-placed`, `order-status-topic`, `chat-topic` and the stock
 * processor's level store changelog from the earliest record, applies each record to the views
 * (writer.ts) and then commits: at-least-once, with idempotent writes.
 *
 * - A record that cannot be decoded or applied goes to `<appId>-dlq` with the engine's
 *   DeadLetterHeaders and the stream goes on.
 * - A retriable failure (database unavailable, registry unreachable, broker busy) is retried with
 *   back-off, holding up its partition only; close() ends the wait and leaves the record
 *   uncommitted.
 * - Copies re-sent by an exactly_once processor on RabbitMQ carry an origin header and are dropped
 *   (Deduplicator); everything else repeated is recognised by the projection itself.
 *
 * Env: APP_ID (default read-model-projector), STOCK_APP_ID (stock-processor: whose changelog),
 * TOPIC_PARTITIONS (3: for topics created here), PROJECTION_RETRY_BACKOFF_MS (100: first
 * back-off, doubled up to PROJECTION_RETRY_MAX_BACKOFF_MS, 5000), PROJECTION_CONCURRENCY (32: keys of
 * one batch applied at once).
 */
import type { Client } from '@confluentinc/schemaregistry';
import type { ConsumedRecord, Consumer, HeadersInit, Producer, RecordBatch, Transport } from '../../transports/index.ts';
import type { Persistence } from '../../persistence/types.ts';
import { avroValueSerde, type ChatMessage, type OrderPlaced, type OrderStatusChanged, type RegistrySerde } from '../../schemas/index.ts';
import { DeadLetterHeaders, Deduplicator, changelogName, isMarker } from '../engine/index.ts';
import { ensureContractTopics, numberFromEnv, type Contracts, type Env } from '../common/index.ts';
import { STOCK_LEVELS_STORE, type StoredLevel } from '../stock/stores.ts';
import { ViewWriter, type ProjectionInput } from './writer.ts';

export interface ProjectionOptions {
  readonly transport: Transport;
  /** The schema registry the contract topics' values are read with. */
  readonly registry: Client;
  /** Physical names of the contract topics (prefix). */
  readonly contracts: Contracts;
  /** Where the views live; the caller opens and closes it. */
  readonly persistence: Persistence;
  readonly env?: Env;
  readonly logger?: (line: string) => void;
}

export interface RunningProjection {
  /** Consumer group and dead-letter prefix. */
  readonly applicationId: string;
  readonly deadLetterTopic: string;
  /** The physical topics read. */
  readonly topics: readonly string[];
  close(): Promise<void>;
  /** Rejects when the projector fails for good (a commit, a dead letter that cannot be written). */
  stopped(): Promise<void>;
}

/** Creates the topics it reads when missing, opens the views and starts consuming. */
export async function startProjection(options: ProjectionOptions): Promise<RunningProjection> {
  const env = options.env ?? {};
  const applicationId = env.APP_ID ?? 'read-model-projector';
  const logger = options.logger ?? ((line: string) => process.stderr.write(`[${applicationId}] ${line}\n`));
  const deadLetterTopic = `${applicationId}-dlq`;
  const partitions = numberFromEnv(env, 'TOPIC_PARTITIONS', 3);
  const firstBackoffMs = numberFromEnv(env, 'PROJECTION_RETRY_BACKOFF_MS', 100);
  const maxBackoffMs = numberFromEnv(env, 'PROJECTION_RETRY_MAX_BACKOFF_MS', 5000);
  const concurrency = Math.max(1, numberFromEnv(env, 'PROJECTION_CONCURRENCY', 32));

  const topics = {
    placed: options.contracts.topic('order-placed'),
    status: options.contracts.topic('order-status-topic'),
    chat: options.contracts.topic('chat-topic'),
    // The engine names a store's changelog `<applicationId>-<store>-changelog`.
    stock: `${env.STOCK_APP_ID ?? 'stock-processor'}-${changelogName(STOCK_LEVELS_STORE)}`,
  };
  const admin = options.transport.admin();
  await ensureContractTopics(admin, options.contracts, ['order-placed', 'order-status-topic', 'chat-topic'], { partitions });
  // The stock processor creates its changelog with its own task count; only a missing one is made here.
  if ((await admin.describeTopic(topics.stock)) === undefined) {
    await admin.createTopics([{ name: topics.stock, partitions, kind: 'replayable', compacted: true }]);
  }
  await admin.createTopics([{ name: deadLetterTopic, partitions: 1, kind: 'replayable' }]);

  const writer = await ViewWriter.open(options.persistence);
  const decoder = new RecordDecoder(options.registry, topics);
  const dedup = new Deduplicator();
  const shutdown = new AbortController();
  let failure: Error | undefined;

  const producer: Producer = options.transport.producer();
  await producer.connect();
  const consumer: Consumer = options.transport.consumer({
    groupId: applicationId,
    topics: Object.values(topics),
    autoOffsetReset: 'earliest',
    maxBatchSize: 500,
  });

  /** Runs `work` until it succeeds or fails for good; false when shutdown cut the wait short. */
  async function retrying(what: string, work: () => Promise<void>): Promise<boolean> {
    let delay = firstBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await work();
        return true;
      } catch (e) {
        if (!isRetriable(e)) throw e;
        if (attempt === 1 || attempt % 10 === 0) logger(`${what}: ${errorMessage(e)}; retrying (attempt ${attempt})`);
      }
      if (!(await sleep(delay, shutdown.signal))) return false;
      delay = Math.min(delay * 2, maxBackoffMs);
    }
  }

  async function deadLetter(r: ConsumedRecord, stage: 'deserialization' | 'processing', error: unknown): Promise<void> {
    const cause = error instanceof Error ? error : new Error(String(error));
    const headers: HeadersInit = {
      ...r.headers,
      [DeadLetterHeaders.reason]: cause.message,
      [DeadLetterHeaders.stage]: stage,
      [DeadLetterHeaders.error]: cause.name,
      [DeadLetterHeaders.topic]: r.topic,
      [DeadLetterHeaders.partition]: String(r.partition),
      [DeadLetterHeaders.offset]: String(r.offset),
      [DeadLetterHeaders.task]: applicationId,
    };
    await producer.send([{ topic: deadLetterTopic, key: r.key, value: r.value, headers, timestamp: r.timestamp }]);
    logger(`dead-lettered ${r.topic}/${r.partition}@${r.offset} (${stage}): ${cause.message}`);
  }

  /** One record: decoded and applied, or dead-lettered; retriable failures propagate. */
  async function project(r: ConsumedRecord): Promise<void> {
    let input: ProjectionInput;
    try {
      input = await decoder.decode(r);
    } catch (e) {
      if (isRetriable(e)) throw e;
      return deadLetter(r, 'deserialization', e);
    }
    try {
      await writer.apply(input);
    } catch (e) {
      if (isRetriable(e)) throw e;
      return deadLetter(r, 'processing', e);
    }
  }

  /**
   * A batch: records of one key in order, different keys concurrently (at most
   * PROJECTION_CONCURRENCY at once), so that database round trips overlap and the embedded
   * store's writes share transactions — one record at a time, the projection fell seconds behind
   * the saga under load (bench/gateway-load.ts). Committed only when every record is done; a
   * close part-way commits nothing and the batch is redone, idempotently.
   */
  async function handle(batch: RecordBatch): Promise<void> {
    if (failure) throw failure;
    const last = batch.records.at(-1);
    if (last === undefined) return;
    const byKey = new Map<string, ConsumedRecord[]>();
    for (const r of batch.records) {
      if (isMarker(r) || !dedup.admit(r)) continue;
      const key = r.key?.toString('latin1') ?? '';
      (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(r);
    }
    let completed = true;
    const groups = [...byKey.values()];
    const lane = async () => {
      for (let group = groups.shift(); group !== undefined; group = groups.shift()) {
        for (const r of group) {
          if (shutdown.signal.aborted || !(await retrying(`${r.topic}/${r.partition}@${r.offset}`, () => project(r)))) { completed = false; return; }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, groups.length) }, lane));
    if (!completed || shutdown.signal.aborted) return;
    try {
      await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 }]);
    } catch (e) {
      // Closing may take the partition away first; its records are redone, idempotently.
      if (!shutdown.signal.aborted) throw e;
    }
  }

  try {
    await consumer.connect();
    await consumer.run(async (batch) => {
      try {
        await handle(batch);
      } catch (e) {
        failure ??= e instanceof Error ? e : new Error(String(e));
        logger(`projector failed: ${failure.message}`);
        throw failure;
      }
    });
  } catch (e) {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw e;
  }
  logger(`projecting ${Object.values(topics).join(', ')} (group ${applicationId}, dead letters to ${deadLetterTopic})`);

  let closing: Promise<void> | undefined;
  return {
    applicationId,
    deadLetterTopic,
    topics: Object.values(topics),
    close: () => (closing ??= (async () => {
      shutdown.abort();
      await consumer.disconnect();
      await producer.disconnect();
    })()),
    stopped: () => consumer.stopped(),
  };
}

// ---------------------------------------------------------------------------------------------

/** A record whose bytes are not what its topic carries. */
export class UndecodableRecordError extends Error {
  override readonly name = 'UndecodableRecordError';
}

/** Turns consumed records into projection inputs, by topic. */
class RecordDecoder {
  readonly #placed: RegistrySerde<OrderPlaced>;
  readonly #status: RegistrySerde<OrderStatusChanged>;
  readonly #chat: RegistrySerde<ChatMessage>;

  constructor(registry: Client, private readonly topics: { placed: string; status: string; chat: string; stock: string }) {
    this.#placed = avroValueSerde(registry, 'order-placed');
    this.#status = avroValueSerde(registry, 'order-status-topic');
    this.#chat = avroValueSerde(registry, 'chat-topic');
  }

  async decode(r: ConsumedRecord): Promise<ProjectionInput> {
    if (r.topic === this.topics.stock) {
      if (r.key === null) throw new UndecodableRecordError('stock level changelog entry without a key');
      const productId = r.key.toString('utf8');
      return { kind: 'stock-level', productId, level: r.value === null ? null : parseLevel(productId, r.value) };
    }
    if (r.value === null) throw new UndecodableRecordError(`${r.topic}: a record without a value is no event`);
    if (r.topic === this.topics.placed) return { kind: 'order-placed', value: await this.#placed.deserialize(r.topic, r.value) };
    if (r.topic === this.topics.status) return { kind: 'order-status', value: await this.#status.deserialize(r.topic, r.value) };
    if (r.topic === this.topics.chat) return { kind: 'chat', value: await this.#chat.deserialize(r.topic, r.value) };
    throw new UndecodableRecordError(`${r.topic}: not a topic the projector reads`);
  }
}

/** A StoredLevel as the stock processor's store writes it (JSON). */
function parseLevel(productId: string, value: Buffer): StoredLevel {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (e) {
    throw new UndecodableRecordError(`stock level of ${productId} is not JSON: ${errorMessage(e)}`, { cause: e });
  }
  const l = parsed as Partial<Record<keyof StoredLevel, unknown>> | null;
  if (typeof l !== 'object' || l === null || typeof l.sellerId !== 'string' || typeof l.updatedAt !== 'number'
    || typeof l.available !== 'number' || !Number.isFinite(l.available)) {
    throw new UndecodableRecordError(`stock level of ${productId} is not a StoredLevel { productId, sellerId, available, updatedAt }: ${value.toString('utf8').slice(0, 200)}`);
  }
  return { productId, sellerId: l.sellerId, available: l.available, updatedAt: l.updatedAt };
}

function isRetriable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { retriable?: unknown }).retriable === true;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Resolves true after `ms`, false at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(timer); resolve(false); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
