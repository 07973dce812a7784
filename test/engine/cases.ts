/**
 * The topologies every runner checks: the test driver, and the runtime on memory, Kafka and
 * RabbitMQ. Inputs come in steps; records within a step may be processed in any order without
 * changing the result (so a step holds one topic's records, or records whose order per key is
 * their order in the step), and a runner waits for a step to be processed before the next.
 * Expected outputs are per key, in order, as Kafka Streams would emit them with caching off.
 */
import { BufferConfig, JoinWindows, Serdes, StreamsBuilder, Suppressed, TimeWindows, TopologyTestDriver, type Serde } from '../../processors/engine/index.ts';

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
  /** Partitions of every topic on a broker (default 2); windowed cases use 1 so one stream time rules. */
  readonly partitions?: number;
  readonly outputs: Readonly<Record<string, { readonly value?: Serde<unknown> }>>;
  build(builder: StreamsBuilder, topic: (logical: string) => string): void;
  readonly steps: readonly (readonly InputRecord[])[];
  /** Output topic → key (JSON text) → values in order. */
  readonly expected: Readonly<Record<string, Readonly<Record<string, readonly unknown[]>>>>;
}

/**
 * A case through the test driver: its outputs per topic and key, and the records processed
 * after each step (a runtime on a broker must reach the same counts step by step).
 */
export function runOnDriver(c: TopologyCase): { outputs: Record<string, Record<string, unknown[]>>; counts: number[] } {
  const b = new StreamsBuilder();
  c.build(b, (n) => n);
  const d = new TopologyTestDriver(b.build());
  try {
    const counts = c.steps.map((step) => {
      for (const r of step) d.pipe(r.topic, r.key, r.value, { timestamp: r.timestamp });
      return d.recordsProcessed();
    });
    const outputs: Record<string, Record<string, unknown[]>> = {};
    for (const topic of Object.keys(c.outputs)) {
      outputs[topic] = {};
      for (const r of d.readOutput(topic)) (outputs[topic][JSON.stringify(r.key)] ??= []).push(r.value);
    }
    return { outputs, counts };
  } finally {
    d.close();
  }
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
  {
    name: 'windowed count with grace and suppress until the window closes',
    inputs: ['clicks'],
    partitions: 1,
    outputs: { 'final-counts': {} },
    build(b, t) {
      b.stream<string, string>(t('clicks'))
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(10_000, 5_000))
        .count()
        .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
        .toStream()
        .map((wk, n) => [`${wk.key}@${wk.window.start}`, n] as const)
        .to(t('final-counts'));
    },
    steps: [[
      at('clicks', 1000, 'a', '.'), at('clicks', 2000, 'a', '.'), at('clicks', 3000, 'b', '.'),
      at('clicks', 11_000, 'a', '.'),
      at('clicks', 9000, 'a', '.'), // out of order, within grace: counts for [0, 10 s)
      at('clicks', 16_000, 'x', '.'), // stream time passes 10 s + 5 s grace: [0, 10 s) closes
      at('clicks', 4000, 'a', '.'), // too late: dropped
      at('clicks', 40_000, 'x', '.'), // closes [10 s, 20 s)
    ]],
    expected: {
      'final-counts': { '"a@0"': [3], '"b@0"': [1], '"a@10000"': [1], '"x@10000"': [1] },
    },
  },
  {
    name: 'stream–stream outer join (non-joined results when the window closes)',
    inputs: ['L', 'R'],
    partitions: 1,
    outputs: { outer: {} },
    build(b, t) {
      const right = b.stream<string, string>(t('R'));
      b.stream<string, string>(t('L'))
        .outerJoin(right, (l, r) => `${l ?? 'null'}+${r ?? 'null'}`, JoinWindows.ofTimeDifferenceAndGrace(5000, 0))
        .to(t('outer'));
    },
    steps: [
      [at('L', 1000, 'k1', 'a')],
      [at('R', 2000, 'k1', 'x')],
      [at('L', 3000, 'k2', 'b')],
      [at('R', 4000, 'k3', 'y')],
      [at('L', 20_000, 'k4', 'c')],
    ],
    expected: { outer: { '"k1"': ['a+x'], '"k2"': ['b+null'], '"k3"': ['null+y'] } },
  },
  {
    name: 'foreign-key join: product renamed, order moved to another product, product deleted',
    inputs: ['orders', 'products'],
    outputs: { lines: {} },
    build(b, t) {
      const products = b.table<string, string>(t('products'), {}, { storeName: 'products' });
      b.table<string, { product: string; qty: number }>(t('orders'), {}, { storeName: 'orders' })
        .join(products, (o) => o.product, (o, name) => `${o.qty}x${name}`)
        .toStream()
        .to(t('lines'));
    },
    steps: [
      [at('products', 1000, 'p1', 'pen'), at('products', 1000, 'p2', 'ink')],
      [at('orders', 1100, 'o1', { product: 'p1', qty: 2 }), at('orders', 1100, 'o2', { product: 'p2', qty: 1 }), at('orders', 1100, 'o3', { product: 'p9', qty: 5 })],
      [at('products', 1200, 'p1', 'Pen')],
      [at('orders', 1300, 'o2', { product: 'p1', qty: 3 })],
      [at('products', 1400, 'p2', null)],
    ],
    expected: { lines: { '"o1"': ['2xpen', '2xPen'], '"o2"': ['1xink', '3xPen'] } },
  },
];
