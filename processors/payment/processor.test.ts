/**
 * The whole payment processor — topology, charger sidecar, real Avro serdes — on the memory
 * broker and on Kafka, against a real gateway simulator over HTTP. Kafka runs use a unique topic
 * prefix and application id, and delete their topics and groups afterwards.
 */
import avaTest from 'ava';
import { randomUUID } from 'node:crypto';
import { KafkaTransport, MemoryTransport, RabbitTransport, type Consumer, type Transport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { embeddedRegistry, type PaymentRefundMessage, type PaymentRequestMessage, type PaymentSuccessMessage } from '../../schemas/index.ts';
import { chance, registryContracts, startProcessor, type Contracts, type Env, type RunningProcessor } from '../common/index.ts';
import { FAILURE_REASON_HEADER, PG_REQUESTS, internalTopic, paymentSpec, type PaymentKind } from './index.ts';
import { startPgSimulator, type PgSimulator, type PgSimulatorConfig } from './pg-simulator.ts';
import { waitUntil } from '../../test/conformance/suite.ts';

/** How long a wait may take before it is a failure (never an assertion on time). */
const BOUND_MS = 20_000;

const SEED = 'processor-test';

interface Harness {
  readonly sim: PgSimulator;
  readonly transport: Transport;
  readonly contracts: Contracts;
  readonly running: RunningProcessor;
  /** Outcomes on payment-success-topic (CHARGE) and payment-refund-topic (REFUND), in arrival order, with their failure reason header. */
  readonly outcomes: { kind: PaymentKind; value: PaymentSuccessMessage | PaymentRefundMessage; reason: string | undefined }[];
  send(topic: string, request: PaymentRequestMessage): Promise<void>;
}

const TRANSPORTS: { name: string; make: () => Transport }[] = [
  { name: 'memory', make: () => new MemoryTransport() },
  { name: 'kafka', make: () => new KafkaTransport({ brokers: endpoints().kafkaBrokers, sessionTimeoutMs: 6000 }) },
  { name: 'rabbit', make: () => new RabbitTransport({ url: endpoints().rabbitUrl, managementUrl: endpoints().rabbitManagementUrl }) },
];

type Teardown = { teardown(fn: () => Promise<void>): void };

interface HarnessOptions {
  readonly sim?: PgSimulatorConfig;
  readonly env?: Env;
}

async function harness(t: Teardown, make: () => Transport, options: HarnessOptions = {}): Promise<Harness> {
  // Each resource is released in reverse order of acquisition, even when a later step fails.
  const cleanups: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const sim = await startPgSimulator({ latencyMs: [1, 10], seed: SEED, ...options.sim });
  cleanups.push(() => sim.close());
  const transport = make();
  const run = randomUUID().slice(0, 8);
  const prefix = `payment-test-${run}.`;
  const contracts = registryContracts(embeddedRegistry().client, prefix);
  const applicationId = `payment-test-${run}`;
  const readerGroup = `${applicationId}-reader`;
  cleanups.push(async () => {
    const admin = transport.admin();
    await admin.deleteGroups([applicationId, `${applicationId}-charger`, readerGroup]);
    await admin.deleteTopics([
      ...paymentSpec.topics.map((topic) => contracts.topic(topic)),
      // What the engine creates for the application: internal topics, dead letters, checkpoints.
      ...await admin.listTopics(`${applicationId}-`),
    ]);
    await transport.close();
  });
  const running = await startProcessor(paymentSpec, {
    transport, contracts, logger: () => {},
    env: {
      APP_ID: applicationId, PG_URL: sim.url, PG_TIMEOUT_MS: '2000', PG_RETRIES: '2', COMMIT_INTERVAL_MS: '20', TOPIC_PARTITIONS: '3',
      ...options.env,
    },
  });
  cleanups.push(() => running.close());
  const producer = transport.producer();
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const outcomes: Harness['outcomes'] = [];
  const success = contracts.consumed('payment-success-topic');
  const refunds = contracts.consumed('payment-refund-topic');
  const refundTopic = contracts.topic('payment-refund-topic');
  const reader: Consumer = transport.consumer({ groupId: readerGroup, topics: [contracts.topic('payment-success-topic'), refundTopic] });
  await reader.connect();
  cleanups.push(() => reader.disconnect());
  await reader.run(async (batch) => {
    for (const r of batch.records) {
      const reason = r.headers[FAILURE_REASON_HEADER]?.toString();
      if (r.topic === refundTopic) outcomes.push({ kind: 'REFUND', value: await refunds.valueSerde!.deserialize(r.topic, r.value!), reason });
      else outcomes.push({ kind: 'CHARGE', value: await success.valueSerde!.deserialize(r.topic, r.value!), reason });
    }
  });
  const requestSerde = contracts.produced('payment-request-topic').valueSerde!;
  return {
    sim, transport, contracts, running, outcomes,
    async send(topic, request) {
      await producer.send([{ topic, key: Buffer.from(request.orderId), value: await requestSerde.serialize(topic, request) }]);
    },
  };
}

function request(orderId: string, kind: PaymentKind = 'CHARGE'): PaymentRequestMessage {
  return { eventId: randomUUID(), orderId, paymentKey: `pk-${orderId}`, amount: 2500, customerId: randomUUID(), requestedAt: Date.now(), kind };
}

/** An order id the simulator declines (or not) under SEED and the given rate. */
function orderWhere(declined: boolean, rate: number): string {
  for (;;) {
    const id = randomUUID();
    if ((chance(SEED, id) < rate) === declined) return id;
  }
}

const requestTopic = (h: Harness) => h.contracts.topic('payment-request-topic');

for (const { name, make } of TRANSPORTS) {
  // One broker run at a time: parallel group joins and topic creation only slow each other down.
  const test = name === 'memory' ? avaTest : avaTest.serial;
  test(`${name}: a charge request produces one SUCCESS and one charge`, async (t) => {
    const h = await harness(t, make);
    const id = randomUUID();
    await h.send(requestTopic(h), request(id));
    await waitUntil(() => h.outcomes.length === 1, 'an outcome', BOUND_MS);
    t.like(h.outcomes[0], { kind: 'CHARGE', value: { orderId: id, status: 'SUCCESS', amount: 2500 } });
    t.deepEqual(h.sim.stats().charges, { [id]: 1 });
  });

  test(`${name}: a redelivered request produces no second charge: the stored outcome is re-emitted`, async (t) => {
    const h = await harness(t, make);
    const id = randomUUID();
    const req = request(id);
    await h.send(requestTopic(h), req);
    await h.send(requestTopic(h), req);
    await waitUntil(() => h.outcomes.length >= 1, 'the first outcome', BOUND_MS);
    await h.send(requestTopic(h), { ...req, eventId: randomUUID() });
    await waitUntil(() => h.outcomes.length >= 2, 'the re-emitted outcome', BOUND_MS);
    t.true(h.outcomes.every((o) => o.value.orderId === id && o.value.status === 'SUCCESS'));
    t.deepEqual(h.sim.stats().charges, { [id]: 1 });
  });

  test(`${name}: a charger batch redelivered (as after a crash) calls the gateway again but cannot charge twice`, async (t) => {
    const h = await harness(t, make);
    const id = randomUUID();
    const req = request(id);
    await h.send(requestTopic(h), req);
    await waitUntil(() => h.outcomes.length === 1, 'the outcome', BOUND_MS);
    const processed = h.running.app.recordsProcessed();
    // The same request again on the charger's input, as an uncommitted batch would come back.
    await h.send(internalTopic(h.running.applicationId, PG_REQUESTS), req);
    await waitUntil(() => h.sim.stats().replays === 1, 'the gateway replay', BOUND_MS);
    await waitUntil(() => h.running.app.recordsProcessed() > processed, 'the duplicate outcome processed', BOUND_MS);
    t.deepEqual(h.sim.stats().charges, { [id]: 1 });
    t.is(h.outcomes.length, 1, 'the second outcome is a duplicate and not emitted');
  });

  test(`${name}: a declined order ends FAILED with the reason; others succeed`, async (t) => {
    const rate = 0.5;
    const h = await harness(t, make, { sim: { declineRate: rate } });
    const declined = orderWhere(true, rate);
    const accepted = orderWhere(false, rate);
    await h.send(requestTopic(h), request(declined));
    await h.send(requestTopic(h), request(accepted));
    await waitUntil(() => h.outcomes.length === 2, 'two outcomes', BOUND_MS);
    const byId = new Map(h.outcomes.map((o) => [o.value.orderId, o]));
    t.is(byId.get(declined)?.value.status, 'FAILED');
    t.regex(byId.get(declined)?.reason ?? '', /declined/);
    t.is(byId.get(accepted)?.value.status, 'SUCCESS');
    t.deepEqual(h.sim.stats().charges, { [accepted]: 1 });
  });

  test(`${name}: a refund after the charge: REFUND SUCCESS, refunded once`, async (t) => {
    const h = await harness(t, make);
    const id = randomUUID();
    await h.send(requestTopic(h), request(id));
    await waitUntil(() => h.outcomes.length === 1, 'the charge', BOUND_MS);
    await h.send(requestTopic(h), request(id, 'REFUND'));
    await h.send(requestTopic(h), request(id, 'REFUND'));
    await waitUntil(() => h.outcomes.length === 2, 'the refund', BOUND_MS);
    t.like(h.outcomes[1], { kind: 'REFUND', value: { orderId: id, status: 'SUCCESS' } });
    t.deepEqual(h.sim.stats().refunds, { [id]: 1 });
  });

  test(`${name}: the gateway down: retries spent, the circuit opens, orders FAIL instead of waiting`, async (t) => {
    const h = await harness(t, make);
    h.sim.configure({ errorRate: 1 });
    const ids = Array.from({ length: 8 }, () => randomUUID());
    for (const id of ids) await h.send(requestTopic(h), request(id));
    await waitUntil(() => h.outcomes.length === ids.length, 'every outcome', BOUND_MS);
    t.true(h.outcomes.every((o) => o.value.status === 'FAILED'));
    t.true(h.outcomes.some((o) => /circuit is open/.test(o.reason ?? '')), 'some failed fast');
    t.deepEqual(h.sim.stats().charges, {});
  });

  test(`${name}: a payment stuck at the gateway holds up no later order, and shutdown leaves it unreported`, async (t) => {
    // The first gateway request hangs (its failure draw falls under timeoutRate) for as long as the
    // client waits, which here outlasts the test; every later request answers.
    const draws = [0, 0.05];
    const h = await harness(t, make, {
      sim: { latencyMs: [0, 0], timeoutRate: 0.1, random: () => draws.shift() ?? 0.9 },
      env: { PG_TIMEOUT_MS: '600000' },
    });
    const stuck = randomUUID();
    await h.send(requestTopic(h), request(stuck));
    await waitUntil(() => h.sim.stats().timeouts === 1, 'the stuck call', BOUND_MS);
    const others = Array.from({ length: 5 }, () => randomUUID());
    for (const id of others) await h.send(requestTopic(h), request(id));
    await waitUntil(() => h.outcomes.length === others.length, 'the later orders', BOUND_MS);
    t.deepEqual(h.outcomes.map((o) => o.value.orderId).sort(), [...others].sort());
    t.deepEqual(h.sim.stats().charges, Object.fromEntries(others.map((id) => [id, 1])));
    // Closing now aborts the stuck call: its outcome is unknown, so nothing FAILED is written for it.
    await h.running.close();
    t.is(h.outcomes.length, others.length);
  });
}

// Unknown outcomes, on the memory broker only (the path is the charger's and the topology's, not the broker's).
avaTest('memory: a charge captured but never answered (lookups too) is left PENDING, re-sent, and ends SUCCESS charged once', async (t) => {
  const h = await harness(t, TRANSPORTS[0]!.make, { env: { PG_TIMEOUT_MS: '300', PG_RETRIES: '1', PAYMENT_PENDING_RESEND_MS: '800' } });
  const id = randomUUID();
  // Two silent attempts, their lookups silent too, then one more silence that the re-send's first attempt uses up.
  h.sim.hang(`charge:${id}`, { times: 3, lookups: true });
  await h.send(requestTopic(h), request(id));
  await waitUntil(() => h.outcomes.length === 1, 'the outcome after the re-send', BOUND_MS);
  t.like(h.outcomes[0], { kind: 'CHARGE', value: { orderId: id, status: 'SUCCESS' } });
  t.deepEqual(h.sim.stats().charges, { [id]: 1 });
  t.true(h.sim.stats().silentOutcomes === 1 && h.sim.stats().timeouts === 3, 'the first attempt charged, the others were replays');
});

avaTest('memory: with re-sends off, an unknown outcome falls back to FAILED (the old behaviour) with the reason', async (t) => {
  const h = await harness(t, TRANSPORTS[0]!.make, { env: { PG_TIMEOUT_MS: '300', PG_RETRIES: '1', PAYMENT_PENDING_RESEND_MS: '0' } });
  const id = randomUUID();
  h.sim.hang(`charge:${id}`, { times: 3, lookups: true });
  await h.send(requestTopic(h), request(id));
  await waitUntil(() => h.outcomes.length === 1, 'the outcome', BOUND_MS);
  t.like(h.outcomes[0], { kind: 'CHARGE', value: { orderId: id, status: 'FAILED' } });
  t.regex(h.outcomes[0]?.reason ?? '', /outcome unknown/);
});
