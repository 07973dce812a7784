/**
 * The embedded persistence (the `npm start` default): one LMDB environment in a directory, one
 * named database per collection (msgpack documents keyed by `_id`) and one per index.
 *
 * Every write runs in an LMDB write transaction, and LMDB has one writer at a time (across
 * processes too), so reading the unique index and writing the document cannot interleave with
 * another write: of two concurrent inserts of one unique value exactly one wins, and a
 * compare-and-set sees the state it replaces.
 *
 * Index databases hold order-preserving binary keys (`internal/keys.ts`): `values… _id` for a
 * plain index, `values…` → `_id` for a unique one. A query uses the index with the longest prefix
 * of equality conditions; when the sort field is the index's last field after that prefix, the
 * scan is already in sort order and stops at the limit (cost: the page, plus documents the rest
 * of the filter rejects). Otherwise it reads every document the prefix selects (the whole
 * collection without one) and sorts in memory: fine for small collections, say so in a spec's
 * indexes when a query is hot. Sorting by `_id` walks the documents database itself.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { DatabaseUnavailableError, DuplicateKeyError, PersistenceError } from './errors.ts';
import type { Collection, CollectionSpec, Doc, Filter, FindOptions, Persistence, Scalar, WriteOutcome } from './types.ts';
import {
  checkFieldName, checkFilter, checkLimit, compareDocs, ID_SORT, isAfter, isOperatorObject, matches, withoutUndefined,
  type LooseDoc, type LooseFilter, type Sort,
} from './internal/filter.ts';
import { checkKeySize, encodeComponent, encodeComponents, indexTuples, prefixEnd } from './internal/keys.ts';

export interface EmbeddedOptions {
  /** The environment's directory, created if missing. Undefined: a fresh temporary directory, removed on close. */
  readonly path?: string | undefined;
  /** How often expired documents are removed (default 60 s). */
  readonly sweepIntervalMs?: number;
  /** Where a failed periodic sweep is reported (default: a process warning). */
  readonly onSweepError?: (error: unknown) => void;
}

export interface EmbeddedPersistence extends Persistence {
  readonly name: 'embedded';
  /** The environment's directory (the temporary one when no path was given). */
  readonly path: string;
}

export function embeddedPersistence(options: EmbeddedOptions = {}): EmbeddedPersistence {
  return new LmdbPersistence(options);
}

const MAX_DBS = 512;
const SWEEP_BATCH = 1000;

interface IndexMeta {
  readonly fields: readonly string[];
  readonly unique: boolean;
}

interface IndexState extends IndexMeta {
  readonly name: string;
  readonly db: Database<string, Buffer>;
}

type TxnResult<R> = { readonly ok: R } | { readonly duplicate: string };

