/** The records that flow between processors. */
import type { Headers } from '../../transports/index.ts';

export type { Headers };

export interface StreamRecord<K, V> {
  readonly key: K;
  readonly value: V;
  /** Event time, ms since the epoch. */
  readonly timestamp: number;
  readonly headers: Headers;
}

/** Where the record being processed came from (absent for records made by a punctuator). */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/**
 * A table update: the new value and the value it replaces, as Kafka Streams' `Change`. Table
 * operators forward changes so that downstream aggregates can subtract the old value.
 */
export interface Change<V> {
  readonly newValue: V | null;
  readonly oldValue: V | null;
}

export function record<K, V>(key: K, value: V, timestamp: number, headers: Headers = {}): StreamRecord<K, V> {
  return { key, value, timestamp, headers };
}

/** Same record, new key and/or value: time and headers carry over, as in Kafka Streams. */
export function withKeyValue<K, V>(r: StreamRecord<unknown, unknown>, key: K, value: V): StreamRecord<K, V> {
  return { key, value, timestamp: r.timestamp, headers: r.headers };
}
