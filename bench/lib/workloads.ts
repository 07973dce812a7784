/**
 * The peer benchmarks' two workloads, as every system runs them: pass-through (source → sink,
 * 200 B values, bytes in and out) and count by key (groupByKey().count(), changelog, no record
 * cache: one output per input), and the input records they read.
 */
// Types only: the engine is loaded by the processes that run it, not by the KafkaJS loop's child.
import type { Serdes as EngineSerdes, StreamsBuilder } from '../../processors/engine/index.ts';

export type Workload = 'pass' | 'count';
export type Guarantee = 'at_least_once' | 'exactly_once';

export const WORKLOADS: readonly Workload[] = ['pass', 'count'];
export const GUARANTEES: readonly Guarantee[] = ['at_least_once', 'exactly_once'];
export const PARTITIONS = 6;
export const VALUE_BYTES = 200;

export const countKey = (i: number, keys: number): string => `key-${i % keys}`;

/** The i-th input record of a workload (keys: distinct keys of the count). */
export function inputRecord(workload: Workload, i: number, keys: number, value = Buffer.alloc(VALUE_BYTES, 'x')): { key: Buffer; value: Buffer } {
  return workload === 'pass' ? { key: Buffer.from(`k-${i}`), value } : { key: Buffer.from(countKey(i, keys)), value: Buffer.from(`v-${i}`) };
}

/** Adds the workload's topology, `input` → `output`, to `b` (the count's store is named `counts`). */
export function engineTopology(b: StreamsBuilder, Serdes: typeof EngineSerdes, workload: Workload, input: string, output: string): void {
  if (workload === 'pass') {
    b.stream(input, { keySerde: Serdes.buffer(), valueSerde: Serdes.buffer() }).to(output, { keySerde: Serdes.buffer(), valueSerde: Serdes.buffer() });
  } else {
    b.stream(input, { keySerde: Serdes.string(), valueSerde: Serdes.string() }).groupByKey().count({ storeName: 'counts' })
      .toStream().to(output, { keySerde: Serdes.string(), valueSerde: Serdes.long() });
  }
}
