/**
 * The MongoDB persistence, through the official driver; also what runs against FerretDB 1.24 (the
 * services harness's database), whose departures shape a few choices here:
 *
 * - Expiry: a TTL index on `_expiresAt`, a Date copy of the spec's numeric `expiresAtField`
 *   written with every document and removed from what reads return. FerretDB refuses TTL
 *   indexes; then the field gets a plain index and the persistence sweeps it periodically.
 *   Reads filter expired documents out either way (a TTL monitor runs once a minute).
 * - Duplicate keys are 11000/11001 from MongoDB, and from FerretDB also code 1 carrying SQLite's
 *   "UNIQUE constraint failed" when an update causes them; FerretDB's errors name no key, so the
 *   conflicting document is looked up to say which.
 * - `replace(doc, where)` is `replaceOne({_id, ...where}, doc, {upsert: true})`: when the stored
 *   document fails `where`, the upsert tries to insert its `_id` again and meets a duplicate key,
 *   which here means "skipped" once a look-up has confirmed it (a concurrent upsert of a new key
 *   fails the same way on FerretDB and is retried).
 * - Conditional writes (`update`, `replace`) of one document are serialized within the process:
 *   FerretDB checks the filter and writes in separate steps, so two concurrent compare-and-sets
 *   from one state both succeeded in our measurements. Across processes only a real MongoDB makes
 *   them exclusive. No operation relies on concurrent updates of one document being merged.
 */
import {
  MongoClient, MongoError, MongoNetworkError, MongoNotConnectedError, MongoServerError, MongoServerSelectionError,
  MongoTopologyClosedError, type Collection as MongoCollectionHandle, type Db, type Document,
} from 'mongodb';
import { DatabaseUnavailableError, DuplicateKeyError, PersistenceError } from './errors.ts';
import type { Collection, CollectionSpec, Doc, Filter, FindOptions, IndexSpec, Persistence, Scalar, WriteOutcome } from './types.ts';
import { checkFieldName, checkFilter, checkLimit, ID_SORT, matches, withoutUndefined, type LooseDoc, type LooseFilter, type Sort } from './internal/filter.ts';
import { KeyedSerializer } from './internal/serial.ts';

export interface MongoOptions {
  readonly url: string;
  readonly database: string;
  /** How long an operation waits for a server before failing with DatabaseUnavailableError (default 10 s). */
  readonly serverSelectionTimeoutMS?: number;
  /** How often expired documents are removed where the server has no TTL index (default 60 s). */
  readonly sweepIntervalMs?: number;
  /** Where a failed periodic sweep is reported (default: a process warning). */
  readonly onSweepError?: (error: unknown) => void;
}

export function mongoPersistence(options: MongoOptions): Persistence {
  return new MongoPersistence(options);
}

/** A document as the driver sees it: keyed by a string, not an ObjectId. */
type Stored = Document & { _id: string };

/** The Date copy of the expiry field a TTL index watches. */
const EXPIRES_AT = '_expiresAt';
const ATTEMPTS = 5;

interface Shared {
  readonly serializer: KeyedSerializer;
  readonly checkOpen: () => void;
}

