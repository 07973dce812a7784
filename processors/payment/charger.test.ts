/**
 * The charger through a broker outage (regression: on Kafka, a broker restart made the charger
 * fail with "cannot write the outcome" on the first retriable send failure, and the payment
 * process exit 2 — the saga's broker-restart fault test, test/faults/). Writes and commits that
 * fail retriably are retried or left to the next commit; the outcome arrives once the broker is back.
 */
import test from 'ava';
import { MemoryTransport, TransportError, type Consumer, type Producer, type Transport } from '../../transports/index.ts';
import { waitUntil } from '../../test/conformance/suite.ts';
import { startCharger } from './charger.ts';
import { PgClient } from './pg-client.ts';
import { startPgSimulator } from './pg-simulator.ts';
import type { PaymentOutcome, PaymentRequestMessage } from '../../schemas/index.ts';

const unreachable = () => new TransportError('broker away (test)', { transport: 'memory' }, true);

/** The transport with its producers' first `sends` sends and its consumers' first `commits` commits failing retriably. */
function flaky(inner: Transport, failures: { sends: number; commits: number }): Transport & { failed: { sends: number; commits: number } } {
  const failed = { sends: 0, commits: 0 };
  const wrap = <T extends object>(target: T, method: string, budget: 'sends' | 'commits'): T => new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (prop !== method || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
      return async (...args: unknown[]) => {
        if (failed[budget] < failures[budget]) { failed[budget]++; throw unreachable(); }
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
  return new Proxy(inner, {
    get(obj, prop, receiver) {
      if (prop === 'failed') return failed;
      if (prop === 'producer') return (...args: Parameters<Transport['producer']>): Producer => wrap(obj.producer(...args), 'send', 'sends');
      if (prop === 'consumer') return (...args: Parameters<Transport['consumer']>): Consumer => wrap(obj.consumer(...args), 'commit', 'commits');
      const value = Reflect.get(obj, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
    },
  }) as Transport & { failed: typeof failed };
}

test('a retriable failure to write an outcome or commit is retried: the charger goes on and the outcome is written once', async (t) => {
  const sim = await startPgSimulator({ latencyMs: [1, 5], seed: 'charger-test', declineRate: 0, errorRate: 0 });
  const memory = new MemoryTransport();
  const transport = flaky(memory, { sends: 3, commits: 2 });
  t.teardown(async () => { await memory.close(); await sim.close(); });
  await memory.admin().createTopics([{ name: 'req', partitions: 1, kind: 'replayable' }, { name: 'res', partitions: 1, kind: 'replayable' }]);
  const lines: string[] = [];
  const charger = await startCharger({
    transport, client: new PgClient({ baseUrl: sim.url }), requestsTopic: 'req', resultsTopic: 'res', groupId: 'charger',
    concurrency: 4, reconnect: { initialDelayMs: 10, maxDelayMs: 50, maxElapsedMs: 10_000 }, logger: (l) => lines.push(l),
  });
  let stopped: unknown;
  charger.stopped().catch((e: unknown) => { stopped = e; });

  const producer = memory.producer();
  await producer.connect();
  const request = (orderId: string): PaymentRequestMessage => ({ eventId: `e-${orderId}`, orderId, paymentKey: `pk-${orderId}`, amount: 1000, kind: 'CHARGE' } as PaymentRequestMessage);
  await producer.send(['o1', 'o2'].map((id) => ({ topic: 'req', key: Buffer.from(id), value: Buffer.from(JSON.stringify(request(id))) })));

  const outcomes: PaymentOutcome[] = [];
  const reader = memory.consumer({ groupId: 'reader', topics: ['res'], autoOffsetReset: 'earliest' });
  await reader.connect();
  await reader.run(async (batch) => { for (const r of batch.records) outcomes.push(JSON.parse(r.value!.toString()) as PaymentOutcome); });
  await waitUntil(() => outcomes.length >= 2 && transport.failed.commits >= 2, 'both outcomes written after the failed sends, commits tried', 10_000);
  await new Promise((r) => setTimeout(r, 200));

  t.is(stopped, undefined, `the charger stopped: ${String(stopped)}`);
  t.is(transport.failed.sends, 3, 'the first sends failed (the broker away)');
  t.deepEqual(outcomes.map((o) => `${o.orderId} ${o.status}`).sort(), ['o1 SUCCESS', 'o2 SUCCESS'], 'each outcome written once');
  t.true(lines.some((l) => l.includes('retrying')), lines.join('\n'));
  await reader.disconnect();
  await producer.disconnect();
  await charger.close();
});
