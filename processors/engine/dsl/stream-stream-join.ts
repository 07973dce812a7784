/**
 * Windowed stream–stream joins (inner, left, outer), Kafka Streams' KStreamKStreamJoin since 3.1.
 * Each side keeps its records in a window store (duplicates kept, retention before + after +
 * grace); a record joins every record of the other side within the window, at the later of the
 * two timestamps. A left/outer record that found no partner is not null-joined at once: it waits
 * in a shared "outer" store and is emitted only when its window has closed (stream time past
 * ts + window + grace) without a partner — no spurious early null results. A record whose window
 * had already closed when it arrived is null-joined at once, as in Kafka Streams.
 *
 * Both inputs are co-partitioned (a key-changed side is repartitioned first); both processors
 * share the stores, so they run in one task and see one stream time.
 */
import { TopologyError } from '../errors.ts';
import type { Processor, ProcessorContext } from '../processor.ts';
import { Serdes, type Codec, type Serde } from '../serde.ts';
import { keyValueStore } from '../stores/key-value.ts';
import type { KeyValueStore } from '../stores/store.ts';
import { windowStore, type WindowStore } from '../stores/window.ts';
import { readTime, timeBytes } from '../stores/windowed-bytes.ts';
import { codecOf } from './builder.ts';
import { KStream } from './kstream.ts';
import type { JoinKind } from './ktable.ts';
import { statelessProcessor } from './processors.ts';
import { sourceTopicsOf } from './stream-table-join.ts';
import type { JoinWindows } from './windows.ts';

/** Options of a stream–stream join, as Kafka Streams' StreamJoined. */
export interface StreamJoined<K, V, VO> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly otherValueSerde?: Serde<VO>;
  /** Prefix of the processor names; generated when absent. */
  readonly name?: string;
  /** Prefix of the store names (`<storeName>-this-join-store`, …); default the processor prefix. */
  readonly storeName?: string;
  readonly persistent?: boolean;
  readonly logging?: boolean;
}

export type StreamJoiner<K, V, VO, VR> = (value: V | null, otherValue: VO | null, key: K) => VR;

type Side = 'left' | 'right';

export function streamStreamJoin<K, V, VO, VR>(
  leftStream: KStream<K, V>, rightStream: KStream<K, VO>, joiner: StreamJoiner<K, V, VO, VR>,
  windows: JoinWindows, kind: JoinKind, joined: StreamJoined<K, V, VO> = {},
): KStream<K, VR> {
  const b = leftStream.builder;
  if (rightStream.builder !== b) throw new TopologyError('cannot join a stream of another StreamsBuilder');
  const t = b.topology;
  const left = leftStream.copartitioned();
  const right = rightStream.copartitioned();
  const prefix = joined.name ?? b.name(kind === 'inner' ? 'KSTREAM-JOIN' : kind === 'left' ? 'KSTREAM-LEFTJOIN' : 'KSTREAM-OUTERJOIN');
  const stores = joined.storeName ?? prefix;
  const keyCodec = codecOf(joined.keySerde ?? leftStream.keySerde);
  const leftCodec = codecOf(joined.valueSerde ?? leftStream.valueSerde);
  const rightCodec = codecOf(joined.otherValueSerde ?? rightStream.valueSerde);
  const names = { left: `${stores}-this-join-store`, right: `${stores}-other-join-store`, outer: `${stores}-outer-shared-join-store` };
  const hasOuter = kind !== 'inner';
  const config = { windows, joiner, keyCodec, leftCodec, rightCodec, names, hasOuter };

  const leftNode = `${prefix}-this`;
  const rightNode = `${prefix}-other`;
  t.addProcessor<K, V, K, VR>(leftNode, joinSide<K, V, VO, VR>('left', kind !== 'inner', config), left.node);
  t.addProcessor<K, VO, K, VR>(rightNode, joinSide<K, V, VO, VR>('right', kind === 'outer', config), right.node);
  const windowOptions = { windowSizeMs: windows.sizeMs, retentionMs: windows.sizeMs + windows.graceMs, retainDuplicates: true, persistent: joined.persistent, logging: joined.logging };
  t.addStateStore(windowStore<K, V>(names.left, { ...windowOptions, keyCodec, valueCodec: leftCodec }), leftNode, rightNode);
  t.addStateStore(windowStore<K, VO>(names.right, { ...windowOptions, keyCodec, valueCodec: rightCodec }), leftNode, rightNode);
  if (hasOuter) {
    t.addStateStore(keyValueStore<Buffer, Buffer>(names.outer, {
      keyCodec: Serdes.buffer(), valueCodec: Serdes.buffer(), persistent: joined.persistent, logging: joined.logging,
    }), leftNode, rightNode);
  }
  t.copartition([...sourceTopicsOf(t, left.node), ...sourceTopicsOf(t, right.node)]);
  const merge = `${prefix}-merge`;
  t.addProcessor(merge, statelessProcessor<K, VR, K, VR>((r, fwd) => fwd(r)), leftNode, rightNode);
  return new KStream<K, VR>(b, merge, leftStream.keySerde, undefined, false);
}

interface JoinConfig<K, V, VO, VR> {
  readonly windows: JoinWindows;
  readonly joiner: StreamJoiner<K, V, VO, VR>;
  readonly keyCodec: Codec<K>;
  readonly leftCodec: Codec<V>;
  readonly rightCodec: Codec<VO>;
  readonly names: { readonly left: string; readonly right: string; readonly outer: string };
  readonly hasOuter: boolean;
}

