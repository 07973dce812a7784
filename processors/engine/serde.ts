/**
 * Serdes turn typed keys and values into bytes. Topic serdes may be asynchronous (a schema
 * registry lookup); store codecs are synchronous because stores are read inside processing,
 * which is synchronous as in Kafka Streams.
 */

/** Converts values of one topic. `null` (a tombstone) never reaches a serde. */
export interface Serde<T> {
  serialize(topic: string, value: T): Buffer | Promise<Buffer>;
  deserialize(topic: string, data: Buffer): T | Promise<T>;
}

/** A synchronous encoding, for state stores and their changelogs. */
export interface Codec<T> {
  encode(value: T): Buffer;
  decode(data: Buffer): T;
}

/** A serde that is also a codec: usable for topics and stores alike. */
export type SyncSerde<T> = Serde<T> & Codec<T>;

function syncSerde<T>(encode: (v: T) => Buffer, decode: (b: Buffer) => T): SyncSerde<T> {
  return {
    encode, decode,
    serialize: (_topic, value) => encode(value),
    deserialize: (_topic, data) => decode(data),
  };
}

export const Serdes = {
  string: (): SyncSerde<string> => syncSerde((v) => Buffer.from(v, 'utf8'), (b) => b.toString('utf8')),
  /** JSON text; the default for values whose serde is not given. */
  json: <T>(): SyncSerde<T> => syncSerde((v: T) => Buffer.from(JSON.stringify(v), 'utf8'), (b) => JSON.parse(b.toString('utf8')) as T),
  /** A 64-bit signed integer, big-endian, as Kafka's LongSerde (so counts read alike from Java). */
  long: (): SyncSerde<number> => syncSerde(
    (v) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return b; },
    (b) => Number(b.readBigInt64BE(0)),
  ),
  buffer: (): SyncSerde<Buffer> => syncSerde((v) => v, (b) => b),
} as const;

/** Whether a serde can also serve a store (has encode/decode). */
export function isCodec<T>(serde: Serde<T> | Codec<T>): serde is Codec<T> & Serde<T> {
  return typeof (serde as Partial<Codec<T>>).encode === 'function' && typeof (serde as Partial<Codec<T>>).decode === 'function';
}
