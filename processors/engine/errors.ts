/**
 * Typed engine errors. Each carries the context it was raised in, so a log line or a
 * dead-letter header says which topic, partition, offset and key were involved.
 */
export interface RecordContext {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly key?: string;
  readonly taskId?: string;
  readonly node?: string;
}

export class StreamsError extends Error {
  readonly context: RecordContext;
  constructor(message: string, context: RecordContext = {}, options?: { cause?: unknown }) {
    super(message + describeContext(context), options);
    this.name = new.target.name;
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

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
