/**
 * Payment's topology: makes payment requests idempotent and turns the charger's gateway outcomes
 * into `payment-success-topic` events (charges) and `payment-refund-topic` events (refunds). Processing is synchronous, so the HTTP call to the gateway
 * happens outside, in the charger sidecar, connected by two internal topics:
 *
 *   payment-request-topic ─► requests ─┬─► <appId>-pg-requests ─► charger (HTTP) ─┐
 *                                      └─► payment-success-topic (stored outcome)  │
 *   <appId>-pg-results ◄───────────────────────────────────────────────────────────┘
 *        └─► outcomes ─► payment-success-topic (CHARGE) | payment-refund-topic (REFUND)
 *
 * Store `payments`, keyed `<orderId>/<kind>`: PENDING once a request is forwarded, then the
 * outcome. A duplicate request while PENDING is dropped (the charger has it); a duplicate after
 * the outcome gets the stored outcome again. The first outcome for a key wins; later ones (a
 * redelivered charger batch) are dropped.
 *
 * A request whose outcome never comes back (the pg-requests record or the pg-results one lost)
 * would stay PENDING for ever. So each PENDING entry carries the request and a due time,
 * indexed in store `payment-resends` (`<due time>/<orderId>/<kind>`); a wall-clock punctuator
 * re-sends every request still PENDING when due (`pendingResendMs` after the last send, env
 * PAYMENT_PENDING_RESEND_MS), again and again until an outcome arrives. A re-sent request uses
 * the same idempotency key at the gateway (`charge:<orderId>`), so it cannot charge twice: the
 * gateway replays what it decided, or the charger joins the call still in flight.
 *
 * Retention (processors/common/retention.ts): payment learns that an order ended from the order
 * processor's terminal status (COMPLETED, CANCELLED, REFUNDED on order-status-topic, co-partitioned
 * with the requests) and indexes the order in `payment-expiries` for the status's time + the
 * retention (ORDER_RETENTION_MS); when due, its DONE entries are deleted (tombstones on the
 * `payments` changelog). A PENDING one — money possibly in flight, impossible for an ended order in
 * the saga — is kept and looked at again a retention later. A late duplicate request after the
 * delete would otherwise be charged again under the same idempotency key, safe only as long as
 * the gateway remembers the key; instead a request whose `requestedAt` is at or below the
 * watermark (the newest `requestedAt` among expired entries) is refused (`ExpiredPaymentRequest`,
 * dead-lettered), never sent to the gateway.
 *
 * The internal topics are declared like repartition topics, so the engine names them
 * `<appId>-pg-requests` / `<appId>-pg-results`, creates them before start and lists them among the
 * application's topics. pg-results is co-partitioned with payment-request-topic: the charger
 * keys outcomes by orderId, so an outcome lands in the partition, hence the task and store, that
 * holds the request's PENDING entry.
 */
import {
  Serdes, Topology, keyValueStore, type Headers, type KeyValueStore, type Processor, type ProcessorContext,
} from '../engine/index.ts';
import type { OrderStatusChanged, PaymentOutcome, PaymentRefundMessage, PaymentRequestMessage, PaymentSuccessMessage } from '../../schemas/index.ts';
import type { Contracts } from '../common/index.ts';
import { ExpiredPaymentRequest, PaymentValidationError } from './errors.ts';
import { ExpiryIndex, expiryIndexStore, isTerminalStatus, retentionSettings, type RetentionOptions, type RetentionSettings } from '../common/retention.ts';

export type PaymentKind = 'CHARGE' | 'REFUND';

/** A request with its kind made explicit (records written before `kind` existed read as CHARGE). */
export type PaymentRequest = PaymentRequestMessage & { readonly kind: PaymentKind };

export type PaymentEntry =
  | {
    readonly state: 'PENDING'; readonly eventId: string; readonly amount: number; readonly requestedAt: number;
    /** What was sent to the charger and is re-sent; absent in entries written before re-sends existed (never re-sent). */
    readonly request?: PaymentRequest;
    /** Wall-clock time of the next re-send, the key of its `payment-resends` index entry. */
    readonly resendAt?: number;
    /** Re-sends so far. */
    readonly resends?: number;
  }
  | {
    readonly state: 'DONE'; readonly outcome: PaymentOutcome; readonly reason?: string;
    /** The request's `requestedAt` (absent in entries written before retention): raises the watermark when the entry expires. */
    readonly requestedAt?: number;
  };

