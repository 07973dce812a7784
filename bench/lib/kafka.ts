/**
 * The harness Kafka as the peer benchmarks use it: a KafkaJS client, topics created with retries,
 * output end offsets, and the Kafka Streams peer app (bench/kafka-streams/, built with Maven).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { endpoints } from '../../scripts/endpoints.ts';

export const BROKERS = endpoints().kafkaBrokers;
export const kafka = (clientId = 'bench'): Kafka => new Kafka({ clientId, brokers: [...BROKERS], logLevel: logLevel.NOTHING });

const STREAMS_DIR = join(import.meta.dirname, '..', 'kafka-streams');
const STREAMS_JAR = join(STREAMS_DIR, 'target', 'kafka-streams-peer-1.jar');
/** The classpath of the Kafka Streams peer: its jar and the runtime dependencies Maven copied. */
export const STREAMS_CP = `${STREAMS_JAR}:${join(STREAMS_DIR, 'target', 'lib', '*')}`;
/** Output and changelog topics take a whole backlog's batch, as in issue 11's measurements. */
export const MAX_MESSAGE_BYTES = String(16 * 1024 * 1024);

/** Builds the Kafka Streams peer unless its jar and classpath are there and newer than its sources. */
export function ensureJar(): void {
  const sources = [join(STREAMS_DIR, 'pom.xml'), ...readdirSync(join(STREAMS_DIR, 'src'), { recursive: true, encoding: 'utf8' }).map((f) => join(STREAMS_DIR, 'src', f))];
  const fresh = existsSync(STREAMS_JAR) && existsSync(join(STREAMS_DIR, 'target', 'lib'))
    && sources.every((f) => statSync(f).mtimeMs <= statSync(STREAMS_JAR).mtimeMs);
  if (fresh) return;
  console.log('building bench/kafka-streams (mvn -B -q package)…');
  const r = spawnSync('mvn', ['-B', '-q', 'package'], { cwd: STREAMS_DIR, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('mvn package failed in bench/kafka-streams');
}

/** Sum over partitions of the topic's end offset: the records written (plus markers under EOS). */
export async function outputEnd(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
}

export async function waitOutput(admin: Admin, topic: string, n: number, what: () => string, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (await outputEnd(admin, topic) < n) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface CreateOptions {
  readonly partitions: number;
  /** max.message.bytes = MAX_MESSAGE_BYTES (outputs and changelogs of the peers). */
  readonly big?: boolean;
  readonly compacted?: boolean;
}

/** Creates the missing ones of `names`, waiting for leaders. */
export async function createTopics(admin: Admin, names: readonly string[], o: CreateOptions): Promise<void> {
  // A few attempts: on the shared machine the broker answers UNKNOWN_TOPIC_OR_PARTITION for a while
  // when it is slow to place leaders (or another suite restarts it).
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = new Set(await admin.listTopics());
      const missing = names.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      const configEntries = [
        ...(o.big ? [{ name: 'max.message.bytes', value: MAX_MESSAGE_BYTES }] : []),
        ...(o.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
      ];
      await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: o.partitions, replicationFactor: 1, configEntries })) });
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

/** Deletes every topic and consumer group whose name starts with `prefix` (a run's leftovers). */
export async function sweepKafka(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
}
