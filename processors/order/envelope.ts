/**
 * The order processor's inbox. Every event about an order, whatever topic it arrived on, is put on
 * `order-processing-topic` as a RetryEnvelope (keyed by orderId, 3 partitions): one ordered stream
 * per order, co-partitioned with `order-retry-topic`, whatever the partition counts of the
 * other teams' topics. On the wire the envelope carries the event's bytes in its source topic's
 * format (the contract); inside the processor it carries the decoded event.
 */
import type { Serde } from '../engine/index.ts';
import type { Headers } from '../../transports/index.ts';
import type { RetryEnvelope, TopicValue } from '../../schemas/index.ts';
import { DeserializationError } from '../../schemas/index.ts';
import type { Contracts } from '../common/index.ts';

/** Topics whose events the order processor takes in. */
export const ORDER_INPUTS = ['order-placed', 'order-command-topic', 'stock-response-topic', 'payment-success-topic', 'payment-refund-topic', 'delivery-start-topic'] as const;
export type OrderInput = (typeof ORDER_INPUTS)[number];

export type OrderEvent = { [T in OrderInput]: { readonly topic: T; readonly value: TopicValue<T> } }[OrderInput];

/** A RetryEnvelope with its payload decoded. `sourceTopic` is the contract name, not the physical one. */
export interface SagaEnvelope extends Omit<RetryEnvelope, 'payload' | 'sourceTopic' | 'headers'> {
  readonly headers: Headers;
  readonly event: OrderEvent;
}

/**
 * The envelope topics' serde: RetryEnvelope in Avro, its payload encoded and decoded with the
 * source topic's own serde (so the payload bytes are what the source topic carries: same
 * schema id, same Avro body). Undefined under the test driver, whose values are objects.
 */
export function envelopeSerde(contracts: Contracts): Serde<SagaEnvelope> | undefined {
  const envelope = contracts.record('RetryEnvelope');
  if (envelope === undefined) return undefined;
  const byPhysical = new Map<string, OrderInput>(ORDER_INPUTS.map((t) => [contracts.topic(t), t]));
  const serdes = new Map(ORDER_INPUTS.map((t) => [t, contracts.consumed(t).valueSerde as Serde<OrderEvent['value']>]));
  const payloadSerde = (topic: OrderInput) => serdes.get(topic)!;
  return {
    async serialize(topic, e) {
      const { event, ...fields } = e;
      const sourceTopic = contracts.topic(event.topic);
      const payload = await payloadSerde(event.topic).serialize(sourceTopic, event.value);
      return envelope.serialize(topic, { ...fields, sourceTopic, payload });
    },
    async deserialize(topic, data) {
      const { payload, sourceTopic, ...fields } = await envelope.deserialize(topic, data);
      const name = byPhysical.get(sourceTopic);
      if (name === undefined) {
        throw new DeserializationError({ reason: 'invalid-body', topic, detail: `envelope of an event from ${sourceTopic}, which the order processor does not read` });
      }
      const value = await payloadSerde(name).deserialize(sourceTopic, payload);
      return { ...fields, headers: fields.headers ?? {}, event: { topic: name, value } as OrderEvent };
    },
  };
}
