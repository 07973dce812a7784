/**
 * Effectively-once where the broker has no transactions (RabbitMQ). Each commit is a numbered
 * unit: outputs and changelog entries first (publisher-confirmed), then one checkpoint record per
 * task with its source positions and dedup marks. On restore only changelog entries of units
 * whose checkpoint landed are applied; input below the checkpoint is skipped. Every output
 * carries its origin (task, source partition, offset, sequence) so a reader — the engine's own
 * downstream tasks do it — drops a re-sent copy after a crash.
 *
 * A unit is named `<epoch>:<seq>`: an epoch is one run of commits of one process with no failure
 * between (the process's incarnation, and a count bumped by every failed commit), `seq` counts
 * its commits. Within an epoch every commit before the latest landed, so a task's checkpoint can
 * state all its landed units as the highest seq per epoch, and a restore needs the latest
 * checkpoint only: the checkpoint partition of a task (one per task, written by its owner) may
 * then be bounded by retention. Epochs older than a task's latest snapshots (every changelog
 * entry they wrote lies below them) are dropped from its checkpoint, so it stays small.
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
  /** Effectively-once: the highest landed seq per commit epoch whose changelog entries a restore may still read. */
  readonly units?: Record<string, number>;
}

/** `<epoch>:<seq>` split; a unit without a seq (the transactional protocol's '') has none. */
function parseUnit(unit: string): { readonly epoch: string; readonly seq: number } | undefined {
  const at = unit.lastIndexOf(':');
  if (at < 0) return undefined;
  const seq = Number(unit.slice(at + 1));
  return Number.isInteger(seq) ? { epoch: unit.slice(0, at), seq } : undefined;
}

/** Whether the checkpoint counts `unit` as landed. */
export function unitLanded(checkpoint: Checkpoint | undefined, unit: string): boolean {
  const u = parseUnit(unit);
  if (!u) return false;
  const max = checkpoint?.units?.[u.epoch];
  return max !== undefined && u.seq <= max;
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

/** What a task's checkpoint record is made of. */
export interface CheckpointOf {
  readonly task: string;
  readonly consumed: ReadonlyMap<string, number>;
  readonly dedup: Deduplicator;
  /** Landed units of earlier epochs still needed (see the module comment). */
  readonly carried: Readonly<Record<string, number>>;
}

/** A task's checkpoint as a record of its own partition of its sub-topology's checkpoint topic (keyed by task). */
export function checkpointRecord(tp: { readonly topic: string; readonly partition: number }, unit: string, of: CheckpointOf): ProducerRecord {
  const u = parseUnit(unit);
  const cp: Checkpoint = {
    task: of.task, unit, offsets: Object.fromEntries(of.consumed), seen: of.dedup.snapshot(),
    ...(u ? { units: { ...of.carried, [u.epoch]: u.seq } } : {}),
  };
  return { topic: tp.topic, partition: tp.partition, key: Buffer.from(of.task), value: Buffer.from(JSON.stringify(cp)) };
}
