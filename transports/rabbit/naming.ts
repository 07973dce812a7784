/**
 * How a partitioned topic maps onto RabbitMQ objects, and how a record maps onto an AMQP message.
 *
 *   topic T with N partitions  →  direct exchange "T" (its arguments record N and the kind)
 *                                 + queues "T.0" … "T.{N-1}", queue i bound with routing key "i"
 *   work topic                 →  quorum queues with single-active-consumer
 *   replayable topic           →  stream queues, read from an offset
 *   consumer group G           →  fanout exchange "__orderstream.group.G" (membership heartbeats),
 *                                 stream "__orderstream.offsets.G" (committed positions),
 *                                 exclusive queues "__orderstream.lock.G.T.i" (partition ownership)
 */
import type { Headers, HeadersInit, TopicKind, TopicSpec } from '../types.ts';

export const partitionQueue = (topic: string, partition: number): string => `${topic}.${partition}`;
export const groupExchange = (groupId: string): string => `__orderstream.group.${groupId}`;
export const offsetsStream = (groupId: string): string => `__orderstream.offsets.${groupId}`;
export const lockQueue = (groupId: string, topic: string, partition: number): string => `__orderstream.lock.${groupId}.${topic}.${partition}`;

export const ARG_PARTITIONS = 'x-orderstream-partitions';
export const ARG_KIND = 'x-orderstream-kind';

export function queueArguments(kind: TopicKind, retention: Pick<TopicSpec, 'retentionMs' | 'retentionBytes' | 'segmentBytes'> = {}): Record<string, unknown> {
  if (kind === 'replayable') {
    const args: Record<string, unknown> = { 'x-queue-type': 'stream' };
    const { retentionMs, retentionBytes, segmentBytes } = retention;
    if (retentionMs !== undefined) args['x-max-age'] = `${Math.max(1, Math.ceil(retentionMs / 1000))}s`;
    if (retentionBytes !== undefined) args['x-max-length-bytes'] = retentionBytes;
    if (segmentBytes !== undefined) args['x-stream-max-segment-size-bytes'] = segmentBytes;
    return args;
  }
  return { 'x-queue-type': 'quorum', 'x-single-active-consumer': true };
}

// Our own headers carry what AMQP has no field for: the key, null values, millisecond timestamps.
const H_KEY = 'orderstream-key';
const H_NULL = 'orderstream-null-value';
const H_TS = 'orderstream-timestamp';
/** Headers RabbitMQ adds on delivery; not part of the record. */
const BROKER_HEADERS = /^(x-stream-offset|x-delivery-count|x-death|x-first-death-.*|x-last-death-.*|x-stream-filter-value)$/;

export interface EncodedMessage {
  readonly content: Buffer;
  readonly headers: Record<string, Buffer | string>;
}

export function encode(key: Buffer | null, value: Buffer | null, headers: HeadersInit | undefined, timestamp: number): EncodedMessage {
  const h: Record<string, Buffer | string> = {};
  // Values go as byte arrays so that they come back as bytes, whatever they hold.
  for (const [k, v] of Object.entries(headers ?? {})) h[k] = typeof v === 'string' ? Buffer.from(v) : v;
  if (key !== null) h[H_KEY] = key;
  if (value === null) h[H_NULL] = '1';
  h[H_TS] = String(timestamp);
  return { content: value ?? Buffer.alloc(0), headers: h };
}

export interface DecodedMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  readonly timestamp: number;
}

export function decode(content: Buffer, raw: Record<string, unknown> | undefined): DecodedMessage {
  const headers: Headers = {};
  let key: Buffer | null = null;
  let isNull = false;
  let timestamp = 0;
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (k === H_KEY) key = asBuffer(v);
    else if (k === H_NULL) isNull = true;
    else if (k === H_TS) timestamp = Number(String(v));
    else if (!BROKER_HEADERS.test(k) && v !== undefined && v !== null) headers[k] = asBuffer(v);
  }
  return { key, value: isNull ? null : content, headers, timestamp };
}

function asBuffer(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v));
}
