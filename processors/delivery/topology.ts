/**
 * Delivery's topology: each delivery request is answered STARTED or FAILED once; the answer is
 * kept per order, so a redelivered request gets the stored answer back and changes nothing.
 * Failures are simulated by chance(seed, orderId) < failureRate: the same on every run, so an
 * end-to-end test can predict which orders fail.
 *
 *   delivery-request-topic (key orderId) ─▶ dispatch [store deliveries] ─▶ delivery-start-topic (key orderId)
 *   order-status-topic (key orderId) ─▶ order-ended [deliveries, delivery-expiries]
 *
 * Retention (processors/common/retention.ts): delivery learns that an order ended from the order
 * processor's terminal status event (COMPLETED, CANCELLED, REFUNDED on order-status-topic, read
 * in the same task: co-partitioned by orderId) and deletes the order's stored answer the
 * retention after it (a tombstone on the `deliveries` changelog). A late duplicate request of a
 * deleted answer — its record time at or below the watermark of expired ones — is answered as
 * the first time (the answer is a function of the order, the rate and the seed) but not stored
 * again, so it re-creates nothing; the order processor drops the answer (an unknown order, or a
 * repeat). Only if the rate or seed changed since could that repeat differ, and it is still
 * dead-lettered by the order processor, never applied.
 */
import { Serdes, StreamsBuilder, keyValueStore, type KeyValueStore, type Processor, type ProcessorContext, type Topology } from '../engine/index.ts';
import type { DeliveryRequestMessage, DeliveryStartMessage, OrderStatusChanged } from '../../schemas/index.ts';
import { chance, derivedId, type Contracts } from '../common/index.ts';
import { ExpiryIndex, expiryIndexStore, isTerminalStatus, retentionSettings, type RetentionOptions, type RetentionSettings } from '../common/retention.ts';
import { validateDeliveryRequest } from './validation.ts';

export { InvalidDeliveryRequest } from './validation.ts';

/** Key orderId → the DeliveryStartMessage sent for it (JSON). */
export const DELIVERIES_STORE = 'deliveries';
/** Expiry index of stored answers of ended orders: `<due time>/<orderId>` → the terminal status's record time; and the watermark. */
export const DELIVERY_EXPIRIES_STORE = 'delivery-expiries';

export interface DeliveryOptions {
  /** Share of requests that fail, in [0, 1]. */
  readonly failureRate: number;
  /** Seed of the deterministic draw. */
  readonly seed: string;
}

export type DeliveryStore = KeyValueStore<string, DeliveryStartMessage>;

/** The answer a request gets the first time; a pure function of the order, the rate and the seed. */
export function deliveryAnswer(orderId: string, options: DeliveryOptions): DeliveryStartMessage {
  return {
    orderId,
    deliveryId: derivedId('delivery', orderId),
    status: chance(options.seed, orderId) < options.failureRate ? 'FAILED' : 'STARTED',
  };
}

/** `retention`: how long the answer of an ended order is kept (ORDER_RETENTION_MS); default 7 days, 0 for ever. */
export function deliveryTopology(contracts: Contracts, options: DeliveryOptions, retention?: RetentionOptions): Topology {
  if (!(options.failureRate >= 0 && options.failureRate <= 1)) throw new RangeError(`delivery failureRate must be in [0, 1], not ${options.failureRate}`);
  const settings = retentionSettings(retention);
  const b = new StreamsBuilder();
  b.addStateStore(keyValueStore<string, DeliveryStartMessage>(DELIVERIES_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json<DeliveryStartMessage>() }));
  b.addStateStore(expiryIndexStore(DELIVERY_EXPIRIES_STORE));
  b.stream(contracts.topic('delivery-request-topic'), contracts.consumed('delivery-request-topic'))
    .process(() => dispatcher(options, settings), { name: 'delivery-dispatch', stores: [DELIVERIES_STORE, DELIVERY_EXPIRIES_STORE] })
    .to(contracts.topic('delivery-start-topic'), { ...contracts.produced('delivery-start-topic'), name: 'delivery-start-sink' });
  if (settings.enabled) {
    b.stream(contracts.topic('order-status-topic'), contracts.consumed('order-status-topic'))
      .process(() => orderEnded(settings), { name: 'delivery-order-ended', stores: [DELIVERIES_STORE, DELIVERY_EXPIRIES_STORE] });
    // The store is keyed by orderId on both inputs: a status must reach the task holding the answer.
    b.copartition(contracts.topic('delivery-request-topic'), contracts.topic('order-status-topic'));
  }
  return b.build();
}

function dispatcher(options: DeliveryOptions, retention: RetentionSettings): Processor<string, DeliveryRequestMessage, string, DeliveryStartMessage> {
  let ctx: ProcessorContext<string, DeliveryStartMessage>;
  let deliveries: DeliveryStore;
  let expiries: ExpiryIndex;
  return {
    init(c) {
      ctx = c;
      deliveries = c.getStateStore<DeliveryStore>(DELIVERIES_STORE);
      expiries = new ExpiryIndex(c.getStateStore(DELIVERY_EXPIRIES_STORE));
    },
    process(r) {
      const { orderId } = validateDeliveryRequest(r.key, r.value);
      let answer = deliveries.get(orderId);
      if (answer === undefined) {
        answer = deliveryAnswer(orderId, options);
        // A late duplicate of an expired answer: answered the same, not stored again (it would never expire).
        if (!(retention.enabled && expiries.isLate(r.timestamp))) deliveries.put(orderId, answer);
      }
      ctx.forward({ key: orderId, value: answer, timestamp: r.timestamp, headers: r.headers });
    },
  };
}

/**
 * Indexes the stored answer of an order that ended for deletion at the status's `at` + retention,
 * and deletes what is due. The watermark is raised to the terminal status's record time, which is
 * at or after the request's (the order ends after delivery answered it), so a duplicate of the
 * request is at or below it.
 */
function orderEnded(retention: RetentionSettings): Processor<string, OrderStatusChanged, never, never> {
  let deliveries: DeliveryStore;
  let expiries: ExpiryIndex;
  return {
    init(c) {
      deliveries = c.getStateStore<DeliveryStore>(DELIVERIES_STORE);
      expiries = new ExpiryIndex(c.getStateStore(DELIVERY_EXPIRIES_STORE));
      c.schedule(retention.tickMs, 'wall-clock-time', (now) => {
        for (const due of expiries.due(now, retention.maxPerPunctuation)) {
          expiries.remove(due.key);
          const orderId = due.key.slice(due.key.indexOf('/') + 1);
          if (deliveries.delete(orderId) !== undefined) expiries.raise(Number(due.payload));
        }
      });
    },
    process(r) {
      const status = r.value;
      if (status === null || status === undefined || !isTerminalStatus(status.to)) return;
      // An order cancelled before delivery has nothing stored here: nothing to index.
      if (deliveries.get(status.orderId) === undefined) return;
      expiries.add(status.at + retention.retentionMs, status.orderId, String(r.timestamp));
    },
  };
}
