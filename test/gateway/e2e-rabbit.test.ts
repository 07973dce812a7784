import test from 'ava';
import { endpoints } from '../../scripts/endpoints.ts';
import { rabbitTarget } from '../saga/brokers.ts';
import { Api, type ErrorBody } from './api.ts';
import { runFlows, startE2e } from './e2e-suite.ts';
import { TcpProxy } from './tcp-proxy.ts';

test('gateway end to end on RabbitMQ: every component its own process, two gateway instances; a broker partition gets 503, never a 202', async (t) => {
  t.timeout(300_000);
  const target = rabbitTarget();
  const run = await startE2e(target);
  const url = new URL(endpoints().rabbitUrl);
  const proxy = new TcpProxy(url.hostname, Number(url.port || 5672));
  try {
    await runFlows(t, run);

    // A third instance reaches the broker through a proxy that the test can partition.
    await proxy.start();
    url.port = String(proxy.port);
    const gw3 = await run.system.gateway('gw3', { RABBIT_URL: url.toString(), PUBLISH_TIMEOUT_MS: '2000' });
    const seller = await new Api(gw3).signUp('SELLER');
    const productId = await seller.product('Filter papers', 300, 100);
    const buyer = await new Api(gw3).signUp('BUYER');
    await buyer.waitFor('the level', async () => ((await buyer.call<{ available: number | null }>('GET', `/products/${productId}`)).body.available === 100 ? true : undefined), 60_000);
    proxy.blackhole();
    const refused = await buyer.call<ErrorBody>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' });
    t.is(refused.status, 503, JSON.stringify(refused.body));
    t.is(refused.body.error.code, 'BROKER_UNAVAILABLE');
    t.true(Number(refused.headers.get('retry-after')) > 0);
    proxy.heal();
    // Back by itself: the held bytes flow again and new orders are accepted.
    const accepted = await buyer.waitFor('a 202 after the partition healed', async () => {
      const r = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' });
      return r.status === 202 ? r.body.orderId : undefined;
    }, 30_000);
    await buyer.statusReaches(accepted, 'PENDING_PAYMENT', 60_000);
  } catch (e) {
    t.log(run.system.logTails());
    throw e;
  } finally {
    await proxy.close();
    t.deepEqual(await run.cleanup(), []);
  }
});
