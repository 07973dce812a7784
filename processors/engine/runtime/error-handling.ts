/**
 * What happens to a record that cannot be deserialized or processed: fail the application (the
 * default, as Kafka Streams), log and go on, or send it to a dead-letter topic with the reason
 * and its origin in headers, then go on.
 */
import type { StreamsError } from '../errors.ts';
import type { Headers } from '../record.ts';
import type { OutputRecord } from './task.ts';

export type ErrorPolicy = 'fail' | 'log-and-continue' | 'dead-letter';

export interface ErrorHandling {
  readonly deserialization: ErrorPolicy;
  readonly processing: ErrorPolicy;
  /** Default `<applicationId>-dlq`. */
  readonly deadLetterTopic: string;
  readonly logger: (line: string) => void;
}

/** Header names on a dead letter. */
export const DeadLetterHeaders = {
  reason: 'dlq.reason',
  stage: 'dlq.stage',
  error: 'dlq.error',
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
  task: 'dlq.task',
} as const;

export function deadLetterRecord(
  topic: string,
  stage: 'deserialization' | 'processing',
  failure: StreamsError,
  source: { topic: string; partition: number; offset: number; timestamp: number; headers: Headers; raw?: { key: Buffer | null; value: Buffer | null } },
  taskId: string,
): OutputRecord {
  const cause = failure.cause instanceof Error ? failure.cause : failure;
  const headers: Headers = {
    ...source.headers,
    [DeadLetterHeaders.reason]: Buffer.from(failure.message),
    [DeadLetterHeaders.stage]: Buffer.from(stage),
    [DeadLetterHeaders.error]: Buffer.from(cause.name),
    [DeadLetterHeaders.topic]: Buffer.from(source.topic),
    [DeadLetterHeaders.partition]: Buffer.from(String(source.partition)),
    [DeadLetterHeaders.offset]: Buffer.from(String(source.offset)),
    [DeadLetterHeaders.task]: Buffer.from(taskId),
  };
  // Without the consumed bytes (the test driver), the dead letter carries nothing but headers.
  return { topic, key: source.raw?.key ?? null, value: source.raw?.value ?? null, timestamp: source.timestamp, headers, internal: false };
}
