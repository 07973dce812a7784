/**
 * The order processor: the one writer of order state, running the saga.
 *
 *   order-placed ─────────┐
 *   order-command-topic ──┤
 *   stock-response-topic ─┼─ envelope ─▶ order-processing-topic ─┐
 *   payment-success-topic ┤                                      ├─▶ saga [orders, order-retries, order-deadlines]
 *   payment-refund-topic ─┤            order-retry-topic ────────┘      │   ◀── reads [order-users]: global table of users-topic
 *   delivery-start-topic ─┘                                              │
 *                                                                        ├─▶ order-status-topic, order-created, stock-release-topic,
 *                                                                        │   payment-request-topic, delivery-request-topic, order-completed-topic
 *                                                                        ├─▶ order-retry-topic        (not yet applicable: back-off, then again)
 *                                                                        └─▶ order-dead-letter-topic  (rejected, or out of attempts)
 *
 * Retries wait in a store until due and are taken up by a wall-clock punctuator, so a waiting
 * event never holds up other orders. The payment deadline works the same way.
 *
 * Retention (retention.ts): a terminal order is indexed in `order-expiries` by the time its
 * retention ends and deleted from `orders` (a tombstone on its changelog) by a wall-clock
 * punctuator once due; a late duplicate `order-placed` of an expired order is dead-lettered.
 * `order-retries` and `order-deadlines` need no retention: each entry is deleted when it is due.
 *
 * The users table is global (every instance holds all users, whatever partitions it runs): an
 * OrderPlaced's buyer is looked up in it and handed to the saga, which waits for a user it does
 * not know yet and refuses orders placed by a seller.
 */
import {
  keyValueStore, Serdes, StreamsBuilder, type Codec, type KeyValueStore, type Processor, type ProcessorContext,
  type Produced, type StreamRecord, type Topology,
} from '../engine/index.ts';
import type { User } from '../../schemas/index.ts';
import type { Contracts } from '../common/index.ts';
import { derivedId } from '../common/index.ts';
import { envelopeSerde, ORDER_INPUTS, type OrderEvent, type OrderInput, type SagaEnvelope } from './envelope.ts';
import { decide, expire, NotYetApplicable, SAGA_OUTPUTS, type Decision, type OrderState, type SagaOutput } from './saga.ts';
import { expiresAt, isExpired, lateDuplicate } from './retention.ts';
import { ExpiryIndex, expiryIndexStore, retentionSettings, type RetentionOptions, type RetentionSettings } from '../common/retention.ts';

export interface OrderTopologyOptions {
  /** How long an order may wait in PENDING_PAYMENT for a PAY before it is cancelled. Default 15 min. */
  readonly paymentDeadlineMs?: number;
  /** Attempts of an event that is not yet applicable before it is dead-lettered. Default 5. */
  readonly maxAttempts?: number;
  /** Back-off before retry n is `retryBackoffMs · 2^(n-1)`. Default 500 ms. */
  readonly retryBackoffMs?: number;
  /** How often due retries and deadlines are looked for. Default 100 ms. */
  readonly tickMs?: number;
  /** How long terminal orders are kept (ORDER_RETENTION_MS); default 7 days, 0 for ever. */
  readonly retention?: RetentionOptions;
}

export const ORDERS_STORE = 'orders';
export const RETRIES_STORE = 'order-retries';
export const DEADLINES_STORE = 'order-deadlines';
/** Expiry index of terminal orders: `<due time>/<orderId>` → orderId, and the watermark (common/retention.ts). */
export const ORDER_EXPIRIES_STORE = 'order-expiries';
/** The global table of users-topic (latest User per id), read by the saga for each OrderPlaced. */
export const USERS_STORE = 'order-users';

/** What the saga hands downstream: a contract record, or the envelope of a retry or dead letter. */
export type SagaForward = SagaOutput | { readonly topic: 'order-retry-topic' | 'order-dead-letter-topic'; readonly value: SagaEnvelope };

