/**
 * The buyers and sellers of the scenario, talking to the processors only through topics with the
 * registry-backed serdes: every user is published to users-topic (as the gateway does on signup),
 * sellers write stock levels, buyers place orders, cancel some at once and pay the rest when they
 * reach PENDING_PAYMENT; a seller places the scenario's rejected order. One reader follows everything the test checks:
 * order statuses, order-completed events, the order processor's dead letters, every processor's
 * engine dead-letter topic, and the stock processor's changelog (every level it ever wrote).
 *
 * Reading outputs of exactly_once processors: on Kafka the transport's consumer is KafkaJS's
 * default read_committed (aborted transactions are never seen); on RabbitMQ (effectively-once)
 * re-sent copies after a crash carry their origin and the engine's `Deduplicator` drops them.
 */
import type { Client } from '@confluentinc/schemaregistry';
import { DeadLetterHeaders, Deduplicator, isMarker } from '../../processors/engine/index.ts';
import { derivedId } from '../../processors/common/index.ts';
import {
  avroValueSerde, type OrderCommand, type OrderCompletedMessage, type OrderStatusChanged, type RegistrySerde,
  type RetryEnvelope, type TopicName, type TopicValue,
} from '../../schemas/index.ts';
import { TransportError, type ConsumedRecord, type Consumer, type Producer, type ProducerRecord, type Transport } from '../../transports/index.ts';
import { stockLevels, type PlannedOrder, type Scenario } from './scenario.ts';

/** A value in the stock processor's level store (JSON in its changelog, string keys). */
export interface StoredLevel {
  readonly productId: string;
  readonly sellerId: string;
  readonly available: number;
  readonly updatedAt: number;
}

/** Everything the reader saw. */
export interface Observation {
  /** Status events per order, in arrival order, one per eventId. */
  readonly statuses: Map<string, OrderStatusChanged[]>;
  /** Order-completed events by eventId. */
  readonly completed: Map<string, OrderCompletedMessage>;
  readonly orderDeadLetters: RetryEnvelope[];
  /** Records on the processors' engine dead-letter topics, described. */
  readonly engineDeadLetters: string[];
  /** The same records, by their dead-letter headers. */
  readonly engineDeadLetterRecords: EngineDeadLetter[];
  /** Every level the stock changelog held per product, in order. */
  readonly levels: Map<string, number[]>;
  /** Changelog values below zero, described. */
  readonly negativeLevels: string[];
  /** Status or completed events repeating an eventId already seen. */
  repeatedEvents: number;
  /** Every status and order-completed event admitted, repeats included, in arrival order. */
  readonly statusLog: OrderStatusChanged[];
  readonly completedLog: OrderCompletedMessage[];
  /** Re-sent copies the origin check dropped, per topic (RabbitMQ after a crash; none on Kafka). */
  readonly originCopies: Map<string, number>;
  /**
   * Records delivered to the reader again at an offset it had already read (its group rejoined
   * after a broker restart and resumed below where it was): transport redeliveries, not effects.
   */
  redelivered: number;
  /** Records the test injected itself (`isInjected`), seen by the reader and not decoded. */
  injectedSeen: number;
  /** Sends the client retried after a retriable failure (the broker away). */
  sendRetries: number;
  /** Orders handed to the broker so far. */
  placed: number;
  /** Events about orders the scenario does not have, described. */
  readonly foreign: string[];
  /** Records the reader could not decode, and failed sends of buyer commands. */
  readonly errors: string[];
  /** PAY commands sent. */
  paid: number;
}

