/**
 * Windowed keys and their serdes. The bytes are Kafka Streams' so that Java consumers read our
 * windowed topics: a time window is `[key][start: int64 BE]` (the end follows from the window
 * size, which is not written), a session is `[key][end: int64 BE][start: int64 BE]`.
 */
import { Serdes, isCodec, type Codec, type Serde } from '../serde.ts';
import type { Window } from './windows.ts';

export interface Windowed<K> {
  readonly key: K;
  readonly window: Window;
}

export function windowed<K>(key: K, start: number, end: number): Windowed<K> {
  return { key, window: { start, end } };
}

/** A serde that is also a store codec when its key serde is one. */
export type WindowedSerde<K> = Serde<Windowed<K>> & Partial<Codec<Windowed<K>>>;

export const WindowedSerdes = {
  /** Time and sliding windows; `windowSizeMs` rebuilds the end on reading. */
  timeWindowed<K>(inner: Serde<K> | undefined, windowSizeMs: number): WindowedSerde<K> {
    return build(inner ?? Serdes.json<K>(), 8,
      (w) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(w.window.start)); return b; },
      (tail) => { const start = Number(tail.readBigInt64BE(0)); return { start, end: start + windowSizeMs }; });
  },
  sessionWindowed<K>(inner: Serde<K> | undefined): WindowedSerde<K> {
    return build(inner ?? Serdes.json<K>(), 16,
      (w) => { const b = Buffer.alloc(16); b.writeBigInt64BE(BigInt(w.window.end)); b.writeBigInt64BE(BigInt(w.window.start), 8); return b; },
      (tail) => ({ end: Number(tail.readBigInt64BE(0)), start: Number(tail.readBigInt64BE(8)) }));
  },
} as const;

function build<K>(inner: Serde<K>, tailLength: number, tail: (w: Windowed<K>) => Buffer, window: (tail: Buffer) => Window): WindowedSerde<K> {
  const split = (data: Buffer): [Buffer, Window] => {
    if (data.length < tailLength) throw new Error(`a windowed key needs at least ${tailLength} bytes, got ${data.length}`);
    return [data.subarray(0, data.length - tailLength), window(data.subarray(data.length - tailLength))];
  };
  const serde: WindowedSerde<K> = {
    async serialize(topic, w) {
      return Buffer.concat([await inner.serialize(topic, w.key), tail(w)]);
    },
    async deserialize(topic, data) {
      const [k, win] = split(data);
      return { key: await inner.deserialize(topic, k), window: win };
    },
  };
  if (isCodec(inner)) {
    const codec = inner;
    serde.encode = (w) => Buffer.concat([codec.encode(w.key), tail(w)]);
    serde.decode = (data) => { const [k, win] = split(data); return { key: codec.decode(k), window: win }; };
    serde.serialize = (_topic, w) => serde.encode!(w);
    serde.deserialize = (_topic, data) => serde.decode!(data);
  }
  return serde;
}
