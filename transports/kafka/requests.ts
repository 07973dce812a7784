/**
 * Splits one `send` into produce requests the broker accepts. The broker refuses a partition's
 * record batch bigger than the topic's `max.message.bytes` (MESSAGE_TOO_LARGE) and KafkaJS puts
 * every record of a partition in one batch, so a backlog's worth of outputs in one send fails
 * the whole commit. Records of a partition keep their order: the requests are sent one after
 * another, each taking the next records of every partition.
 */
import type { ProducerRecord } from '../types.ts';

export interface RequestLimits {
  /** Bytes of records (as `kafkaRecordSize` counts them) per partition and request, per topic. */
  readonly partitionBytes: (topic: string) => number;
  /** Bytes of records per request, all partitions together (below the broker's socket.request.max.bytes). */
  readonly requestBytes: number;
  /** Records per partition and request: KafkaJS groups a request's records per partition in time quadratic in their count. */
  readonly partitionRecords: number;
}

export interface Placed {
  readonly topic: string;
  readonly partition: number;
  readonly record: ProducerRecord;
  /** Its index in the records given to `send`. */
  readonly index: number;
  readonly size: number;
}

/** A record batch's header (v2): offset, length, epoch, magic, crc, attributes, deltas, ids, count. */
export const BATCH_OVERHEAD = 61;
/**
 * Room left below `max.message.bytes` for what this count does not see (a broker that counts a
 * few bytes differently); the bound below is already an upper bound of the record's encoding.
 */
export const HEADROOM = 512;
/** Kafka's broker default `message.max.bytes` (1 MiB + 12 bytes of log overhead). */
export const BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * An upper bound of a record's size inside a v2 record batch: its varints (length, timestamp and
 * offset deltas, key and value lengths, header count) at their widest, the attributes byte, the
 * key, the value, and each header's name and value with their length varints.
 */
export function kafkaRecordSize(r: ProducerRecord): number {
  let n = 5 + 1 + 10 + 5 + 5 + 5 + 5 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  if (r.headers) {
    for (const name in r.headers) {
      const v = r.headers[name]!;
      n += 10 + Buffer.byteLength(name) + (typeof v === 'string' ? Buffer.byteLength(v) : v.length);
    }
  }
  return n;
}

/** The record bytes one partition's batch may carry for a topic with this `max.message.bytes`. */
export function partitionBudget(maxMessageBytes: number): number {
  return Math.max(0, maxMessageBytes - BATCH_OVERHEAD - HEADROOM);
}

/**
 * Groups placed records into requests within the limits, in `send` order per partition. A record
 * bigger than its partition's budget on its own must have been refused before (it would never fit).
 */
export function splitRequests(placed: readonly Placed[], limits: RequestLimits): Placed[][] {
  const partitions = new Map<string, Placed[]>();
  for (const p of placed) {
    const k = `${p.topic}\u0000${p.partition}`;
    let list = partitions.get(k);
    if (!list) partitions.set(k, (list = []));
    list.push(p);
  }
  const queues = [...partitions.values()].map((list) => ({ list, at: 0, budget: limits.partitionBytes(list[0]!.topic) }));
  const requests: Placed[][] = [];
  for (let left = placed.length; left > 0;) {
    const request: Placed[] = [];
    let bytes = 0;
    for (const q of queues) {
      let partitionBytes = 0;
      for (let taken = 0; q.at < q.list.length && taken < limits.partitionRecords; taken++) {
        const p = q.list[q.at]!;
        // An empty request always takes one record, so the split makes progress whatever the limits.
        if (request.length > 0 && (partitionBytes + p.size > q.budget || bytes + p.size > limits.requestBytes)) break;
        request.push(p);
        partitionBytes += p.size;
        bytes += p.size;
        q.at++;
      }
      if (bytes >= limits.requestBytes) break;
    }
    left -= request.length;
    requests.push(request);
  }
  return requests;
}