export function orderTopology(contracts: Contracts, options: OrderTopologyOptions = {}): Topology {
  const settings = {
    paymentDeadlineMs: options.paymentDeadlineMs ?? 15 * 60_000,
    maxAttempts: options.maxAttempts ?? 5,
    retryBackoffMs: options.retryBackoffMs ?? 500,
    tickMs: options.tickMs ?? 100,
    retention: retentionSettings(options.retention),
  };
  const builder = new StreamsBuilder();
  const envelopes = envelopeSerde(contracts);
  const envelopeTopic = { keySerde: Serdes.string(), ...(envelopes ? { valueSerde: envelopes } : {}) };

  builder
    .addStateStore(keyValueStore<string, OrderState>(ORDERS_STORE, { keyCodec: Serdes.string() }))
    .addStateStore(keyValueStore<string, SagaEnvelope>(RETRIES_STORE, { keyCodec: Serdes.string(), valueCodec: jsonWithBuffers<SagaEnvelope>() }))
    .addStateStore(keyValueStore<string, string>(DEADLINES_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.string() }))
    .addStateStore(expiryIndexStore(ORDER_EXPIRIES_STORE));

  builder.globalTable(contracts.topic('users-topic'), contracts.consumed('users-topic'), { storeName: USERS_STORE });

  for (const topic of ORDER_INPUTS) {
    builder.stream(contracts.topic(topic), contracts.consumed(topic) as Parameters<StreamsBuilder['stream']>[1])
      .process(() => new Envelope(topic, settings.maxAttempts), { name: `envelope-${topic}` })
      .to(contracts.topic('order-processing-topic'), envelopeTopic);
  }

  const forwards = builder
    .stream<string, SagaEnvelope>([contracts.topic('order-processing-topic'), contracts.topic('order-retry-topic')], envelopeTopic)
    .process(() => new OrderSaga(contracts.topic('order-retry-topic'), settings), { name: 'saga', stores: [ORDERS_STORE, RETRIES_STORE, DEADLINES_STORE, ORDER_EXPIRIES_STORE, USERS_STORE] });

  // One branch per output topic: each record is routed once, not tested by a filter per topic.
  const envelopeOutputs = ['order-retry-topic', 'order-dead-letter-topic'] as const;
  const split = forwards.split({ name: 'to-' });
  for (const topic of [...SAGA_OUTPUTS, ...envelopeOutputs]) split.branch((_, f) => f.topic === topic, topic);
  const branches = split.noDefaultBranch();
  for (const topic of SAGA_OUTPUTS) {
    branches.get(`to-${topic}`)!
      .mapValues((f) => f.value as SagaOutput['value'])
      .to(contracts.topic(topic), contracts.produced(topic) as Produced<string, SagaOutput['value']>);
  }
  for (const topic of envelopeOutputs) {
    branches.get(`to-${topic}`)!
      .mapValues((f) => f.value as SagaEnvelope)
      .to(contracts.topic(topic), envelopeTopic);
  }
  return builder.build();
}

/** Wraps an input event for order-processing-topic: keyed by orderId, attempt 0. */
class Envelope implements Processor<string | null, OrderEvent['value'], string, SagaEnvelope> {
  private context!: ProcessorContext<string, SagaEnvelope>;

  constructor(private readonly topic: OrderInput, private readonly maxAttempts: number) {}

  init(context: ProcessorContext<string, SagaEnvelope>): void {
    this.context = context;
  }

  process(record: StreamRecord<string | null, OrderEvent['value']>): void {
    const meta = this.context.recordMetadata()!;
    const event = { topic: this.topic, value: record.value } as OrderEvent;
    const orderId = event.value.orderId;
    const eventId = 'eventId' in event.value ? event.value.eventId
      : 'commandId' in event.value ? event.value.commandId
      : derivedId(meta.topic, meta.partition, meta.offset);
    this.context.forward({
      key: orderId,
      value: {
        eventId, orderId, sourcePartition: meta.partition, sourceOffset: meta.offset, key: record.key, headers: record.headers,
        attempt: 0, maxAttempts: this.maxAttempts, reason: null, errorType: null, firstFailedAt: null, nextAttemptAt: record.timestamp, event,
      },
      timestamp: record.timestamp,
      headers: {},
    });
  }
}

interface SagaSettings {
  readonly paymentDeadlineMs: number;
  readonly maxAttempts: number;
  readonly retryBackoffMs: number;
  readonly tickMs: number;
  readonly retention: RetentionSettings;
}

