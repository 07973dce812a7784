/**
 * The two real brokers the saga runs on, and how to remove everything a run created: every topic
 * and consumer group whose name starts with the run's prefix (contract topics, the processors'
 * internal topics and groups, which are named from APP_IDs that start with the prefix too), and
 * the registry subjects registered under it.
 */
import type { Client } from '@confluentinc/schemaregistry';
import { endpoints, type Endpoints } from '../../scripts/endpoints.ts';
import { KafkaTransport, RabbitTransport, type Transport } from '../../transports/index.ts';
import { Management } from '../../transports/rabbit/management.ts';
import { retireSubjects } from '../services/subjects.ts';

export interface BrokerTarget {
  readonly name: 'kafka' | 'rabbit';
  make(): Transport;
  /** TRANSPORT and connection settings for the processor processes. */
  readonly env: Readonly<Record<string, string>>;
  /** Names of the topics and groups starting with `prefix` that exist now. */
  list(transport: Transport, prefix: string): Promise<{ topics: string[]; groups: string[] }>;
}

/** `at`: another broker than the shared one (a fault test's private instance). */
export function kafkaTarget(at: Endpoints = endpoints()): BrokerTarget {
  const brokers = at.kafkaBrokers;
  return {
    name: 'kafka',
    make: () => new KafkaTransport({ brokers, sessionTimeoutMs: 6000 }),
    env: { TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(',') },
    async list(transport, prefix) {
      if (!(transport instanceof KafkaTransport)) throw new TypeError('kafka target needs a KafkaTransport');
      const admin = transport.kafka.admin();
      await admin.connect();
      try {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
        return { topics, groups };
      } finally {
        await admin.disconnect();
      }
    },
  };
}

export function rabbitTarget(at: Endpoints = endpoints()): BrokerTarget {
  const { rabbitUrl, rabbitManagementUrl } = at;
  const management = new Management(rabbitUrl, rabbitManagementUrl);
  return {
    name: 'rabbit',
    make: () => new RabbitTransport({ url: rabbitUrl, managementUrl: rabbitManagementUrl }),
    env: { TRANSPORT: 'rabbit', RABBIT_URL: rabbitUrl, RABBIT_MANAGEMENT_URL: rabbitManagementUrl },
    async list(_transport, prefix) {
      // A topic T is queues T.0 … T.n-1 (transports/rabbit/naming.ts); a group G keeps its
      // positions in the stream __orderstream.offsets.G.
      const topics = [...new Set((await management.queues(prefix)).map((q) => q.replace(/\.\d+$/, '')))];
      const offsets = '__orderstream.offsets.';
      const groups = (await management.queues(`${offsets}${prefix}`)).map((q) => q.slice(offsets.length));
      return { topics, groups };
    },
  };
}

/** Deletes the run's groups, topics and registry subjects; returns what it could not delete. */
export async function sweep(target: BrokerTarget, transport: Transport, registry: Client, prefix: string): Promise<string[]> {
  const failures: string[] = [];
  const note = (what: string) => (e: unknown) => { failures.push(`${what}: ${e instanceof Error ? e.message : String(e)}`); };
  const admin = transport.admin();
  const found = await target.list(transport, prefix).catch((e: unknown) => { note('listing topics and groups')(e); return { topics: [], groups: [] }; });
  // Groups first: a Kafka group's offsets refer to the topics.
  if (found.groups.length > 0) await admin.deleteGroups(found.groups).catch(note(`deleting groups ${found.groups.join(', ')}`));
  if (found.topics.length > 0) await admin.deleteTopics(found.topics).catch(note(`deleting topics ${found.topics.join(', ')}`));
  try {
    const subjects = (await registry.getAllSubjects()).filter((s) => s.startsWith(prefix));
    await retireSubjects(registry, subjects);
  } catch (e) {
    note('deleting registry subjects')(e);
  }
  // Kafka deletes topics asynchronously: give the controller a moment before calling them left over.
  let left = { topics: ['?'], groups: ['?'] };
  for (let i = 0; i < 20 && left.topics.length + left.groups.length > 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    left = await target.list(transport, prefix).catch(() => ({ topics: [], groups: [] }));
  }
  if (left.topics.length + left.groups.length > 0) failures.push(`still there after the sweep: topics ${left.topics.join(', ') || '-'}; groups ${left.groups.join(', ') || '-'}`);
  return failures;
}
