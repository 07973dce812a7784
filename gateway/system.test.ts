/**
 * The whole system in one process on the embedded defaults (memory transport, in-process
 * registry, embedded database): what a buyer and a seller do through the gateway, and what the
 * gateway refuses. The same flows on the real brokers, with every component its own process, are
 * test/gateway/e2e-*.test.ts.
 */
import test from 'ava';
import { startSystem, type System } from './system.ts';
import { Api, type ErrorBody } from '../test/gateway/api.ts';
import { connectStomp } from '../test/gateway/stomp-client.ts';
import { readTopic } from '../test/gateway/topics.ts';

let system: System;
const env = { PORT: '0', PG_PORT: '0', ORDER_PAYMENT_DEADLINE_MS: '60000', DELIVERY_FAILURE_RATE: '0', PG_DECLINE_RATE: '0', PG_LATENCY_MS: '0,5', LOG_LEVEL: 'silent', LOGIN_MAX_FAILURES: '3' };

test.before(async () => {
  system = await startSystem(env, { seed: false });
});
test.after.always(async () => {
  await system?.close();
});

async function shop() {
  const url = system.gateway.url;
  const seller = await new Api(url).signUp('SELLER');
  const buyer = await new Api(url).signUp('BUYER', { name: 'Ada Buyer', phone: '+44 20 7946 0000' });
  const productId = await seller.product('Kettle', 5900, 10);
  await seller.waitFor('the stock level to be projected', async () => {
    const r = await seller.call<{ available: number | null }>('GET', `/products/${productId}`);
    return r.body.available === 10 ? true : undefined;
  });
  return { url, seller, buyer, productId };
}

test('a delivery order goes from 202 to COMPLETED, every status pushed over STOMP in order, and the timeline and lists agree', async (t) => {
  const { url, seller, buyer, productId } = await shop();
  const placed = await buyer.call<{ orderId: string; status: string; websocketTopic: string; statusCheckUrl: string }>('POST', '/orders', {
    lines: [{ productId, quantity: 2 }], fulfilment: 'DELIVERY', delivery: { address: '1 Main St', zipcode: '12345' },
  });
  t.is(placed.status, 202, JSON.stringify(placed.body));
  const { orderId } = placed.body;
  t.deepEqual(placed.body, { orderId, status: 'CREATED', websocketTopic: `/topic/order/${orderId}`, statusCheckUrl: `/orders/${orderId}/status` });
  t.is(placed.headers.get('location'), `/orders/${orderId}`);

  const stomp = await connectStomp(url, buyer.token);
  t.teardown(() => stomp.close());
  stomp.subscribe(placed.body.websocketTopic);
  await buyer.statusReaches(orderId, 'PENDING_PAYMENT');
  const pay = await buyer.call('POST', `/orders/${orderId}/payment`, { paymentKey: 'pk-test', amount: 11800 });
  t.is(pay.status, 202, JSON.stringify(pay.body));
  await buyer.statusReaches(orderId, 'COMPLETED');

  const pushed = await buyer.waitFor('the COMPLETED push', async () => {
    const m = stomp.messages.get(`/topic/order/${orderId}`) as { status: string; sequence: number; progressPercentage: number }[] | undefined;
    return m?.some((x) => x.status === 'COMPLETED') ? m : undefined;
  });
  const statuses = pushed.map((m) => m.status);
  t.deepEqual(statuses.slice(statuses.indexOf('PAYMENT_COMPLETED')), ['PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED']);
  const sequences = pushed.map((m) => m.sequence);
  t.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'pushes arrive in sequence order');
  t.is(pushed.at(-1)!.progressPercentage, 100);

  const detail = await buyer.call<{ total: number; timeline: { to: string }[]; lines: { subtotal: number; sellerId: string }[]; status: { status: string; canCancel: boolean } }>('GET', `/orders/${orderId}`);
  t.is(detail.status, 200);
  t.is(detail.body.total, 11800);
  t.is(detail.body.lines[0]!.sellerId, seller.userId!);
  t.deepEqual(detail.body.timeline.map((e) => e.to), ['CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED']);
  t.false(detail.body.status.canCancel);

  const mine = await buyer.call<{ items: { orderId: string }[] }>('GET', '/orders');
  t.deepEqual(mine.body.items.map((o) => o.orderId), [orderId]);
  const incoming = await seller.call<{ items: { orderId: string }[] }>('GET', '/seller/orders');
  t.deepEqual(incoming.body.items.map((o) => o.orderId), [orderId]);
  // The seller may now see the buyer; another seller may not, and learns nothing.
  t.deepEqual((await seller.call('GET', `/auth/user/${buyer.userId}`)).body, { id: buyer.userId, role: 'BUYER', email: (await buyer.call<{ email: string }>('GET', '/users/me')).body.email });
  const stranger = await new Api(url).signUp('SELLER');
  t.is((await stranger.call('GET', `/auth/user/${buyer.userId}`)).status, 404);
  t.is((await stranger.call('GET', `/orders/${orderId}`)).status, 404);
  await buyer.waitFor('units left to drop to 8', async () => ((await buyer.call<{ available: number }>('GET', `/products/${productId}`)).body.available === 8 ? true : undefined));
});

