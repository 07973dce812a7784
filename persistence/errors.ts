/**
 * Typed persistence errors, with `retriable` as in the transports' errors: a duplicate key is a
 * fact about the data, an unreachable database may answer later.
 */
import { OrderstreamError } from '../errors/index.ts';

export class PersistenceError extends OrderstreamError {
  readonly collection: string | undefined;
  constructor(message: string, context: { collection?: string; cause?: unknown } = {}, retriable = false) {
    super(context.collection ? `${context.collection}: ${message}` : message, { cause: context.cause, retriable });
    this.collection = context.collection;
  }
}

/** An insert met an existing `_id` or unique index value. */
export class DuplicateKeyError extends PersistenceError {
  constructor(readonly key: string, context: { collection?: string; cause?: unknown } = {}) {
    super(`duplicate key ${key}`, context, false);
  }
}

/** The database did not answer. */
export class DatabaseUnavailableError extends PersistenceError {
  constructor(message: string, context: { collection?: string; cause?: unknown } = {}) {
    super(message, context, true);
  }
}
