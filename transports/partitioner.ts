/**
 * Kafka's default partitioner for keyed records: murmur2(key) & 0x7fffffff mod partitions,
 * bit for bit as org.apache.kafka.common.utils.Utils.murmur2. Every transport uses it, so a key
 * lands in the same partition number on Kafka, RabbitMQ and memory, and co-partitioning means
 * the same thing everywhere.
 */

export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = (data[i4]! & 0xff) + ((data[i4 + 1]! & 0xff) << 8) + ((data[i4 + 2]! & 0xff) << 16) + ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length % 4) {
    case 3:
      h ^= (data[tail + 2]! & 0xff) << 16;
    // falls through
    case 2:
      h ^= (data[tail + 1]! & 0xff) << 8;
    // falls through
    case 1:
      h ^= data[tail]! & 0xff;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a keyed record among `partitions`. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * Chooses partitions for records: by key when there is one; records without a key go round
 * robin (Kafka's sticky partitioner is a batching optimisation, not a contract).
 */
export class Partitioner {
  private next = 0;

  partition(key: Uint8Array | null, partitions: number): number {
    if (key !== null) return partitionForKey(key, partitions);
    const p = this.next % partitions;
    this.next = (this.next + 1) % 0x7fffffff;
    return p;
  }
}