test('buyer and seller chat about an order over STOMP on two gateway instances, and the history keeps it', async (t) => {
  const { seller, buyer, productId } = await shop();
  const { startGateway } = await import('./app.ts');
  const { gatewayConfigFromEnv } = await import('./config.ts');
  // A second instance on the same transport and database, its own realtime group.
  const second = await startGateway({
    transport: system.transport, registry: system.registry, contracts: system.contracts, persistence: system.persistence,
  }, { ...gatewayConfigFromEnv({ ...env, JWT_SECRET: system.jwtSecret, GATEWAY_ID: 'second' }), port: 0 });
  t.teardown(() => second.close());

  const placed = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' });
  const { orderId } = placed.body;
  await buyer.statusReaches(orderId, 'PENDING_PAYMENT');
  const buyerWs = await connectStomp(system.gateway.url, buyer.token);
  const sellerWs = await connectStomp(second.url, seller.token);
  t.teardown(async () => { await buyerWs.close(); await sellerWs.close(); });
  buyerWs.subscribe(`/topic/chat/${orderId}`);
  sellerWs.subscribe(`/topic/chat/${orderId}`);
  await new Promise((r) => setTimeout(r, 200)); // SUBSCRIBE frames are not acknowledged without a receipt
  await buyerWs.send(`/app/chat/${orderId}`, { text: 'Is it the blue one?' });
  const atSeller = await seller.waitFor('the message at the seller', async () => sellerWs.messages.get(`/topic/chat/${orderId}`)?.[0] as { text: string; fromUserId: string } | undefined);
  t.is(atSeller.text, 'Is it the blue one?');
  t.is(atSeller.fromUserId, buyer.userId!);
  await sellerWs.send(`/app/chat/${orderId}`, { text: 'Yes, blue.' });
  await buyer.waitFor('the answer at the buyer', async () => (buyerWs.messages.get(`/topic/chat/${orderId}`)?.length === 2 ? true : undefined));
  const history = await buyer.waitFor('the history', async () => {
    const r = await buyer.call<{ items: { text: string }[] }>('GET', `/orders/${orderId}/chat`);
    return r.body.items.length === 2 ? r.body.items : undefined;
  });
  t.deepEqual(history.map((m) => m.text), ['Is it the blue one?', 'Yes, blue.']);
  // Someone else can neither subscribe nor send.
  const other = await new Api(system.gateway.url).signUp('BUYER');
  const otherWs = await connectStomp(system.gateway.url, other.token);
  t.teardown(() => otherWs.close());
  await t.throwsAsync(otherWs.send(`/app/chat/${orderId}`, { text: 'hi' }));
});

