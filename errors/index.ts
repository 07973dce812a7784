/**
 * The one root of every error the system raises on purpose — transports, engine, contracts — as
 * KafkaJSError is KafkaJS's: a handler asks `retriable` (may the same call succeed later?) and
 * never parses a message. Subclasses add their context (topic, partition, task, schema id).
 */
export class OrderstreamError extends Error {
  /** Whether the same call may succeed later (a broker restarting, a registry unreachable). */
  readonly retriable: boolean;

  constructor(message: string, options?: { readonly cause?: unknown; readonly retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options?.retriable ?? false;
  }
}
