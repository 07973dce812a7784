/**
 * The window store, as Kafka Streams': values per (key, window start), each with the timestamp
 * of the record that made it. Windows older than the retention period (window size + grace for
 * aggregations) expire as stream time advances; expiry is logged as tombstones, so that a
 * compacted changelog stays bounded and a restore gives exactly the live windows.
 *
 * Changelog records use Kafka's window-store key, `[key][window start: int64][seq: int32]`, and
 * the value `[timestamp: int64][value]`.
 */
import { Serdes, type Codec } from '../serde.ts';
import type { Windowed } from '../dsl/windowed.ts';
import type { StateStore, StoreBuilder, StoreContext } from './store.ts';
import { WindowedBytes, readLong, writeLong } from './windowed-bytes.ts';

export interface WindowStoreOptions<K, V> {
  readonly keyCodec?: Codec<K>;
  readonly valueCodec?: Codec<V>;
  /** Window length, for the end of the windowed keys this store returns. */
  readonly windowSizeMs: number;
  /** How long a window is kept after its start, in stream time. */
  readonly retentionMs: number;
  /** Keep every put instead of replacing the value of the same window (stream–stream joins). */
  readonly retainDuplicates?: boolean;
  readonly persistent?: boolean;
  readonly logging?: boolean;
}

export interface WindowStoreEntry<V> {
  readonly windowStart: number;
  readonly value: V;
  /** Timestamp of the record that last updated this window. */
  readonly timestamp: number;
}

export interface WindowedKeyValue<K, V> {
  readonly key: Windowed<K>;
  readonly value: V;
  readonly timestamp: number;
}

export interface ReadOnlyWindowStore<K, V> {
  /** The value of one window (the first one with duplicates). */
  get(key: K, windowStart: number): V | undefined;
  getWithTimestamp(key: K, windowStart: number): WindowStoreEntry<V> | undefined;
  /** Windows of `key` with timeFrom ≤ start ≤ timeTo, earliest first. */
  fetch(key: K, timeFrom: number, timeTo: number): WindowStoreEntry<V>[];
  /** Windows of every key with timeFrom ≤ start ≤ timeTo, by start then key bytes. */
  fetchAll(timeFrom: number, timeTo: number): WindowedKeyValue<K, V>[];
  all(): WindowedKeyValue<K, V>[];
}

export interface WindowStore<K, V> extends StateStore, ReadOnlyWindowStore<K, V> {
  readonly windowSizeMs: number;
  readonly retentionMs: number;
  /**
   * Sets the value of a window (null removes it); with duplicates kept, adds one more entry.
   * A window already past retention is ignored, as in Kafka Streams.
   */
  put(key: K, value: V | null, windowStart: number, timestamp?: number): void;
  /** Live windows, entries in the store (expired ones may linger until the next put). */
  approximateNumEntries(): number;
}

export function windowStore<K, V>(name: string, options: WindowStoreOptions<K, V>): StoreBuilder<WindowStore<K, V>> {
  const persistent = options.persistent ?? false;
  return {
    name, kind: 'window', logging: options.logging ?? true, persistent,
    build: () => new TypedWindowStore<K, V>(name, persistent, options),
  };
}

const SEQ_BYTES = 4;
const ZERO_SEQ = Buffer.alloc(SEQ_BYTES);

export class TypedWindowStore<K, V> implements WindowStore<K, V> {
  readonly windowSizeMs: number;
  readonly retentionMs: number;
  private readonly bytes: WindowedBytes;
  private readonly keyCodec: Codec<K>;
  private readonly valueCodec: Codec<V>;
  private readonly duplicates: boolean;
  private context: StoreContext | undefined;
  /** Highest window start put or restored: retention counts from it or from stream time. */
  private observed = Number.NEGATIVE_INFINITY;
  private seq = 0;

  constructor(readonly name: string, readonly persistent: boolean, options: WindowStoreOptions<K, V>) {
    this.windowSizeMs = options.windowSizeMs;
    this.retentionMs = options.retentionMs;
    this.keyCodec = options.keyCodec ?? Serdes.json<K>();
    this.valueCodec = options.valueCodec ?? Serdes.json<V>();
    this.duplicates = options.retainDuplicates ?? false;
    this.bytes = new WindowedBytes(name, persistent, SEQ_BYTES);
  }

  init(context: StoreContext): void {
    this.context = context;
    this.bytes.init(context);
  }

