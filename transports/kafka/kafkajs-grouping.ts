/**
 * KafkaJS 2.2.4's groupMessagesPerPartition as shipped, before patches/kafkajs+2.2.4.patch: the
 * reference the patch test compares against and the bench times. Not used by the transport.
 */
import { createRequire } from 'node:module';

export interface GroupMessage { readonly partition?: number }
export type GroupMessages = <M extends GroupMessage>(args: {
  topic: string; partitionMetadata: unknown[]; messages: M[]; partitioner: (a: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}) => Record<number, M[]>;

/** Where the installed (patched) function lives. */
export const installedPath = createRequire(import.meta.url).resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
/** The installed function, patched by `npm ci`. */
export const installed = createRequire(import.meta.url)(installedPath) as GroupMessages;

/** The shipped function: it copies the partition's array for every message. */
export const shipped: GroupMessages = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce((result: Record<number, (typeof messages)[number][]>, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    return Object.assign(result, { [partition]: [...(result[partition] ?? []), message] });
  }, {});
};