/** One side's processor; `outer`: this side's records are emitted even without a partner. */
function joinSide<K, V, VO, VR>(side: Side, outer: boolean, c: JoinConfig<K, V, VO, VR>): () => Processor<K, unknown, K, VR> {
  const { windows, joiner } = c;
  // How far this side's records look back and ahead in the other side's store.
  const before = side === 'left' ? windows.beforeMs : windows.afterMs;
  const after = side === 'left' ? windows.afterMs : windows.beforeMs;
  const join = (key: K, mine: unknown, theirs: unknown): VR => (side === 'left'
    ? joiner(mine as V | null, theirs as VO | null, key)
    : joiner(theirs as V | null, mine as VO | null, key));
  return () => {
    let ctx: ProcessorContext<K, VR>;
    let own: WindowStore<K, unknown>;
    let other: WindowStore<K, unknown>;
    let outerStore: OuterJoinStore<K, V, VO> | undefined;
    return {
      init(x) {
        ctx = x;
        own = x.getStateStore(side === 'left' ? c.names.left : c.names.right);
        other = x.getStateStore(side === 'left' ? c.names.right : c.names.left);
        if (c.hasOuter) outerStore = new OuterJoinStore(x.getStateStore(c.names.outer), c.keyCodec, c.leftCodec, c.rightCodec);
      },
      process(r) {
        if (r.value === null || r.value === undefined) return;
        if (r.key === null || r.key === undefined) {
          // No partner can have a null key; an outer side still reports the record.
          if (outer) ctx.forward({ ...r, value: join(r.key, r.value, null) });
          return;
        }
        const streamTime = ctx.currentStreamTime();
        if (outerStore && r.timestamp === streamTime) {
          outerStore.emitClosed(streamTime, windows, (e) => ctx.forward({
            key: e.key, timestamp: e.timestamp, headers: r.headers,
            value: e.side === 'left' ? joiner(e.value as V, null, e.key) : joiner(null, e.value as VO, e.key),
          }));
        }
        const timeFrom = Math.max(0, r.timestamp - before);
        const timeTo = Math.max(0, r.timestamp + after);
        const partners = other.fetch(r.key, timeFrom, timeTo);
        for (const p of partners) {
          outerStore?.remove(side === 'left' ? 'right' : 'left', r.key, p.windowStart);
          ctx.forward({ ...r, value: join(r.key, r.value, p.value), timestamp: Math.max(r.timestamp, p.windowStart) });
        }
        if (outer && partners.length === 0) {
          if (!outerStore || timeTo < streamTime) ctx.forward({ ...r, value: join(r.key, r.value, null) });
          else outerStore.add(side, r.key, r.timestamp, r.value);
        }
        // Stored after joining, as Kafka Streams' join-window node does: a record never meets itself.
        own.put(r.key, r.value, r.timestamp);
      },
    };
  };
}

interface Unjoined<K> {
  readonly side: Side;
  readonly key: K;
  readonly timestamp: number;
  readonly value: unknown;
}

/**
 * Records still without a partner, ordered by time: key `[time][side: right 0, left 1][key]`,
 * value the list of that key's records at that time, `[length: u32][bytes]…`.
 */
class OuterJoinStore<K, V, VO> {
  /** No record in the store is older than this (unknown after a restore): scans before it are skipped. */
  private oldest = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: KeyValueStore<Buffer, Buffer>,
    private readonly keyCodec: Codec<K>,
    private readonly leftCodec: Codec<V>,
    private readonly rightCodec: Codec<VO>,
  ) {}

  add(side: Side, key: K, timestamp: number, value: unknown): void {
    const k = this.storeKey(side, key, timestamp);
    const bytes = side === 'left' ? this.leftCodec.encode(value as V) : this.rightCodec.encode(value as VO);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    this.store.put(k, Buffer.concat([this.store.get(k) ?? Buffer.alloc(0), length, bytes]));
    this.oldest = Math.min(this.oldest, timestamp);
  }

  /** The records of `side` with this key and time have found a partner. */
  remove(side: Side, key: K, timestamp: number): void {
    this.store.delete(this.storeKey(side, key, timestamp));
  }

  /** Emits and removes, in time order, every record whose join window has closed by `streamTime`. */
  emitClosed(streamTime: number, windows: JoinWindows, emit: (e: Unjoined<K>) => void): void {
    // A left record waits `after` past its time, a right one `before`; nothing newer can be due.
    const latestDue = streamTime - Math.min(windows.afterMs, windows.beforeMs) - windows.graceMs - 1;
    if (this.oldest > latestDue) return;
    let oldestLeft = latestDue + 1;
    const due = this.store.range(undefined, Buffer.concat([timeBytes(latestDue), Buffer.of(0xff)]));
    for (const { key, value } of due) {
      const timestamp = readTime(key);
      const side: Side = key[8] === 1 ? 'left' : 'right';
      const lookAhead = side === 'left' ? windows.afterMs : windows.beforeMs;
      if (timestamp + lookAhead + windows.graceMs >= streamTime) { oldestLeft = Math.min(oldestLeft, timestamp); continue; }
      const k = this.keyCodec.decode(key.subarray(9));
      for (let at = 0; at < value.length;) {
        const length = value.readUInt32BE(at);
        const bytes = value.subarray(at + 4, at + 4 + length);
        at += 4 + length;
        emit({ side, key: k, timestamp, value: side === 'left' ? this.leftCodec.decode(bytes) : this.rightCodec.decode(bytes) });
      }
      this.store.delete(key);
    }
    this.oldest = oldestLeft;
  }

  private storeKey(side: Side, key: K, timestamp: number): Buffer {
    return Buffer.concat([timeBytes(timestamp), Buffer.of(side === 'left' ? 1 : 0), this.keyCodec.encode(key)]);
  }
}
