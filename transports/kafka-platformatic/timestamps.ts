/**
 * @platformatic/kafka 1.35 encodes a record's timestamp delta (from its batch's first record)
 * with a varint64 that is wrong beyond 32 bits: records of one batch whose timestamps lie more
 * than ~24 days apart (a replayed or back-dated event time beside "now") arrive with a wrong
 * timestamp. So a request is cut where a partition's timestamps would stray that far from its
 * batch's first; each cut goes in a request of its own, in order.
 */
import type { Placed } from '../kafka/requests.ts';

/** Deltas within ±2^31 ms survive the client's encoding. */
export const MAX_TIMESTAMP_DELTA_MS = 2 ** 31 - 1;

export function splitByTimestamp(request: readonly Placed[], now: number): Placed[][] {
  const partitions = new Map<string, Placed[][]>();
  let cut = false;
  for (const p of request) {
    const k = `${p.topic}\u0000${p.partition}`;
    let segments = partitions.get(k);
    if (!segments) partitions.set(k, (segments = [[]]));
    let last = segments[segments.length - 1]!;
    const ts = p.record.timestamp ?? now;
    if (last.length > 0 && Math.abs(ts - (last[0]!.record.timestamp ?? now)) > MAX_TIMESTAMP_DELTA_MS) {
      segments.push((last = []));
      cut = true;
    }
    last.push(p);
  }
  if (!cut) return [request as Placed[]];
  const out: Placed[][] = [];
  for (let i = 0; ; i++) {
    const next = [...partitions.values()].flatMap((segments) => segments[i] ?? []);
    if (next.length === 0) return out;
    out.push(next);
  }
}
