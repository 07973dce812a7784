/**
 * A KafkaJS partition assigner that keeps co-partitioned topics together: partition p of every
 * subscribed topic goes to the same member (see `assignCopartitioned`). KafkaJS's round-robin
 * assigner spreads the flattened list, which would split partition p of two joined topics.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { assignCopartitioned } from '../util.ts';

export const CopartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'OrderstreamCopartitioned',
  version: 0,
  async assign({ members, topics }) {
    const partitions = topics.flatMap((topic) => cluster.findTopicPartitionMetadata(topic).map((m) => ({ topic, partition: m.partitionId })));
    const plan = assignCopartitioned(members.map((m) => m.memberId), partitions);
    return [...plan].map(([memberId, tps]) => {
      const assignment: Record<string, number[]> = {};
      for (const tp of tps) (assignment[tp.topic] ??= []).push(tp.partition);
      return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }) };
    });
  },
  protocol({ topics }) {
    return { name: 'OrderstreamCopartitioned', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
