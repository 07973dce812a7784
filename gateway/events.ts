/**
 * Hands contract records to the broker and resolves only once the broker acknowledged them:
 * the gateway answers 202 after that and never before. Concurrent requests' records are
 * coalesced into one producer send while another is in flight (KafkaJS and amqplib pay per
 * call, not per record), and a send that does not complete within the timeout — a broker that
 * is away — fails the request with 503 and Retry-After instead of hanging it. A send that
 * fails replaces the producer, so that the publisher recovers by itself once the broker is back
 * even where a client stays dead after losing its connection.
 */
import { valueSerdeOf, type Contracts } from '../processors/common/index.ts';
import { keyOf, RecordValidationError, type TopicName, type TopicValue } from '../schemas/index.ts';
import type { Producer, ProducerRecord, Transport } from '../transports/index.ts';
import { withTimeout } from '../transports/util.ts';
import { unavailable } from './errors.ts';

export interface PublisherOptions {
  /** How long a send may take before the request fails with 503. */
  readonly timeoutMs: number;
  readonly retryAfterSeconds: number;
}

interface Pending {
  readonly record: ProducerRecord;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class EventPublisher {
  #producer: Producer;
  #queue: Pending[] = [];
  #inFlight = false;
  #connected: Promise<void> | undefined;

  constructor(private readonly transport: Transport, private readonly contracts: Contracts, private readonly options: PublisherOptions) {
    this.#producer = transport.producer();
  }

  async publish<T extends TopicName>(topic: T, value: TopicValue<T>): Promise<void> {
    const name = this.contracts.topic(topic);
    let bytes: Buffer;
    try {
      bytes = await valueSerdeOf(this.contracts, topic).serialize(name, value);
    } catch (e) {
      // A value the gateway built is valid by construction: a validation error is a bug (500).
      if (e instanceof RecordValidationError) throw e;
      throw unavailable('REGISTRY_UNAVAILABLE', `schema registry unavailable: ${e instanceof Error ? e.message : String(e)}`, this.options.retryAfterSeconds, e);
    }
    const record: ProducerRecord = { topic: name, key: keyOf(topic, value), value: bytes };
    await this.#withTimeout(new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#pump();
    }));
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#producer.disconnect().catch(() => undefined);
  }

  #pump(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#inFlight = true;
    const producer = this.#producer;
    (this.#connected ??= producer.connect())
      .then(() => producer.send(batch.map((p) => p.record)))
      .then(() => { for (const p of batch) p.resolve(); }, (e: unknown) => {
        this.#replace(producer);
        for (const p of batch) p.reject(e);
      })
      .finally(() => { this.#inFlight = false; this.#pump(); });
  }

  /** The next send starts on a new producer; the failed one is closed in the background. */
  #replace(failed: Producer): void {
    if (this.#producer !== failed) return;
    this.#producer = this.transport.producer();
    this.#connected = undefined;
    void failed.disconnect().catch(() => undefined);
  }

  async #withTimeout(sent: Promise<void>): Promise<void> {
    const { timeoutMs, retryAfterSeconds } = this.options;
    try {
      await withTimeout(sent, timeoutMs, () => new Error(`no acknowledgement within ${timeoutMs} ms`));
    } catch (e) {
      sent.catch(() => undefined);
      throw unavailable('BROKER_UNAVAILABLE', `the broker did not acknowledge the event: ${e instanceof Error ? e.message : String(e)}`, retryAfterSeconds, e);
    }
  }
}