class OrderSaga implements Processor<string, SagaEnvelope, string, SagaForward> {
  private context!: ProcessorContext<string, SagaForward>;
  private orders!: KeyValueStore<string, OrderState>;
  private retries!: KeyValueStore<string, SagaEnvelope>;
  private deadlines!: KeyValueStore<string, string>;
  private users!: KeyValueStore<string, User>;
  private expiries!: ExpiryIndex;

  /** Wall-clock time of the last input record (or of start): a task that has had none for a while is caught up. */
  private lastInputAt = 0;

  constructor(private readonly retryTopic: string, private readonly settings: SagaSettings) {}

  init(context: ProcessorContext<string, SagaForward>): void {
    this.context = context;
    this.orders = context.getStateStore(ORDERS_STORE);
    this.retries = context.getStateStore(RETRIES_STORE);
    this.deadlines = context.getStateStore(DEADLINES_STORE);
    this.users = context.getStateStore(USERS_STORE);
    this.expiries = new ExpiryIndex(context.getStateStore(ORDER_EXPIRIES_STORE));
    // A task that has just started (after a crash, a rebalance) may not have fetched its backlog yet.
    this.lastInputAt = context.currentSystemTime();
    context.schedule(this.settings.tickMs, 'wall-clock-time', (now) => {
      this.retryDue(now);
      this.expireDue(now);
    });
    if (this.settings.retention.enabled) context.schedule(this.settings.retention.tickMs, 'wall-clock-time', (now) => this.deleteExpired(now));
  }

  process(record: StreamRecord<string, SagaEnvelope>): void {
    this.lastInputAt = this.context.currentSystemTime();
    if (this.context.recordMetadata()?.topic === this.retryTopic) {
      // Parked until due; the punctuator takes it up. The attempt in the key keeps copies apart.
      const e = record.value;
      this.retries.put(`${timeKey(e.nextAttemptAt)}/${e.eventId}/${e.attempt}`, e);
      return;
    }
    this.handle(record.value, record.timestamp);
  }

  private handle(envelope: SagaEnvelope, timestamp: number): void {
    const now = this.context.currentSystemTime();
    const state = this.orders.get(envelope.orderId);
    let decision: Decision;
    const late = this.settings.retention.enabled ? lateDuplicate(state, envelope.event, this.expiries.watermark()) : undefined;
    if (late) {
      this.deadLetter(envelope, late, now, timestamp);
      return;
    }
    try {
      const customer = envelope.event.topic === 'order-placed' ? this.users.get(envelope.event.value.customerId) : undefined;
      decision = decide(state, envelope.event, { now }, { customer });
    } catch (e) {
      if (e instanceof NotYetApplicable) this.retryLater(envelope, e, now, timestamp);
      else this.deadLetter(envelope, e, now, timestamp);
      return;
    }
    this.apply(decision, state, timestamp);
  }

  private apply(decision: Decision, before: OrderState | undefined, timestamp: number): void {
    const { state, outputs } = decision;
    if (outputs.length === 0 && before === state) return;
    this.orders.put(state.orderId, state);
    // Each change of a terminal order (re)starts its retention; an older index entry finds it not yet expired.
    const expiry = this.settings.retention.enabled ? expiresAt(state, this.settings.retention.retentionMs) : undefined;
    if (expiry !== undefined) this.expiries.add(expiry, state.orderId);
    if (state.status === 'PENDING_PAYMENT' && state.payment === null && state.awaitingPaymentSince !== null && before?.status !== 'PENDING_PAYMENT') {
      this.deadlines.put(this.deadlineKey(state.orderId, state.awaitingPaymentSince), state.orderId);
    }
    // Only a PENDING_PAYMENT order can expire (saga.ts expire): once it moves on, its deadline
    // entry goes, so the store holds the orders awaiting payment, not every order of the deadline's span.
    if (before?.status === 'PENDING_PAYMENT' && state.status !== 'PENDING_PAYMENT' && before.awaitingPaymentSince !== null) {
      this.deadlines.delete(this.deadlineKey(state.orderId, before.awaitingPaymentSince));
    }
    for (const output of outputs) this.context.forward({ key: state.orderId, value: output, timestamp, headers: {} });
  }

