/**
 * A RabbitMQ consumer with Kafka's consumer-group contract: the group splits partitions (see
 * group.ts), each owned partition is one queue read on its own channel, batches of a partition
 * are handed over in order, and positions are committed explicitly.
 *
 * Work topics (quorum queues): committing acknowledges the records below the position; records
 * not committed when a member dies return to the queue and are redelivered in order. Their
 * offsets count the records the group has committed, so they continue across members.
 * Replayable topics (streams): offsets are the stream's own; commit stores the position; seek
 * re-reads from any offset.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  ClosedError, ConnectionLostError, HandlerError, NotAssignedError, TransportError, UnsupportedCapabilityError,
} from '../errors.ts';
import type {
  BatchHandler, ConsumedRecord, Consumer, ConsumerOptions, TopicKind, TopicPartition, TopicPartitionOffset,
} from '../types.ts';
import { deferred, sleep, tpKey, type Deferred } from '../util.ts';
import { Backoff } from '../backoff.ts';
import { Membership, tryLock, unlock } from './group.ts';
import type { RabbitTransport } from './index.ts';
import { decode, partitionQueue } from './naming.ts';
import { OFFSETS_DEFAULT_MAX_BYTES, OffsetStore } from './offsets.ts';

interface Delivery {
  readonly record: ConsumedRecord;
  readonly msg: ConsumeMessage;
}

interface OwnedPartition {
  readonly tp: TopicPartition;
  readonly kind: TopicKind;
  readonly channel: Channel;
  consumerTag: string | undefined;
  buffer: Delivery[];
  /** Work topics: the offset the next delivery gets. */
  nextOffset: number;
  /** Work topics: delivered, not yet committed, by offset. */
  readonly unacked: Map<number, ConsumeMessage>;
  /** Streams: deliveries below this offset are the rest of a chunk read before a seek target. */
  floor: number;
  /** Bumped by every (re)subscription; deliveries of an older one are dropped. */
  epoch: number;
  ready: boolean;
  revoking: boolean;
  inFlight: Promise<void>;
  /** The last position confirmed in the offsets stream, and when it was written there. */
  committed: number | undefined;
  writtenAt: number;
  /** Commits published, not yet confirmed: a re-write meanwhile could publish an older position. */
  committing: number;
}

const HEARTBEAT_MS = 500;
/** After a reconnection, how long a failed rebalance step counts as the broker still starting. */
const RECOVERY_GRACE_MS = 60_000;
const DEBUG = process.env.ORDERSTREAM_DEBUG === 'rabbit';
const OFFSETS_REFRESH_MS = 60_000;

