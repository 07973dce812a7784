/**
 * The MongoDB-wire database (FerretDB, a private instance) stopped for ~6 s and started again
 * (data kept) under the gateway and the read-model projection, with orders being placed and paid.
 * While it is away the gateway answers what needs it with 503 and Retry-After (never 500) and
 * keeps accepting what does not; afterwards, without a restart of anything, every accepted order
 * reaches COMPLETED in the read model and the projection has caught up.
 */
import test from 'ava';
import { startSystem } from '../../gateway/system.ts';
import { Api } from '../gateway/api.ts';
import { privateInstance } from '../services/private-instance.ts';

const OUTAGE_MS = 6_000;
const ORDERS = 30;
/** Spacing of placements: the outage falls in the middle of them. */
const EVERY_MS = 300;

test('a database restart under the gateway and the projection: 503 with Retry-After meanwhile, every accepted order COMPLETED after', async (t) => {
  t.timeout(240_000);
  const db = await privateInstance('mongo', { MONGO_PORT: '27118', MONGO_DEBUG_PORT: '18089' });
  t.teardown(() => db.dispose());
  await db.up();
  const system = await startSystem({
    // Operations wait 1.5 s for the server (default 10 s), so the outage outlasts them.
    PORT: '0', PG_PORT: '0', MONGO_URL: db.env.MONGO_URL!, MONGO_TIMEOUT_MS: '1500', LOG_LEVEL: 'silent', DELIVERY_FAILURE_RATE: '0', PG_DECLINE_RATE: '0',
    PG_LATENCY_MS: '0,5', ORDER_PAYMENT_DEADLINE_MS: '120000', PROJECTION_RETRY_BACKOFF_MS: '50', PROJECTION_RETRY_MAX_BACKOFF_MS: '500',
  }, { seed: false });
  t.teardown(() => system.close());
  let stopped: unknown;
  system.stopped().catch((e: unknown) => { stopped = e; });

  const url = system.gateway.url;
  const seller = await new Api(url).signUp('SELLER');
  const buyer = await new Api(url).signUp('BUYER', { name: 'Ada Buyer', phone: '+44 20 7946 0000' });
  const productId = await seller.product('Kettle', 500, 1_000);
  await seller.waitFor('the stock level to be projected', async () => {
    const r = await seller.call<{ available: number | null }>('GET', `/products/${productId}`);
    return r.body.available === 1_000 ? true : undefined;
  });

  const answers = new Map<number, number>();
  const count = (status: number) => answers.set(status, (answers.get(status) ?? 0) + 1);
  const retryAfters = new Set<string>();
  const accepted: string[] = [];
  const note = (r: { status: number; headers: Headers }) => {
    count(r.status);
    if (r.status === 503) retryAfters.add(r.headers.get('retry-after') ?? 'none');
  };

  // Placements and reads of the buyer's order list run through the outage.
  const outage = (async () => {
    await new Promise((r) => setTimeout(r, (ORDERS / 3) * EVERY_MS));
    await db.down();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await db.up();
  })();
  for (let i = 0; i < ORDERS; i++) {
    const placed = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' }, { 'Idempotency-Key': `db-restart-${i}` });
    note(placed);
    if (placed.status === 202) accepted.push(placed.body.orderId);
    note(await buyer.call('GET', '/orders'));
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
  await outage;
  // The database is back: the same reads answer again, without restarting anything.
  await buyer.waitFor('the order list to answer again', async () => ((await buyer.call('GET', '/orders')).status === 200 ? true : undefined), 60_000);

  for (const orderId of accepted) {
    await buyer.waitFor(`order ${orderId} to ask for payment`, async () => {
      const r = await buyer.call<{ status: string }>('GET', `/orders/${orderId}/status`);
      return r.status === 200 && r.body.status !== 'CREATED' ? true : undefined;
    }, 90_000);
    await buyer.waitFor(`the payment of ${orderId} to be accepted`, async () => {
      const pay = await buyer.call('POST', `/orders/${orderId}/payment`, { paymentKey: `pk-${orderId}`, amount: 500 });
      return pay.status === 202 ? true : undefined;
    }, 60_000);
  }
  for (const orderId of accepted) await buyer.statusReaches(orderId, 'COMPLETED', 90_000);

  t.log(`answers: ${[...answers].map(([s, n]) => `${s}×${n}`).join(', ')}; ${accepted.length} of ${ORDERS} orders accepted`);
  t.is(answers.get(500) ?? 0, 0, 'no 500 while the database was away');
  t.true((answers.get(503) ?? 0) > 0, 'what needed the database was answered 503');
  t.deepEqual([...retryAfters], ['2'], 'every 503 says when to retry');
  t.true(accepted.length > 0);
  const listed = await buyer.call<{ items: { orderId: string; status: { status: string } }[] }>('GET', '/orders?limit=100');
  const completed = new Set(listed.body.items.filter((o) => o.status.status === 'COMPLETED').map((o) => o.orderId));
  t.deepEqual(accepted.filter((id) => !completed.has(id)), [], 'the read model lists every accepted order COMPLETED');
  t.is(stopped, undefined, 'no processor or the projection gave up');
});
