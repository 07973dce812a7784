/**
 * Effectively-once where the broker has no transactions (RabbitMQ). Each commit is a numbered
 * unit: outputs and changelog entries first (publisher-confirmed), then one checkpoint record per
 * task with its source positions and dedup marks. On restore only changelog entries of units
 * whose checkpoint landed are applied; input below the checkpoint is skipped. Every output
 * carries its origin (task, source partition, offset, sequence) so a reader — the engine's own
 * downstream tasks do it — drops a re-sent copy after a crash.
 */
import type { ConsumedRecord, Headers, ProducerRecord } from '../../../transports/index.ts';

export const ORIGIN_HEADER = 'orderstream.origin';
export const UNIT_HEADER = 'orderstream.unit';

export interface Origin {
  readonly writer: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly seq: number;
}

export function encodeOrigin(o: Origin): string {
  return `${o.writer}|${o.topic}|${o.partition}|${o.offset}|${o.seq}`;
}

export function decodeOrigin(headers: Headers): Origin | undefined {
  const raw = headers[ORIGIN_HEADER]?.toString();
  if (!raw) return undefined;
  const parts = raw.split('|');
  if (parts.length < 5) return undefined;
  const seq = Number(parts.pop());
  const offset = Number(parts.pop());
  const partition = Number(parts.pop());
  const writer = parts.shift()!;
  return { writer, topic: parts.join('|'), partition, offset, seq };
}

/** A task's progress as written in its checkpoint. */
export interface Checkpoint {
  readonly task: string;
  readonly unit: string;
  /** Next offset to read per input topic. */
  readonly offsets: Record<string, number>;
  /** Highest [offset, seq] seen per upstream writer and source partition. */
  readonly seen: Record<string, [number, number]>;
}

/** Drops records already seen: by offset below the checkpoint, or by origin at or below the mark. */
export class Deduplicator {
  private readonly seen = new Map<string, [number, number]>();
  duplicates = 0;

  constructor(checkpoint?: Checkpoint) {
    for (const [k, v] of Object.entries(checkpoint?.seen ?? {})) this.seen.set(k, v);
  }

  /** True if the record is new (and remembers it). */
  admit(r: ConsumedRecord): boolean {
    const o = decodeOrigin(r.headers);
    if (!o) return true;
    // Copies of one writer's output repeat within one destination partition, in order.
    const k = `${r.topic}|${r.partition}|${o.writer}|${o.topic}|${o.partition}`;
    const last = this.seen.get(k);
    if (last && (o.offset < last[0] || (o.offset === last[0] && o.seq <= last[1]))) {
      this.duplicates++;
      return false;
    }
    this.seen.set(k, [o.offset, o.seq]);
    return true;
  }

  snapshot(): Record<string, [number, number]> {
    return Object.fromEntries(this.seen);
  }
}

/** A task's checkpoint as a record of the checkpoint topic (keyed by task, one partition). */
export function checkpointRecord(topic: string, task: string, unit: string, consumed: ReadonlyMap<string, number>, dedup: Deduplicator): ProducerRecord {
  const cp: Checkpoint = { task, unit, offsets: Object.fromEntries(consumed), seen: dedup.snapshot() };
  return { topic, partition: 0, key: Buffer.from(task), value: Buffer.from(JSON.stringify(cp)) };
}
