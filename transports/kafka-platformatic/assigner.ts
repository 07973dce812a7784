/**
 * The co-partitioned assignment (partition p of every subscribed topic to one member, see
 * `assignCopartitioned`) as a @platformatic/kafka group assigner: the same plan the KafkaJS
 * transport's assigner computes, so the engine's tasks see the same ownership on either client.
 */
import type { GroupPartitionsAssigner } from '@platformatic/kafka';
import { assignCopartitioned } from '../util.ts';
import type { TopicPartition } from '../types.ts';

export const copartitionedAssigner: GroupPartitionsAssigner = (_current, members, topics, metadata) => {
  const partitions: TopicPartition[] = [];
  for (const topic of topics) {
    const n = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let partition = 0; partition < n; partition++) partitions.push({ topic, partition });
  }
  const plan = assignCopartitioned([...members.keys()], partitions);
  return [...plan].map(([memberId, tps]) => {
    const assignments = new Map<string, { topic: string; partitions: number[] }>();
    for (const tp of tps) {
      let a = assignments.get(tp.topic);
      if (!a) assignments.set(tp.topic, (a = { topic: tp.topic, partitions: [] }));
      a.partitions.push(tp.partition);
    }
    return { memberId, assignments };
  });
};
