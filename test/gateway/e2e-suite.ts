/**
 * The gateway end to end on a real broker, registry and MongoDB-wire database, with every
 * component its own process (test/gateway/processes.ts) and two gateway instances: sign up, add
 * products, place orders, pay, cancel, watch pushes arrive in order on the other instance, chat
 * across instances, read status and history. Cleans up its topics, groups, subjects and
 * database.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { MongoClient } from 'mongodb';
import { endpoints } from '../../scripts/endpoints.ts';
import { remoteRegistry } from '../../schemas/index.ts';
import { sweep, type BrokerTarget } from '../saga/brokers.ts';
import { Api } from './api.ts';
import { startSystemProcesses, type SystemProcesses } from './processes.ts';
import { connectStomp } from './stomp-client.ts';

export interface E2eRun {
  readonly system: SystemProcesses;
  readonly urls: readonly [string, string];
  readonly prefix: string;
  readonly jwtSecret: string;
  cleanup(): Promise<string[]>;
}

export async function startE2e(target: BrokerTarget): Promise<E2eRun> {
  const e = endpoints();
  const prefix = `gw-${randomUUID().slice(0, 8)}-`;
  const database = `${prefix}db`.replaceAll('-', '_');
  const stateRoot = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
  const jwtSecret = randomBytes(32).toString('base64url');
  const system = await startSystemProcesses({
    brokerEnv: target.env, schemaRegistryUrl: e.schemaRegistryUrl, mongoUrl: e.mongoUrl, database, prefix, jwtSecret,
    stateRoot, logDir: join(stateRoot, 'logs'),
  });
  try {
    const urls = [await system.gateway('gw1'), await system.gateway('gw2')] as const;
    return {
      system, urls, prefix, jwtSecret,
      async cleanup() {
        await system.stop();
        const transport = target.make();
        const left = await sweep(target, transport, remoteRegistry(e.schemaRegistryUrl).client, prefix);
        await transport.close();
        const mongo = new MongoClient(e.mongoUrl);
        await mongo.db(database).dropDatabase().catch((err: unknown) => left.push(`dropping ${database}: ${String(err)}`));
        await mongo.close();
        rmSync(stateRoot, { recursive: true, force: true });
        return left;
      },
    };
  } catch (err) {
    await system.stop();
    throw err;
  }
}

/** The flows; `t` fails with the processes' logs if a process died on its own. */
export async function runFlows(t: ExecutionContext, run: E2eRun): Promise<void> {
  const [gw1, gw2] = run.urls;
  const seller = await new Api(gw1).signUp('SELLER');
  const buyer = await new Api(gw2).signUp('BUYER', { name: 'Eve Buyer', phone: '+1 555 0101' });
  const productId = await seller.product('Grinder', 8900, 5);
  await buyer.waitFor('the level on the other instance', async () => ((await buyer.call<{ available: number | null }>('GET', `/products/${productId}`)).body.available === 5 ? true : undefined), 60_000);

  // A delivery order placed on gw2, watched live on gw1.
  const placed = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 2 }], fulfilment: 'DELIVERY', delivery: { address: '2 High St', zipcode: '99999' } }, { 'Idempotency-Key': 'e2e-1' });
  t.is(placed.status, 202, JSON.stringify(placed.body));
  const { orderId } = placed.body;
  const onGw1 = new Api(gw1);
  onGw1.token = buyer.token;
  await onGw1.waitFor('the order on gw1', async () => ((await onGw1.call('GET', `/orders/${orderId}`)).status === 200 ? true : undefined), 60_000);
  const ws = await connectStomp(gw1, buyer.token);
  ws.subscribe(`/topic/order/${orderId}`);
  await buyer.statusReaches(orderId, 'PENDING_PAYMENT', 60_000);
  await new Promise((r) => setTimeout(r, 300)); // the SUBSCRIBE is in before the payment's pushes
  t.is((await buyer.call('POST', `/orders/${orderId}/payment`, { paymentKey: 'pk-e2e', amount: 17800 })).status, 202);
  await buyer.statusReaches(orderId, 'COMPLETED', 90_000);
  const pushed = await buyer.waitFor('the COMPLETED push on gw1', async () => {
    const m = ws.messages.get(`/topic/order/${orderId}`) as { status: string; sequence: number }[] | undefined;
    return m?.some((x) => x.status === 'COMPLETED') ? m : undefined;
  }, 30_000);
  // Subscribed before the payment: every status from then on arrives, in order, on the other instance.
  const all = ['CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED'];
  const statuses = pushed.map((m) => m.status);
  t.deepEqual(statuses, all.slice(all.indexOf(statuses[0]!)), 'a gapless, ordered tail of the statuses');
  t.true(statuses.length >= 4, 'at least every push after the payment');
  await ws.close();
  const detail = await buyer.call<{ timeline: { to: string }[]; delivery: { name: string; phone: string } }>('GET', `/orders/${orderId}`);
  t.deepEqual(detail.body.timeline.map((x) => x.to), ['CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED']);
  const replay = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 2 }], fulfilment: 'DELIVERY', delivery: { address: '2 High St', zipcode: '99999' } }, { 'Idempotency-Key': 'e2e-1' });
  t.is(replay.body.orderId, orderId, 'the key replays the first order');

  // A cancelled order, and chat across instances.
  const second = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' });
  const cancelled = second.body.orderId;
  await buyer.statusReaches(cancelled, 'PENDING_PAYMENT', 60_000);
  const buyerWs = await connectStomp(gw1, buyer.token);
  const sellerWs = await connectStomp(gw2, seller.token);
  buyerWs.subscribe(`/topic/chat/${cancelled}`);
  sellerWs.subscribe(`/topic/chat/${cancelled}`);
  await new Promise((r) => setTimeout(r, 300));
  await buyerWs.send(`/app/chat/${cancelled}`, { text: 'Please cancel, sorry' });
  await seller.waitFor('the buyer\'s message at the seller on gw2', async () => (sellerWs.messages.get(`/topic/chat/${cancelled}`)?.length === 1 ? true : undefined), 30_000);
  await sellerWs.send(`/app/chat/${cancelled}`, { text: 'Done' });
  await buyer.waitFor('the answer at the buyer on gw1', async () => (buyerWs.messages.get(`/topic/chat/${cancelled}`)?.length === 2 ? true : undefined), 30_000);
  await buyerWs.close();
  await sellerWs.close();
  t.is((await buyer.call('POST', `/orders/${cancelled}/cancel`, { reason: 'changed my mind' })).status, 202);
  await buyer.statusReaches(cancelled, 'CANCELLED', 60_000);
  const history = await buyer.waitFor('the chat history', async () => {
    const r = await buyer.call<{ items: { text: string }[] }>('GET', `/orders/${cancelled}/chat`);
    return r.body.items.length === 2 ? r.body.items.map((m) => m.text) : undefined;
  }, 30_000);
  t.deepEqual(history, ['Please cancel, sorry', 'Done']);
  const incoming = await seller.call<{ items: { orderId: string; status: { status: string } }[] }>('GET', '/seller/orders');
  t.deepEqual(incoming.body.items.map((o) => [o.orderId, o.status.status]), [[cancelled, 'CANCELLED'], [orderId, 'COMPLETED']]);
  await buyer.waitFor('units left 3 (2 sold, 1 released)', async () => ((await buyer.call<{ available: number }>('GET', `/products/${productId}`)).body.available === 3 ? true : undefined), 30_000);
  t.is(run.system.problem(), undefined, run.system.problem() ?? '');
}
