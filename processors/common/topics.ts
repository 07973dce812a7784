/**
 * Creating the contract topics a processor reads and writes. In production a deployment step owns
 * this; processes create what is missing so that a fresh broker works, and fail loudly when an
 * existing topic disagrees (a partition count other than the one asked for).
 */
import type { Admin } from '../../transports/index.ts';
import { TOPICS, type TopicContract, type TopicName } from '../../schemas/index.ts';
import type { Contracts } from './contracts.ts';

export interface ContractTopicOptions {
  /** Partitions of topics whose contract does not fix a count. */
  readonly partitions: number;
}

/**
 * Every topic is replayable (a Kafka topic; a RabbitMQ stream): the order system's processors run
 * exactly_once, which on RabbitMQ needs inputs it can re-read.
 */
export async function ensureContractTopics(admin: Admin, contracts: Contracts, names: readonly TopicName[], options: ContractTopicOptions): Promise<void> {
  await admin.createTopics([...new Set(names)].map((name) => {
    const contract: TopicContract = TOPICS[name];
    return {
      name: contracts.topic(name),
      partitions: contract.partitions ?? options.partitions,
      kind: 'replayable' as const,
      ...(contract.compacted ? { compacted: true } : {}),
    };
  }));
}
