/**
 * The topologies every runner checks: the test driver, and the runtime on memory, Kafka and
 * RabbitMQ. Inputs come in steps; records within a step may be processed in any order without
 * changing the result (so a step holds one topic's records, or records whose order per key is
 * their order in the step), and a runner waits for a step to be processed before the next.
 * Expected outputs are per key, in order, as Kafka Streams would emit them with caching off.
 */
import { Serdes, type Serde, type StreamsBuilder } from '../../processors/engine/index.ts';

export interface InputRecord {
  readonly topic: string;
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
}

export interface TopologyCase {
  readonly name: string;
  /** Logical names; runners suffix them to make them unique. */
  readonly inputs: readonly string[];
  readonly outputs: Readonly<Record<string, { readonly value?: Serde<unknown> }>>;
  build(builder: StreamsBuilder, topic: (logical: string) => string): void;
  readonly steps: readonly (readonly InputRecord[])[];
  /** Output topic → key (JSON text) → values in order. */
  readonly expected: Readonly<Record<string, Readonly<Record<string, readonly unknown[]>>>>;
}

const at = (topic: string, timestamp: number, key: unknown, value: unknown): InputRecord => ({ topic, key, value, timestamp });

export const cases: readonly TopologyCase[] = [
  {
    name: 'word count',
    inputs: ['text'],
    outputs: { counts: { value: Serdes.long() as Serde<unknown> } },
    build(b, t) {
      b.stream<string | null, string>(t('text'))
        .flatMapValues((line) => line.toLowerCase().split(/\W+/).filter(Boolean))
        .groupBy((_k, word) => word, { name: 'words' })
        .count({ storeName: 'word-counts' })
        .toStream()
        .to(t('counts'), { valueSerde: Serdes.long() as Serde<number | null> });
    },
    steps: [[
      at('text', 1000, 'l1', 'the quick brown fox'),
      at('text', 1001, 'l2', 'the lazy dog'),
      at('text', 1002, 'l3', 'The fox and THE dog'),
    ]],
    expected: {
      counts: {
        '"the"': [1, 2, 3, 4], '"quick"': [1], '"brown"': [1], '"fox"': [1, 2], '"lazy"': [1], '"dog"': [1, 2], '"and"': [1],
      },
    },
  },
  {
    name: 'stream–table enrichment (left join, table updated in between)',
    inputs: ['customers', 'orders'],
    outputs: { enriched: {} },
    build(b, t) {
      const customers = b.table<string, { name: string }>(t('customers'), {}, { storeName: 'customers' });
      b.stream<string, { orderId: string; amount: number }>(t('orders'))
        .leftJoin(customers, (o, c) => `${o.orderId}:${c?.name ?? '?'}:${o.amount}`)
        .to(t('enriched'));
    },
    steps: [
      [at('customers', 1000, 'c1', { name: 'Ann' }), at('customers', 1000, 'c2', { name: 'Bob' })],
      [at('orders', 1100, 'c1', { orderId: 'o1', amount: 5 }), at('orders', 1101, 'c2', { orderId: 'o2', amount: 7 }), at('orders', 1102, 'c3', { orderId: 'o3', amount: 9 })],
      [at('customers', 1200, 'c1', { name: 'Annie' }), at('customers', 1200, 'c2', null)],
      [at('orders', 1300, 'c1', { orderId: 'o4', amount: 1 }), at('orders', 1301, 'c2', { orderId: 'o5', amount: 2 })],
    ],
    expected: {
      enriched: { '"c1"': ['o1:Ann:5', 'o4:Annie:1'], '"c2"': ['o2:Bob:7', 'o5:?:2'], '"c3"': ['o3:?:9'] },
    },
  },
  {
    name: 'table–table joins with deletes',
    inputs: ['left', 'right'],
    outputs: { inner: {}, leftjoin: {} },
    build(b, t) {
      const l = b.table<string, string>(t('left'), {}, { storeName: 'left-table' });
      const r = b.table<string, string>(t('right'), {}, { storeName: 'right-table' });
      l.join(r, (a, x) => `${a}+${x}`).toStream().to(t('inner'));
      l.leftJoin(r, (a, x) => `${a}+${x ?? 'null'}`).toStream().to(t('leftjoin'));
    },
    steps: [
      [at('left', 1000, 'k1', 'a'), at('left', 1000, 'k2', 'p')],
      [at('right', 1100, 'k1', 'x'), at('right', 1100, 'k2', 'y')],
      [at('left', 1200, 'k1', 'b')],
      [at('right', 1300, 'k1', null), at('right', 1300, 'k2', 'z')],
      [at('left', 1400, 'k1', null), at('left', 1400, 'k2', null)],
    ],
    expected: {
      inner: { '"k1"': ['a+x', 'b+x', null], '"k2"': ['p+y', 'p+z', null] },
      leftjoin: { '"k1"': ['a+null', 'a+x', 'b+x', 'b+null', null], '"k2"': ['p+null', 'p+y', 'p+z', null] },
    },
  },
];