  put(key: K, value: V | null, windowStart: number, timestamp = windowStart): void {
    if (windowStart > this.observed) this.observed = windowStart;
    this.expire();
    if (windowStart < this.liveFrom()) return;
    const k = this.keyCodec.encode(key);
    let suffix = ZERO_SEQ;
    if (this.duplicates) {
      if (value === null) return;
      this.seq = (this.seq + 1) % 0x80000000;
      suffix = Buffer.alloc(SEQ_BYTES);
      suffix.writeUInt32BE(this.seq);
    }
    const v = value === null ? null : encodeValue(this.valueCodec.encode(value), timestamp);
    this.bytes.put(k, windowStart, suffix, v);
    this.context?.log(changelogKey(k, windowStart, suffix), v);
  }

  get(key: K, windowStart: number): V | undefined {
    return this.getWithTimestamp(key, windowStart)?.value;
  }

  getWithTimestamp(key: K, windowStart: number): WindowStoreEntry<V> | undefined {
    if (windowStart < this.liveFrom()) return undefined;
    const k = this.keyCodec.encode(key);
    const v = this.duplicates ? first(this.bytes.fetch(k, windowStart, windowStart))?.value : this.bytes.get(k, windowStart, ZERO_SEQ);
    return v === undefined ? undefined : this.entry(windowStart, v);
  }

  fetch(key: K, timeFrom: number, timeTo: number): WindowStoreEntry<V>[] {
    const out: WindowStoreEntry<V>[] = [];
    for (const e of this.bytes.fetch(this.keyCodec.encode(key), Math.max(timeFrom, this.liveFrom()), timeTo)) out.push(this.entry(e.time, e.value));
    return out;
  }

  fetchAll(timeFrom: number, timeTo: number): WindowedKeyValue<K, V>[] {
    const out: WindowedKeyValue<K, V>[] = [];
    for (const e of this.bytes.fetchAll(Math.max(timeFrom, this.liveFrom()), timeTo)) {
      const { value, timestamp } = this.entry(e.time, e.value);
      out.push({ key: { key: this.keyCodec.decode(e.key), window: { start: e.time, end: e.time + this.windowSizeMs } }, value, timestamp });
    }
    return out;
  }

  all(): WindowedKeyValue<K, V>[] {
    return this.fetchAll(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  }

  approximateNumEntries(): number {
    return this.bytes.size();
  }

  restore(key: Buffer, value: Buffer | null): void {
    const { k, windowStart, suffix } = parseChangelogKey(key);
    if (windowStart > this.observed) this.observed = windowStart;
    if (this.duplicates) this.seq = Math.max(this.seq, suffix.readUInt32BE(0));
    this.bytes.put(k, windowStart, suffix, value);
  }

  clear(): void {
    this.bytes.clear();
    this.observed = Number.NEGATIVE_INFINITY;
  }

  *changelogEntries(): Iterable<[Buffer, Buffer]> {
    for (const e of this.bytes.fetchAll(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) yield [changelogKey(e.key, e.time, e.suffix), e.value];
  }

  close(): void {
    this.bytes.close();
  }

  /** Stream time as far as this store knows: the task's, or the latest window put. */
  private streamTime(): number {
    return Math.max(this.observed, this.context?.streamTime() ?? -1);
  }

  /** The earliest window start still retained. */
  private liveFrom(): number {
    return this.streamTime() - this.retentionMs + 1;
  }

  private expire(): void {
    this.bytes.purge(this.liveFrom(), (e) => this.context?.log(changelogKey(e.key, e.time, e.suffix), null));
  }

  private entry(windowStart: number, v: Buffer): WindowStoreEntry<V> {
    return { windowStart, timestamp: readLong(v, 0), value: this.valueCodec.decode(v.subarray(8)) };
  }
}

function encodeValue(value: Buffer, timestamp: number): Buffer {
  const b = Buffer.alloc(8 + value.length);
  writeLong(b, timestamp, 0);
  value.copy(b, 8);
  return b;
}

function changelogKey(key: Buffer, windowStart: number, suffix: Buffer): Buffer {
  const b = Buffer.alloc(key.length + 8 + SEQ_BYTES);
  key.copy(b, 0);
  writeLong(b, windowStart, key.length);
  suffix.copy(b, key.length + 8);
  return b;
}

function parseChangelogKey(b: Buffer): { k: Buffer; windowStart: number; suffix: Buffer } {
  if (b.length < 8 + SEQ_BYTES) throw new Error(`a window-store changelog key needs at least 12 bytes, got ${b.length}`);
  const at = b.length - 8 - SEQ_BYTES;
  return { k: Buffer.from(b.subarray(0, at)), windowStart: readLong(b, at), suffix: Buffer.from(b.subarray(at + 8)) };
}

function first<T>(items: Iterable<T>): T | undefined {
  for (const i of items) return i;
  return undefined;
}
