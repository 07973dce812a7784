/**
 * Typed errors of the contracts layer. Each carries what a handler needs to route it without
 * parsing the message: the engine's dead-letter handler looks at DeserializationError.reason,
 * the gateway turns RecordValidationError.problems into a 400.
 */
import { OrderstreamError } from '../errors/index.ts';

/** One thing wrong with a value, relative to its schema. */
export interface ValidationProblem {
  /** Field path in the value, e.g. `products[1].quantity`; empty for the value itself. */
  readonly path: string;
  /** What the schema wants there, e.g. `int`, `uuid`, `one of SUCCESS|FAILED`. */
  readonly expected: string;
  /** What was there, e.g. `"3" (string)`, `undefined (missing)`. */
  readonly got: string;
  /** `path: expected …, got …` — ready to show. */
  readonly message: string;
}

/** A value that does not match its schema; thrown before anything is produced. */
export class RecordValidationError extends OrderstreamError {
  override readonly name = 'RecordValidationError';
  constructor(
    /** Full name of the record the value was checked against. */
    readonly record: string,
    readonly problems: readonly ValidationProblem[],
    /** Topic it was to be produced to, when known. */
    readonly topic?: string,
  ) {
    super(
      `${topic === undefined ? '' : `${topic}: `}invalid ${record}: ${problems.map((p) => p.message).join('; ')}`,
    );
  }
}

export type DeserializationReason =
  /** Empty payload. */
  | 'empty'
  /** First byte is not the Confluent magic byte 0. */
  | 'bad-magic-byte'
  /** Shorter than the 5-byte header (magic byte + schema id). */
  | 'truncated-header'
  /** The registry does not know the schema id. */
  | 'unknown-schema-id'
  /** The registry could not be asked (network, 5xx): the record may be fine, try again later. */
  | 'registry-unavailable'
  /** The writer's schema cannot be read as this consumer's schema. */
  | 'incompatible-schema'
  /** The Avro body ends before the value does. */
  | 'truncated-body'
  /** Bytes left over after the value: not what the header's schema wrote. */
  | 'trailing-bytes'
  /** The body is not a valid encoding of the writer's schema. */
  | 'invalid-body';

/** A payload that cannot be turned into a value. Route it to the dead-letter topic (unless `retriable`). */
export class DeserializationError extends OrderstreamError {
  override readonly name = 'DeserializationError';
  readonly reason: DeserializationReason;
  readonly topic: string;
  /** The schema id from the header, when the header could be read. */
  readonly schemaId: number | undefined;

  constructor(
    init: { reason: DeserializationReason; topic: string; schemaId?: number; detail: string },
    options?: { cause?: unknown },
  ) {
    const id = init.schemaId === undefined ? '' : ` (schema id ${init.schemaId})`;
    // Retriable only when the registry could not be asked: the same bytes may decode later.
    super(`${init.topic}: cannot deserialize value${id}: ${init.reason}: ${init.detail}`, { cause: options?.cause, retriable: init.reason === 'registry-unavailable' });
    this.reason = init.reason;
    this.topic = init.topic;
    this.schemaId = init.schemaId;
  }
}

export type SchemaRegistryFailure =
  /** The registry refused the schema as incompatible with the subject's earlier versions (409). */
  | 'incompatible'
  /** Auto-registration is off and the subject has no such schema. */
  | 'not-registered'
  /** Anything else: unreachable, 5xx, unparseable. */
  | 'unavailable';

/** The serializer could not get a schema id for its schema under a subject. */
export class SchemaRegistryError extends OrderstreamError {
  override readonly name = 'SchemaRegistryError';
  constructor(
    readonly failure: SchemaRegistryFailure,
    readonly subject: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    // An unreachable registry may answer later; a refused schema will not be accepted by retrying.
    super(`${subject}: ${failure}: ${detail}`, { cause: options?.cause, retriable: failure === 'unavailable' });
  }
}
