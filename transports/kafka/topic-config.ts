/**
 * The topic configuration a TopicSpec asks Kafka for, on either client. Compacted topics may carry
 * more (`compactedTopicConfig`): Kafka's cleaner never touches a partition's active segment, and
 * with the default 1 GiB segments a changelog is not compacted until it has written that much, so
 * a restore reads its whole history until then. `segment.ms` bounds it in time; Kafka Streams
 * leaves this to the user as well (`topic.` configs).
 */
import type { TopicSpec } from '../types.ts';

export interface TopicConfigOptions {
  /** Added to every compacted topic this transport creates, e.g. `{ 'segment.ms': '600000' }`. */
  readonly compactedTopicConfig?: Readonly<Record<string, string>>;
}

export function topicConfigEntries(spec: TopicSpec, options: TopicConfigOptions): { name: string; value: string }[] {
  const entries: { name: string; value: string }[] = [];
  if (spec.compacted) {
    entries.push({ name: 'cleanup.policy', value: 'compact' });
    for (const [name, value] of Object.entries(options.compactedTopicConfig ?? {})) entries.push({ name, value });
  }
  if (spec.retentionMs !== undefined) entries.push({ name: 'retention.ms', value: String(spec.retentionMs) });
  return entries;
}

/** `KAFKA_COMPACTED_TOPIC_CONFIG=segment.ms=600000,delete.retention.ms=3600000` as a config map. */
export function parseTopicConfig(text: string | undefined, variable = 'KAFKA_COMPACTED_TOPIC_CONFIG'): Record<string, string> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (eq <= 0 || !/^[a-z0-9.]+$/.test(name) || value === '') throw new Error(`${variable}: ${JSON.stringify(pair)} is not name=value (e.g. segment.ms=600000)`);
    out[name] = value;
  }
  return out;
}
