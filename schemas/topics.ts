/**
 * The one map of the contracts: topic → schema file (record) → TypeScript type, plus what the
 * key is. Processors, the gateway and the contract tooling all read it; nothing else names a
 * topic's schema.
 */
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import type { Records } from './generated/index.ts';

export type RecordName = keyof Records;

export interface TopicContract {
  /** The value's record; its schema is `schemas/<record>.avsc`, its type `Records[record]`. */
  readonly record: RecordName;
  /** The value field the (plain string) record key is taken from. */
  readonly key: string;
  /** Hint for topic creation: keep only the latest value per key. */
  readonly compacted?: boolean;
  /** Partition count the design asks for, where it asks for one. */
  readonly partitions?: number;
}

export const TOPICS = {
  // DOMAIN.md's cross-team contract.
  'order-created': { record: 'StockDecreaseRequestMessage', key: 'orderId' },
  'stock-response-topic': { record: 'StockResponseMessage', key: 'orderId' },
  'payment-success-topic': { record: 'PaymentSuccessMessage', key: 'orderId' },
  'delivery-request-topic': { record: 'DeliveryRequestMessage', key: 'orderId' },
  'delivery-start-topic': { record: 'DeliveryStartMessage', key: 'orderId' },
  'order-completed-topic': { record: 'OrderCompletedMessage', key: 'orderId' },
  'order-processing-topic': { record: 'RetryEnvelope', key: 'orderId', partitions: 3 },
  'order-retry-topic': { record: 'RetryEnvelope', key: 'orderId', partitions: 3 },
  'order-dead-letter-topic': { record: 'RetryEnvelope', key: 'orderId' },
  // Events this system adds.
  'order-placed': { record: 'OrderPlaced', key: 'orderId' },
  'order-status-topic': { record: 'OrderStatusChanged', key: 'orderId' },
  'order-command-topic': { record: 'OrderCommand', key: 'orderId' },
  'payment-request-topic': { record: 'PaymentRequestMessage', key: 'orderId' },
  'payment-refund-topic': { record: 'PaymentRefundMessage', key: 'orderId' },
  'users-topic': { record: 'User', key: 'id', compacted: true },
  'chat-topic': { record: 'ChatMessage', key: 'orderId' },
  'stock-levels-topic': { record: 'StockLevel', key: 'productId', compacted: true },
  'stock-release-topic': { record: 'StockReleaseMessage', key: 'orderId' },
} as const satisfies Record<string, TopicContract>;

export type TopicName = keyof typeof TOPICS;

/**
 * Records no contract topic carries: a processor's own, on its internal topics (the payment
 * charger's gateway outcomes on `<app>-pg-results`). Registered like any other, but free to change
 * with the processor that owns them.
 */
export const INTERNAL_RECORDS = ['PaymentOutcome'] as const satisfies readonly RecordName[];

/** The value type of a topic. */
export type TopicValue<T extends TopicName> = Records[(typeof TOPICS)[T]['record']];

/** Subject of a topic's values under the topic-name strategy. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

export function isTopicName(name: string): name is TopicName {
  return Object.hasOwn(TOPICS, name);
}

export function topicNames(): TopicName[] {
  return Object.keys(TOPICS) as TopicName[];
}

export function schemaFileOf(record: RecordName): URL {
  return new URL(`./${record}.avsc`, import.meta.url);
}

/** The .avsc text of a record, as committed (the registry receives exactly this, minified). */
export function schemaText(record: RecordName): string {
  return JSON.stringify(JSON.parse(readFileSync(schemaFileOf(record), 'utf8')));
}

const types = new Map<RecordName, avsc.Type>();

/** The parsed Avro type of a record (cached). */
export function recordType(record: RecordName): avsc.Type {
  let type = types.get(record);
  if (type === undefined) {
    type = avsc.Type.forSchema(JSON.parse(schemaText(record)) as avsc.Schema);
    types.set(record, type);
  }
  return type;
}

/** The parsed Avro type of a topic's values. */
export function topicType(topic: TopicName): avsc.Type {
  return recordType(TOPICS[topic].record);
}

/** The record key of a value, as the bytes the transports take. */
export function keyOf<T extends TopicName>(topic: T, value: TopicValue<T>): Buffer {
  const key = (value as unknown as Record<string, unknown>)[TOPICS[topic].key];
  if (typeof key !== 'string') throw new TypeError(`${topic}: key field ${TOPICS[topic].key} is not a string`);
  return Buffer.from(key, 'utf8');
}
