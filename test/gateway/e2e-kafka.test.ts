import test from 'ava';
import { kafkaTarget } from '../saga/brokers.ts';
import { runFlows, startE2e } from './e2e-suite.ts';

test('gateway end to end on Kafka: every component its own process, two gateway instances', async (t) => {
  t.timeout(300_000);
  const run = await startE2e(kafkaTarget());
  try {
    await runFlows(t, run);
  } catch (e) {
    t.log(run.system.logTails());
    throw e;
  } finally {
    t.deepEqual(await run.cleanup(), []);
  }
});
