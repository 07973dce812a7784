/**
 * The charger: the sidecar that makes payment's HTTP calls, which cannot happen inside
 * (synchronous) processing. It reads `<appId>-pg-requests` with a plain consumer (group
 * `<appId>-charger`), calls the gateway for a batch's requests concurrently (bounded), so one slow
 * payment does not hold up other orders, writes every outcome to `<appId>-pg-results`, and only
 * then commits the batch.
 *
 * At-least-once is enough: a batch redelivered after a crash calls the gateway again with the
 * same idempotency key (`charge:<orderId>`), which returns the stored outcome instead of charging
 * again, and the topology keeps only the first outcome per order and kind.
 *
 * A decline, a rejection (4xx), spent retries and an open circuit all end as FAILED with the
 * reason in a header: the order then cancels instead of waiting. Caveat of that fallback: after a
 * timeout a real gateway may have captured the money without answering; reconciliation (or a
 * refund by the same idempotency key) has to settle that, not this process.
 */
import type { Consumer, Producer, RecordBatch, Transport } from '../../transports/index.ts';
import { Serdes, type Serde } from '../engine/index.ts';
import type { PaymentRequestMessage, PaymentSuccessMessage } from '../../schemas/index.ts';
import type { Sidecar } from '../common/index.ts';
import { PaymentError, PgAbortedError } from './errors.ts';
import type { PgClient } from './pg-client.ts';
import { FAILURE_REASON_HEADER, paymentKey, validateRequest, type PaymentRequest } from './topology.ts';

export interface ChargerOptions {
  readonly transport: Transport;
  readonly client: PgClient;
  readonly requestsTopic: string;
  readonly resultsTopic: string;
  readonly groupId: string;
  /** Gateway calls in flight at once, and records per batch. */
  readonly concurrency: number;
  /** The internal topics' value serdes, as the topology uses them (JSON when undefined). */
  readonly requestSerde?: Serde<PaymentRequestMessage>;
  readonly resultSerde?: Serde<PaymentSuccessMessage>;
  readonly logger: (line: string) => void;
}

/** A pg-requests record the charger cannot read: it wrote nothing for it and stops, uncommitted. */
export class ChargerError extends Error {
  constructor(message: string, readonly topic: string, readonly partition: number, readonly offset: number, options?: { cause?: unknown }) {
    super(`${message} (topic ${topic}, partition ${partition}, offset ${offset})`, options);
    this.name = 'ChargerError';
  }
}

interface Settled {
  readonly outcome: PaymentSuccessMessage;
  readonly reason?: string;
}

export async function startCharger(options: ChargerOptions): Promise<Sidecar> {
  const { transport, client, logger } = options;
  const requestSerde = options.requestSerde ?? Serdes.json<PaymentRequestMessage>();
  const resultSerde = options.resultSerde ?? Serdes.json<PaymentSuccessMessage>();
  const key = Serdes.string();
  const shutdown = new AbortController();
  const producer: Producer = transport.producer();
  await producer.connect();
  const consumer: Consumer = transport.consumer({
    groupId: options.groupId,
    topics: [options.requestsTopic],
    autoOffsetReset: 'earliest',
    // One batch is about one wave of concurrent calls: Kafka heartbeats between batches only.
    maxBatchSize: options.concurrency,
  });

  async function handle(batch: RecordBatch): Promise<void> {
    if (shutdown.signal.aborted || batch.records.length === 0) return;
    // Copies of one request in a batch (a redelivered order request) need one call.
    const requests = new Map<string, PaymentRequest>();
    for (const r of batch.records) {
      if (r.value === null) throw new ChargerError('pg-requests record without a value', r.topic, r.partition, r.offset);
      let request: PaymentRequest;
      try {
        request = validateRequest(r.key?.toString('utf8') ?? null, await requestSerde.deserialize(r.topic, r.value));
      } catch (e) {
        throw new ChargerError(`unreadable pg-requests record: ${e instanceof Error ? e.message : String(e)}`, r.topic, r.partition, r.offset, { cause: e });
      }
      requests.set(paymentKey(request.orderId, request.kind), request);
    }
    const settled = await mapBounded([...requests.values()], options.concurrency, (request) => settle(client, request, shutdown.signal));
    // Shutting down mid-batch: nothing written, nothing committed; the batch is redone on restart.
    if (settled.some((s) => s === undefined)) return;
    const records = [];
    for (const s of settled as Settled[]) {
      if (s.outcome.status === 'FAILED') logger(`payment ${s.outcome.kind} FAILED for order ${s.outcome.orderId}: ${s.reason ?? 'no reason'}`);
      records.push({
        topic: options.resultsTopic,
        key: await key.serialize(options.resultsTopic, s.outcome.orderId),
        value: await resultSerde.serialize(options.resultsTopic, s.outcome),
        ...(s.reason !== undefined ? { headers: { [FAILURE_REASON_HEADER]: s.reason } } : {}),
      });
    }
    await producer.send(records);
    const next = batch.records[batch.records.length - 1]!.offset + 1;
    // After a rebalance the partition may be someone else's: they redo the batch, idempotently.
    if (consumer.assignment().some((tp) => tp.topic === batch.topic && tp.partition === batch.partition)) {
      await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    }
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
      await producer.disconnect();
    })()),
    stopped: () => consumer.stopped(),
  };
}

/**
 * One request's outcome from the gateway; undefined when the call was aborted by shutdown (its
 * outcome is unknown, so nothing may be reported). Unexpected errors propagate and stop the
 * charger uncommitted.
 */
export async function settle(client: PgClient, request: PaymentRequest, signal?: AbortSignal): Promise<Settled | undefined> {
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
    // Rejected, unavailable after retries, circuit open, a gateway answer off its API: the fallback is FAILED.
    if (e instanceof PaymentError) return result('FAILED', e.message);
    throw e;
  }
}

/** `fn` over the items with at most `limit` running at once; results in item order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
