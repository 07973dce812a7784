/**
 * The session store, as Kafka Streams': an aggregate per (key, session [start, end]). Sessions
 * whose end is older than the retention period (inactivity gap + grace) expire as stream time
 * advances, logged as tombstones like the window store's.
 *
 * Changelog records use Kafka's session key, `[key][end: int64][start: int64]`.
 */
import { Serdes, type Codec } from '../serde.ts';
import type { Windowed } from '../dsl/windowed.ts';
import type { KeyValue, StateStore, StoreBuilder, StoreContext } from './store.ts';
import { WindowedBytes, readLong, writeLong } from './windowed-bytes.ts';

export interface SessionStoreOptions<K, V> {
  readonly keyCodec?: Codec<K>;
  readonly valueCodec?: Codec<V>;
  /** How long a session is kept after its end, in stream time. */
  readonly retentionMs: number;
  readonly persistent?: boolean;
  readonly logging?: boolean;
}

export interface ReadOnlySessionStore<K, V> {
  /** Sessions of `key` with end ≥ earliestSessionEnd and start ≤ latestSessionStart, by end then start. */
  findSessions(key: K, earliestSessionEnd: number, latestSessionStart: number): KeyValue<Windowed<K>, V>[];
  /** Every session of `key`. */
  fetch(key: K): KeyValue<Windowed<K>, V>[];
  fetchSession(key: K, start: number, end: number): V | undefined;
  /** Every live session, by end, then key, then start. */
  all(): KeyValue<Windowed<K>, V>[];
}

export interface SessionStore<K, V> extends StateStore, ReadOnlySessionStore<K, V> {
  readonly retentionMs: number;
  /** Writes the aggregate of a session (null removes it); ignored once the session has expired. */
  put(session: Windowed<K>, aggregate: V | null): void;
  remove(session: Windowed<K>): void;
}

export function sessionStore<K, V>(name: string, options: SessionStoreOptions<K, V>): StoreBuilder<SessionStore<K, V>> {
  const persistent = options.persistent ?? false;
  return {
    name, kind: 'session', logging: options.logging ?? true, persistent,
    build: () => new TypedSessionStore<K, V>(name, persistent, options),
  };
}

export class TypedSessionStore<K, V> implements SessionStore<K, V> {
  readonly retentionMs: number;
  private readonly bytes: WindowedBytes;
  private readonly keyCodec: Codec<K>;
  private readonly valueCodec: Codec<V>;
  private context: StoreContext | undefined;
  /** Highest session end put or restored. */
  private observed = Number.NEGATIVE_INFINITY;

  constructor(readonly name: string, readonly persistent: boolean, options: SessionStoreOptions<K, V>) {
    this.retentionMs = options.retentionMs;
    this.keyCodec = options.keyCodec ?? Serdes.json<K>();
    this.valueCodec = options.valueCodec ?? Serdes.json<V>();
    this.bytes = new WindowedBytes(name, persistent, 8);
  }

  init(context: StoreContext): void {
    this.context = context;
    this.bytes.init(context);
  }

  put(session: Windowed<K>, aggregate: V | null): void {
    const { start, end } = session.window;
    if (end > this.observed) this.observed = end;
    this.expire();
    if (end < this.liveFrom()) return;
    const k = this.keyCodec.encode(session.key);
    const v = aggregate === null ? null : this.valueCodec.encode(aggregate);
    this.bytes.put(k, end, startBytes(start), v);
    this.context?.log(changelogKey(k, end, start), v);
  }

  remove(session: Windowed<K>): void {
    this.put(session, null);
  }

  findSessions(key: K, earliestSessionEnd: number, latestSessionStart: number): KeyValue<Windowed<K>, V>[] {
    const out: KeyValue<Windowed<K>, V>[] = [];
    for (const e of this.bytes.fetch(this.keyCodec.encode(key), Math.max(earliestSessionEnd, this.liveFrom()), Number.MAX_SAFE_INTEGER)) {
      const start = readLong(e.suffix, 0);
      if (start <= latestSessionStart) out.push({ key: { key, window: { start, end: e.time } }, value: this.valueCodec.decode(e.value) });
    }
    return out;
  }

  fetch(key: K): KeyValue<Windowed<K>, V>[] {
    return this.findSessions(key, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  }

  fetchSession(key: K, start: number, end: number): V | undefined {
    if (end < this.liveFrom()) return undefined;
    const v = this.bytes.get(this.keyCodec.encode(key), end, startBytes(start));
    return v === undefined ? undefined : this.valueCodec.decode(v);
  }

  all(): KeyValue<Windowed<K>, V>[] {
    const out: KeyValue<Windowed<K>, V>[] = [];
    for (const e of this.bytes.fetchAll(this.liveFrom(), Number.MAX_SAFE_INTEGER)) {
      out.push({ key: { key: this.keyCodec.decode(e.key), window: { start: readLong(e.suffix, 0), end: e.time } }, value: this.valueCodec.decode(e.value) });
    }
    return out;
  }

  approximateNumEntries(): number {
    return this.bytes.size();
  }

  restore(key: Buffer, value: Buffer | null): void {
    if (key.length < 16) throw new Error(`a session-store changelog key needs at least 16 bytes, got ${key.length}`);
    const at = key.length - 16;
    const end = readLong(key, at);
    if (end > this.observed) this.observed = end;
    this.bytes.put(Buffer.from(key.subarray(0, at)), end, Buffer.from(key.subarray(at + 8)), value);
  }

  clear(): void {
    this.bytes.clear();
    this.observed = Number.NEGATIVE_INFINITY;
  }

  *changelogEntries(): Iterable<[Buffer, Buffer]> {
    for (const e of this.bytes.fetchAll(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) yield [changelogKey(e.key, e.time, readLong(e.suffix, 0)), e.value];
  }

  close(): void {
    this.bytes.close();
  }

  /** The earliest session end still retained. */
  private liveFrom(): number {
    return Math.max(this.observed, this.context?.streamTime() ?? -1) - this.retentionMs;
  }

  private expire(): void {
    this.bytes.purge(this.liveFrom(), (e) => this.context?.log(changelogKey(e.key, e.time, readLong(e.suffix, 0)), null));
  }
}

function startBytes(start: number): Buffer {
  const b = Buffer.alloc(8);
  writeLong(b, start, 0);
  return b;
}

function changelogKey(key: Buffer, end: number, start: number): Buffer {
  const b = Buffer.alloc(key.length + 16);
  key.copy(b, 0);
  writeLong(b, end, key.length);
  writeLong(b, start, key.length + 8);
  return b;
}
