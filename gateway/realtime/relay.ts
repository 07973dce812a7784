/**
 * Each gateway instance reads `order-status-topic` and `chat-topic` in a group of its own, from
 * the latest position (both are replayable topics, so on RabbitMQ too every instance sees every
 * record), and hands each record to its local STOMP subscribers. Nothing is committed: a
 * restarted instance starts from the latest again, which is right for pushes (a client that
 * reconnects reads the status URL and the chat history).
 */
import type { Logger } from 'pino';
import { valueSerdeOf, type Contracts } from '../../processors/common/index.ts';
import { Deduplicator, isMarker } from '../../processors/engine/index.ts';
import type { ChatMessage, OrderStatusChanged } from '../../schemas/index.ts';
import type { Consumer, Transport } from '../../transports/index.ts';

export interface RelayTargets {
  status(event: OrderStatusChanged): void;
  chat(message: ChatMessage): void;
}

export class RealtimeRelay {
  readonly #consumer: Consumer;
  readonly #dedup = new Deduplicator();
  readonly #statusTopic: string;
  readonly #chatTopic: string;
  readonly #statusSerde;
  readonly #chatSerde;

  constructor(transport: Transport, contracts: Contracts, groupId: string, private readonly targets: RelayTargets, private readonly logger: Logger) {
    this.#statusTopic = contracts.topic('order-status-topic');
    this.#chatTopic = contracts.topic('chat-topic');
    this.#statusSerde = valueSerdeOf(contracts, 'order-status-topic');
    this.#chatSerde = valueSerdeOf(contracts, 'chat-topic');
    this.#consumer = transport.consumer({ groupId, topics: [this.#statusTopic, this.#chatTopic], autoOffsetReset: 'latest' });
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.run(async (batch) => {
      for (const r of batch.records) {
        if (isMarker(r) || r.value === null || !this.#dedup.admit(r)) continue;
        try {
          if (r.topic === this.#statusTopic) this.targets.status(await this.#statusSerde.deserialize(r.topic, r.value));
          else if (r.topic === this.#chatTopic) this.targets.chat(await this.#chatSerde.deserialize(r.topic, r.value));
        } catch (e) {
          // A push is best effort; the record itself is the projection's to dead-letter.
          this.logger.warn({ topic: r.topic, partition: r.partition, offset: r.offset, err: e }, 'undecodable record not pushed');
        }
      }
    });
  }

  stopped(): Promise<void> {
    return this.#consumer.stopped();
  }

  async close(): Promise<void> {
    await this.#consumer.disconnect();
  }
}
