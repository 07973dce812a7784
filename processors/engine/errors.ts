/**
 * Typed engine errors. Each carries the context it was raised in, so a log line or a
 * dead-letter header says which topic, partition, offset and key were involved.
 */
import { OrderstreamError, retriableCause } from '../../errors/index.ts';

export interface RecordContext {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly key?: string;
  readonly taskId?: string;
  readonly node?: string;
}

export class StreamsError extends OrderstreamError {
  readonly context: RecordContext;
  /** Retriable as said, else as its cause is: a commit failing on a broker away may pass later. */
  constructor(message: string, context: RecordContext = {}, options?: { cause?: unknown; retriable?: boolean }) {
    super(message + describeContext(context), {
      cause: options?.cause,
      retriable: options?.retriable ?? ((options?.cause as { retriable?: unknown } | undefined)?.retriable === true),
    });
    this.context = context;
  }
}

/** The topology is wrong: caught when it is built or started, never at run time. */
export class TopologyError extends StreamsError {}

/** Input bytes that the source's serde could not turn into a key or value. */
export class DeserializationFailure extends StreamsError {}

/** A processor threw while processing a record. */
export class ProcessingFailure extends StreamsError {}

/** The runtime could not send outputs, changelogs or commit positions. */
export class CommitFailure extends StreamsError {}

/**
 * A record is bigger than its topic takes on the transport (`Producer.maxRecordBytes`): no retry
 * helps. An output is dead-lettered (the `production` policy); a changelog entry stops the task,
 * since its store already holds a write the changelog would never have.
 */
export class RecordTooLargeFailure extends StreamsError {
  constructor(message: string, readonly size: number, readonly limit: number, context: RecordContext = {}) {
    super(message, context, { retriable: false });
  }
}

/**
 * Tasks made no progress for `taskTimeoutMs` (Kafka Streams' `task.timeout.ms`) while a
 * retriable failure kept recurring: the application stops, so that its process exits non-zero
 * and a supervisor restarts it. `cause` is the last failure.
 */
export class TaskTimeoutFailure extends StreamsError {
  constructor(readonly timeoutMs: number, readonly stalledMs: number, cause: unknown) {
    super(`tasks made no progress for ${stalledMs} ms (taskTimeoutMs ${timeoutMs}) through retriable failures; last: ${errorMessage(cause)}`, {}, { cause, retriable: false });
  }
}

/** Configuration asks for what the chosen transport cannot give. */
export class UnsupportedGuaranteeError extends StreamsError {}

function describeContext(c: RecordContext): string {
  const parts: string[] = [];
  if (c.taskId !== undefined) parts.push(`task ${c.taskId}`);
  if (c.node !== undefined) parts.push(`node ${c.node}`);
  if (c.topic !== undefined) parts.push(`topic ${c.topic}`);
  if (c.partition !== undefined) parts.push(`partition ${c.partition}`);
  if (c.offset !== undefined) parts.push(`offset ${c.offset}`);
  if (c.key !== undefined) parts.push(`key ${JSON.stringify(c.key)}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/**
 * Whether the error or one of its causes says that the same work may succeed later; a verdict
 * that retrying is over or cannot help (a timeout, a record too large) ends the search.
 */
export function isRetriable(e: unknown): boolean {
  return retriableCause(e, (c) => c instanceof TaskTimeoutFailure || c instanceof RecordTooLargeFailure) !== undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