class LmdbPersistence implements EmbeddedPersistence {
  readonly name = 'embedded';
  readonly path: string;
  readonly #temporary: boolean;
  readonly #root: RootDatabase;
  readonly #meta: Database<IndexMeta, string>;
  readonly #collections = new Map<string, Promise<EmbeddedCollection<Doc>>>();
  readonly #timer: NodeJS.Timeout;
  readonly #onSweepError: (error: unknown) => void;
  #sweeping: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: EmbeddedOptions) {
    this.#temporary = options.path === undefined;
    this.path = options.path ?? mkdtempSync(join(tmpdir(), 'orderstream-embedded-'));
    mkdirSync(this.path, { recursive: true });
    this.#root = open({ path: this.path, maxDbs: MAX_DBS });
    this.#meta = this.#root.openDB<IndexMeta, string>({ name: '$meta' });
    this.#onSweepError = options.onSweepError ?? ((e) => process.emitWarning(`embedded persistence sweep failed: ${String(e)}`));
    this.#timer = setInterval(() => this.#sweepAll(), options.sweepIntervalMs ?? 60_000);
    this.#timer.unref();
  }

  collection<T extends Doc>(spec: CollectionSpec): Promise<Collection<T>> {
    this.#checkOpen();
    const opened = this.#collections.get(spec.name);
    const next = opened
      ? opened.then((c) => c.extend(spec))
      : EmbeddedCollection.open(this.#root, this.#meta, spec, () => this.#checkOpen());
    this.#collections.set(spec.name, next);
    // A failed open must not poison later ones.
    next.catch(() => { if (this.#collections.get(spec.name) === next) this.#collections.delete(spec.name); });
    return next as unknown as Promise<Collection<T>>;
  }

  async ping(): Promise<void> {
    this.#checkOpen();
    this.#meta.get('$ping');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#sweeping.catch(() => undefined);
    await Promise.allSettled(this.#collections.values());
    await this.#root.close();
    if (this.#temporary) rmSync(this.path, { recursive: true, force: true });
  }

  #sweepAll(): void {
    this.#sweeping = (async () => {
      for (const c of this.#collections.values()) {
        if (this.#closed) return;
        await (await c).sweepExpired();
      }
    })().catch((e: unknown) => { if (!this.#closed) this.#onSweepError(e); });
  }

  #checkOpen(): void {
    if (this.#closed) throw new DatabaseUnavailableError(`embedded persistence at ${this.path} is closed`);
  }
}

class EmbeddedCollection<T extends Doc> implements Collection<T> {
  readonly name: string;
  readonly #root: RootDatabase;
  readonly #meta: Database<IndexMeta, string>;
  readonly #docs: Database<LooseDoc, string>;
  readonly #indexes: IndexState[] = [];
  readonly #expiresAtField: string | undefined;
  readonly #checkOpen: () => void;

  private constructor(root: RootDatabase, meta: Database<IndexMeta, string>, spec: CollectionSpec, checkOpen: () => void) {
    if (spec.name === '' || spec.name.includes('$')) throw new PersistenceError(`collection names cannot be empty or contain "$": ${JSON.stringify(spec.name)}`);
    this.name = spec.name;
    this.#root = root;
    this.#meta = meta;
    this.#docs = root.openDB<LooseDoc, string>({ name: spec.name });
    this.#expiresAtField = spec.expiresAtField;
    this.#checkOpen = checkOpen;
  }

  static async open<T extends Doc>(root: RootDatabase, meta: Database<IndexMeta, string>, spec: CollectionSpec, checkOpen: () => void): Promise<EmbeddedCollection<T>> {
    const c = new EmbeddedCollection<T>(root, meta, spec, checkOpen);
    await c.#dropUndeclared(spec);
    return c.extend(spec);
  }

  /** Adds the spec's indexes that this collection does not have yet (a second open of one name). */
  async extend(spec: CollectionSpec): Promise<this> {
    if (spec.expiresAtField !== this.#expiresAtField) {
      throw new PersistenceError(`opened again with expiresAtField ${String(spec.expiresAtField)}, not ${String(this.#expiresAtField)}`, { collection: this.name });
    }
    for (const [name, meta] of declaredIndexes(spec)) {
      if (this.#indexes.some((i) => i.name === name)) continue;
      this.#indexes.push(await this.#openIndex(name, meta));
    }
    return this;
  }

  async get(id: string): Promise<T | undefined> {
    this.#checkOpen();
    const doc = this.#docs.get(id);
    return doc && this.#visible(doc, Date.now()) ? (doc as unknown as T) : undefined;
  }

  async findOne(filter: Filter<T>): Promise<T | undefined> {
    return (await this.find(filter, { limit: 1 }))[0];
  }

  async find(filter: Filter<T>, options: FindOptions = {}): Promise<T[]> {
    this.#checkOpen();
    const f = this.#checkedFilter(filter);
    checkLimit(options.limit, this.name);
    if (options.sort) checkFieldName(options.sort.field, this.name);
    if (options.limit === 0) return [];
    return this.#findSync(f, options.sort ?? ID_SORT, options.limit, options.after, Date.now()) as unknown as T[];
  }

  async count(filter: Filter<T>): Promise<number> {
    this.#checkOpen();
    const f = this.#checkedFilter(filter);
    const now = Date.now();
    let n = 0;
    for (const _ of this.#matching(f, now)) n++;
    return n;
  }

  async insert(doc: T): Promise<void> {
    const next = this.#checkedDoc(doc);
    const result = await this.#transaction<void>(() => {
      const now = Date.now();
      const stored = this.#docs.get(next._id);
      if (stored && this.#visible(stored, now)) return { duplicate: JSON.stringify({ _id: next._id }) };
      return this.#writeChecked(next._id, stored, next, now, undefined);
    });
    this.#unwrap(result);
  }

  async replace(doc: T, where?: Filter<T>): Promise<WriteOutcome> {
    const next = this.#checkedDoc(doc);
    const w = where === undefined ? undefined : this.#checkedFilter(where);
    const result = await this.#transaction<WriteOutcome>(() => {
      const now = Date.now();
      const stored = this.#docs.get(next._id);
      if (stored && this.#visible(stored, now) && w && !matches(stored, w)) return { ok: 'skipped' };
      return this.#writeChecked(next._id, stored, next, now, 'written');
    });
    return this.#unwrap(result);
  }

  async update(id: string, set: Partial<Omit<T, '_id'>>, where?: Filter<T>): Promise<boolean> {
    this.#checkOpen();
    for (const field of Object.keys(set)) checkFieldName(field, this.name);
    const w = where === undefined ? undefined : this.#checkedFilter(where);
    const changes = set as Readonly<Record<string, unknown>>;
    const result = await this.#transaction<boolean>(() => {
      const now = Date.now();
      const stored = this.#docs.get(id);
      if (!stored || !this.#visible(stored, now) || (w && !matches(stored, w))) return { ok: false };
      const next: Record<string, unknown> = { ...stored };
      // A field set to undefined is removed (the MongoDB implementation `$unset`s it).
      for (const [k, v] of Object.entries(changes)) {
        if (k === '_id') continue;
        if (v === undefined) delete next[k];
        else next[k] = withoutUndefined(v);
      }
      return this.#writeChecked(id, stored, next as LooseDoc & Doc, now, true);
    });
    return this.#unwrap(result);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#transaction<boolean>(() => {
      const stored = this.#docs.get(id);
      if (!stored) return { ok: false };
      this.#writeSync(id, stored, undefined);
      return { ok: this.#visible(stored, Date.now()) };
    });
    return this.#unwrap(result);
  }

  async deleteMany(filter: Filter<T>): Promise<number> {
    const f = this.#checkedFilter(filter);
    const result = await this.#transaction<number>(() => {
      const victims = [...this.#matching(f, Date.now())];
      for (const doc of victims) this.#writeSync(String(doc._id), doc, undefined);
      return { ok: victims.length };
    });
    return this.#unwrap(result);
  }

  async sweepExpired(now = Date.now()): Promise<number> {
    const expiry = this.#expiryIndex();
    if (!expiry) return 0;
    let total = 0;
    for (;;) {
      const [removed, read] = this.#unwrap(await this.#transaction<[number, number]>(() => {
        // Numbers rank 2: every entry from the smallest number up to `now` has expired.
        const ids = [...expiry.db.getRange({ start: Buffer.of(2), end: prefixEnd(encodeComponent(now)), limit: SWEEP_BATCH })].map((e) => e.value);
        let n = 0;
        for (const id of ids) {
          const doc = this.#docs.get(id);
          if (doc && this.#expired(doc, now)) { this.#writeSync(id, doc, undefined); n++; }
        }
        return { ok: [n, ids.length] };
      }));
      total += removed;
      if (read < SWEEP_BATCH || removed === 0) return total;
    }
  }

  // ---- reads

  #findSync(filter: LooseFilter, sort: Sort, limit: number | undefined, after: FindOptions['after'], now: number): LooseDoc[] {
    const plan = this.#plan(filter, sort);
    const out: LooseDoc[] = [];
    for (const doc of this.#candidates(plan, sort, after, now)) {
      if (!matches(doc, filter)) continue;
      if (after && !isAfter(doc, sort, after)) continue;
      out.push(doc);
      if (plan.ordered && limit !== undefined && out.length >= limit) return out;
    }
    if (plan.ordered) return out;
    out.sort((a, b) => compareDocs(a, b, sort));
    return limit === undefined ? out : out.slice(0, limit);
  }

  *#matching(filter: LooseFilter, now: number): Iterable<LooseDoc> {
    for (const doc of this.#candidates(this.#plan(filter, undefined), ID_SORT, undefined, now)) {
      if (matches(doc, filter)) yield doc;
    }
  }

  #plan(filter: LooseFilter, sort: Sort | undefined): Plan {
    const id = filter._id;
    if (typeof id === 'string') return { kind: 'id', id, ordered: true };
    // `_id: { $in: [...] }` (a batch of lookups, e.g. an order's products) reads just those.
    if (isStringIn(id)) return { kind: 'ids', ids: [...new Set(id.$in)], ordered: false };
    let best: Plan = { kind: 'scan', ordered: sort === undefined || sort.field === '_id' };
    let bestScore = best.ordered ? 0.5 : 0;
    for (const index of this.#indexes) {
      const prefix: unknown[] = [];
      for (const field of index.fields) {
        const cond = filter[field];
        if (!isIndexableEquality(cond)) break;
        prefix.push(cond);
      }
      const k = prefix.length;
      // In order only when ties come out by `_id`: the sort field is the last one of the index
      // (a plain index's key ends with `_id`; a unique one has no ties), or `_id` after a full prefix.
      const ordered = sort === undefined
        || (k === index.fields.length - 1 && index.fields[k] === sort.field)
        || (sort.field === '_id' && k === index.fields.length && !index.unique)
        || (k === index.fields.length && index.unique);
      const score = (ordered ? 1000 : 0) + k;
      if ((k > 0 || ordered) && score > bestScore) {
        best = { kind: 'index', index, prefix, ordered };
        bestScore = score;
      }
    }
    return best;
  }

  /** Visible documents the plan selects, each once, in sort order when the plan is ordered. */
  *#candidates(plan: Plan, sort: Sort, after: FindOptions['after'], now: number): Iterable<LooseDoc> {
    if (plan.kind === 'id' || plan.kind === 'ids') {
      for (const id of plan.kind === 'id' ? [plan.id] : plan.ids) {
        const doc = this.#docs.get(id);
        if (doc && this.#visible(doc, now)) yield doc;
      }
      return;
    }
    const reverse = plan.ordered && sort.direction === 'desc';
    if (plan.kind === 'scan') {
      const from = plan.ordered && after ? after.id : undefined;
      for (const { value } of this.#docs.getRange(reverse ? { reverse, start: from } : { start: from })) {
        if (this.#visible(value, now)) yield value;
      }
      return;
    }
    const { index } = plan;
    const prefix = encodeComponents(plan.prefix);
    let lower: Buffer = prefix;
    let upper: Buffer = prefixEnd(prefix);
    if (plan.ordered && after && plan.prefix.length < index.fields.length) {
      // The cursor's own entry: everything on the far side of it has been read already.
      const at = Buffer.concat([prefix, encodeComponent(after.value ?? null), index.unique ? Buffer.alloc(0) : encodeComponent(after.id)]);
      if (reverse) upper = at; else lower = at;
    } else if (plan.ordered && after && sort.field === '_id') {
      const at = Buffer.concat([prefix, encodeComponent(after.id)]);
      if (reverse) upper = at; else lower = at;
    }
    const seen = new Set<string>();
    for (const { value: id } of index.db.getRange(reverse ? { start: upper, end: lower, reverse } : { start: lower, end: upper })) {
      // A multikey index has an entry per element; the first one met is where the document sorts.
      if (seen.has(id)) continue;
      seen.add(id);
      const doc = this.#docs.get(id);
      if (doc && this.#visible(doc, now)) yield doc;
    }
  }

  #visible(doc: LooseDoc, now: number): boolean {
    return !this.#expired(doc, now);
  }

  #expired(doc: LooseDoc, now: number): boolean {
    if (this.#expiresAtField === undefined) return false;
    const at = doc[this.#expiresAtField];
    return typeof at === 'number' && at <= now;
  }

  #expiryIndex(): IndexState | undefined {
    return this.#indexes.find((i) => i.name === EXPIRY_INDEX);
  }

  // ---- writes (inside a transaction)

  /**
   * Writes `next` over `stored` unless a unique value is held by another visible document;
   * documents that hold it but have expired are removed first (they are absent to readers).
   */
  #writeChecked<R>(id: string, stored: LooseDoc | undefined, next: LooseDoc & Doc, now: number, ok: R): TxnResult<R> {
    const expiredOwners = new Map<string, LooseDoc>();
    for (const index of this.#indexes) {
      if (!index.unique) continue;
      for (const key of this.#keys(index, next, id)) {
        const owner = index.db.get(key);
        if (owner === undefined || owner === id) continue;
        const ownerDoc = this.#docs.get(owner);
        if (ownerDoc && this.#visible(ownerDoc, now)) {
          return { duplicate: JSON.stringify(Object.fromEntries(index.fields.map((f) => [f, next[f] ?? null]))) };
        }
        if (ownerDoc) expiredOwners.set(owner, ownerDoc);
      }
    }
    for (const [owner, doc] of expiredOwners) this.#writeSync(owner, doc, undefined);
    this.#writeSync(id, stored, next);
    return { ok };
  }

  /** Replaces `before` by `after` in the documents and every index (either may be absent). */
  #writeSync(id: string, before: LooseDoc | undefined, after: LooseDoc | undefined): void {
    for (const index of this.#indexes) {
      const old = before ? this.#keys(index, before, id) : [];
      const fresh = after ? this.#keys(index, after, id) : [];
      const freshSet = new Set(fresh.map((k) => k.toString('latin1')));
      const oldSet = new Set(old.map((k) => k.toString('latin1')));
      for (const k of old) if (!freshSet.has(k.toString('latin1'))) index.db.removeSync(k);
      for (const k of fresh) if (!oldSet.has(k.toString('latin1'))) index.db.putSync(k, id);
    }
    if (after) this.#docs.putSync(id, after);
    else this.#docs.removeSync(id);
  }

  #keys(index: IndexState, doc: LooseDoc, id: string): Buffer[] {
    return indexTuples(doc, index.fields, this.name).map((tuple) =>
      checkKeySize(encodeComponents(index.unique ? tuple : [...tuple, id]), `${index.name} of ${id}`, this.name));
  }

  /**
   * One write transaction. A child transaction, so that a callback that throws (a key too long,
   * parallel arrays) leaves nothing behind; expected refusals come back as values instead.
   */
  async #transaction<R>(body: () => TxnResult<R>): Promise<TxnResult<R>> {
    this.#checkOpen();
    try {
      return await this.#root.childTransaction(body);
    } catch (e) {
      if (e instanceof PersistenceError) throw e;
      throw new PersistenceError(`write failed: ${String(e)}`, { collection: this.name, cause: e });
    }
  }

  #unwrap<R>(result: TxnResult<R>): R {
    if ('duplicate' in result) throw new DuplicateKeyError(result.duplicate, { collection: this.name });
    return result.ok;
  }

  // ---- opening

  async #openIndex(name: string, meta: IndexMeta): Promise<IndexState> {
    for (const f of meta.fields) checkFieldName(f, this.name);
    const db = this.#root.openDB<string, Buffer>({ name: `${this.name}$${name}`, keyEncoding: 'binary', encoding: 'string' });
    const state: IndexState = { name, db, fields: [...meta.fields], unique: meta.unique };
    const metaKey = `${this.name}$${name}`;
    if (this.#meta.get(metaKey)) return state;
    // A new index over existing documents: build it in one transaction, refusing duplicates.
    const built = await this.#root.childTransaction((): TxnResult<true> => {
      db.clearSync();
      const now = Date.now();
      for (const { key: id, value: doc } of this.#docs.getRange({})) {
        for (const key of this.#keys(state, doc, id)) {
          const owner = db.get(key);
          if (state.unique && owner !== undefined && owner !== id) {
            const ownerDoc = this.#docs.get(owner);
            if (ownerDoc && this.#visible(ownerDoc, now) && this.#visible(doc, now)) {
              return { duplicate: `${JSON.stringify(Object.fromEntries(meta.fields.map((f) => [f, doc[f] ?? null])))} (building index ${name})` };
            }
          }
          db.putSync(key, id);
        }
      }
      this.#meta.putSync(metaKey, { fields: [...meta.fields], unique: meta.unique });
      return { ok: true };
    });
    this.#unwrap(built);
    return state;
  }

  /** An index no longer declared would go stale, and be wrong if declared again later: drop it. */
  async #dropUndeclared(spec: CollectionSpec): Promise<void> {
    const declared = new Set(declaredIndexes(spec).map(([name]) => `${this.name}$${name}`));
    const prefix = `${this.name}$`;
    const stale = [...this.#meta.getKeys({ start: prefix, end: `${prefix}\uffff` })].filter((k) => !declared.has(k));
    for (const key of stale) {
      const db = this.#root.openDB<string, Buffer>({ name: key, keyEncoding: 'binary', encoding: 'string' });
      await this.#root.childTransaction(() => {
        db.clearSync();
        this.#meta.removeSync(key);
      });
    }
  }

  #checkedFilter(filter: Filter<T>): LooseFilter {
    const f = filter as LooseFilter;
    checkFilter(f, this.name);
    return f;
  }

  #checkedDoc(doc: T): LooseDoc & Doc {
    this.#checkOpen();
    if (typeof doc._id !== 'string') throw new PersistenceError('a document needs a string _id', { collection: this.name });
    for (const field of Object.keys(doc)) if (field !== '_id') checkFieldName(field, this.name);
    return withoutUndefined(doc) as unknown as LooseDoc & Doc;
  }
}