export const PAYMENTS_STORE = 'payments';
/** Index of PENDING entries by re-send due time: `<timeKey(due)>/<orderId>/<kind>` → `<orderId>/<kind>`. */
export const RESENDS_STORE = 'payment-resends';
/** Expiry index of ended orders: `<due time>/<orderId>` → orderId, and the watermark of expired `requestedAt`s. */
export const PAYMENT_EXPIRIES_STORE = 'payment-expiries';

export interface PaymentTopologyOptions {
  /** Re-send a request still PENDING this long after it was last sent (wall clock); 0 never. Default 30 s. */
  readonly pendingResendMs?: number;
  /** How often the due re-sends are looked for. Default min(1 s, pendingResendMs). */
  readonly resendTickMs?: number;
  /** How long the entries of an ended order are kept (ORDER_RETENTION_MS); default 7 days, 0 for ever. */
  readonly retention?: RetentionOptions;
}

export const DEFAULT_PENDING_RESEND_MS = 30_000;
/** Internal topic names as the topology declares them; the engine prefixes `<appId>-`. */
export const PG_REQUESTS = 'pg-requests';
export const PG_RESULTS = 'pg-results';
/** Header on FAILED outcomes: why (declined, gateway unavailable, circuit open, rejected). */
export const FAILURE_REASON_HEADER = 'payment-failure-reason';

/** The physical name of an internal topic of the application (what the sidecar reads and writes). */
export function internalTopic(applicationId: string, name: typeof PG_REQUESTS | typeof PG_RESULTS): string {
  return `${applicationId}-${name}`;
}

export function paymentKey(orderId: string, kind: PaymentKind): string {
  return `${orderId}/${kind}`;
}

const SOURCE_REQUESTS = 'payment-requests';
const SOURCE_RESULTS = 'pg-results-source';
const REQUESTS = 'requests';
const OUTCOMES = 'outcomes';
const SOURCE_STATUS = 'order-status-source';
const ORDER_ENDED = 'order-ended';
const SINK_PG = 'pg-requests-sink';
const SINK_SUCCESS = 'payment-success-sink';
const SINK_REFUND = 'payment-refund-sink';

export function paymentTopology(contracts: Contracts, options: PaymentTopologyOptions = {}): Topology {
  const resendMs = options.pendingResendMs ?? DEFAULT_PENDING_RESEND_MS;
  if (!(resendMs >= 0)) throw new RangeError(`pendingResendMs must not be negative, not ${resendMs}`);
  const tickMs = options.resendTickMs ?? Math.min(1000, resendMs);
  if (resendMs > 0 && !(tickMs > 0)) throw new RangeError(`resendTickMs must be positive, not ${tickMs}`);
  const resend = { resendMs, tickMs };
  const retention = retentionSettings(options.retention);
  const requestTopic = contracts.topic('payment-request-topic');
  const statusTopic = contracts.topic('order-status-topic');
  const t = new Topology();
  t.addInternalTopic({ name: PG_REQUESTS, purpose: 'repartition' });
  t.addInternalTopic({ name: PG_RESULTS, purpose: 'repartition' });
  t.copartition(retention.enabled ? [requestTopic, PG_RESULTS, statusTopic] : [requestTopic, PG_RESULTS]);
  t.addSource(SOURCE_REQUESTS, requestTopic, contracts.consumed('payment-request-topic'));
  t.addSource(SOURCE_RESULTS, PG_RESULTS, { keySerde: Serdes.string(), valueSerde: contracts.record('PaymentOutcome') });
  t.addProcessor(REQUESTS, () => requestProcessor(resend, retention), SOURCE_REQUESTS);
  t.addProcessor(OUTCOMES, outcomeProcessor, SOURCE_RESULTS);
  t.addStateStore(keyValueStore<string, PaymentEntry>(PAYMENTS_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json() }), REQUESTS, OUTCOMES);
  t.addStateStore(keyValueStore<string, string>(RESENDS_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.string() }), REQUESTS, OUTCOMES);
  if (retention.enabled) {
    t.addSource(SOURCE_STATUS, statusTopic, contracts.consumed('order-status-topic'));
    t.addProcessor(ORDER_ENDED, () => orderEndedProcessor(retention), SOURCE_STATUS);
    t.connectProcessorAndStateStores(ORDER_ENDED, PAYMENTS_STORE);
    t.addStateStore(expiryIndexStore(PAYMENT_EXPIRIES_STORE), REQUESTS, ORDER_ENDED);
  }
  t.addSink(SINK_PG, PG_REQUESTS, { keySerde: Serdes.string(), valueSerde: contracts.record('PaymentRequestMessage') }, REQUESTS);
  t.addSink(SINK_SUCCESS, contracts.topic('payment-success-topic'), contracts.produced('payment-success-topic'), REQUESTS, OUTCOMES);
  t.addSink(SINK_REFUND, contracts.topic('payment-refund-topic'), contracts.produced('payment-refund-topic'), REQUESTS, OUTCOMES);
  return t;
}

