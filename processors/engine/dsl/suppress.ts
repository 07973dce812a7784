/**
 * Suppression of table updates, as Kafka Streams' `KTable.suppress`: updates wait in a buffer
 * keyed by the table key, later ones replacing earlier ones, and leave it when their time comes.
 *
 * - `untilWindowCloses`: the final result of each window, once stream time reaches the window's
 *   close (end + grace, from the windowed aggregation upstream); nothing is emitted before.
 * - `untilTimeLimit`: the latest value of a key once `timeToWaitMs` of stream time has passed
 *   since the key's first buffered update (rate limiting).
 *
 * The buffer is a logged key-value store (`[time][key]` → record), so a restored task holds the
 * same pending results and emits each one once. Eviction happens when a record reaches the
 * suppress node, as in Kafka Streams (a silent input emits nothing).
 */
import { StreamsError, TopologyError } from '../errors.ts';
import type { Processor, ProcessorContext } from '../processor.ts';
import type { Change, Headers } from '../record.ts';
import { Serdes, type Codec } from '../serde.ts';
import { keyValueStore } from '../stores/key-value.ts';
import type { KeyValueStore } from '../stores/store.ts';
import { readTime, timeBytes } from '../stores/windowed-bytes.ts';
import { codecOf } from './builder.ts';
import { KTable } from './ktable.ts';
import type { Named } from './options.ts';
import { windowCloseDelay } from './window-metadata.ts';
import type { Windowed } from './windowed.ts';

/** What to do when a bounded buffer is full. */
export type BufferFullStrategy = 'emit-early' | 'shut-down';

export class BufferConfig {
  private constructor(readonly maxRecords: number, readonly maxBytes: number, readonly whenFull: BufferFullStrategy) {}

  static unbounded(): BufferConfig {
    return new BufferConfig(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 'shut-down');
  }

  static maxRecords(n: number): BufferConfig {
    return new BufferConfig(n, Number.POSITIVE_INFINITY, 'emit-early');
  }

  static maxBytes(n: number): BufferConfig {
    return new BufferConfig(Number.POSITIVE_INFINITY, n, 'emit-early');
  }

  withMaxRecords(n: number): BufferConfig {
    return new BufferConfig(n, this.maxBytes, this.whenFull);
  }

  withMaxBytes(n: number): BufferConfig {
    return new BufferConfig(this.maxRecords, n, this.whenFull);
  }

  /** When full, emit the oldest updates before their time (not allowed for final results). */
  emitEarlyWhenFull(): BufferConfig {
    return new BufferConfig(this.maxRecords, this.maxBytes, 'emit-early');
  }

  /** When full, stop the application with a StreamsError. */
  shutDownWhenFull(): BufferConfig {
    return new BufferConfig(this.maxRecords, this.maxBytes, 'shut-down');
  }
}

export type Suppressed =
  | { readonly kind: 'until-window-closes'; readonly buffer: BufferConfig; readonly name?: string }
  | { readonly kind: 'until-time-limit'; readonly timeToWaitMs: number; readonly buffer: BufferConfig; readonly name?: string };

export const Suppressed = {
  /** Final results of a windowed table; the buffer must not emit early (it would not be final). */
  untilWindowCloses(buffer: BufferConfig, name?: string): Suppressed {
    if (buffer.whenFull === 'emit-early') throw new TopologyError('untilWindowCloses needs a buffer that shuts down when full: an early emit would not be final');
    return { kind: 'until-window-closes', buffer, name };
  },
  untilTimeLimit(timeToWaitMs: number, buffer: BufferConfig, name?: string): Suppressed {
    if (!(timeToWaitMs >= 0)) throw new TopologyError(`time to wait must not be negative, not ${timeToWaitMs}`);
    return { kind: 'until-time-limit', timeToWaitMs, buffer, name };
  },
} as const;

export function suppressTable<K, V>(table: KTable<K, V>, suppressed: Suppressed, named: Named = {}): KTable<K, V> {
  const b = table.builder;
  const t = b.topology;
  const name = named.name ?? suppressed.name ?? b.name('KTABLE-SUPPRESS');
  const storeName = `${name}-STATE-STORE`;
  const finalResults = suppressed.kind === 'until-window-closes';
  const delay = finalResults ? windowCloseDelay(t, table.node) : suppressed.timeToWaitMs;
  const keyCodec = codecOf(table.keySerde);
  const valueCodec = codecOf(table.valueSerde);
  const bufferTime = (key: K, timestamp: number): number => {
    if (!finalResults) return timestamp;
    const w = (key as Partial<Windowed<unknown>>).window;
    if (typeof w?.end !== 'number') throw new TopologyError(`${name}: untilWindowCloses got a key without a window`);
    return w.end;
  };
  t.addProcessor<K, Change<V>, K, Change<V>>(name, (): Processor<K, Change<V>, K, Change<V>> => {
    let ctx: ProcessorContext<K, Change<V>>;
    let store: KeyValueStore<Buffer, Buffer>;
    // Built at the first record, from whatever a restore put in the store.
    let buffer: SuppressionBuffer<K, V> | undefined;
    const emit = (e: Buffered<K, V>) => {
      // A deleted window that was never emitted needs no tombstone downstream.
      if (finalResults && e.change.newValue === null) return;
      ctx.forward({ key: e.key, value: e.change, timestamp: e.timestamp, headers: e.headers });
    };
    return {
      init(c) {
        ctx = c;
        store = c.getStateStore(storeName);
      },
      process(r) {
        if (r.key === null || r.key === undefined) return;
        buffer ??= new SuppressionBuffer<K, V>(store, keyCodec, valueCodec);
        buffer.put(bufferTime(r.key, r.timestamp), r.key, r.value, r.timestamp, r.headers);
        buffer.evictWhile((time) => time <= ctx.currentStreamTime() - delay, emit);
        const { maxRecords, maxBytes, whenFull } = suppressed.buffer;
        if (buffer.records() > maxRecords || buffer.bytes() > maxBytes) {
          if (whenFull === 'shut-down') {
            throw new StreamsError(`${name}: suppression buffer full (${buffer.records()}/${maxRecords} records, ${buffer.bytes()}/${maxBytes} bytes)`, { node: name });
          }
          buffer.evictWhile(() => buffer!.records() > maxRecords || buffer!.bytes() > maxBytes, emit);
        }
      },
    };
  }, table.node);
  t.addStateStore(keyValueStore<Buffer, Buffer>(storeName, { keyCodec: Serdes.buffer(), valueCodec: Serdes.buffer() }), name);
  // Queries see the upstream table (its latest values), as Kafka Streams' suppressed view does.
  return new KTable<K, V>(b, name, table.storeName, table.keySerde, table.valueSerde);
}

