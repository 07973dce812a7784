/**
 * Store snapshots, for transports that do not compact (RabbitMQ streams keep every record until
 * retention drops whole segments). Without them a restore replays a changelog's whole history and
 * the changelog cannot be bounded, since every entry may be the latest of its key.
 *
 * After a commit lands, a store whose changelog has grown past its latest snapshot by more than
 * `ratio` × its entries (at least `minRecords`), or by a quarter of the changelog's retention
 * bound, is written whole to a new single-partition topic `<changelog>.snapshot.<partition>.<from>`,
 * `from` being the changelog offset it covers up to, then an end record with its count. Only then
 * are the partition's older snapshots deleted, so a complete one always exists. A restore loads
 * the complete snapshot with the highest `from` and replays the changelog from there; a snapshot
 * cut short by a crash has no end record and is passed over.
 *
 * The changelog itself is created with a retention bound (`retentionBytes`, segments of
 * `segmentBytes`): since a snapshot is written before the records past it reach a quarter of the
 * bound, retention only ever drops records the latest snapshot holds. Under effectively-once the
 * snapshot holds committed state only (it is taken right after a commit, before any further
 * processing), and the changelog past it is filtered by commit unit as a full replay is.
 */
import type { Producer, ProducerRecord, TopicPartition, TopicSpec, Transport } from '../../../transports/index.ts';
import { tpKey } from '../../../transports/util.ts';
import type { StateStore } from '../stores/store.ts';
import { readToEnd } from './read-to-end.ts';

export interface SnapshotPolicy {
  /** A snapshot is due once the changelog has this many records past the latest one... */
  readonly minRecords: number;
  /** ...and at least this many times the store's entries. */
  readonly ratio: number;
  /** The changelog's retention bound per partition; a snapshot is due once the records past the latest one hold a quarter of it. */
  readonly retentionBytes: number;
  /** The changelog's segment size, which retention drops whole. */
  readonly segmentBytes: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = {
  minRecords: 10_000, ratio: 2, retentionBytes: 256 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024,
};

/** A complete snapshot of one changelog partition. */
export interface Snapshot {
  readonly topic: string;
  /** The changelog offset it covers up to: a restore replays the changelog from here. */
  readonly from: number;
  readonly entries: readonly [Buffer, Buffer][];
}

export interface SnapshotsOptions {
  readonly transport: Transport;
  readonly producer: () => Producer;
  readonly policy: SnapshotPolicy;
  readonly groupPrefix: string;
  readonly logger: (line: string) => void;
}

/** What a changelog partition holds past its latest snapshot. */
interface Tail {
  records: number;
  bytes: number;
  /** The snapshot topics this partition has (the latest last). */
  topics: string[];
}

export const SNAPSHOT_END_HEADER = 'orderstream.snapshot-end';
const END_KEY = Buffer.from('__orderstream.snapshot-end');
/** Records per send while writing a snapshot: bounded so that no request grows with the store. */
const CHUNK = 5_000;
/** Per-record overhead counted with key and value against the retention bound (headers, framing). */
const RECORD_OVERHEAD = 64;

/** What one changelog record is counted as against the retention bound. */
export function entryBytes(key: Buffer | null, value: Buffer | null): number {
  return (key?.length ?? 0) + (value?.length ?? 0) + RECORD_OVERHEAD;
}

export function snapshotTopicPrefix(tp: TopicPartition): string {
  return `${tp.topic}.snapshot.${tp.partition}.`;
}

export function snapshotTopic(tp: TopicPartition, from: number): string {
  return `${snapshotTopicPrefix(tp)}${from}`;
}

export class StoreSnapshots {
  readonly #o: SnapshotsOptions;
  readonly #tails = new Map<string, Tail>();

  constructor(options: SnapshotsOptions) {
    this.#o = options;
  }

  /**
   * The latest complete snapshot of each changelog partition in `tps` that has one. Snapshots are
   * read newest first; one without its end record (a crash while writing it) is passed over.
   */
  async latest(tps: readonly TopicPartition[]): Promise<Map<string, Snapshot>> {
    const out = new Map<string, Snapshot>();
    if (tps.length === 0) return out;
    const prefixes = new Map(tps.map((tp) => [snapshotTopicPrefix(tp), tp]));
    const common = commonPrefix([...prefixes.keys()]);
    const byPartition = new Map<string, { topic: string; from: number }[]>();
    for (const topic of await this.#o.transport.admin().listTopics(common)) {
      const i = topic.lastIndexOf('.');
      const tp = prefixes.get(topic.slice(0, i + 1));
      const from = Number(topic.slice(i + 1));
      if (!tp || !Number.isSafeInteger(from)) continue;
      const list = byPartition.get(tpKey(tp)) ?? [];
      list.push({ topic, from });
      byPartition.set(tpKey(tp), list);
    }
    for (const [key, list] of byPartition) {
      list.sort((a, b) => b.from - a.from);
      this.#tails.set(key, { records: 0, bytes: 0, topics: list.map((s) => s.topic).reverse() });
    }
    // Round by round, the newest snapshot not yet tried of every partition still without one, all
    // in one read: a reader joins a group first (a second on RabbitMQ), so one per snapshot would
    // make a restore of many partitions wait that long for each.
    for (let round = 0; ; round++) {
      const tried = [...byPartition].filter(([key, list]) => !out.has(key) && round < list.length).map(([key, list]) => ({ key, ...list[round]! }));
      if (tried.length === 0) return out;
      const read = await this.#read(tried.map((s) => s.topic));
      for (const s of tried) {
        const entries = read.get(s.topic);
        if (entries) out.set(s.key, { topic: s.topic, from: s.from, entries });
        else this.#o.logger(`snapshot ${s.topic} is incomplete (cut short while written): passed over`);
      }
    }
  }