type Plan =
  | { readonly kind: 'id'; readonly id: string; readonly ordered: true }
  | { readonly kind: 'ids'; readonly ids: readonly string[]; readonly ordered: false }
  | { readonly kind: 'scan'; readonly ordered: boolean }
  | { readonly kind: 'index'; readonly index: IndexState; readonly prefix: readonly unknown[]; readonly ordered: boolean };

const EXPIRY_INDEX = '$expiry';

function isStringIn(cond: unknown): cond is { $in: string[] } {
  if (cond === null || typeof cond !== 'object' || Object.keys(cond).length !== 1) return false;
  const list = (cond as { $in?: unknown }).$in;
  return Array.isArray(list) && list.every((v) => typeof v === 'string');
}

/** The spec's indexes by name, with the expiry field's own (what `sweepExpired` walks). */
function declaredIndexes(spec: CollectionSpec): [string, IndexMeta][] {
  const declared = (spec.indexes ?? []).map((i): [string, IndexMeta] =>
    [`${i.fields.join('+')}${i.unique ? '!unique' : ''}`, { fields: [...i.fields], unique: i.unique ?? false }]);
  if (spec.expiresAtField !== undefined) declared.push([EXPIRY_INDEX, { fields: [spec.expiresAtField], unique: false }]);
  return declared;
}

/** Equalities an index prefix can serve: a scalar (null included: it matches missing, as a missing field is indexed). */
function isIndexableEquality(cond: unknown): cond is Scalar {
  if (cond === undefined || isOperatorObject(cond)) return false;
  return cond === null || typeof cond === 'string' || typeof cond === 'number' || typeof cond === 'boolean';
}
