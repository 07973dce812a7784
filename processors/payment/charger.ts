/**
 * The charger: the sidecar that makes payment's HTTP calls, which cannot happen inside
 * (synchronous) processing. It reads `<appId>-pg-requests` with a plain consumer (group
 * `<appId>-charger`), calls the gateway for each request, writes the outcome to
 * `<appId>-pg-results`, and commits a partition's position only up to the first request whose
 * outcome is not yet written.
 *
 * Calls are pipelined: the batch handler starts them and returns, up to `concurrency` in flight
 * across batches and partitions (the handler waits for a free slot, which is the back-pressure).
 * So a payment stuck in gateway timeouts holds up neither the rest of its batch nor the next
 * batches, only the commit position of its partition.
 *
 * At-least-once is enough: requests redelivered after a crash call the gateway again with the
 * same idempotency key (`charge:<orderId>`), which returns the stored outcome instead of charging
 * again, and the topology keeps only the first outcome per order and kind.
 *
 * A decline, a rejection (4xx), spent retries and an open circuit all end as FAILED with the
 * reason in a header: the order then cancels instead of waiting. A timed-out attempt is not a
 * failure yet: the client looks its idempotency key up first (pg-client.ts), so a charge the
 * gateway captured without answering ends SUCCESS, once; only a key the gateway does not know is
 * retried and, past the retries, FAILED. When even the lookup cannot tell (the gateway stays
 * silent), the outcome is unknown: with `leaveUnknown` the charger reports nothing and moves on,
 * and the topology, which re-sends every request still PENDING after PAYMENT_PENDING_RESEND_MS,
 * asks again with the same key; without it (re-sends off) the fallback is FAILED, as before.
 */
import { setMaxListeners } from 'node:events';
import type { ConsumedRecord, Consumer, Producer, RecordBatch, Transport } from '../../transports/index.ts';
import { Backoff, type ReconnectOptions } from '../../transports/backoff.ts';
import { Serdes, type Serde } from '../engine/index.ts';
import { isRetriable } from '../engine/errors.ts';
import type { PaymentOutcome, PaymentRequestMessage } from '../../schemas/index.ts';
import type { Sidecar } from '../common/index.ts';
import { PaymentError, PgAbortedError, PgOutcomeUnknownError } from './errors.ts';
import type { PgClient } from './pg-client.ts';
import { FAILURE_REASON_HEADER, paymentKey, validateRequest, type PaymentRequest } from './topology.ts';

export interface ChargerOptions {
  readonly transport: Transport;
  readonly client: PgClient;
  readonly requestsTopic: string;
  readonly resultsTopic: string;
  readonly groupId: string;
  /** Gateway calls in flight at once (across batches and partitions). */
  readonly concurrency: number;
  /** The internal topics' value serdes, as the topology uses them (JSON when undefined). */
  readonly requestSerde?: Serde<PaymentRequestMessage>;
  readonly resultSerde?: Serde<PaymentOutcome>;
  /**
   * Report nothing for a call whose outcome stays unknown (PgOutcomeUnknownError) instead of
   * FAILED: only safe when the topology re-sends PENDING requests (PAYMENT_PENDING_RESEND_MS > 0).
   */
  readonly leaveUnknown?: boolean;
  /** How long an outcome's write is retried while the broker is away (default: the transports' reconnection back-off, 5 min). */
  readonly reconnect?: ReconnectOptions;
  readonly logger: (line: string) => void;
}

/** The charger cannot go on (an unreadable request, a failed write): it stops, uncommitted. */
export class ChargerError extends Error {
  constructor(message: string, readonly topic: string, readonly partition: number, readonly offset: number, options?: { cause?: unknown }) {
    super(`${message} (topic ${topic}, partition ${partition}, offset ${offset})`, options);
    this.name = 'ChargerError';
  }
}

interface Settled {
  readonly outcome: PaymentOutcome;
  readonly reason?: string;
}

/** The gateway may or may not have done it, and could not say: nothing may be reported. */
interface Unknown {
  readonly unknown: string;
}

