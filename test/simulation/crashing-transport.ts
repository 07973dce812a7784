/**
 * A Transport around the memory transport that counts every call of the commit protocol one
 * processor instance makes (send, sendTransaction, consumer commit; a send is named after what it
 * writes: checkpoint, changelog or outputs) and, at a chosen step, abandons the instance as a
 * SIGKILL would: its consumers vanish from their groups without a callback or a commit, the call
 * at that step and every later call of the instance fail with `AbandonedError` and reach nothing.
 *
 * Phases of a crash at a step: `before` (the call never reaches the broker), `after` (it was
 * applied, its answer is lost), `partial` (rabbit-like only: the first half of a send's records
 * were confirmed, the rest lost — RabbitMQ confirms per message, so a send can land in part).
 *
 * `rabbitLike` presents the memory broker as RabbitMQ streams would: named `rabbit`, no
 * transactions, consumer commits are writes of the offsets stream; the engine then runs
 * exactly_once as effectively-once (checkpoints, unit-tagged changelogs, origin dedup).
 */
import { UnsupportedCapabilityError } from '../../transports/errors.ts';
import { MemoryConsumer, type MemoryTransport } from '../../transports/memory/index.ts';
import type {
  Admin, BatchHandler, Capabilities, Consumer, ConsumerOptions, GroupPositions, Producer, ProducerOptions, ProducerRecord,
  TopicPartition, TopicPartitionOffset, Transport, TransportName,
} from '../../transports/types.ts';

export type StepKind = 'send' | 'sendTransaction' | 'commit' | 'checkpoint' | 'changelog' | 'snapshot' | 'offsets';
export type CrashPhase = 'before' | 'after' | 'partial';

export interface CrashPoint {
  /** 1-based: the step-th call of the commit protocol this instance makes. */
  readonly step: number;
  readonly phase: CrashPhase;
}

export interface Step {
  readonly n: number;
  readonly kind: StepKind;
  /** Records the call wrote (sends), positions it moved (commits). */
  readonly size: number;
}

export interface CrashingTransportOptions {
  readonly rabbitLike?: boolean;
  /** Where to abandon this instance; none: it runs to the end. */
  readonly crashAt?: CrashPoint;
  /** Called once, synchronously, when the instance is abandoned (the harness starts its successor). */
  readonly onCrash?: (step: Step) => void;
  /**
   * A broken broker, to prove the checks can fail: a `partial` crash of a sendTransaction writes
   * half of its records without the positions (a torn transaction). Never set outside that test.
   */
  readonly tornTransactions?: boolean;
}

/** What every call of an abandoned instance fails with: nothing of it reached the broker. */
export class AbandonedError extends Error {
  readonly retriable = false;
  constructor(what: string) {
    super(`instance abandoned (simulated SIGKILL): ${what}`);
    this.name = 'AbandonedError';
  }
}

export const RABBIT_LIKE_CAPABILITIES: Capabilities = {
  transactions: false,
  compaction: false,
  replay: 'all-topics',
  groupsPerWorkTopic: 'many',
  cooperativeRevocation: true,
};

export class CrashingTransport implements Transport {
  readonly name: TransportName;
  readonly capabilities: Capabilities;
  readonly steps: Step[] = [];
  /** The step the instance was abandoned at, once it was. */
  crashedAt: Step | undefined;
  private readonly consumers: { consumer: MemoryConsumer; groupId: string }[] = [];

  constructor(private readonly inner: MemoryTransport, private readonly options: CrashingTransportOptions = {}) {
    this.name = options.rabbitLike ? 'rabbit' : inner.name;
    this.capabilities = options.rabbitLike ? RABBIT_LIKE_CAPABILITIES : inner.capabilities;
  }

  get crashed(): boolean {
    return this.crashedAt !== undefined;
  }

  /** Steps made so far (for quiet detection and for the enumeration). */
  get stepCount(): number {
    return this.steps.length;
  }

