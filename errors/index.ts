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

/**
 * The first error in `e`'s cause chain that says a retry may succeed (`retriable: true`), or
 * undefined. `final` marks a verdict that retrying is over or cannot help (a timeout that already
 * gave up on a retriable cause): it ends the search.
 */
export function retriableCause(e: unknown, final: (c: object) => boolean = () => false): Error | undefined {
  for (let c = e, depth = 0; c !== null && typeof c === 'object' && depth < 16; c = (c as { cause?: unknown }).cause, depth++) {
    if (final(c)) return undefined;
    if ((c as { retriable?: unknown }).retriable === true) return c instanceof Error ? c : new Error(String((c as { message?: unknown }).message ?? c));
  }
  return undefined;
}