interface Buffered<K, V> {
  readonly key: K;
  readonly change: Change<V>;
  readonly timestamp: number;
  readonly headers: Headers;
}

/**
 * The time-ordered buffer over its store. A key keeps the time of its first buffered update and
 * the value it had before it (what downstream last saw); later updates replace the new value.
 * Value bytes: [timestamp: 8][flags: 1][new length: 4][new][old length: 4][old][headers JSON].
 */
class SuppressionBuffer<K, V> {
  /** Encoded key (latin1) → store key and entry size, for updates and capacity. */
  private readonly index = new Map<string, { storeKey: Buffer; size: number }>();
  private totalBytes = 0;
  private minTime = Number.POSITIVE_INFINITY;

  constructor(private readonly store: KeyValueStore<Buffer, Buffer>, private readonly keyCodec: Codec<K>, private readonly valueCodec: Codec<V>) {
    // After a restore the store holds the pending updates; the index is rebuilt from it.
    for (const { key, value } of store.all()) {
      this.index.set(key.subarray(8).toString('latin1'), { storeKey: key, size: key.length + value.length });
      this.totalBytes += key.length + value.length;
      this.minTime = Math.min(this.minTime, readTime(key));
    }
  }

  records(): number {
    return this.index.size;
  }

  bytes(): number {
    return this.totalBytes;
  }

  put(time: number, key: K, change: Change<V>, timestamp: number, headers: Headers): void {
    const k = this.keyCodec.encode(key);
    const id = k.toString('latin1');
    const existing = this.index.get(id);
    let storeKey: Buffer;
    let value: Change<V> = change;
    if (existing) {
      storeKey = existing.storeKey;
      const prior = this.decode(this.store.get(storeKey)!);
      value = { newValue: change.newValue, oldValue: prior.change.oldValue };
      this.totalBytes -= existing.size;
    } else {
      storeKey = Buffer.concat([timeBytes(time), k]);
      this.minTime = Math.min(this.minTime, time);
    }
    const encoded = this.encode(value, timestamp, headers);
    this.store.put(storeKey, encoded);
    this.index.set(id, { storeKey, size: storeKey.length + encoded.length });
    this.totalBytes += storeKey.length + encoded.length;
  }

  /** Removes and hands over the oldest entries while `condition(time)` holds. */
  evictWhile(condition: (time: number) => boolean, emit: (e: Buffered<K, V>) => void): void {
    if (this.index.size === 0 || !condition(this.minTime)) return;
    for (const { key, value } of this.store.all()) {
      const time = readTime(key);
      if (!condition(time)) { this.minTime = time; return; }
      const id = key.subarray(8).toString('latin1');
      this.totalBytes -= this.index.get(id)?.size ?? 0;
      this.index.delete(id);
      this.store.delete(key);
      const { change, timestamp, headers } = this.decode(value);
      emit({ key: this.keyCodec.decode(key.subarray(8)), change, timestamp, headers });
    }
    this.minTime = Number.POSITIVE_INFINITY;
  }

  private encode(change: Change<V>, timestamp: number, headers: Headers): Buffer {
    const n = change.newValue === null ? undefined : this.valueCodec.encode(change.newValue);
    const o = change.oldValue === null ? undefined : this.valueCodec.encode(change.oldValue);
    const head = Buffer.alloc(13);
    head.writeBigInt64BE(BigInt(timestamp), 0);
    head.writeUInt8((n ? 1 : 0) | (o ? 2 : 0), 8);
    head.writeUInt32BE(n?.length ?? 0, 9);
    const oldLength = Buffer.alloc(4);
    oldLength.writeUInt32BE(o?.length ?? 0);
    const h = Object.keys(headers).length === 0 ? Buffer.alloc(0)
      : Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.toString('base64')]))));
    return Buffer.concat([head, n ?? Buffer.alloc(0), oldLength, o ?? Buffer.alloc(0), h]);
  }

  private decode(b: Buffer): { change: Change<V>; timestamp: number; headers: Headers } {
    const timestamp = Number(b.readBigInt64BE(0));
    const flags = b.readUInt8(8);
    const newLength = b.readUInt32BE(9);
    const oldAt = 13 + newLength + 4;
    const oldLength = b.readUInt32BE(13 + newLength);
    const newValue = flags & 1 ? this.valueCodec.decode(b.subarray(13, 13 + newLength)) : null;
    const oldValue = flags & 2 ? this.valueCodec.decode(b.subarray(oldAt, oldAt + oldLength)) : null;
    const rest = b.subarray(oldAt + oldLength);
    const headers: Headers = rest.length === 0 ? {}
      : Object.fromEntries(Object.entries(JSON.parse(rest.toString('utf8')) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    return { change: { newValue, oldValue }, timestamp, headers };
  }
}