  admin(): Admin {
    const admin = this.inner.admin();
    const guard = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      this.ensureAlive('admin');
      return f(...a);
    };
    return {
      createTopics: guard((specs) => admin.createTopics(specs)),
      deleteTopics: guard((names) => admin.deleteTopics(names)),
      describeTopic: guard((name) => admin.describeTopic(name)),
      listTopics: guard((prefix) => admin.listTopics(prefix)),
      deleteGroups: guard((ids) => admin.deleteGroups(ids)),
    };
  }

  producer(options?: ProducerOptions): Producer {
    if (options?.transactionalId && !this.capabilities.transactions) {
      throw new UnsupportedCapabilityError('transactions', 'the rabbit-like transport has none (effectively-once instead)', { transport: this.name });
    }
    const p = this.inner.producer();
    return {
      connect: async () => { this.ensureAlive('connect'); await p.connect(); },
      send: (records) => this.step(kindOfSend(records), records.length, records, (rs) => p.send(rs)),
      sendTransaction: async (records, positions?: GroupPositions) => {
        if (!this.capabilities.transactions) throw new UnsupportedCapabilityError('transactions', 'the rabbit-like transport has none (effectively-once instead)', { transport: this.name });
        await this.step('sendTransaction', records.length + (positions?.offsets.length ?? 0), records,
          (rs) => (rs.length < records.length ? p.send(rs).then(() => undefined) : p.sendTransaction(rs, positions)));
      },
      maxRecordBytes: (topic) => p.maxRecordBytes(topic),
      recordSize: (record) => p.recordSize(record),
      // A dead instance's disconnect is a no-op: nothing of it is closed cleanly.
      disconnect: async () => { if (!this.crashed) await p.disconnect(); },
    };
  }

  consumer(options: ConsumerOptions): Consumer {
    const c = this.inner.consumer(options);
    if (!(c instanceof MemoryConsumer)) throw new TypeError('CrashingTransport wraps the memory transport');
    this.consumers.push({ consumer: c, groupId: options.groupId });
    const kind: StepKind = this.options.rabbitLike ? 'offsets' : 'commit';
    return {
      connect: async () => { this.ensureAlive('connect'); await c.connect(); },
      run: async (handler: BatchHandler) => { this.ensureAlive('run'); await c.run(handler); },
      commit: (offsets: readonly TopicPartitionOffset[]) => this.step(kind, offsets.length, undefined, () => c.commit(offsets)),
      committed: async (tps: readonly TopicPartition[]) => { this.ensureAlive('committed'); return c.committed(tps); },
      pause: (tps) => c.pause(tps),
      resume: (tps) => c.resume(tps),
      seek: async (target) => { this.ensureAlive('seek'); await c.seek(target); },
      assignment: () => c.assignment(),
      stopped: () => c.stopped(),
      disconnect: async () => { if (!this.crashed) await c.disconnect(); },
    };
  }

  async close(): Promise<void> {
    // The broker outlives every instance.
  }

  private ensureAlive(what: string): void {
    if (this.crashed) throw new AbandonedError(what);
  }

  private async step<R>(kind: StepKind, size: number, records: readonly ProducerRecord[] | undefined, call: (records: readonly ProducerRecord[]) => Promise<R>): Promise<R> {
    this.ensureAlive(kind);
    const step: Step = { n: this.steps.length + 1, kind, size };
    this.steps.push(step);
    const at = this.options.crashAt;
    if (!at || at.step !== step.n) return call(records ?? []);
    if (at.phase === 'after') await call(records ?? []);
    if (at.phase === 'partial' && records && records.length > 1 && (kind !== 'sendTransaction' || this.options.tornTransactions)) await call(records.slice(0, Math.floor(records.length / 2)));
    this.abandon(step);
    throw new AbandonedError(`${kind} at step ${step.n} (${at.phase})`);
  }

  /** The instance is gone: its consumers leave their groups as a dead member would. */
  private abandon(step: Step): void {
    this.crashedAt = step;
    for (const { consumer, groupId } of this.consumers) {
      void consumer.crash();
      // A rebalance waiting on this member's callback would never end (or end rejected, which
      // the memory broker's chain never recovers from): cut it short, as a session timeout does.
      const group = this.inner.broker.groups.get(groupId);
      if (group) group.rebalancing = Promise.resolve();
    }
    this.options.onCrash?.(step);
  }
}

function kindOfSend(records: readonly ProducerRecord[]): StepKind {
  if (records.length > 0 && records.every((r) => r.topic.endsWith('-checkpoints'))) return 'checkpoint';
  if (records.length > 0 && records.every((r) => r.topic.endsWith('-changelog'))) return 'changelog';
  if (records.length > 0 && records.every((r) => r.topic.includes('-changelog.snapshot.'))) return 'snapshot';
  return 'send';
}
