/**
 * What happens to a record that cannot be deserialized or processed: fail the application (the
 * default, as Kafka Streams), log and go on, or send it to a dead-letter topic with the reason
 * and its origin in headers, then go on. An output too large for its topic (`production`) goes to
 * the dead-letter topic by default: one oversized record must not stop the task.
 */
import type { ProducerRecord } from '../../../transports/index.ts';
import type { StreamsError } from '../errors.ts';
import type { Headers } from '../record.ts';
import type { OutputRecord } from './task.ts';

export type ErrorPolicy = 'fail' | 'log-and-continue' | 'dead-letter';

export interface ErrorHandling {
  readonly deserialization: ErrorPolicy;
  readonly processing: ErrorPolicy;
  /** An output bigger than its topic takes (the transport's `maxRecordBytes`). Default `dead-letter`. */
  readonly production: ErrorPolicy;
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
  /** Where the record was going (stage `produce`). */
  target: 'dlq.target.topic',
} as const;

export type FailureStage = 'deserialization' | 'processing' | 'produce';

/**
 * A record failed to decode or process: its stage's policy decides. Under `fail` the failure is
 * thrown; otherwise it is logged and counted (`count(deadLettered)`), and the answer says whether
 * the record goes to the dead-letter topic. Tasks and global stores alike.
 */
export function applyPolicy(errors: ErrorHandling, stage: 'deserialization' | 'processing', failure: StreamsError, count: (deadLettered: boolean) => void): boolean {
  const policy = errors[stage];
  if (policy === 'fail') throw failure;
  errors.logger(`${stage} failure, ${policy === 'dead-letter' ? 'sent to dead letters' : 'skipped'}: ${failure.message}`);
  count(policy === 'dead-letter');
  return policy === 'dead-letter';
}

export function deadLetterRecord(
  topic: string,
  stage: FailureStage,
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

/**
 * The dead letter of an output its topic would refuse: the output's key, value and headers with
 * the reason and where it came from and was going. When the dead-letter topic would refuse it too
 * (it has the same limit unless raised), the value is left out, then the key and the output's
 * headers: the dead letter's headers still name the source record, which can be read again.
 */
export function oversizedDeadLetter(
  topic: string,
  failure: StreamsError,
  output: ProducerRecord,
  origin: { topic: string; partition: number; offset: number } | undefined,
  taskId: string,
  limit: number,
  size: (r: ProducerRecord) => number,
): ProducerRecord {
  const headers: Record<string, Buffer | string> = {
    ...output.headers,
    [DeadLetterHeaders.reason]: failure.message,
    [DeadLetterHeaders.stage]: 'produce',
    [DeadLetterHeaders.error]: failure.name,
    [DeadLetterHeaders.task]: taskId,
    [DeadLetterHeaders.target]: output.topic,
  };
  if (origin) {
    headers[DeadLetterHeaders.topic] = origin.topic;
    headers[DeadLetterHeaders.partition] = String(origin.partition);
    headers[DeadLetterHeaders.offset] = String(origin.offset);
  }
  const full: ProducerRecord = { topic, partition: 0, key: output.key, value: output.value, headers, timestamp: output.timestamp };
  if (size(full) <= limit) return full;
  const keyOnly = { ...full, value: null };
  if (size(keyOnly) <= limit) return keyOnly;
  // Last, the output's own headers: the dead letter's are a few hundred bytes.
  const dlqHeaders = Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('dlq.')));
  return { ...keyOnly, key: null, headers: dlqHeaders };
}
