/**
 * The persistence interface: what the gateway and the read-model projection see of a document
 * database. Two implementations pass one conformance suite, as the transports do: MongoDB through
 * the official driver (the compose files, the tests) and an embedded one on LMDB (`npm start`).
 *
 * Deliberately small: documents keyed by `_id`, equality and range filters on top-level fields,
 * one sort field with a cursor, compare-and-set updates and version-checked replaces. Nothing here
 * needs concurrent updates of one document to be merged by the database (FerretDB on SQLite loses
 * them): every document has one writer, and conditional writes say when they lost a race.
 */

/** Every document is keyed by a string `_id`. */
export interface Doc {
  readonly _id: string;
}

export type Scalar = string | number | boolean | null;

/** A condition on one field. An array field matches when any element matches (MongoDB semantics). */
export type FieldCondition<V> =
  | V
  | { readonly $in: readonly V[] }
  | { readonly $ne: V }
  | { readonly $lt: V }
  | { readonly $lte: V }
  | { readonly $gt: V }
  | { readonly $gte: V }
  | { readonly $exists: boolean };

type Element<V> = V extends readonly (infer E)[] ? E : V;

/** Conditions on top-level fields, all of which must hold. */
export type Filter<T> = { readonly [K in keyof T]?: FieldCondition<Element<T[K]>> | T[K] };

export interface IndexSpec {
  readonly fields: readonly string[];
  readonly unique?: boolean;
}

export interface CollectionSpec {
  readonly name: string;
  /** Declared in code, created when the collection is opened (idempotently). */
  readonly indexes?: readonly IndexSpec[];
  /**
   * A numeric field (ms since the epoch) after which a document has expired: reads treat it as
   * absent at once, and it is removed by a TTL index where the database has one, else by
   * `sweepExpired` (the implementation runs it periodically).
   */
  readonly expiresAtField?: string;
}

export interface FindOptions {
  /** One sort field; ties are broken by `_id` in the same direction. Without one: `_id` ascending. */
  readonly sort?: { readonly field: string; readonly direction: 'asc' | 'desc' };
  readonly limit?: number;
  /** Resume after this position of the sort (exclusive): the last document of the previous page. */
  readonly after?: { readonly value: Scalar; readonly id: string };
}

export type WriteOutcome = 'written' | 'skipped';

export interface Collection<T extends Doc> {
  readonly name: string;
  get(id: string): Promise<T | undefined>;
  findOne(filter: Filter<T>): Promise<T | undefined>;
  find(filter: Filter<T>, options?: FindOptions): Promise<T[]>;
  count(filter: Filter<T>): Promise<number>;
  /**
   * Inserts a new document; `DuplicateKeyError` when the `_id` or a unique index value exists
   * (an expired document holds neither).
   */
  insert(doc: T): Promise<void>;
  /**
   * Writes the whole document: creates it when absent; replaces it when present and `where`
   * (if given) holds for the stored one, else leaves it and answers `skipped`. The version check
   * of an idempotent projection: `replace(doc, { sequence: { $lt: doc.sequence } })`.
   */
  replace(doc: T, where?: Filter<T>): Promise<WriteOutcome>;
  /**
   * Sets fields of an existing document if `where` holds (compare-and-set); true when it did.
   * A field set to `undefined` is removed.
   */
  update(id: string, set: Partial<Omit<T, '_id'>>, where?: Filter<T>): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  deleteMany(filter: Filter<T>): Promise<number>;
  /** Removes documents whose expiry has passed; answers how many. */
  sweepExpired(now?: number): Promise<number>;
}

export interface Persistence {
  readonly name: 'mongo' | 'embedded';
  /** Opens a collection, creating its indexes. */
  collection<T extends Doc>(spec: CollectionSpec): Promise<Collection<T>>;
  /** Resolves when the database answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
