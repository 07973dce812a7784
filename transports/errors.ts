/**
 * Typed transport errors. Each carries the context a reader needs to find the record or the
 * partition at fault, and whether retrying can help, in the spirit of KafkaJS's error classes.
 */
import { OrderstreamError } from '../errors/index.ts';
import type { Capability, TransportName } from './types.ts';

export interface ErrorContext {
  readonly transport?: TransportName;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly key?: Buffer | null;
  readonly groupId?: string;
  readonly cause?: unknown;
}

export class TransportError extends OrderstreamError {
  readonly transport: TransportName | undefined;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: number | undefined;
  readonly key: Buffer | null | undefined;
  readonly groupId: string | undefined;

  /** `retriable`: the same call may succeed later (broker restarting, leadership moving). */
  constructor(message: string, context: ErrorContext = {}, retriable = false) {
    super(withContext(message, context), { cause: context.cause, retriable });
    this.transport = context.transport;
    this.topic = context.topic;
    this.partition = context.partition;
    this.offset = context.offset;
    this.key = context.key;
    this.groupId = context.groupId;
  }
}

/** The broker could not be reached within the connection timeout. */
export class BrokerUnreachableError extends TransportError {
  constructor(readonly address: string, context: ErrorContext) {
    super(`cannot reach the broker at ${address}`, context, true);
  }
}

export class UnknownTopicError extends TransportError {
  constructor(context: ErrorContext) {
    super(`topic does not exist (create it with admin().createTopics)`, context);
  }
}

/** A topic exists with another shape than the one asked for. */
export class TopicConflictError extends TransportError {}

/** The transport cannot do what was asked; the message names the feature and the way out. */
export class UnsupportedCapabilityError extends TransportError {
  constructor(readonly capability: Capability, readonly hint: string, context: ErrorContext) {
    super(`${context.transport ?? 'this transport'} does not support ${capability}: ${hint}`, context);
  }
}

/** The partition is not (or no longer) assigned to this consumer. */
export class NotAssignedError extends TransportError {
  constructor(context: ErrorContext) {
    super('partition is not assigned to this consumer', context);
  }
}

export class InvalidPartitionError extends TransportError {}

/** The broker did not acknowledge a record. */
export class ProduceError extends TransportError {}

/**
 * One record is bigger than its topic accepts on this transport (`Producer.maxRecordBytes`):
 * no retry can help. Nothing of the send that carried it was written.
 */
export class RecordTooLargeError extends ProduceError {
  constructor(readonly size: number, readonly limit: number, context: ErrorContext) {
    super(`record of ${size} bytes is over the topic's limit of ${limit} bytes`, context, false);
  }
}

export class CommitError extends TransportError {}

/** The consumer's handler threw; delivery stopped without committing the batch. */
export class HandlerError extends TransportError {}

/** The client was used after `disconnect()` / `close()`, or before `connect()`. */
export class ClosedError extends TransportError {}

function withContext(message: string, c: ErrorContext): string {
  const where = [
    c.transport && `transport=${c.transport}`,
    c.groupId !== undefined && `group=${c.groupId}`,
    c.topic !== undefined && `topic=${c.topic}`,
    c.partition !== undefined && `partition=${c.partition}`,
    c.offset !== undefined && `offset=${c.offset}`,
    c.key != null && `key=${printableKey(c.key)}`,
  ].filter(Boolean);
  const cause = c.cause instanceof Error ? `: ${c.cause.message}` : '';
  return where.length ? `${message}${cause} [${where.join(' ')}]` : `${message}${cause}`;
}

function printableKey(key: Buffer): string {
  const s = key.toString('utf8');
  return /^[\x20-\x7e]{1,64}$/.test(s) ? JSON.stringify(s) : `0x${key.subarray(0, 32).toString('hex')}`;
}

/**
 * The connection to the broker was lost, or is being re-established after a loss: the transport
 * reconnects by itself with back-off, and the same call may succeed once the broker is back.
 * For a send interrupted by the loss, whether its records were written is unknown (retrying may
 * write them twice: the engine deduplicates on source positions).
 */
export class ConnectionLostError extends TransportError {
  constructor(readonly address: string, context: ErrorContext) {
    super(`lost the connection to the broker at ${address} (reconnecting)`, context, true);
  }
}