export async function startCharger(options: ChargerOptions): Promise<Sidecar> {
  const { transport, client, logger } = options;
  if (!(options.concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, not ${options.concurrency}`);
  const requestSerde = options.requestSerde ?? Serdes.json<PaymentRequestMessage>();
  const resultSerde = options.resultSerde ?? Serdes.json<PaymentOutcome>();
  const keySerde = Serdes.string();
  const shutdown = new AbortController();
  // Every call in flight listens on the shutdown signal (several listeners each: retries, back-off,
  // AbortSignal.any); Node warns past 10 listeners, so allow what `concurrency` calls can add.
  setMaxListeners(Math.max(10, options.concurrency * 4), shutdown.signal);
  const slots = new Semaphore(options.concurrency);
  const positions = new Map<string, PartitionProgress>();
  /** One call per order and kind at a time: copies of a request wait for it instead of calling again. */
  const inFlight = new Map<string, Promise<void>>();
  const running = new Set<Promise<void>>();
  let failure: Error | undefined;
  let rejectFailed!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => { rejectFailed = reject; });
  failed.catch(() => undefined);

  const producer: Producer = transport.producer();
  await producer.connect();
  const consumer: Consumer = transport.consumer({
    groupId: options.groupId,
    topics: [options.requestsTopic],
    autoOffsetReset: 'earliest',
    maxBatchSize: options.concurrency,
  });

  function fail(e: Error): void {
    if (failure) return;
    failure = e;
    logger(`charger failed: ${e.message}`);
    shutdown.abort();
    rejectFailed(e);
  }

  async function handle(batch: RecordBatch): Promise<void> {
    if (failure) throw failure;
    const progress = progressOf(batch.topic, batch.partition);
    for (const r of batch.records) {
      if (shutdown.signal.aborted) return;
      progress.started(r.offset);
      if (r.value === null) {
        // A tombstone asks for nothing; the topology never writes one.
        logger(`pg-requests record without a value skipped (partition ${r.partition}, offset ${r.offset})`);
        progress.finished(r.offset);
        commit(progress).catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
        continue;
      }
      const request = await decode(r);
      await slots.acquire();
      const work = charge(request, r).then(() => progress.finished(r.offset)).then(() => commit(progress));
      const tracked: Promise<void> = work.catch((e: unknown) => {
        // A call given up for shutdown stays open in its partition, hence uncommitted.
        if (!(e instanceof Aborted)) fail(e instanceof Error ? e : new Error(String(e)));
      }).finally(() => {
        slots.release();
        running.delete(tracked);
      });
      running.add(tracked);
    }
  }

  async function decode(r: ConsumedRecord): Promise<PaymentRequest> {
    try {
      return validateRequest(r.key?.toString('utf8') ?? null, await requestSerde.deserialize(r.topic, r.value!));
    } catch (e) {
      throw new ChargerError(`unreadable pg-requests record: ${e instanceof Error ? e.message : String(e)}`, r.topic, r.partition, r.offset, { cause: e });
    }
  }

  /** The gateway call and the outcome's write, or a wait for the same order's call in flight. */
  async function charge(request: PaymentRequest, r: ConsumedRecord): Promise<void> {
    const key = paymentKey(request.orderId, request.kind);
    const pending = inFlight.get(key);
    if (pending) return pending;
    const work = (async () => {
      const s = await settle(client, request, shutdown.signal, { leaveUnknown: options.leaveUnknown ?? false });
      // Shutting down: the outcome is unknown; nothing is written and the request is redone on restart.
      if (s === undefined) throw new Aborted();
      if ('unknown' in s) {
        // Committed past without an outcome: the entry stays PENDING and the topology re-sends it.
        logger(`payment ${request.kind} of order ${request.orderId} has an unknown outcome, left PENDING for a re-send: ${s.unknown}`);
        return;
      }
      if (s.outcome.status === 'FAILED') logger(`payment ${s.outcome.kind} FAILED for order ${s.outcome.orderId}: ${s.reason ?? 'no reason'}`);
      const record = {
        topic: options.resultsTopic,
        key: await keySerde.serialize(options.resultsTopic, s.outcome.orderId),
        value: await resultSerde.serialize(options.resultsTopic, s.outcome),
        ...(s.reason !== undefined ? { headers: { [FAILURE_REASON_HEADER]: s.reason } } : {}),
      };
      // The broker away (a restart): the outcome is known and must not be lost, so the write is
      // retried with back-off for as long as the outage lasts — the consumer's own reconnection
      // bound — rather than failing the charger, whose process would exit for a passing outage.
      const backoff = new Backoff(options.reconnect);
      for (;;) {
        try {
          await producer.send([record]);
          break;
        } catch (e) {
          if (!isRetriable(e) || backoff.exhausted()) {
            throw new ChargerError(`cannot write the outcome for order ${request.orderId}`, r.topic, r.partition, r.offset, { cause: e });
          }
          if (backoff.attempts === 0) logger(`writing the outcome for order ${request.orderId} failed, retrying: ${e instanceof Error ? e.message : String(e)}`);
          await abortableSleep(backoff.next(), shutdown.signal);
          // Shutting down: nothing written, the request stays uncommitted and is redone on restart.
          if (shutdown.signal.aborted) throw new Aborted();
        }
      }
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, work);
    return work;
  }

  /** Commits are chained per partition so that positions only move forward. */
  async function commit(progress: PartitionProgress): Promise<void> {
    progress.chain = progress.chain.then(async () => {
      const next = progress.committable();
      if (next === undefined || next <= progress.committed) return;
      // After a rebalance the partition may be someone else's: they redo its requests, idempotently.
      if (!consumer.assignment().some((tp) => tp.topic === progress.topic && tp.partition === progress.partition)) return;
      try {
        await consumer.commit([{ topic: progress.topic, partition: progress.partition, offset: next }]);
      } catch (e) {
        // Not committed (the broker away): the next commit of the partition covers this position
        // too, and requests redone meanwhile are idempotent. Only a non-retriable failure stops.
        if (isRetriable(e)) return;
        throw e;
      }
      progress.committed = next;
    });
    return progress.chain;
  }

  function progressOf(topic: string, partition: number): PartitionProgress {
    const k = `${topic}\u0000${partition}`;
    let p = positions.get(k);
    if (!p) positions.set(k, (p = new PartitionProgress(topic, partition)));
    return p;
  }

  try {
    await consumer.connect();
    await consumer.run(handle);
  } catch (e) {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw e;
  }
  logger(`charger reading ${options.requestsTopic} (group ${options.groupId}), writing ${options.resultsTopic}, ${options.concurrency} calls at a time`);

  let closing: Promise<void> | undefined;
  return {
    close: () => (closing ??= (async () => {
      shutdown.abort();
      await consumer.disconnect();
      await Promise.allSettled([...running]);
      await producer.disconnect();
    })()),
    stopped: () => Promise.race([consumer.stopped(), failed]),
  };
}

/** A call given up for shutdown: not a failure, and its request stays uncommitted. */
class Aborted extends Error {}

/** Waits `ms`, or less when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(); return; }
    const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Offsets of one partition started and finished, out of order: the position to commit is the
 * lowest offset still running, or past the highest finished one when none is.
 */
class PartitionProgress {
  private readonly open = new Set<number>();
  private highest = -1;
  committed = -1;
  chain: Promise<void> = Promise.resolve();

  constructor(readonly topic: string, readonly partition: number) {}

  started(offset: number): void {
    this.open.add(offset);
  }

  finished(offset: number): void {
    this.open.delete(offset);
    if (offset > this.highest) this.highest = offset;
  }

  committable(): number | undefined {
    if (this.highest < 0) return undefined;
    let lowest = Infinity;
    for (const o of this.open) if (o < lowest) lowest = o;
    return lowest === Infinity ? this.highest + 1 : Math.min(lowest, this.highest + 1);
  }
}

/** Counts free slots; `acquire` waits for one. */
class Semaphore {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) { this.free--; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.free++;
  }
}

/**
 * One request's outcome from the gateway; undefined when the call was aborted by shutdown (its
 * outcome is unknown, so nothing may be reported); `{ unknown }` with `leaveUnknown` when the
 * gateway could not tell whether it did it. Unexpected errors propagate and stop the
 * charger uncommitted.
 */
export async function settle(
  client: PgClient, request: PaymentRequest, signal?: AbortSignal, options: { readonly leaveUnknown?: boolean } = {},
): Promise<Settled | Unknown | undefined> {
  const body = { orderId: request.orderId, paymentKey: request.paymentKey, amount: request.amount };
  const result = (status: 'SUCCESS' | 'FAILED', reason?: string): Settled => ({
    outcome: { orderId: request.orderId, paymentKey: request.paymentKey, amount: request.amount, status, kind: request.kind },
    ...(reason !== undefined ? { reason } : {}),
  });
  try {
    if (request.kind === 'REFUND') {
      await client.refund(body, signal);
      return result('SUCCESS');
    }
    const charge = await client.charge(body, signal);
    return charge.outcome === 'CAPTURED' ? result('SUCCESS') : result('FAILED', `declined: ${charge.reason}`);
  } catch (e) {
    if (e instanceof PgAbortedError) return undefined;
    if (e instanceof PgOutcomeUnknownError && options.leaveUnknown) return { unknown: e.message };
    // Rejected, unavailable after retries, circuit open, a gateway answer off its API: the fallback is FAILED.
    if (e instanceof PaymentError) return result('FAILED', e.message);
    throw e;
  }
}
