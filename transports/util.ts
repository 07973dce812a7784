/** Small pieces shared by the transport implementations. */
import { InvalidPartitionError } from './errors.ts';
import type { Headers, HeadersInit, ProducerRecord, TopicPartition, TopicSpec, TransportName } from './types.ts';

export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export function fromTpKey(key: string): TopicPartition {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

export function toHeaders(init: HeadersInit | undefined): Headers {
  const out: Headers = {};
  if (!init) return out;
  for (const [k, v] of Object.entries(init)) out[k] = typeof v === 'string' ? Buffer.from(v) : v;
  return out;
}

/** The bytes a record carries: key, value, and each header's name and value. */
export function plainRecordSize(r: ProducerRecord): number {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  if (r.headers) {
    for (const name in r.headers) {
      const v = r.headers[name]!;
      n += Buffer.byteLength(name) + (typeof v === 'string' ? Buffer.byteLength(v) : v.length);
    }
  }
  return n;
}

export function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/**
 * Partition p of every topic goes to member p mod n (members sorted): co-partitioned topics —
 * same key, same partition — land on one member, so a stream task can own partition p of each
 * of its inputs. Every member gets within one partition of every other per topic, and the
 * result depends only on the sets, so every member computes the same plan.
 */
export function assignCopartitioned(memberIds: readonly string[], partitions: readonly TopicPartition[]): Map<string, TopicPartition[]> {
  const members = [...memberIds].sort();
  const out = new Map<string, TopicPartition[]>(members.map((m) => [m, []]));
  if (members.length === 0) return out;
  for (const tp of [...partitions].sort(comparePartitions)) out.get(members[tp.partition % members.length]!)!.push(tp);
  return out;
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  readonly settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = (v) => { settled = true; res(v); };
    reject = (e) => { settled = true; rej(e); };
  });
  // A rejection nobody awaits yet (stopped() called later) must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject, get settled() { return settled; } };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the promise's value, or rejects with `onTimeout()` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The check every admin makes before creating a topic. */
export function checkTopicSpec(spec: TopicSpec, transport: TransportName): void {
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
    throw new InvalidPartitionError(`a topic needs at least one partition, not ${spec.partitions}`, { transport, topic: spec.name });
  }
}