/** One record of an engine dead-letter topic (`<appId>-dlq`), by its headers. */
export interface EngineDeadLetter {
  readonly dlq: string;
  readonly sourceTopic: string | undefined;
  readonly stage: string | undefined;
  readonly error: string | undefined;
  readonly reason: string | undefined;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ClientOptions {
  readonly transport: Transport;
  readonly registry: Client;
  readonly prefix: string;
  readonly scenario: Scenario;
  /** Changelog topic of the stock processor's level store. */
  readonly stockChangelog: string;
  /** Engine dead-letter topics of the processors (`<appId>-dlq`). */
  readonly engineDeadLetterTopics: readonly string[];
  /** Orders per produce call. */
  readonly batchSize: number;
  /**
   * Orders placed but not yet terminal, at most: a buyer population the processors can keep up
   * with, so that a PAY sent at once is processed within the payment deadline whatever the
   * machine's speed (the outcome must not depend on throughput).
   */
  readonly maxInFlight: number;
  /** Whether an order is terminal (the caller knows from the statuses observed). */
  readonly isTerminal: (orderId: string) => boolean;
  /** Rejects the wait for room in the window: a dead process, the overall deadline. */
  readonly abort: () => string | undefined;
  /** At least this long between two batches of orders: a steady load over time (default 0: as fast as the window allows). */
  readonly placeEveryMs?: number;
  /** Records the test injected (poison): counted, never decoded. */
  readonly isInjected?: (r: ConsumedRecord) => boolean;
}

type Serdes = { [T in TopicName]?: RegistrySerde<TopicValue<T>> };

export class SagaClient {
  readonly observation: Observation = {
    statuses: new Map(), completed: new Map(), orderDeadLetters: [], engineDeadLetters: [], engineDeadLetterRecords: [], levels: new Map(),
    negativeLevels: [], repeatedEvents: 0, statusLog: [], completedLog: [], originCopies: new Map(), redelivered: 0, injectedSeen: 0, sendRetries: 0,
    placed: 0, foreign: [], errors: [], paid: 0,
  };

  private readonly serdes: Serdes = {};
  private readonly orders: Map<string, PlannedOrder>;
  private readonly seenEvents = new Set<string>();
  private readonly payQueue: OrderCommand[] = [];
  private readonly paidOrders = new Set<string>();
  /** When each PAY command was handed to the broker (ms since the epoch), per order. */
  readonly paySentAt = new Map<string, number>();
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private readonly dedup = new Deduplicator();
  /** Highest offset read per topic-partition: a record at or below it is a redelivery. */
  private readonly readUpTo = new Map<string, number>();

  private constructor(private readonly o: ClientOptions, private readonly producer: Producer, private reader: Consumer | undefined) {
    this.orders = new Map(o.scenario.orders.map((p) => [p.placed.orderId, p]));
  }