export class RabbitConsumer implements Consumer {
  private conn: ChannelModel | undefined;
  private membership: Membership | undefined;
  private offsets: OffsetStore | undefined;
  private readonly owned = new Map<string, OwnedPartition>();
  private readonly paused = new Set<string>();
  private readonly done: Deferred<void> = deferred();
  private running = false;
  private ticking: Promise<void> = Promise.resolve();
  private tickQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: Deferred<void> = deferred();
  private pump: Promise<void> = Promise.resolve();
  private readonly prefetch: number;
  private handler: BatchHandler | undefined;
  /** Set from a lost connection until a new one has joined the group again. */
  private recovering: Promise<void> | undefined;
  private recoveredAt = 0;
  private readonly refreshMs: number;
  private refreshing = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly transport: RabbitTransport, private readonly options: ConsumerOptions) {
    this.prefetch = Math.max(2000, (options.maxBatchSize ?? 500) * 2);
    this.refreshMs = transport.options.offsetsRefreshMs ?? OFFSETS_REFRESH_MS;
  }

  private ctx(tp?: Partial<TopicPartition> & { offset?: number; cause?: unknown }) {
    return { transport: 'rabbit' as const, groupId: this.options.groupId, ...tp };
  }

  async connect(): Promise<void> {
    // The broker first: an unreachable one is reported as such, whatever the management API says.
    await this.open();
    try {
      for (const t of this.options.topics) await this.transport.require(t, this.options.groupId);
    } catch (e) {
      const conn = this.conn;
      this.conn = undefined;
      await conn?.close().catch(() => undefined);
      throw e;
    }
  }

  /** A connection with its offsets stream declared; a loss while running starts the recovery. */
  private async open(): Promise<void> {
    const conn = await this.transport.connect();
    try {
      const offsets = new OffsetStore(conn, this.options.groupId, this.transport.options.offsetsMaxBytes ?? OFFSETS_DEFAULT_MAX_BYTES);
      await offsets.init();
      conn.on('close', () => { if (this.running && this.conn === conn) this.lost(); });
      this.conn = conn;
      this.offsets = offsets;
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  async run(handler: BatchHandler): Promise<void> {
    if (!this.conn) throw new ClosedError('consumer is not connected', this.ctx());
    this.handler = handler;
    this.running = true;
    await this.join();
    this.pump = this.deliver(handler);
    this.scheduleTick();
  }

  /** Announces this member on the current connection and starts the rebalance timer. */
  private async join(): Promise<void> {
    const membership = new Membership(this.conn!, {
      groupId: this.options.groupId, topics: this.options.topics,
      heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: this.transport.options.sessionTimeoutMs ?? 3000,
    });
    this.membership = membership;
    await membership.join(() => this.scheduleTick());
    clearInterval(this.timer);
    clearInterval(this.refreshTimer);
    this.timer = setInterval(() => this.scheduleTick(), HEARTBEAT_MS);
    if (this.refreshMs > 0) this.refreshTimer = setInterval(() => this.refreshOffsets(), Math.max(20, Math.min(HEARTBEAT_MS, this.refreshMs / 4)));
  }

  /**
   * Re-writes the position of every owned partition not committed for `offsetsRefreshMs`, so that
   * the offsets stream's retention, which drops the oldest records of the group's stream, never
   * drops the position of a partition that is owned but quiet. What is published is read right
   * before publishing and skips partitions being revoked or with a commit in flight, so it is
   * never older than a position this member published: the lock keeps every other member out.
   */
  private refreshOffsets(): void {
    if (this.refreshMs <= 0 || this.refreshing || !this.offsets || this.recovering) return;
    const due = (s: OwnedPartition, now: number) =>
      !s.revoking && s.committing === 0 && s.committed !== undefined && now - s.writtenAt >= this.refreshMs;
    const now = Date.now();
    if (![...this.owned.values()].some((s) => due(s, now))) return;
    this.refreshing = true;
    const offsets = this.offsets;
    let picked: OwnedPartition[] = [];
    void offsets.write(() => {
      const at = Date.now();
      picked = [...this.owned.values()].filter((s) => due(s, at));
      return picked.map((s) => ({ ...s.tp, offset: s.committed! }));
    }).then(() => {
      const at = Date.now();
      for (const s of picked) s.writtenAt = at;
    }, (e: unknown) => {
      // Tried again at the next tick; a lost connection is handled by the recovery.
      if (DEBUG) console.error(`[rabbit ${this.options.groupId}] re-writing positions failed: ${String(e)}`);
    }).finally(() => { this.refreshing = false; });
  }

  /**
   * The connection is gone, and with it every lock, subscription and unacknowledged delivery
   * (the broker returns work-queue records to their queues). The partitions are revoked (a
   * commit the listener tries fails, retriable), then a new connection joins the group again
   * with back-off; partitions assigned again resume from their committed positions. Past
   * `reconnect.maxElapsedMs` the consumer stops with the last, retriable, error.
   */
  private lost(): void {
    if (this.recovering || !this.running) return;
    clearInterval(this.timer);
    clearInterval(this.refreshTimer);
    const states = [...this.owned.values()];
    for (const s of states) s.revoking = true;
    this.owned.clear();
    this.membership = undefined;
    this.conn = undefined;
    const backoff = new Backoff(this.transport.options.reconnect);
    this.recovering = (async () => {
      await Promise.all(states.map((s) => s.inFlight));
      if (states.length) {
        // Told as a revocation so that the listener drops what it holds for them; its commits fail.
        await Promise.resolve(this.options.onRevoke?.(states.map((s) => s.tp))).catch((e: unknown) => {
          if (DEBUG) console.error(`[rabbit ${this.options.groupId}] onRevoke after a lost connection failed: ${String(e)}`);
        });
      }
      let last: unknown = new ConnectionLostError(this.transport.address, this.ctx());
      while (this.running) {
        if (backoff.exhausted()) {
          this.fail(last instanceof TransportError ? last : new ConnectionLostError(this.transport.address, this.ctx({ cause: last })));
          return;
        }
        await sleep(backoff.next());
        if (!this.running) return;
        try {
          await this.open();
          if (!this.running) return;
          await this.join();
          if (DEBUG) console.error(`[rabbit ${this.options.groupId}] reconnected after ${backoff.attempts} attempts`);
          this.scheduleTick();
          return;
        } catch (e) {
          last = e;
          const conn = this.conn;
          this.conn = undefined;
          await conn?.close().catch(() => undefined);
        }
      }
    })().finally(() => {
      this.recovering = undefined;
      this.recoveredAt = Date.now();
      // Lost again while joining: its close event found the recovery still running.
      if (this.running && this.conn && this.transport.isClosed(this.conn)) this.lost();
    });
  }

  /** Rebalance steps run one at a time; a request during one runs once after it. */
  private scheduleTick(): void {
    if (this.tickQueued || !this.running) return;
    this.tickQueued = true;
    this.ticking = this.ticking.then(async () => {
      this.tickQueued = false;
      if (!this.running || this.recovering || !this.conn) return;
      const conn = this.conn;
      try {
        await this.rebalance();
      } catch (e) {
        // A step that failed because the connection went away is retried by the recovery.
        if (!this.transport.isClosed(conn)) await sleep(50);
        if (this.conn !== conn || this.transport.isClosed(conn)) return;
        // Queues of a restarted broker may refuse consumers for a moment (quorum leader election,
        // stream replica starting): shortly after a recovery, or on a retriable error, start over
        // on a new connection, with back-off, rather than stop.
        // amqplib refuses calls on a connection that is closing but not yet closed
        // (IllegalOperationError "Connection closing"): its close event starts the recovery.
        const closing = (e as { name?: unknown } | null)?.name === 'IllegalOperationError';
        const transient = closing || (e instanceof TransportError ? e.retriable : Date.now() - this.recoveredAt < RECOVERY_GRACE_MS);
        if (transient) { void conn.close().catch(() => undefined); return; }
        this.fail(e instanceof TransportError ? e : new TransportError('rebalance failed', { ...this.ctx(), cause: e }));
      }
    });
  }

  private async rebalance(): Promise<void> {
    const membership = this.membership!;
    if (!membership.settled()) return;
    const all: TopicPartition[] = [];
    for (const topic of this.options.topics) {
      const d = await this.transport.require(topic, this.options.groupId);
      for (let partition = 0; partition < d.partitions; partition++) all.push({ topic, partition });
    }
    const wanted = membership.share(all);
    if (DEBUG) console.error(`[rabbit ${this.options.groupId} ${membership.memberId.slice(0, 8)}] wanted=${wanted.map(tpKey).join(',').replaceAll('\u0000', ':')} owned=${this.owned.size}`);
    const wantedKeys = new Set(wanted.map(tpKey));
    const release = [...this.owned.values()].filter((o) => !wantedKeys.has(tpKey(o.tp))).map((o) => o.tp);
    if (release.length) await this.revoke(release);
    const acquired: TopicPartition[] = [];
    for (const tp of wanted) {
      if (this.owned.has(tpKey(tp)) || !this.running) continue;
      if (await tryLock(this.conn!, this.options.groupId, tp)) acquired.push(tp);
    }
    if (acquired.length) await this.assign(acquired);
  }

  private async assign(tps: TopicPartition[]): Promise<void> {
    const committed = await this.offsets!.read(tps);
    // Written again now that this member holds the locks, so that they are the newest records of
    // the stream rather than whatever age the previous owner left them at.
    const known = tps.map((tp, i) => ({ ...tp, offset: committed[i] })).filter((o): o is TopicPartitionOffset => o.offset !== undefined);
    if (this.refreshMs > 0) await this.offsets!.write(known);
    const writtenAt = Date.now();
    if (DEBUG) console.error(`[rabbit ${this.options.groupId}] assign ${tps.map(tpKey).join(',').replaceAll('\u0000', ':')} committed=${committed.join(',')}`);
    const states: OwnedPartition[] = [];
    for (let i = 0; i < tps.length; i++) {
      const tp = tps[i]!;
      const { kind } = await this.transport.require(tp.topic, this.options.groupId);
      const channel = await this.conn!.createChannel();
      channel.on('error', () => undefined);
      await channel.prefetch(this.prefetch);
      const state: OwnedPartition = {
        tp, kind, channel, consumerTag: undefined, buffer: [], nextOffset: committed[i] ?? 0, unacked: new Map(),
        floor: 0, epoch: 0, ready: false, revoking: false, inFlight: Promise.resolve(),
        committed: committed[i], writtenAt, committing: 0,
      };
      this.owned.set(tpKey(tp), state);
      states.push(state);
    }
    await this.options.onAssign?.(tps);
    for (let i = 0; i < states.length; i++) {
      const s = states[i]!;
      const start = s.kind === 'replayable' ? committed[i] ?? (this.options.autoOffsetReset === 'latest' ? 'next' : 'first') : undefined;
      await this.consumeFrom(s, start);
      s.ready = true;
    }
    this.signal();
  }

  private async consumeFrom(s: OwnedPartition, start: number | 'first' | 'next' | undefined): Promise<void> {
    s.buffer = [];
    s.floor = typeof start === 'number' ? start : 0;
    const epoch = ++s.epoch;
    const args = start === undefined ? {} : { 'x-stream-offset': start };
    const { consumerTag } = await s.channel.consume(partitionQueue(s.tp.topic, s.tp.partition), (msg) => {
      if (!msg || s.epoch !== epoch) return;
      const d = decode(msg.content, msg.properties.headers);
      let offset: number;
      if (s.kind === 'replayable') {
        offset = Number(msg.properties.headers?.['x-stream-offset']);
        if (offset < s.floor) { s.channel.ack(msg); return; }
      } else {
        offset = s.nextOffset++;
        s.unacked.set(offset, msg);
      }
      s.buffer.push({ msg, record: { topic: s.tp.topic, partition: s.tp.partition, offset, ...d } });
      this.signal();
    }, { noAck: false, arguments: args });
    s.consumerTag = consumerTag;
  }

  private async revoke(tps: TopicPartition[]): Promise<void> {
    const states = tps.map((tp) => this.owned.get(tpKey(tp))).filter((s): s is OwnedPartition => s !== undefined);
    for (const s of states) s.revoking = true;
    await Promise.all(states.map((s) => s.inFlight));
    await this.options.onRevoke?.(tps);
    for (const s of states) {
      this.owned.delete(tpKey(s.tp));
      // Closing the channel returns uncommitted work-queue records to the queue, in order.
      await s.channel.close().catch(() => undefined);
      if (this.conn) await unlock(this.conn, this.options.groupId, s.tp);
    }
  }

  private signal(): void {
    this.wake.resolve();
  }

  private async deliver(handler: BatchHandler): Promise<void> {
    const max = this.options.maxBatchSize ?? 500;
    while (this.running) {
      let delivered = false;
      for (const s of [...this.owned.values()]) {
        const key = tpKey(s.tp);
        if (!s.ready || s.revoking || this.paused.has(key) || s.buffer.length === 0) continue;
        const batch = s.buffer.splice(0, max);
        const records = batch.map((b) => b.record);
        const run = handler({ topic: s.tp.topic, partition: s.tp.partition, records });
        s.inFlight = run.then(() => undefined, () => undefined);
        try {
          await run;
        } catch (cause) {
          // A batch of a partition lost with the connection is delivered again after the recovery.
          if (this.owned.get(key) !== s) continue;
          this.fail(new HandlerError('handler failed; batch not committed', this.ctx({ topic: s.tp.topic, partition: s.tp.partition, offset: records[0]!.offset, cause })));
          return;
        }
        // Stream records are acknowledged for flow control only; their position is the commit.
        if (s.kind === 'replayable' && this.owned.get(key) === s) s.channel.ack(batch[batch.length - 1]!.msg, true);
        delivered = true;
        if (!this.running) break;
      }
      if (!delivered) {
        this.wake = deferred();
        await Promise.race([this.wake.promise, new Promise((r) => setTimeout(r, 200))]);
      }
    }
  }

  private fail(error: Error): void {
    if (this.done.settled) return;
    this.running = false;
    this.signal();
    clearInterval(this.timer);
    clearInterval(this.refreshTimer);
    this.owned.clear();
    // Closing the connection hands every uncommitted record and every lock back to the broker.
    void (this.conn?.close().catch(() => undefined) ?? Promise.resolve()).finally(() => this.done.reject(error));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const states = offsets.map((o) => {
      const s = this.owned.get(tpKey(o));
      // Lost with the connection: the same commit is worth nothing now, but it is an outage, not a bug.
      if (!s && this.recovering) throw new ConnectionLostError(this.transport.address, this.ctx(o));
      if (!s) throw new NotAssignedError(this.ctx(o));
      return s;
    });
    offsets.forEach((o, i) => {
      const s = states[i]!;
      if (s.kind !== 'work') return;
      const msg = s.unacked.get(o.offset - 1);
      if (msg) s.channel.ack(msg, true);
      for (const k of s.unacked.keys()) if (k < o.offset) s.unacked.delete(k);
    });
    for (const s of states) s.committing++;
    try {
      await this.offsets!.write(offsets);
      const at = Date.now();
      offsets.forEach((o, i) => { states[i]!.committed = o.offset; states[i]!.writtenAt = at; });
    } finally {
      for (const s of states) s.committing--;
    }
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    if (this.recovering) throw new ConnectionLostError(this.transport.address, this.ctx());
    if (!this.offsets) throw new ClosedError('consumer is not connected', this.ctx());
    return this.offsets.read(partitions);
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(tpKey(tp));
    this.signal();
  }

  async seek(target: TopicPartitionOffset): Promise<void> {
    const s = this.owned.get(tpKey(target));
    if (!s) throw new NotAssignedError(this.ctx(target));
    if (s.kind !== 'replayable') {
      throw new UnsupportedCapabilityError('seek',
        'a work topic is a quorum queue and cannot be re-read; create the topic with kind "replayable" (a RabbitMQ stream) to seek',
        this.ctx(target));
    }
    if (s.consumerTag !== undefined) await s.channel.cancel(s.consumerTag);
    await this.consumeFrom(s, Math.max(0, target.offset));
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()].filter((s) => !s.revoking).map((s) => s.tp);
  }

  stopped(): Promise<void> {
    return this.done.promise;
  }

  async disconnect(): Promise<void> {
    if (this.done.settled) return;
    clearInterval(this.timer);
    clearInterval(this.refreshTimer);
    if (this.recovering) {
      this.running = false;
      this.signal();
      await this.recovering;
      await this.pump;
    }
    if (this.running) {
      // Let a rebalance in progress finish, then give everything back as a graceful leave does.
      await this.ticking;
      this.running = false;
      this.signal();
      await this.pump;
      await this.revoke([...this.owned.values()].map((s) => s.tp));
      await this.membership?.leave();
    }
    this.running = false;
    await this.conn?.close().catch(() => undefined);
    this.done.resolve();
  }
}
