/**
 * One partition of the in-memory broker: an ordered log whose offsets never change, bounded as a
 * broker bounds its logs. A compacted topic keeps the latest record per key (Kafka's log cleaner:
 * a cleaning pass once as many records were appended as the last pass kept, so each append costs
 * O(1) amortised; tombstones are kept `deleteRetentionMs` so that a reader that is behind still
 * sees the delete). Any other topic drops records older than `retentionMs` from its head.
 * Retention counts from the moment of appending, not the record's own timestamp, which may be
 * event time long past.
 */
import type { ConsumedRecord } from '../types.ts';

export interface LogPolicy {
  readonly compacted: boolean;
  /** Non-compacted topics: records appended longer ago than this go. Infinity keeps everything. */
  readonly retentionMs: number;
  /** Compacted topics: how long a tombstone (null value) outlives the values it deletes. */
  readonly deleteRetentionMs: number;
  /** Compacted topics: a cleaning pass needs at least this many records appended since the last. */
  readonly minCleanableRecords: number;
}

/** Retention is looked at no more often than this: a head scan per append would be wasted. */
const RETENTION_CHECK_MS = 1000;

export class PartitionLog {
  readonly #policy: LogPolicy;
  readonly #now: () => number;
  /** Records at and after `#head`, ascending offsets (gaps after compaction). */
  #records: ConsumedRecord[] = [];
  #appendedAt: number[] = [];
  #head = 0;
  #next = 0;
  /** Records appended since the last cleaning pass, and how many that pass kept. */
  #dirty = 0;
  #kept = 0;
  #retentionCheckedAt = 0;
  #bytes = 0;

  constructor(policy: LogPolicy, now: () => number = Date.now) {
    this.#policy = policy;
    this.#now = now;
  }

  /** The offset the next record gets (Kafka's log end offset). */
  get endOffset(): number {
    return this.#next;
  }

  /** The first offset still held (the end when the log holds nothing). */
  get startOffset(): number {
    return this.#head < this.#records.length ? this.#records[this.#head]!.offset : this.#next;
  }

  /** Records held now. */
  get size(): number {
    return this.#records.length - this.#head;
  }

  /** Key and value bytes of the records held now. */
  get bytes(): number {
    return this.#bytes;
  }

  append(record: Omit<ConsumedRecord, 'offset'>): number {
    const offset = this.#next++;
    const now = this.#now();
    this.#records.push({
      topic: record.topic, partition: record.partition, offset,
      key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp,
    });
    this.#appendedAt.push(now);
    this.#bytes += sizeOf(record);
    if (this.#policy.compacted) {
      if (++this.#dirty >= Math.max(this.#policy.minCleanableRecords, this.#kept)) this.clean(now);
    } else if (now - this.#retentionCheckedAt >= RETENTION_CHECK_MS) {
      this.#retentionCheckedAt = now;
      this.expire(now);
    }
    return offset;
  }

  /** Up to `max` records from the first offset at or after `from`. */
  read(from: number, max: number): ConsumedRecord[] {
    const start = this.#indexOf(from);
    return this.#records.slice(start, start + max);
  }

  /** Every record held, in order. */
  all(): ConsumedRecord[] {
    return this.#records.slice(this.#head);
  }

  /** Kafka's log cleaner, over the whole log: the latest record per key; null keys stay. */
  clean(now = this.#now()): void {
    const latest = new Set<string>();
    const records: ConsumedRecord[] = [];
    const appendedAt: number[] = [];
    let bytes = 0;
    for (let i = this.#records.length - 1; i >= this.#head; i--) {
      const r = this.#records[i]!;
      if (r.key !== null) {
        const k = r.key.toString('latin1');
        if (latest.has(k)) continue;
        latest.add(k);
        if (r.value === null && now - this.#appendedAt[i]! >= this.#policy.deleteRetentionMs) continue;
      }
      records.push(r);
      appendedAt.push(this.#appendedAt[i]!);
      bytes += sizeOf(r);
    }
    this.#bytes = bytes;
    this.#records = records.reverse();
    this.#appendedAt = appendedAt.reverse();
    this.#head = 0;
    this.#kept = records.length;
    this.#dirty = 0;
  }

  /** Drops the head records older than the retention. */
  expire(now = this.#now()): void {
    const cutoff = now - this.#policy.retentionMs;
    let head = this.#head;
    while (head < this.#records.length && this.#appendedAt[head]! <= cutoff) this.#bytes -= sizeOf(this.#records[head++]!);
    if (head === this.#head) return;
    this.#head = head;
    // Dropped entries are released in bulk once they are half of the arrays.
    if (head > 1024 && head * 2 > this.#records.length) {
      this.#records = this.#records.slice(head);
      this.#appendedAt = this.#appendedAt.slice(head);
      this.#head = 0;
    }
  }

  /** Index of the first held record with offset >= `offset` (binary search: offsets ascend). */
  #indexOf(offset: number): number {
    let lo = this.#head, hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#records[mid]!.offset < offset) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}

function sizeOf(r: Pick<ConsumedRecord, 'key' | 'value'>): number {
  return (r.key?.length ?? 0) + (r.value?.length ?? 0);
}