  /** Connects the producer and starts reading (from the beginning) every topic the test checks. */
  static async start(o: ClientOptions): Promise<SagaClient> {
    const producer = o.transport.producer();
    await producer.connect();
    const client = new SagaClient(o, producer, undefined);
    const topics = [
      client.topic('order-status-topic'), client.topic('order-completed-topic'), client.topic('order-dead-letter-topic'),
      o.stockChangelog, ...o.engineDeadLetterTopics,
    ];
    const reader = o.transport.consumer({ groupId: `${o.prefix}saga-reader`, topics, autoOffsetReset: 'earliest' });
    client.reader = reader;
    await reader.connect();
    await reader.run(async (batch) => {
      for (const r of batch.records) {
        // The engine's end-of-stream markers (RabbitMQ streams) are not records of the topic.
        if (isMarker(r)) continue;
        // Offsets only grow within a partition (RabbitMQ work queues number each delivery anew,
        // and their redeliveries are caught by the origin check below).
        const tp = `${r.topic}|${r.partition}`;
        if (r.offset <= (client.readUpTo.get(tp) ?? -1)) { client.observation.redelivered++; continue; }
        client.readUpTo.set(tp, r.offset);
        // A dead letter of an injected record carries its headers along: it is what the test checks.
        if (o.isInjected?.(r) && !o.engineDeadLetterTopics.includes(r.topic)) { client.observation.injectedSeen++; continue; }
        if (!client.dedup.admit(r)) {
          const copies = client.observation.originCopies;
          copies.set(r.topic, (copies.get(r.topic) ?? 0) + 1);
          continue;
        }
        try {
          await client.read(r);
        } catch (e) {
          client.observation.errors.push(`${r.topic}[${r.partition}]@${r.offset} key ${r.key?.toString() ?? 'null'}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    });
    return client;
  }

  /** The reader's failure, if it stopped. */
  readerStopped(): Promise<void> {
    return this.reader?.stopped() ?? Promise.resolve();
  }

  /** Every buyer and seller of the scenario, on users-topic keyed by id (before any order). */
  async publishUsers(): Promise<void> {
    const topic = this.topic('users-topic');
    await this.send(await Promise.all(this.o.scenario.users.map(async (u) => ({ topic, key: Buffer.from(u.id), value: await this.serde('users-topic').serialize(topic, u) }))));
  }

  /** Sellers set the level of every AMPLE and SCARCE product. */
  async setStockLevels(): Promise<void> {
    const topic = this.topic('stock-levels-topic');
    const levels = stockLevels(this.o.scenario, Date.now());
    await this.send(await Promise.all(levels.map(async (l) => ({ topic, key: Buffer.from(l.productId), value: await this.serde('stock-levels-topic').serialize(topic, l) }))));
  }

  /** Products whose level the stock processor has not (yet) stored as set. */
  levelsMissing(): string[] {
    return stockLevels(this.o.scenario, 0).filter((l) => this.observation.levels.get(l.productId)?.at(-1) !== l.available).map((l) => l.productId);
  }

  /**
   * Places every order, never more than `maxInFlight` unfinished at once; sends CANCEL for the
   * CANCEL orders right after their batch. The rejected orders go first (they never count as
   * unfinished).
   */
  async placeOrders(): Promise<void> {
    const placed = this.topic('order-placed');
    const commands = this.topic('order-command-topic');
    const orders = this.o.scenario.orders;
    await this.send(await Promise.all(this.o.scenario.rejected.map(async (r) => ({
      topic: placed, key: Buffer.from(r.placed.orderId), value: await this.serde('order-placed').serialize(placed, { ...r.placed, placedAt: Date.now() }),
    }))));
    let lastBatchAt = 0;
    for (let i = 0; i < orders.length; i += this.o.batchSize) {
      const batch = orders.slice(i, i + this.o.batchSize);
      const pace = lastBatchAt + (this.o.placeEveryMs ?? 0) - Date.now();
      if (pace > 0) await new Promise((r) => setTimeout(r, pace));
      lastBatchAt = Date.now();
      for (;;) {
        const unfinished = orders.slice(0, i).filter((p) => !this.o.isTerminal(p.placed.orderId)).length;
        if (unfinished + batch.length <= Math.max(this.o.maxInFlight, batch.length)) break;
        const problem = this.o.abort();
        if (problem) throw new Error(`placing orders (${i} of ${orders.length} placed, ${unfinished} unfinished): ${problem}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await this.send(await Promise.all(batch.map(async (p) => ({
        topic: placed, key: Buffer.from(p.placed.orderId), value: await this.serde('order-placed').serialize(placed, { ...p.placed, placedAt: Date.now() }),
      }))));
      this.observation.placed += batch.length;
      const cancels = batch.filter((p) => p.behaviour === 'CANCEL').map((p): OrderCommand => ({
        commandId: derivedId('saga', this.o.scenario.seed, 'cancel', p.placed.orderId), orderId: p.placed.orderId, customerId: p.placed.customerId,
        type: 'CANCEL', paymentKey: null, amount: null, reason: 'changed my mind', issuedAt: Date.now(),
      }));
      if (cancels.length > 0) {
        await this.send(await Promise.all(cancels.map(async (c) => ({ topic: commands, key: Buffer.from(c.orderId), value: await this.serde('order-command-topic').serialize(commands, c) }))));
      }
    }
  }

  /** Waits for queued PAY commands to be sent. */
  async drain(): Promise<void> {
    while (this.flushScheduled || this.payQueue.length > 0) {
      await this.flushing;
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.flushing;
  }

  async close(): Promise<void> {
    await this.reader?.disconnect().catch((e: unknown) => this.observation.errors.push(`closing the reader: ${String(e)}`));
    await this.drain().catch(() => undefined);
    await this.producer.disconnect();
  }

  private topic(name: TopicName): string {
    return `${this.o.prefix}${name}`;
  }

  private serde<T extends TopicName>(name: T): RegistrySerde<TopicValue<T>> {
    const known = this.serdes[name] as RegistrySerde<TopicValue<T>> | undefined;
    if (known) return known;
    const made = avroValueSerde(this.o.registry, name);
    (this.serdes as Record<string, unknown>)[name] = made;
    return made;
  }

  /**
   * Sends, retrying a retriable failure (the broker away) as a gateway would, until `abort` says
   * the run is over. A retried send may write a record twice; the processors must not care.
   */
  private async send(records: readonly ProducerRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
      try {
        await this.producer.send(records);
        return;
      } catch (e) {
        const problem = this.o.abort();
        if (!(e instanceof TransportError && e.retriable) || problem) throw problem ? new Error(`${problem}; last send failure: ${String(e)}`, { cause: e }) : e;
        this.observation.sendRetries++;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async read(r: ConsumedRecord): Promise<void> {
    const obs = this.observation;
    if (r.topic === this.topic('order-status-topic')) {
      const e = await this.serde('order-status-topic').deserialize(r.topic, this.value(r));
      obs.statusLog.push(e);
      if (!this.firstSight(e.eventId)) return;
      const order = this.orders.get(e.orderId);
      if (!order) { obs.foreign.push(`status ${e.from ?? '∅'}→${e.to} of unknown order ${e.orderId}`); return; }
      (obs.statuses.get(e.orderId) ?? obs.statuses.set(e.orderId, []).get(e.orderId)!).push(e);
      if (e.to === 'PENDING_PAYMENT' && order.behaviour === 'PAY' && !this.paidOrders.has(e.orderId)) this.pay(order);
    } else if (r.topic === this.topic('order-completed-topic')) {
      const e = await this.serde('order-completed-topic').deserialize(r.topic, this.value(r));
      obs.completedLog.push(e);
      if (!this.firstSight(e.eventId)) return;
      obs.completed.set(e.eventId, e);
    } else if (r.topic === this.topic('order-dead-letter-topic')) {
      obs.orderDeadLetters.push(await this.serde('order-dead-letter-topic').deserialize(r.topic, this.value(r)));
    } else if (r.topic === this.o.stockChangelog) {
      this.readLevel(r);
    } else {
      const h = (name: string) => r.headers[name]?.toString() ?? '?';
      const v = (name: string) => r.headers[name]?.toString();
      obs.engineDeadLetterRecords.push({
        dlq: r.topic, sourceTopic: v(DeadLetterHeaders.topic), stage: v(DeadLetterHeaders.stage), error: v(DeadLetterHeaders.error),
        reason: v(DeadLetterHeaders.reason), key: r.key?.toString(), headers: Object.fromEntries(Object.entries(r.headers).map(([k, x]) => [k, x?.toString() ?? ''])),
      });
      obs.engineDeadLetters.push(`${r.topic}: ${h(DeadLetterHeaders.stage)} of ${h(DeadLetterHeaders.topic)}[${h(DeadLetterHeaders.partition)}]@${h(DeadLetterHeaders.offset)} key ${r.key?.toString() ?? 'null'}: ${h(DeadLetterHeaders.error)} ${h(DeadLetterHeaders.reason)}`);
    }
  }

  private readLevel(r: ConsumedRecord): void {
    if (r.value === null) {
      this.observation.errors.push(`${r.topic}[${r.partition}]@${r.offset}: tombstone for ${r.key?.toString() ?? 'null'} (a product's level deleted)`);
      return;
    }
    const v = JSON.parse(r.value.toString('utf8')) as Partial<StoredLevel>;
    if (typeof v.productId !== 'string' || typeof v.available !== 'number') {
      throw new Error(`not a stored level {productId, sellerId, available, updatedAt}: ${r.value.toString('utf8').slice(0, 200)}`);
    }
    const levels = this.observation.levels;
    (levels.get(v.productId) ?? levels.set(v.productId, []).get(v.productId)!).push(v.available);
    if (v.available < 0) this.observation.negativeLevels.push(`${v.productId}: ${v.available} at ${r.topic}[${r.partition}]@${r.offset}`);
  }

  private value(r: ConsumedRecord): Buffer {
    if (r.value === null) throw new Error('null value');
    return r.value;
  }

  private firstSight(eventId: string): boolean {
    if (this.seenEvents.has(eventId)) { this.observation.repeatedEvents++; return false; }
    this.seenEvents.add(eventId);
    return true;
  }

  private pay(order: PlannedOrder): void {
    this.paidOrders.add(order.placed.orderId);
    this.payQueue.push({
      commandId: derivedId('saga', this.o.scenario.seed, 'pay', order.placed.orderId),
      orderId: order.placed.orderId,
      customerId: order.placed.customerId,
      type: 'PAY',
      paymentKey: `pk-${order.placed.orderId}`,
      amount: order.amount,
      reason: null,
      issuedAt: Date.now(),
    });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Batched a moment so a burst of PENDING_PAYMENTs becomes one send, not one per order.
    setTimeout(() => {
      this.flushScheduled = false;
      const commands = this.payQueue.splice(0);
      const topic = this.topic('order-command-topic');
      this.flushing = this.flushing.then(async () => {
        const records = await Promise.all(commands.map(async (c) => ({ topic, key: Buffer.from(c.orderId), value: await this.serde('order-command-topic').serialize(topic, c) })));
        await this.send(records);
        const at = Date.now();
        for (const c of commands) this.paySentAt.set(c.orderId, at);
        this.observation.paid += records.length;
      }).catch((e: unknown) => { this.observation.errors.push(`sending ${commands.length} PAY commands: ${e instanceof Error ? e.message : String(e)}`); });
    }, 5);
  }
}
