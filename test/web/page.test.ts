/**
 * The shop's page in a real Chromium against the whole system started in-process (startSystem:
 * processors, projection, gateway, seeded demo data): on the memory transport always, and on
 * Kafka with the real registry and FerretDB when KAFKA_BROKERS is set.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { DEMO_BUYER } from '../../gateway/seed.ts';
import { startSystem, type SystemOptions } from '../../gateway/system.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { remoteRegistry } from '../../schemas/index.ts';
import { Api } from '../gateway/api.ts';
import { kafkaTarget, sweep } from '../saga/brokers.ts';
import { launchChromium } from './browser.ts';
import { followsDeliveryPath, shopFlow } from './flow.ts';

const BASE_ENV = {
  PORT: '0', PG_PORT: '0', ORDER_PAYMENT_DEADLINE_MS: '60000', DELIVERY_FAILURE_RATE: '0', PG_DECLINE_RATE: '0', LOG_LEVEL: 'warn',
};

async function run(t: ExecutionContext, env: Record<string, string>, name: string, options: SystemOptions = {}): Promise<void> {
  const system = await startSystem(env, options);
  t.teardown(() => system.close());
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const { orderId, timeline } = await shopFlow(t, browser, system.gateway.url, name);
  t.true(followsDeliveryPath(timeline), `order ${orderId}'s timeline on the page: ${timeline.join(' → ')}`);
  // The page's timeline is the order's own, each change once, whether it came as a push or a read.
  const api = new Api(system.gateway.url);
  await api.logIn(DEMO_BUYER.email, DEMO_BUYER.password);
  const order = await api.call<{ timeline: { to: string }[] }>('GET', `/orders/${orderId}`);
  t.deepEqual(timeline, order.body.timeline.map((x) => x.to));
}

test.serial('buyer orders, pays and sees COMPLETED; the seller answers the chat (memory transport)', async (t) => {
  await run(t, { ...BASE_ENV, TRANSPORT: 'memory' }, 'memory');
});

const onKafka = process.env.KAFKA_BROKERS ? test.serial : test.serial.skip;

onKafka('the same shop on Kafka, the real registry and FerretDB', async (t) => {
  const runId = randomUUID().slice(0, 8);
  const prefix = `web-test-${runId}.`;
  const database = `web_test_${runId}`;
  const { mongoUrl, schemaRegistryUrl, kafkaBrokers } = endpoints();
  // Teardowns run last-registered first: this sweep runs after the system has closed.
  t.teardown(async () => {
    const target = kafkaTarget();
    const transport = target.make();
    try {
      const left = await sweep(target, transport, remoteRegistry(schemaRegistryUrl).client, prefix);
      if (left.length > 0) t.log(`cleanup of ${prefix} incomplete: ${left.join('; ')}`);
    } finally {
      await transport.close();
    }
    const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000 });
    try {
      await client.db(database).dropDatabase();
    } finally {
      await client.close();
    }
  });
  await run(t, {
    ...BASE_ENV,
    TRANSPORT: 'kafka', KAFKA_BROKERS: kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: schemaRegistryUrl,
    MONGO_URL: mongoUrl, MONGO_DB: database,
    // Contract topics, the processors' and the projection's groups and internal topics, and the
    // gateway's realtime group all start with the prefix, so the sweep finds everything.
    TOPIC_PREFIX: prefix, GATEWAY_ID: `${prefix}gateway`,
  }, 'kafka', { appIdPrefix: prefix });
});
