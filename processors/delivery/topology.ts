/**
 * Delivery's topology: each delivery request is answered STARTED or FAILED once; the answer is
 * kept per order, so a redelivered request gets the stored answer back and changes nothing.
 * Failures are simulated by chance(seed, orderId) < failureRate: the same on every run, so an
 * end-to-end test can predict which orders fail.
 *
 *   delivery-request-topic (key orderId) ─▶ dispatch [store deliveries] ─▶ delivery-start-topic (key orderId)
 */
import { Serdes, StreamsBuilder, keyValueStore, type KeyValueStore, type Processor, type ProcessorContext, type Topology } from '../engine/index.ts';
import type { DeliveryRequestMessage, DeliveryStartMessage } from '../../schemas/index.ts';
import { chance, derivedId, type Contracts } from '../common/index.ts';
import { validateDeliveryRequest } from './validation.ts';

export { InvalidDeliveryRequest } from './validation.ts';

/** Key orderId → the DeliveryStartMessage sent for it (JSON). */
export const DELIVERIES_STORE = 'deliveries';

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

export function deliveryTopology(contracts: Contracts, options: DeliveryOptions): Topology {
  if (!(options.failureRate >= 0 && options.failureRate <= 1)) throw new RangeError(`delivery failureRate must be in [0, 1], not ${options.failureRate}`);
  const b = new StreamsBuilder();
  b.addStateStore(keyValueStore<string, DeliveryStartMessage>(DELIVERIES_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json<DeliveryStartMessage>() }));
  b.stream(contracts.topic('delivery-request-topic'), contracts.consumed('delivery-request-topic'))
    .process(() => dispatcher(options), { name: 'delivery-dispatch', stores: [DELIVERIES_STORE] })
    .to(contracts.topic('delivery-start-topic'), { ...contracts.produced('delivery-start-topic'), name: 'delivery-start-sink' });
  return b.build();
}

function dispatcher(options: DeliveryOptions): Processor<string, DeliveryRequestMessage, string, DeliveryStartMessage> {
  let ctx: ProcessorContext<string, DeliveryStartMessage>;
  let deliveries: DeliveryStore;
  return {
    init(c) {
      ctx = c;
      deliveries = c.getStateStore<DeliveryStore>(DELIVERIES_STORE);
    },
    process(r) {
      const { orderId } = validateDeliveryRequest(r.key, r.value);
      let answer = deliveries.get(orderId);
      if (answer === undefined) {
        answer = deliveryAnswer(orderId, options);
        deliveries.put(orderId, answer);
      }
      ctx.forward({ key: orderId, value: answer, timestamp: r.timestamp, headers: r.headers });
    },
  };
}
