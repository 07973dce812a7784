/**
 * Retention of per-order state: once an order is terminal (COMPLETED, CANCELLED, REFUNDED), each
 * processor deletes what it keeps about the order `ORDER_RETENTION_MS` later (wall clock), so
 * that its stores and their changelogs hold the live orders plus a bounded tail, not all history.
 * A store delete writes a tombstone to the store's changelog (stores/key-value.ts), so a restore
 * or a compacted topic forgets the order too.
 *
 * The design is the one Kafka Streams users reach for (their stores have no TTL): a small
 * secondary store keyed by due time — the **expiry index** — and a wall-clock punctuator that
 * takes the due prefix of it. A punctuation costs what is due, not a scan of the whole store, and
 * the index is an ordinary logged store, so due times survive restarts and move with the task.
 * Each punctuation handles at most `maxPerPunctuation` due entries and leaves the rest for the
 * next one (after a long outage a backlog of due entries is worked off in bounded slices). The
 * engine's `range` returns an array, not a lazy iterator as Kafka Streams' does, so a backlog's
 * index keys are read once and worked off from memory, rather than read again each punctuation.
 *
 * The retention is also the horizon of each processor's idempotency: a duplicate of an event
 * arriving after its order's state was deleted finds no state. To keep such a late duplicate from
 * re-creating state or repeating an effect, each index keeps a **watermark**: the newest event
 * time (placement, request or record time) among the entries it has expired. An event at or below
 * it about an id the store does not know is a late duplicate of something expired — an exact
 * duplicate carries the very time of its original, so it is always caught — and is refused
 * rather than applied. One number per task, instead of a set of expired ids (or a Bloom filter)
 * that would grow with history again. The price: a first-time event more than the retention behind
 * an already expired one (a backlog longer than the retention) is refused too.
 */
import type { KeyValueStore, StoreBuilder } from '../engine/index.ts';
import { keyValueStore, Serdes } from '../engine/index.ts';
import { isTerminal } from '../order/status.ts';
import type { OrderStatus } from '../../schemas/index.ts';
import { numberFromEnv, type Env } from './env.ts';

export interface RetentionOptions {
  /** How long a terminal order's state is kept (wall clock); 0 keeps it for ever (no retention). */
  readonly retentionMs: number;
  /** How often due expiries are looked for. Default min(1 s, retentionMs). */
  readonly tickMs?: number;
  /** Due expiries handled per punctuation at most. Default 1000. */
  readonly maxPerPunctuation?: number;
}

export const DEFAULT_ORDER_RETENTION_MS = 7 * 24 * 60 * 60_000;
export const DEFAULT_MAX_EXPIRIES_PER_PUNCTUATION = 1000;

/** ORDER_RETENTION_MS: default 7 days; 0 = keep for ever; negative is an error. */
export function retentionFromEnv(env: Env): RetentionOptions {
  const retentionMs = numberFromEnv(env, 'ORDER_RETENTION_MS', DEFAULT_ORDER_RETENTION_MS);
  if (!(retentionMs >= 0)) throw new Error(`ORDER_RETENTION_MS must not be negative, not ${JSON.stringify(env.ORDER_RETENTION_MS)}`);
  return { retentionMs };
}

/** Checked settings; `enabled` false when retentionMs is 0. */
export interface RetentionSettings {
  readonly enabled: boolean;
  readonly retentionMs: number;
  readonly tickMs: number;
  readonly maxPerPunctuation: number;
}

export function retentionSettings(options: RetentionOptions | undefined): RetentionSettings {
  const retentionMs = options?.retentionMs ?? DEFAULT_ORDER_RETENTION_MS;
  if (!(retentionMs >= 0) || !Number.isFinite(retentionMs)) throw new RangeError(`retentionMs must be a non-negative number, not ${retentionMs}`);
  const tickMs = options?.tickMs ?? Math.max(1, Math.min(1000, retentionMs));
  if (!(tickMs > 0)) throw new RangeError(`retention tickMs must be positive, not ${tickMs}`);
  const maxPerPunctuation = options?.maxPerPunctuation ?? DEFAULT_MAX_EXPIRIES_PER_PUNCTUATION;
  if (!(maxPerPunctuation >= 1)) throw new RangeError(`maxPerPunctuation must be at least 1, not ${maxPerPunctuation}`);
  return { enabled: retentionMs > 0, retentionMs, tickMs, maxPerPunctuation };
}

/** The statuses after which an order changes no more. */
export function isTerminalStatus(status: OrderStatus): boolean {
  return isTerminal(status);
}

/** The index store: `<timeKey(due)>/<id>` → payload, and the watermark under WATERMARK_KEY. */
export function expiryIndexStore(name: string): StoreBuilder<KeyValueStore<string, string>> {
  return keyValueStore<string, string>(name, { keyCodec: Serdes.string(), valueCodec: Serdes.string() });
}

/** Sorts after every time key (digits), so due ranges never include it. */
const WATERMARK_KEY = 'watermark';

export interface DueExpiry {
  /** The index key (delete it once handled). */
  readonly key: string;
  readonly due: number;
  readonly payload: string;
}

/** Typed access to an expiry index store. */
export class ExpiryIndex {
  /** Due index entries read but not handed out yet (a backlog larger than one slice), and the next one. */
  private backlog: { readonly key: string; readonly due: number }[] = [];
  private next = 0;

  constructor(private readonly store: KeyValueStore<string, string>) {}

  /** Schedules `payload` for `due`; `id` keeps entries due at the same time apart (same id and time: one entry). */
  add(due: number, id: string, payload: string = id): void {
    this.store.put(`${timeKey(due)}/${id}`, payload);
  }

  /** Entries due at or before `now`, oldest first, at most `limit`. */
  due(now: number, limit: number): DueExpiry[] {
    if (this.next >= this.backlog.length) {
      this.backlog = this.store.range(undefined, `${timeKey(now)}/\uffff`).map(({ key }) => ({ key, due: Number(key.slice(0, TIME_KEY_WIDTH)) }));
      this.next = 0;
    }
    const out: DueExpiry[] = [];
    while (out.length < limit && this.next < this.backlog.length) {
      const { key, due } = this.backlog[this.next++]!;
      // Read again: gone meanwhile (a restore after an aborted transaction) means nothing to do.
      const payload = this.store.get(key);
      if (payload !== undefined) out.push({ key, due, payload });
    }
    return out;
  }

  remove(key: string): void {
    this.store.delete(key);
  }

  /** Newest event time among the expired entries; -Infinity before the first expiry. */
  watermark(): number {
    const w = this.store.get(WATERMARK_KEY);
    return w === undefined ? -Infinity : Number(w);
  }

  /** Raises the watermark to `time` (never lowers it). */
  raise(time: number): void {
    if (Number.isFinite(time) && time > this.watermark()) this.store.put(WATERMARK_KEY, String(time));
  }

  /** An event at `time` about an id the store does not know: a late duplicate of an expired one? */
  isLate(time: number): boolean {
    return time <= this.watermark();
  }
}

const TIME_KEY_WIDTH = 15;

/** Fixed-width decimal, so that keys sort by time. */
export function timeKey(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString().padStart(TIME_KEY_WIDTH, '0');
}