  private deadlineKey(orderId: string, awaitingPaymentSince: number): string {
    return `${timeKey(awaitingPaymentSince + this.settings.paymentDeadlineMs)}/${orderId}`;
  }

  private retryLater(envelope: SagaEnvelope, error: Error, now: number, timestamp: number): void {
    const attempt = envelope.attempt + 1;
    if (attempt > this.settings.maxAttempts) {
      this.deadLetter(envelope, new Error(`gave up after ${envelope.attempt} retries: ${error.message}`, { cause: error }), now, timestamp, error.name);
      return;
    }
    const value: SagaEnvelope = {
      ...envelope, attempt, reason: error.message, errorType: error.name, firstFailedAt: envelope.firstFailedAt ?? now,
      nextAttemptAt: now + this.settings.retryBackoffMs * 2 ** (attempt - 1),
    };
    this.context.forward({ key: envelope.orderId, value: { topic: 'order-retry-topic', value }, timestamp, headers: {} });
  }

  private deadLetter(envelope: SagaEnvelope, error: unknown, now: number, timestamp: number, errorType?: string): void {
    const e = error instanceof Error ? error : new Error(String(error));
    const value: SagaEnvelope = { ...envelope, reason: e.message, errorType: errorType ?? e.name, firstFailedAt: envelope.firstFailedAt ?? now, nextAttemptAt: now };
    this.context.forward({ key: envelope.orderId, value: { topic: 'order-dead-letter-topic', value }, timestamp, headers: {} });
  }

  private deleteExpired(now: number): void {
    deleteExpiredOrders(this.orders, this.expiries, this.settings.retention, now);
  }

  private retryDue(now: number): void {
    for (const { key, value } of this.retries.range(undefined, `${timeKey(now)}/~`)) {
      this.retries.delete(key);
      this.handle(value, now);
    }
  }

  /**
   * A deadline passes only once the task has caught up with it: its stream time (the newest input
   * timestamp it processed) is past the deadline by DEADLINE_SLACK_MS, or it has been idle. So a
   * PAY the buyer sent in time is applied before the order expires even when the processor runs
   * behind (a backlog delays the deadline, it does not cut the buyer's time).
   */
  private expireDue(now: number): void {
    const idle = now - this.lastInputAt >= IDLE_MS;
    const horizon = idle ? now : Math.min(now, this.context.currentStreamTime() - DEADLINE_SLACK_MS);
    for (const { key, value: orderId } of this.deadlines.range(undefined, `${timeKey(horizon)}/~`)) {
      this.deadlines.delete(key);
      const state = this.orders.get(orderId);
      const decision = state && expire(state, this.settings.paymentDeadlineMs, { now });
      if (decision) this.apply(decision, state, now);
    }
  }
}

/**
 * Deletes the terminal orders whose retention has passed, at most maxPerPunctuation per call
 * (a backlog after an outage is worked off over the next punctuations).
 */
function deleteExpiredOrders(orders: KeyValueStore<string, OrderState>, expiries: ExpiryIndex, retention: RetentionSettings, now: number): void {
  for (const due of expiries.due(now, retention.maxPerPunctuation)) {
    expiries.remove(due.key);
    const state = orders.get(due.payload);
    if (state === undefined || !isExpired(state, retention.retentionMs, now)) continue;
    orders.delete(state.orderId);
    expiries.raise(state.placedAt);
  }
}

/** Inputs of one order reach order-processing-topic through different envelope tasks, so their order there may be off by this much. */
const DEADLINE_SLACK_MS = 1_000;
/** No input for this long: nothing is queued, wall-clock time is safe to go by. */
const IDLE_MS = 5_000;

/** Fixed-width decimal, so that keys sort by time. */
function timeKey(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString().padStart(15, '0');
}

/** JSON that keeps Buffers (envelope headers) as Buffers. */
function jsonWithBuffers<T>(): Codec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    decode: (bytes) => JSON.parse(bytes.toString('utf8'), (_, v: unknown) => {
      const b = v as { type?: unknown; data?: unknown } | null;
      return b !== null && typeof b === 'object' && b.type === 'Buffer' && Array.isArray(b.data) ? Buffer.from(b.data as number[]) : v;
    }) as T,
  };
}