  /** After a restore: what the changelog partition holds past the snapshot it started from. */
  restored(tp: TopicPartition, records: number, bytes: number): void {
    const tail = this.#tail(tpKey(tp));
    tail.records = records;
    tail.bytes = bytes;
  }

  /** A commit wrote this entry to the changelog partition `key` (`tpKey`). */
  committed(key: string, r: ProducerRecord): void {
    const tail = this.#tails.get(key);
    if (!tail) return;
    tail.records++;
    tail.bytes += entryBytes(r.key, r.value);
  }

  /** The spec its changelogs are created with: retention by bytes, in segments retention can drop. */
  changelogRetention(): Pick<TopicSpec, 'retentionBytes' | 'segmentBytes'> {
    const { retentionBytes, segmentBytes } = this.#o.policy;
    return { retentionBytes, segmentBytes: Math.min(segmentBytes, Math.floor(retentionBytes / 8)) };
  }

  /** Whether the store's changelog partition has grown enough past its latest snapshot for a new one. */
  due(tp: TopicPartition, store: StateStore): boolean {
    const tail = this.#tails.get(tpKey(tp));
    if (!tail) return false;
    const { minRecords, ratio, retentionBytes } = this.#o.policy;
    return tail.bytes >= retentionBytes / 4 || tail.records >= Math.max(minRecords, ratio * store.approximateNumEntries());
  }

  /**
   * Writes `store` whole as the snapshot of changelog partition `tp` up to offset `from`, then
   * deletes the partition's older snapshots. A failure leaves the older ones in place.
   */
  async write(tp: TopicPartition, store: StateStore, from: number): Promise<number> {
    const key = tpKey(tp);
    const tail = this.#tail(key);
    const topic = snapshotTopic(tp, from);
    const admin = this.#o.transport.admin();
    // A snapshot of this offset exists already (one cut short, or a crash before the older were
    // deleted): written again from scratch, never appended to.
    if (tail.topics.includes(topic)) await admin.deleteTopics([topic]);
    await admin.createTopics([{ name: topic, partitions: 1, kind: 'replayable' }]);
    const producer = this.#o.producer();
    let chunk: ProducerRecord[] = [];
    let count = 0;
    for (const [k, v] of store.changelogEntries()) {
      chunk.push({ topic, partition: 0, key: k, value: v });
      count++;
      if (chunk.length >= CHUNK) { await producer.send(chunk); chunk = []; }
    }
    chunk.push({ topic, partition: 0, key: END_KEY, value: Buffer.from(JSON.stringify({ from, entries: count })), headers: { [SNAPSHOT_END_HEADER]: '1' } });
    await producer.send(chunk);
    const older = tail.topics.filter((t) => t !== topic);
    tail.topics = [topic];
    tail.records = 0;
    tail.bytes = 0;
    if (older.length > 0) await admin.deleteTopics(older).catch((e: unknown) => this.#o.logger(`older snapshots ${older.join(', ')} not deleted: ${String(e)}`));
    return count;
  }

  /** Forgets a partition the instance no longer owns. */
  forget(tp: TopicPartition): void {
    this.#tails.delete(tpKey(tp));
  }

  #tail(key: string): Tail {
    let tail = this.#tails.get(key);
    if (!tail) this.#tails.set(key, tail = { records: 0, bytes: 0, topics: [] });
    return tail;
  }

  /** Snapshots' entries by topic, read together; absent: no end record, or fewer entries than it names. */
  async #read(topics: readonly string[]): Promise<Map<string, [Buffer, Buffer][]>> {
    const read = new Map(topics.map((t) => [t, { entries: [] as [Buffer, Buffer][], end: undefined as { entries: number } | undefined }]));
    await readToEnd({
      transport: this.#o.transport, producer: this.#o.producer(), partitions: topics.map((topic) => ({ topic, partition: 0 })), groupPrefix: this.#o.groupPrefix,
      onRecord: (r) => {
        const s = read.get(r.topic);
        if (!s) return;
        if (r.headers[SNAPSHOT_END_HEADER] !== undefined) { s.end = JSON.parse(r.value!.toString()) as { entries: number }; return; }
        if (r.key !== null && r.value !== null && s.end === undefined) s.entries.push([r.key, r.value]);
      },
    });
    const out = new Map<string, [Buffer, Buffer][]>();
    for (const [topic, s] of read) if (s.end && s.end.entries === s.entries.length) out.set(topic, s.entries);
    return out;
  }
}

function commonPrefix(names: readonly string[]): string {
  let p = names[0] ?? '';
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p;
}