class MongoPersistence implements Persistence {
  readonly name = 'mongo';
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #shared: Shared;
  /** Collections without a TTL index: swept by the timer. */
  readonly #toSweep = new Map<string, MongoCollection<Doc>>();
  readonly #timer: NodeJS.Timeout;
  readonly #onSweepError: (error: unknown) => void;
  #sweeping: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: MongoOptions) {
    try {
      this.#client = new MongoClient(options.url, { serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000, ignoreUndefined: true });
    } catch (e) {
      throw new PersistenceError(`bad MongoDB URL: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.#db = this.#client.db(options.database);
    this.#shared = { serializer: new KeyedSerializer(), checkOpen: () => this.#checkOpen() };
    this.#onSweepError = options.onSweepError ?? ((e) => process.emitWarning(`mongo persistence sweep failed: ${String(e)}`));
    this.#timer = setInterval(() => this.#sweepAll(), options.sweepIntervalMs ?? 60_000);
    this.#timer.unref();
  }

  async collection<T extends Doc>(spec: CollectionSpec): Promise<Collection<T>> {
    this.#checkOpen();
    if (spec.name === '' || spec.name.includes('$')) throw new PersistenceError(`collection names cannot be empty or contain "$": ${JSON.stringify(spec.name)}`);
    const handle = this.#db.collection<Stored>(spec.name);
    const ttl = await run(spec.name, () => createIndexes(handle, spec));
    const c = new MongoCollection<T>(handle, spec, this.#shared);
    if (spec.expiresAtField !== undefined && !ttl) this.#toSweep.set(spec.name, c as unknown as MongoCollection<Doc>);
    return c;
  }

  async ping(): Promise<void> {
    this.#checkOpen();
    await run(undefined, () => this.#db.command({ ping: 1 }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#sweeping.catch(() => undefined);
    await this.#client.close();
  }

  #sweepAll(): void {
    this.#sweeping = (async () => {
      for (const c of this.#toSweep.values()) {
        if (this.#closed) return;
        await c.sweepExpired();
      }
    })().catch((e: unknown) => { if (!this.#closed) this.#onSweepError(e); });
  }

  #checkOpen(): void {
    if (this.#closed) throw new DatabaseUnavailableError('mongo persistence is closed');
  }
}

/** Creates the spec's indexes (idempotent); answers whether expiry has a TTL index. */
async function createIndexes(handle: MongoCollectionHandle<Stored>, spec: CollectionSpec): Promise<boolean> {
  for (const index of spec.indexes ?? []) {
    for (const f of index.fields) checkFieldName(f, spec.name);
    await handle.createIndex(Object.fromEntries(index.fields.map((f) => [f, 1])), { unique: index.unique ?? false });
  }
  if (spec.expiresAtField === undefined) return false;
  checkFieldName(spec.expiresAtField, spec.name);
  try {
    await handle.createIndex({ [EXPIRES_AT]: 1 }, { expireAfterSeconds: 0, name: `${EXPIRES_AT}_ttl` });
    return true;
  } catch (e) {
    // FerretDB: 238 NotImplemented, 'Index option "expireAfterSeconds" is not implemented yet'.
    if (!(e instanceof MongoServerError && (e.code === 238 || /expireAfterSeconds/.test(e.message)))) throw e;
    await handle.createIndex({ [spec.expiresAtField]: 1 });
    return false;
  }
}

class MongoCollection<T extends Doc> implements Collection<T> {
  readonly name: string;
  readonly #handle: MongoCollectionHandle<Stored>;
  readonly #unique: readonly IndexSpec[];
  readonly #expiresAtField: string | undefined;
  readonly #shared: Shared;

  constructor(handle: MongoCollectionHandle<Stored>, spec: CollectionSpec, shared: Shared) {
    this.name = spec.name;
    this.#handle = handle;
    this.#unique = (spec.indexes ?? []).filter((i) => i.unique);
    this.#expiresAtField = spec.expiresAtField;
    this.#shared = shared;
  }

  async get(id: string): Promise<T | undefined> {
    const doc = await this.#run(() => this.#handle.findOne(this.#query({ _id: id }, Date.now())));
    return doc ? this.#fromStored(doc) : undefined;
  }

  async findOne(filter: Filter<T>): Promise<T | undefined> {
    return (await this.find(filter, { limit: 1 }))[0];
  }

  async find(filter: Filter<T>, options: FindOptions = {}): Promise<T[]> {
    const f = this.#checkedFilter(filter);
    checkLimit(options.limit, this.name);
    if (options.limit === 0) return [];
    const sort = options.sort ?? ID_SORT;
    checkFieldName(sort.field, this.name);
    const dir = sort.direction === 'asc' ? 1 : -1;
    const order: Record<string, 1 | -1> = sort.field === '_id' ? { _id: dir } : { [sort.field]: dir, _id: dir };
    const query = this.#query(f, Date.now(), options.after && afterCondition(sort, options.after));
    const docs = await this.#run(() => this.#handle.find(query).sort(order).limit(options.limit ?? 0).toArray());
    return docs.map((d) => this.#fromStored(d));
  }

  async count(filter: Filter<T>): Promise<number> {
    const f = this.#checkedFilter(filter);
    return this.#run(() => this.#handle.countDocuments(this.#query(f, Date.now())));
  }

  async insert(doc: T): Promise<void> {
    const stored = this.#toStored(doc);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        await this.#run(() => this.#handle.insertOne({ ...stored }));
        return;
      } catch (e) {
        if (!(e instanceof DuplicateKeyError)) throw e;
        // Expired holders of the key are absent to readers: remove them and try again.
        const c = await this.#conflicts(stored, undefined);
        if (c.live) throw new DuplicateKeyError(c.live, { collection: this.name, cause: e });
      }
    }
    throw new DuplicateKeyError(JSON.stringify({ _id: doc._id }), { collection: this.name });
  }

  replace(doc: T, where?: Filter<T>): Promise<WriteOutcome> {
    const stored = this.#toStored(doc);
    const w = where === undefined ? undefined : this.#checkedFilter(where);
    return this.#shared.serializer.run(this.#lockKey(doc._id), async () => {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          await this.#run(() => this.#handle.replaceOne(this.#query({ _id: doc._id, ...(w ? { $and: [w] } : {}) }, Date.now()), stored, { upsert: true }));
          return 'written';
        } catch (e) {
          if (!(e instanceof DuplicateKeyError)) throw e;
          const c = await this.#conflicts(stored, doc._id);
          if (c.live) throw new DuplicateKeyError(c.live, { collection: this.name, cause: e });
          // The stored document exists and fails `where`: the version check said no.
          if (c.self && w && !matches(c.self, w)) return 'skipped';
          // Else it was created or removed meanwhile, or an expired holder was just removed: again.
        }
      }
      throw new PersistenceError(`replace of ${doc._id} kept meeting a duplicate key`, { collection: this.name });
    });
  }

  update(id: string, set: Partial<Omit<T, '_id'>>, where?: Filter<T>): Promise<boolean> {
    this.#shared.checkOpen();
    const w = where === undefined ? undefined : this.#checkedFilter(where);
    const $set: Record<string, unknown> = {};
    const $unset: Record<string, ''> = {};
    for (const [k, v] of Object.entries(set as Readonly<Record<string, unknown>>)) {
      if (k === '_id') continue;
      checkFieldName(k, this.name);
      // A field set to undefined is removed (as the embedded store does).
      if (v === undefined) $unset[k] = '';
      else $set[k] = withoutUndefined(v);
    }
    if (this.#expiresAtField !== undefined && this.#expiresAtField in set) {
      const at = $set[this.#expiresAtField];
      if (typeof at === 'number') $set[EXPIRES_AT] = new Date(at);
      else $unset[EXPIRES_AT] = '';
    }
    const change = { ...(Object.keys($set).length ? { $set } : {}), ...(Object.keys($unset).length ? { $unset } : {}) };
    return this.#shared.serializer.run(this.#lockKey(id), async () => {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const query = this.#query({ _id: id, ...(w ? { $and: [w] } : {}) }, Date.now());
        try {
          if (Object.keys(change).length === 0) return (await this.#run(() => this.#handle.countDocuments(query, { limit: 1 }))) === 1;
          return (await this.#run(() => this.#handle.updateOne(query, change))).matchedCount === 1;
        } catch (e) {
          if (!(e instanceof DuplicateKeyError)) throw e;
          const current = await this.#run(() => this.#handle.findOne({ _id: id }));
          if (!current) return false;
          const merged: Stored = { ...current, ...$set };
          for (const k of Object.keys($unset)) delete merged[k];
          const c = await this.#conflicts(merged, id);
          if (c.live) throw new DuplicateKeyError(c.live, { collection: this.name, cause: e });
        }
      }
      throw new PersistenceError(`update of ${id} kept meeting a duplicate key`, { collection: this.name });
    });
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.#run(() => this.#handle.deleteOne(this.#query({ _id: id }, Date.now())));
    if (r.deletedCount === 0 && this.#expiresAtField !== undefined) await this.#run(() => this.#handle.deleteOne({ _id: id }));
    return r.deletedCount === 1;
  }

  async deleteMany(filter: Filter<T>): Promise<number> {
    const f = this.#checkedFilter(filter);
    return (await this.#run(() => this.#handle.deleteMany(this.#query(f, Date.now())))).deletedCount;
  }

  async sweepExpired(now = Date.now()): Promise<number> {
    if (this.#expiresAtField === undefined) return 0;
    const field = this.#expiresAtField;
    return (await this.#run(() => this.#handle.deleteMany({ [field]: { $lte: now } }))).deletedCount;
  }

  /**
   * Who holds `doc`'s `_id` or unique values: `self` (the stored document of `selfId`), `live`
   * (the key another visible document holds). Expired holders are removed on the way.
   */
  async #conflicts(doc: Stored, selfId: string | undefined): Promise<{ self?: LooseDoc; live?: string }> {
    const byIndex = this.#unique.map((i) => Object.fromEntries(i.fields.map((f) => [f, doc[f] ?? null])));
    const holders = await this.#run(() => this.#handle.find({ $or: [{ _id: doc._id }, ...byIndex] as Document[] }).toArray());
    const now = Date.now();
    const expired = holders.filter((h) => this.#expired(h, now)).map((h) => h._id as string);
    if (expired.length > 0) await this.#run(() => this.#handle.deleteMany({ _id: { $in: expired }, [this.#expiresAtField!]: { $lte: now } }));
    let self: LooseDoc | undefined;
    for (const h of holders) {
      if (this.#expired(h, now)) continue;
      if (h._id === selfId) { self = this.#fromStored(h) as unknown as LooseDoc; continue; }
      if (h._id === doc._id) return { live: JSON.stringify({ _id: doc._id }) };
      const key = byIndex.find((k) => matches(h, k));
      if (key) return { live: JSON.stringify(key) };
    }
    return self ? { self } : {};
  }

  /** The filter, without expired documents, and after the cursor. */
  #query(filter: LooseFilter, now: number, after?: Document): Document {
    const parts: Document[] = [];
    if (Object.keys(filter).length > 0) parts.push(filter);
    if (this.#expiresAtField !== undefined) parts.push({ [this.#expiresAtField]: { $not: { $lte: now } } });
    if (after) parts.push(after);
    if (parts.length === 0) return {};
    return parts.length === 1 ? parts[0]! : { $and: parts };
  }

  #expired(doc: Document, now: number): boolean {
    if (this.#expiresAtField === undefined) return false;
    const at: unknown = doc[this.#expiresAtField];
    return typeof at === 'number' && at <= now;
  }

  #toStored(doc: T): Stored {
    this.#shared.checkOpen();
    if (typeof doc._id !== 'string') throw new PersistenceError('a document needs a string _id', { collection: this.name });
    for (const field of Object.keys(doc)) if (field !== '_id') checkFieldName(field, this.name);
    const stored = withoutUndefined(doc) as unknown as Stored;
    if (this.#expiresAtField === undefined) return stored;
    const at: unknown = stored[this.#expiresAtField];
    return typeof at === 'number' ? { ...stored, [EXPIRES_AT]: new Date(at) } : stored;
  }

  #fromStored(doc: Document): T {
    if (this.#expiresAtField !== undefined) delete doc[EXPIRES_AT];
    return doc as unknown as T;
  }

  #checkedFilter(filter: Filter<T>): LooseFilter {
    const f = filter as LooseFilter;
    checkFilter(f, this.name);
    return f;
  }

  #lockKey(id: string): string {
    return `${this.name}\u0000${id}`;
  }

  #run<R>(op: () => Promise<R>): Promise<R> {
    this.#shared.checkOpen();
    return run(this.name, op);
  }
}

/**
 * Where a page resumes. Range operators compare within one type, so documents without the sort
 * field (null, first ascending and last descending, as MongoDB sorts them) are named apart; a
 * sort field is expected to hold one type besides null.
 */
function afterCondition(sort: Sort, after: { readonly value: Scalar; readonly id: string }): Document {
  const asc = sort.direction === 'asc';
  const f = sort.field;
  if (f === '_id') return { _id: { [asc ? '$gt' : '$lt']: after.id } };
  const v = after.value ?? null;
  const tie = { [f]: v, _id: { [asc ? '$gt' : '$lt']: after.id } };
  if (asc) return v === null ? { $or: [{ [f]: { $ne: null } }, tie] } : { $or: [{ [f]: { $gt: v } }, tie] };
  return v === null ? tie : { $or: [{ [f]: { $lt: v } }, tie, { [f]: null }] };
}

async function run<R>(collection: string | undefined, op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (e) {
    throw mapError(e, collection);
  }
}

/** Driver errors as the interface's: duplicate keys, an unreachable server (retriable), the rest. */
export function mapError(e: unknown, collection: string | undefined): unknown {
  if (e instanceof PersistenceError) return e;
  const context = { collection, cause: e };
  if (e instanceof MongoServerError && isDuplicate(e)) {
    const key = e.keyValue ? JSON.stringify(e.keyValue) : 'of a unique index';
    return new DuplicateKeyError(key, context);
  }
  if (isUnavailable(e)) return new DatabaseUnavailableError(`database unavailable: ${(e as Error).message}`, context);
  return new PersistenceError(e instanceof Error ? e.message : String(e), context);
}

function isDuplicate(e: MongoServerError): boolean {
  if (e.code === 11000 || e.code === 11001) return true;
  // FerretDB on SQLite: an update that breaks a unique index leaks SQLite's error as code 1.
  return e.code === 1 && /UNIQUE constraint failed|duplicate key/i.test(e.message);
}

/** Server codes that mean "not now" rather than "no": shutting down, stepping down, unreachable. */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

function isUnavailable(e: unknown): boolean {
  if (e instanceof MongoNetworkError || e instanceof MongoServerSelectionError
    || e instanceof MongoTopologyClosedError || e instanceof MongoNotConnectedError) return true;
  if (e instanceof MongoServerError && typeof e.code === 'number' && UNAVAILABLE_CODES.has(e.code)) return true;
  return e instanceof MongoError && e.hasErrorLabel('RetryableWriteError');
}
