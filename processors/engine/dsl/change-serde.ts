/**
 * Table changes cross repartition topics as one record holding both the new and the old value:
 * [flags: 1 byte][new length: 4 bytes][new][old], each side through the value serde.
 */
import type { Change } from '../record.ts';
import { Serdes, type Serde } from '../serde.ts';

const HAS_NEW = 1;
const HAS_OLD = 2;

export function changeSerde<V>(inner: Serde<V> | undefined): Serde<Change<V>> {
  const serde = inner ?? Serdes.json<V>();
  return {
    async serialize(topic, change) {
      const n = change.newValue === null ? undefined : await serde.serialize(topic, change.newValue);
      const o = change.oldValue === null ? undefined : await serde.serialize(topic, change.oldValue);
      const head = Buffer.alloc(5);
      head.writeUInt8((n ? HAS_NEW : 0) | (o ? HAS_OLD : 0), 0);
      head.writeUInt32BE(n?.length ?? 0, 1);
      return Buffer.concat([head, n ?? Buffer.alloc(0), o ?? Buffer.alloc(0)]);
    },
    async deserialize(topic, data) {
      if (data.length < 5) throw new Error(`a table change needs at least 5 bytes, got ${data.length}`);
      const flags = data.readUInt8(0);
      const len = data.readUInt32BE(1);
      if (5 + len > data.length) throw new Error(`table change truncated: new value of ${len} bytes, ${data.length - 5} present`);
      const newValue = flags & HAS_NEW ? await serde.deserialize(topic, data.subarray(5, 5 + len)) : null;
      const oldValue = flags & HAS_OLD ? await serde.deserialize(topic, data.subarray(5 + len)) : null;
      return { newValue, oldValue };
    },
  };
}