test('Idempotency-Key: the same request replays the first answer, a different one gets 422', async (t) => {
  const { buyer, productId } = await shop();
  const body = { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' };
  const first = await buyer.call<{ orderId: string }>('POST', '/orders', body, { 'Idempotency-Key': 'order-1' });
  const again = await buyer.call<{ orderId: string }>('POST', '/orders', body, { 'Idempotency-Key': 'order-1' });
  t.is(first.status, 202);
  t.is(again.status, 202);
  t.is(again.body.orderId, first.body.orderId);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  const other = await buyer.call<ErrorBody>('POST', '/orders', { ...body, lines: [{ productId, quantity: 2 }] }, { 'Idempotency-Key': 'order-1' });
  t.is(other.status, 422);
  t.is(other.body.error.field, 'Idempotency-Key');
  const placed = (await readTopic(system, 'order-placed')).filter((o) => o.orderId === first.body.orderId);
  t.is(placed.length, 1, 'one order-placed for the key');
});

const BAD_ORDERS: readonly [string, unknown, number, string][] = [
  ['no lines', { lines: [], fulfilment: 'WAREHOUSE' }, 400, 'lines: must have at least one line'],
  ['zero quantity', { lines: [{ productId: 'P', quantity: 0 }], fulfilment: 'WAREHOUSE' }, 400, 'lines[0].quantity: must be a positive integer'],
  ['negative quantity', { lines: [{ productId: 'P', quantity: -1 }], fulfilment: 'WAREHOUSE' }, 400, 'lines[0].quantity: must be a positive integer'],
  ['fractional quantity', { lines: [{ productId: 'P', quantity: 1.5 }], fulfilment: 'WAREHOUSE' }, 400, 'lines[0].quantity: must be a positive integer'],
  ['quantity as a string', { lines: [{ productId: 'P', quantity: '2' }], fulfilment: 'WAREHOUSE' }, 400, 'lines[0].quantity: must be a positive integer'],
  ['unknown product', { lines: [{ productId: '00000000-0000-4000-8000-000000000000', quantity: 1 }], fulfilment: 'WAREHOUSE' }, 400, 'lines[0].productId: is not a product in the catalogue'],
  ['missing fulfilment', { lines: [{ productId: 'P', quantity: 1 }] }, 400, 'fulfilment: is required'],
  ['extra field', { lines: [{ productId: 'P', quantity: 1 }], fulfilment: 'WAREHOUSE', price: 1 }, 400, 'price: is not a known field'],
  ['extra field in a line', { lines: [{ productId: 'P', quantity: 1, unitPrice: 1 }], fulfilment: 'WAREHOUSE' }, 400, 'lines[0].unitPrice: is not a known field'],
  ['delivery without address', { lines: [{ productId: 'P', quantity: 1 }], fulfilment: 'DELIVERY' }, 400, 'delivery: is required when fulfilment is DELIVERY'],
  ['too many lines', { lines: Array.from({ length: 51 }, () => ({ productId: 'P', quantity: 1 })), fulfilment: 'WAREHOUSE' }, 400, 'lines: must have at most 50 lines'],
  ['body not an object', [1, 2], 400, 'body: must be an object'],
];

test('bad orders get 4xx naming the field, and nothing reaches any topic', async (t) => {
  const { buyer, productId } = await shop();
  const before = (await readTopic(system, 'order-placed')).length;
  for (const [what, body, status, message] of BAD_ORDERS) {
    const r = await buyer.call<ErrorBody>('POST', '/orders', JSON.stringify(body).replaceAll('"P"', JSON.stringify(productId)));
    t.is(r.status, status, what);
    t.is(r.body.error?.message, message, what);
    t.truthy(r.body.error?.requestId, what);
  }
  const malformed = await buyer.call<ErrorBody>('POST', '/orders', '{"lines": [', {});
  t.is(malformed.status, 400);
  t.regex(malformed.body.error.message, /^body: is not valid JSON/);
  const notJson = await buyer.call<ErrorBody>('POST', '/orders', 'lines=1', { 'content-type': 'application/x-www-form-urlencoded' });
  t.is(notJson.status, 415);
  const oversize = await buyer.call<ErrorBody>('POST', '/orders', JSON.stringify({ lines: [], fulfilment: 'WAREHOUSE', pad: 'x'.repeat(200_000) }));
  const huge = await buyer.call<ErrorBody>('POST', '/orders', { lines: Array.from({ length: 100_000 }, () => ({ productId, quantity: 1 })), fulfilment: 'WAREHOUSE' });
  t.is(huge.status, 413, 'a huge array is refused before it is parsed');
  t.is(oversize.status, 413);
  t.is(oversize.body.error.code, 'PAYLOAD_TOO_LARGE');
  t.is((await readTopic(system, 'order-placed')).length, before, 'no order-placed record');
});

test('refresh tokens rotate; presenting a used one revokes the whole family', async (t) => {
  const buyer = await new Api(system.gateway.url).signUp('BUYER');
  const first = buyer.refreshToken!;
  const rotated = await buyer.call<{ refreshToken: string; accessToken: string }>('POST', '/auth/refresh', { refreshToken: first });
  t.is(rotated.status, 200);
  const reuse = await buyer.call<ErrorBody>('POST', '/auth/refresh', { refreshToken: first });
  t.is(reuse.status, 401);
  t.regex(reuse.body.error.message, /already used/);
  // The thief's reuse also ended the owner's newer token.
  t.is((await buyer.call('POST', '/auth/refresh', { refreshToken: rotated.body.refreshToken })).status, 401);
  const asAccess = await buyer.call<ErrorBody>('GET', '/users/me', undefined, { authorization: `Bearer ${rotated.body.refreshToken}` });
  t.is(asAccess.status, 401);
});

test('a login brute force gets 429 with Retry-After, also for the right password', async (t) => {
  const api = new Api(system.gateway.url);
  const victim = await new Api(system.gateway.url).signUp('BUYER');
  const email = (await victim.call<{ email: string }>('GET', '/users/me')).body.email;
  for (let i = 0; i < 3; i++) t.is((await api.call('POST', '/auth/login', { email, password: `wrong-${i}-password` })).status, 401);
  const blocked = await api.call<ErrorBody>('POST', '/auth/login', { email, password: 'correct horse battery' });
  t.is(blocked.status, 429);
  t.true(Number(blocked.headers.get('retry-after')) >= 1);
});

test('/openapi.json documents every route with its schemas; /health, /ready and /metrics answer', async (t) => {
  const api = new Api(system.gateway.url);
  const doc = (await api.call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json')).body;
  t.is(doc.openapi, '3.1.0');
  for (const path of ['/auth/signup', '/auth/login', '/auth/refresh', '/auth/logout', '/auth/user/{userId}', '/products', '/products/{id}', '/products/{id}/stock', '/orders', '/orders/{id}', '/orders/{id}/status', '/orders/{id}/payment', '/orders/{id}/cancel', '/orders/{id}/chat', '/seller/orders']) {
    t.truthy(doc.paths[path], path);
  }
  t.truthy((doc.paths['/orders']!.post as { requestBody?: unknown }).requestBody);
  t.deepEqual((await api.call('GET', '/health')).body, { status: 'ok' });
  const ready = await api.call<{ checks: Record<string, string> }>('GET', '/ready');
  t.is(ready.status, 200, JSON.stringify(ready.body));
  const metrics = await api.call<string>('GET', '/metrics');
  t.regex(metrics.body, /http_request_duration_seconds_bucket\{[^}]*route="\/health",status="200"/);
  t.regex(metrics.body, /stomp_connections/);
  const unknown = await api.call<ErrorBody>('GET', '/nowhere');
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'NOT_FOUND');
});
