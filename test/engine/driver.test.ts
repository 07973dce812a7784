/** The shared topology cases through the synchronous test driver. */
import test from 'ava';
import { StreamsBuilder, TopologyTestDriver } from '../../processors/engine/index.ts';
import { cases } from './cases.ts';

for (const c of cases) {
  test(`test driver: ${c.name}`, (t) => {
    const b = new StreamsBuilder();
    c.build(b, (n) => n);
    const d = new TopologyTestDriver(b.build());
    for (const step of c.steps) for (const r of step) d.pipe(r.topic, r.key, r.value, { timestamp: r.timestamp });
    for (const [topic, perKey] of Object.entries(c.expected)) {
      const got: Record<string, unknown[]> = {};
      for (const r of d.readOutput(topic)) (got[JSON.stringify(r.key)] ??= []).push(r.value);
      t.deepEqual(got, perKey, topic);
    }
    d.close();
  });
}