type Answer = PaymentSuccessMessage | PaymentRefundMessage;

function requestProcessor(
  resend: { readonly resendMs: number; readonly tickMs: number }, retention: RetentionSettings,
): Processor<string | null, PaymentRequestMessage | null, string, PaymentRequestMessage | Answer> {
  let ctx: ProcessorContext<string, PaymentRequestMessage | Answer>;
  let store: KeyValueStore<string, PaymentEntry>;
  let resends: KeyValueStore<string, string>;
  let expiries: ExpiryIndex | undefined;

  /** The request goes (again) to the charger, and its next re-send is indexed. */
  function send(key: string, request: PaymentRequest, timestamp: number, previous?: PaymentEntry & { state: 'PENDING' }): void {
    if (previous?.resendAt !== undefined) resends.delete(resendKey(previous.resendAt, key));
    const now = ctx.currentSystemTime();
    const resendAt = resend.resendMs > 0 ? now + resend.resendMs : undefined;
    store.put(key, {
      state: 'PENDING', eventId: request.eventId, amount: request.amount, requestedAt: request.requestedAt, request,
      ...(resendAt !== undefined ? { resendAt } : {}), resends: previous ? (previous.resends ?? 0) + 1 : 0,
    });
    if (resendAt !== undefined) resends.put(resendKey(resendAt, key), key);
    ctx.forward({ key: request.orderId, value: request, timestamp, headers: {} }, SINK_PG);
  }

  /** Every request still PENDING whose re-send is due goes to the charger again; index entries of settled ones go. */
  function resendDue(now: number): void {
    for (const { key: indexKey, value: key } of resends.range(undefined, `${timeKey(now)}/\uffff`)) {
      resends.delete(indexKey);
      const entry = store.get(key);
      if (entry?.state !== 'PENDING' || entry.request === undefined) continue;
      send(key, entry.request, now, entry);
    }
  }

  return {
    init(c) {
      ctx = c;
      store = c.getStateStore(PAYMENTS_STORE);
      resends = c.getStateStore(RESENDS_STORE);
      if (retention.enabled) expiries = new ExpiryIndex(c.getStateStore(PAYMENT_EXPIRIES_STORE));
      if (resend.resendMs > 0) c.schedule(resend.tickMs, 'wall-clock-time', resendDue);
    },
    process(r) {
      const request = validateRequest(r.key, r.value);
      const key = paymentKey(request.orderId, request.kind);
      const entry = store.get(key);
      if (entry === undefined) {
        if (expiries?.isLate(request.requestedAt)) throw new ExpiredPaymentRequest(request.orderId, request.requestedAt, expiries.watermark());
        send(key, request, r.timestamp);
      } else if (entry.state === 'DONE') {
        forwardOutcome(ctx, entry, r.timestamp);
      }
      // PENDING: the charger has this request already; its outcome will come through pg-results.
    },
  };
}

function outcomeProcessor(): Processor<string | null, PaymentOutcome | null, string, Answer> {
  let ctx: ProcessorContext<string, Answer>;
  let store: KeyValueStore<string, PaymentEntry>;
  let resends: KeyValueStore<string, string>;
  return {
    init(c) {
      ctx = c;
      store = c.getStateStore(PAYMENTS_STORE);
      resends = c.getStateStore(RESENDS_STORE);
    },
    process(r) {
      const outcome = validateOutcome(r.value);
      const key = paymentKey(outcome.orderId, outcome.kind);
      const before = store.get(key);
      if (before?.state === 'DONE') return;
      // Settled: no more re-sends (the index stays bounded by the PENDING entries).
      if (before?.resendAt !== undefined) resends.delete(resendKey(before.resendAt, key));
      const reason = r.headers[FAILURE_REASON_HEADER]?.toString('utf8');
      const entry: PaymentEntry = {
        state: 'DONE', outcome, ...(reason !== undefined ? { reason } : {}), ...(before?.state === 'PENDING' ? { requestedAt: before.requestedAt } : {}),
      };
      store.put(key, entry);
      forwardOutcome(ctx, entry, r.timestamp);
    },
  };
}

/**
 * Indexes an order that ended (a terminal status) for deletion at the status's time + retention,
 * and deletes what is due: the order's DONE entries; a PENDING one is looked at again later.
 */
