/**
 * The topology the crash and rebalance tests run in worker processes: a count per key, and a
 * stream–table join of the same input with a price table. Both outputs are checkable: counts per
 * key must run 1..n, and the join must emit exactly one record per input.
 */
import { Serdes, StreamsBuilder, type Serde, type Topology } from '../../processors/engine/index.ts';

export interface CrashTopics {
  readonly input: string;
  readonly prices: string;
  readonly counts: string;
  readonly joined: string;
}

export function crashTopics(id: string): CrashTopics {
  return { input: `crash-in-${id}`, prices: `crash-prices-${id}`, counts: `crash-counts-${id}`, joined: `crash-joined-${id}` };
}

export function crashTopology(t: CrashTopics): Topology {
  const b = new StreamsBuilder();
  const input = b.stream<string, number>(t.input);
  input.groupByKey().count({ storeName: 'counts' }).toStream().to(t.counts, { valueSerde: Serdes.long() as Serde<number | null> });
  const prices = b.table<string, number>(t.prices, {}, { storeName: 'prices' });
  input.leftJoin(prices, (seq, price) => ({ seq, price })).to(t.joined);
  return b.build();
}
