/**
 * Consumer-group coordination on RabbitMQ, which has none of Kafka's: members announce themselves
 * on a fanout exchange; every member computes the same round-robin plan from the same member set;
 * a partition is owned by whoever holds its lock, an exclusive queue that RabbitMQ deletes when
 * the holder's connection dies. So a crashed member's partitions are free at once, and a live
 * member gives partitions up (revoke, then unlock) before another can take them.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { TopicPartition } from '../types.ts';
import { assignCopartitioned } from '../util.ts';
import { withChannel } from './channels.ts';
import { groupExchange, lockQueue } from './naming.ts';

export interface MembershipOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly heartbeatMs: number;
  readonly sessionTimeoutMs: number;
}

interface Heartbeat {
  readonly member: string;
  readonly topics: readonly string[];
  readonly leaving?: boolean;
}

export class Membership {
  readonly memberId = randomUUID();
  private channel: Channel | undefined;
  private readonly lastSeen = new Map<string, { at: number; topics: readonly string[] }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly joinedAt = Date.now();

  constructor(private readonly conn: ChannelModel, private readonly options: MembershipOptions) {}

  async join(onChange: () => void): Promise<void> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    // With its channel (or the connection) gone, this member is gone: stop announcing it.
    ch.on('close', () => { clearInterval(this.timer); this.channel = undefined; });
    this.channel = ch;
    const ex = groupExchange(this.options.groupId);
    await ch.assertExchange(ex, 'fanout', { durable: false, autoDelete: true });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(queue, ex, '');
    await ch.consume(queue, (msg: ConsumeMessage | null) => {
      if (!msg) return;
      const hb = JSON.parse(msg.content.toString()) as Heartbeat;
      const known = this.lastSeen.has(hb.member);
      if (hb.leaving) this.lastSeen.delete(hb.member);
      else this.lastSeen.set(hb.member, { at: Date.now(), topics: hb.topics });
      if (hb.leaving || !known) onChange();
    }, { noAck: true });
    this.beat(false);
    this.timer = setInterval(() => {
      this.beat(false);
      const cutoff = Date.now() - this.options.sessionTimeoutMs;
      for (const [m, s] of this.lastSeen) if (s.at < cutoff && m !== this.memberId) { this.lastSeen.delete(m); onChange(); }
    }, this.options.heartbeatMs);
  }

  /** True once this member has listened long enough to have heard every live member. */
  settled(): boolean {
    return Date.now() - this.joinedAt > this.options.heartbeatMs * 2;
  }

  /** This member's share of `partitions`, by the plan every member computes alike. */
  share(partitions: readonly TopicPartition[]): TopicPartition[] {
    const mine: TopicPartition[] = [];
    for (const topic of new Set(partitions.map((p) => p.topic))) {
      const members = [...this.lastSeen].filter(([, s]) => s.topics.includes(topic)).map(([m]) => m);
      if (!members.includes(this.memberId)) members.push(this.memberId);
      const plan = assignCopartitioned(members, partitions.filter((p) => p.topic === topic));
      mine.push(...(plan.get(this.memberId) ?? []));
    }
    return mine;
  }

  async leave(): Promise<void> {
    clearInterval(this.timer);
    this.beat(true);
    await this.channel?.close().catch(() => undefined);
  }

  private beat(leaving: boolean): void {
    const hb: Heartbeat = { member: this.memberId, topics: this.options.topics, leaving };
    this.channel?.publish(groupExchange(this.options.groupId), '', Buffer.from(JSON.stringify(hb)));
  }
}

/**
 * Takes the partition's lock: an exclusive queue. Another connection holding it makes the
 * declare fail (RESOURCE_LOCKED), which closes only the throwaway channel used here.
 */
const RESOURCE_LOCKED = 405;

export async function tryLock(conn: ChannelModel, groupId: string, tp: TopicPartition): Promise<boolean> {
  try {
    await withChannel(conn, (ch) => ch.assertQueue(lockQueue(groupId, tp.topic, tp.partition), { exclusive: true, durable: false, autoDelete: false }));
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === RESOURCE_LOCKED) return false;
    throw e;
  }
}

export async function unlock(conn: ChannelModel, groupId: string, tp: TopicPartition): Promise<void> {
  await withChannel(conn, (ch) => ch.deleteQueue(lockQueue(groupId, tp.topic, tp.partition)));
}
