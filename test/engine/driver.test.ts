/** The shared topology cases through the synchronous test driver. */
import test from 'ava';
import { cases, runOnDriver } from './cases.ts';

for (const c of cases) {
  test(`test driver: ${c.name}`, (t) => {
    const { outputs } = runOnDriver(c);
    for (const [topic, perKey] of Object.entries(c.expected)) t.deepEqual(outputs[topic], perKey, topic);
  });
}