function orderEndedProcessor(retention: RetentionSettings): Processor<string | null, OrderStatusChanged | null, never, never> {
  let store: KeyValueStore<string, PaymentEntry>;
  let expiries: ExpiryIndex;
  const keysOf = (orderId: string) => (['CHARGE', 'REFUND'] as const).map((kind) => paymentKey(orderId, kind));

  function deleteDue(now: number): void {
    for (const due of expiries.due(now, retention.maxPerPunctuation)) {
      expiries.remove(due.key);
      let pending = false;
      for (const key of keysOf(due.payload)) {
        const entry = store.get(key);
        if (entry?.state === 'PENDING') { pending = true; continue; }
        if (entry === undefined) continue;
        store.delete(key);
        if (entry.requestedAt !== undefined) expiries.raise(entry.requestedAt);
      }
      if (pending) expiries.add(now + retention.retentionMs, due.payload);
    }
  }

  return {
    init(c) {
      store = c.getStateStore(PAYMENTS_STORE);
      expiries = new ExpiryIndex(c.getStateStore(PAYMENT_EXPIRIES_STORE));
      c.schedule(retention.tickMs, 'wall-clock-time', deleteDue);
    },
    process(r) {
      const status = r.value;
      if (status === null || status === undefined || !isTerminalStatus(status.to)) return;
      // An order cancelled before any payment has nothing here to index.
      if (!keysOf(status.orderId).some((key) => store.get(key) !== undefined)) return;
      expiries.add(status.at + retention.retentionMs, status.orderId);
    },
  };
}

/** A charge's outcome goes to payment-success-topic (the contract's fields only), a refund's to payment-refund-topic. */
function forwardOutcome(ctx: ProcessorContext<string, Answer>, entry: PaymentEntry & { state: 'DONE' }, timestamp: number): void {
  const { orderId, paymentKey, amount, status, kind } = entry.outcome;
  const headers: Headers = entry.reason === undefined ? {} : { [FAILURE_REASON_HEADER]: Buffer.from(entry.reason, 'utf8') };
  if (kind === 'REFUND') {
    ctx.forward({ key: orderId, value: { orderId, paymentKey, amount, status, reason: entry.reason ?? null }, timestamp, headers }, SINK_REFUND);
  } else {
    ctx.forward({ key: orderId, value: { orderId, paymentKey, amount, status }, timestamp, headers }, SINK_SUCCESS);
  }
}

function resendKey(at: number, key: string): string {
  return `${timeKey(at)}/${key}`;
}

/** Fixed-width decimal, so that index keys sort by time. */
function timeKey(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString().padStart(15, '0');
}

/**
 * What a request must be before anything is stored or charged. The record key must be the order
 * id: the outcome comes back keyed by it, and only then reaches the same task and store.
 */
export function validateRequest(key: string | null, value: PaymentRequestMessage | null): PaymentRequest {
  if (value === null || value === undefined) throw new PaymentValidationError('value', 'is missing (tombstone)', key ?? undefined);
  const orderId = value.orderId;
  if (typeof orderId !== 'string' || orderId === '') throw new PaymentValidationError('orderId', 'must be a non-empty string', key ?? undefined);
  if (key !== orderId) throw new PaymentValidationError('key', `must be the orderId, not ${JSON.stringify(key)}`, orderId);
  if (typeof value.eventId !== 'string' || value.eventId === '') throw new PaymentValidationError('eventId', 'must be a non-empty string', orderId);
  if (typeof value.paymentKey !== 'string' || value.paymentKey === '') throw new PaymentValidationError('paymentKey', 'must be a non-empty string', orderId);
  if (!Number.isSafeInteger(value.amount) || value.amount <= 0) throw new PaymentValidationError('amount', `must be a positive integer, not ${JSON.stringify(value.amount)}`, orderId);
  const kind = value.kind ?? 'CHARGE';
  if (kind !== 'CHARGE' && kind !== 'REFUND') throw new PaymentValidationError('kind', `must be CHARGE or REFUND, not ${JSON.stringify(kind)}`, orderId);
  return { ...value, kind };
}

function validateOutcome(value: PaymentOutcome | null): PaymentOutcome {
  if (value === null || value === undefined) throw new PaymentValidationError('outcome', 'is missing (tombstone)', undefined);
  if (typeof value.orderId !== 'string' || value.orderId === '') throw new PaymentValidationError('outcome orderId', 'must be a non-empty string', undefined);
  if (value.status !== 'SUCCESS' && value.status !== 'FAILED') throw new PaymentValidationError('outcome status', `must be SUCCESS or FAILED, not ${JSON.stringify(value.status)}`, value.orderId);
  if (value.kind !== 'CHARGE' && value.kind !== 'REFUND') throw new PaymentValidationError('outcome kind', `must be CHARGE or REFUND, not ${JSON.stringify(value.kind)}`, value.orderId);
  return value;
}
