/** Configuration of a running application, with Kafka Streams' names where they exist. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transport } from '../../../transports/index.ts';
import type { ErrorHandling } from './error-handling.ts';
import { DEFAULT_SNAPSHOT_POLICY, type SnapshotPolicy } from './snapshots.ts';

export type ProcessingGuarantee = 'at_least_once' | 'exactly_once';

export interface StreamsConfig {
  /** Names the consumer group, internal topics (`<id>-…`) and state directory. */
  readonly applicationId: string;
  readonly transport: Transport;
  /** Default at_least_once. exactly_once: Kafka transactions, memory atomic commits, RabbitMQ effectively-once. */
  readonly guarantee?: ProcessingGuarantee;
  /** How often outputs, changelogs and positions are committed. Default 100 ms (exactly_once) or 1000 ms. */
  readonly commitIntervalMs?: number;
  /** A stable name of this instance: the Kafka transactional id is `<applicationId>-<instanceId>`. */
  readonly instanceId?: string;
  /** Where persistent stores live. Default `<tmp>/orderstream/<applicationId>/<instanceId>`. */
  readonly stateDir?: string;
  readonly errors?: Partial<ErrorHandling>;
  /** Partitions of internal topics whose count nothing else decides. */
  readonly defaultPartitions?: number;
  /**
   * Commit this long after a batch when no other batch came meanwhile (the input has caught up),
   * instead of waiting for `commitIntervalMs`: an order crossing many hops then pays a few
   * milliseconds per hop, not a commit interval, while a busy input still commits per interval.
   * 0 turns it off (Kafka Streams' behaviour). Default 5.
   */
  readonly idleCommitMs?: number;
  /** Wall-clock punctuation and commit timer period. Default 50 ms. */
  readonly tickMs?: number;
  readonly logger?: (line: string) => void;
  /**
   * Kafka Streams' `task.timeout.ms`: how long tasks may make no progress while a retriable
   * failure (the broker away) recurs. Meanwhile uncommitted work is dropped and the tasks are
   * re-initialised from their committed state, with back-off; past it the application goes to
   * ERROR with `TaskTimeoutFailure`. 0: the first failure is fatal. Default 300000 (5 min).
   */
  readonly taskTimeoutMs?: number;
  /** Kafka's `retry.backoff.ms`: the first wait before a retry, doubled each time. Default 100. */
  readonly retryBackoffMs?: number;
  /** Kafka's `retry.backoff.max.ms`: the longest wait between retries. Default 1000. */
  readonly retryBackoffMaxMs?: number;
  /**
   * Where the transport does not compact (RabbitMQ): when stores are written whole to snapshots,
   * and the changelogs' retention bound that the snapshots make safe (snapshots.ts). `false`
   * turns snapshots off: a restore then replays the whole changelog, which is kept unbounded.
   */
  readonly snapshots?: Partial<SnapshotPolicy> | false;
}

export interface ResolvedConfig extends Required<Omit<StreamsConfig, 'errors' | 'snapshots'>> {
  readonly errors: ErrorHandling;
  readonly snapshots: SnapshotPolicy | false;
}

export function resolveConfig(c: StreamsConfig): ResolvedConfig {
  const guarantee = c.guarantee ?? 'at_least_once';
  const instanceId = c.instanceId ?? 'default';
  const logger = c.logger ?? ((line: string) => console.error(`[orderstream ${c.applicationId}] ${line}`));
  return {
    applicationId: c.applicationId,
    transport: c.transport,
    guarantee,
    commitIntervalMs: c.commitIntervalMs ?? (guarantee === 'exactly_once' ? 100 : 1000),
    instanceId,
    stateDir: c.stateDir ?? join(tmpdir(), 'orderstream', c.applicationId, instanceId),
    defaultPartitions: c.defaultPartitions ?? 1,
    idleCommitMs: c.idleCommitMs ?? 5,
    tickMs: c.tickMs ?? 50,
    logger,
    taskTimeoutMs: c.taskTimeoutMs ?? 300_000,
    retryBackoffMs: c.retryBackoffMs ?? 100,
    retryBackoffMaxMs: Math.max(c.retryBackoffMaxMs ?? 1000, c.retryBackoffMs ?? 100),
    snapshots: c.snapshots === false ? false : { ...DEFAULT_SNAPSHOT_POLICY, ...c.snapshots },
    errors: {
      deserialization: 'fail', processing: 'fail', production: 'dead-letter', deadLetterTopic: `${c.applicationId}-dlq`, logger, ...c.errors,
    },
  };
}
