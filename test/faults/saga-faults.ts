/**
 * The order saga's processes under faults on the real brokers (issue 12, item 1): a steady order
 * load through the four processors (test/saga/saga.ts's fault variant, every check of
 * test/saga/checks.ts) while
 *
 * - the broker is stopped for ~10 s and started again, data kept (a private broker instance:
 *   test/faults/private-broker.ts; the shared one keeps serving every other suite);
 * - one processor instance is frozen (SIGSTOP) past its session timeout (Kafka) or the life of
 *   its partition locks (RabbitMQ: the connection's heartbeat), while a second instance of it
 *   takes its partitions over, then woken (SIGCONT): a zombie, which must cause no duplicate effect;
 * - poison records are written to every contract topic: each one the processors read must end on
 *   an engine dead-letter topic with its reason, and the saga goes on.
 *
 * Each ends with every order terminal, nothing duplicated, no negative level, and no process
 * exited (saga.ts `FaultPlan`). Bounded for CI: ~200 orders, each test under 4 minutes.
 */
import type { ExecutionContext } from 'ava';
import { endpoints } from '../../scripts/endpoints.ts';
import { TOPICS, embeddedRegistry, topicNames, type TopicContract, type TopicName } from '../../schemas/index.ts';
import { registryContracts, type ProcessorSpec } from '../../processors/common/index.ts';
import { deliverySpec } from '../../processors/delivery/index.ts';
import { orderSpec } from '../../processors/order/index.ts';
import { paymentSpec } from '../../processors/payment/index.ts';
import { stockSpec } from '../../processors/stock/index.ts';
import type { ConsumedRecord } from '../../transports/index.ts';
import { kafkaTarget, rabbitTarget, type BrokerTarget } from '../saga/brokers.ts';
import type { EngineDeadLetter } from '../saga/client.ts';
import { PROCESSORS, appIdOf, type ProcessorName } from '../saga/cluster.ts';
import { runSaga, type FaultContext, type FaultPlan } from '../saga/saga.ts';
import { privateBroker, type BrokerName } from './private-broker.ts';

/** The same load for every fault: 200 orders in batches of 5, one batch a second. */
const LOAD = {
  orders: Number(process.env.FAULT_ORDERS ?? 200),
  batchSize: 5,
  placeEveryMs: 1000,
  // Long enough for a buyer whose PAY waits out a 10 s outage; short enough for the abandoned
  // orders to end within the bound.
  paymentDeadlineMs: 30_000,
  settleMs: 190_000,
  timeoutMs: 230_000,
} as const;

/** Share of the orders placed when the fault starts: the load is well under way and goes on after. */
const FAULT_AT = 0.3;

/** The broker's outage. */
export const OUTAGE_MS = 10_000;

async function placedShare(ctx: FaultContext, share: number): Promise<void> {
  const due = Math.ceil(share * ctx.totalOrders);
  while (ctx.placed() < due) {
    const problem = ctx.abort();
    if (problem) throw new Error(`waiting for ${due} orders placed (${ctx.placed()} so far): ${problem}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function targetOf(name: BrokerName, env?: Record<string, string>): BrokerTarget {
  const at = endpoints({ ...process.env, ...env });
  return name === 'kafka' ? kafkaTarget(at) : rabbitTarget(at);
}

// ---------------------------------------------------------------------------------------------
// The broker stopped and started again

export function brokerRestart(name: BrokerName) {
  return async (t: ExecutionContext): Promise<void> => {
    // The private broker's start comes first (runSaga sets the run's own bound afterwards).
    t.timeout(180_000);
    // Slot 1: apart from the transport restart suite's broker (slot 0), which may run at the same time.
    const broker = await privateBroker(name, 1);
    let restarting: Promise<unknown> = Promise.resolve();
    // Registered first, so it runs last: after runSaga's clean-up of the run's subjects, and after
    // the restart (a failing run does not wait for it), which would otherwise start it again.
    t.teardown(async () => { await restarting.catch(() => undefined); await broker.dispose(); });
    const upAt = Date.now();
    await broker.up();
    t.log(`${name}: private broker up in ${Date.now() - upAt} ms`);
    const plan: FaultPlan = {
      name: 'restart', ...LOAD,
      // Far above the outage: a processor that gives up on it fails the test, not its timeout.
      processorEnv: { TASK_TIMEOUT_MS: '120000' },
      run(ctx) {
        const done = restart(ctx);
        restarting = done;
        return done;
      },
    };
    const restart = async (ctx: FaultContext): Promise<string> => {
      await placedShare(ctx, FAULT_AT);
      const at = ctx.placed();
      const stopping = Date.now();
      await broker.down();
      const stoppedIn = Date.now() - stopping;
      ctx.lap(`broker stopped at ${at}/${ctx.totalOrders} orders placed (in ${stoppedIn} ms)`);
      await sleep(OUTAGE_MS);
      const over = ctx.abort();
      if (over) throw new Error(`not started again: ${over}`);
      const starting = Date.now();
      await broker.up();
      ctx.lap(`broker started again (ready in ${Date.now() - starting} ms)`);
      return `down at ${at} placed for ${Date.now() - stopping} ms (${OUTAGE_MS} ms stopped, stop ${stoppedIn} ms, start ${Date.now() - starting} ms)`;
    };
    await runSaga(t, targetOf(name, broker.env), { fault: plan });
  };
}

// ---------------------------------------------------------------------------------------------
// A zombie: frozen past its session, then woken

/**
 * Kafka: the transports' consumer session is 10 s (KafkaJS sessionTimeout); RabbitMQ: a
 * partition's lock lives as long as the holder's connection, which the broker closes after two
 * missed heartbeats — 5 s heartbeats here (amqplib's `heartbeat` URL parameter) instead of 60 s.
 */
const FREEZE_MS = 25_000;
const RABBIT_HEARTBEAT_S = 5;

/** The processor frozen: the order processor, the one every status event comes from. */
const ZOMBIE = 'order' as const;

export function zombie(name: BrokerName) {
  return async (t: ExecutionContext): Promise<void> => {
    const shared = endpoints();
    const processorEnv: Record<string, string> = { TASK_TIMEOUT_MS: '120000' };
    if (name === 'rabbit') {
      const url = new URL(shared.rabbitUrl);
      url.searchParams.set('heartbeat', String(RABBIT_HEARTBEAT_S));
      processorEnv.RABBIT_URL = url.toString();
    }
    const plan: FaultPlan = {
      name: 'zombie', ...LOAD, processorEnv,
      instances: { [ZOMBIE]: 2 },
      async run(ctx) {
        await placedShare(ctx, FAULT_AT);
        const at = ctx.placed();
        ctx.cluster.freeze(ZOMBIE);
        ctx.lap(`SIGSTOP ${ZOMBIE} (instance 1 of 2) at ${at}/${ctx.totalOrders} orders placed`);
        try {
          await sleep(FREEZE_MS);
        } finally {
          ctx.cluster.thaw(ZOMBIE);
        }
        ctx.lap(`SIGCONT ${ZOMBIE} after ${FREEZE_MS} ms`);
        return `${ZOMBIE} frozen at ${at} placed for ${FREEZE_MS} ms while ${ZOMBIE}-2 ran`;
      },
    };
    await runSaga(t, targetOf(name), { fault: plan });
  };
}

// ---------------------------------------------------------------------------------------------
// Poison records on every contract topic

/** Marks an injected record: the test's reader skips it, the dead letter carries it along. */
export const POISON_HEADER = 'x-orderstream-poison';

/** Which of the saga's processors read a contract topic, as a stream (dead-letters what it cannot decode) or into a global table. */
export interface Readers {
  readonly streams: readonly ProcessorName[];
  readonly global: readonly ProcessorName[];
}

/**
 * Taken from the four processors' topologies themselves, so the expectation follows them. The
 * topics nobody in the saga reads (chat-topic, the read model's and reports' inputs) must only
 * not disturb it.
 */
export function sagaReaders(): ReadonlyMap<TopicName, Readers> {
  const contracts = registryContracts(embeddedRegistry().client, '');
  const specs: Record<ProcessorName, ProcessorSpec> = { order: orderSpec, stock: stockSpec, payment: paymentSpec, delivery: deliverySpec };
  const readers = new Map<TopicName, { streams: ProcessorName[]; global: ProcessorName[] }>(topicNames().map((n) => [n, { streams: [], global: [] }]));
  for (const name of PROCESSORS) {
    const topology = specs[name].topology(contracts, {});
    for (const topic of new Set(topology.subtopologies().flatMap((s) => s.sourceTopics))) readers.get(topic as TopicName)?.streams.push(name);
    for (const g of topology.describe().globalStores) readers.get(g.topic as TopicName)?.global.push(name);
  }
  return readers;
}

/** What a broken producer writes: not the registry's wire format, and the wire format with an id the registry never gave. */
const POISONS: readonly { readonly kind: string; readonly value: (topic: string) => Buffer }[] = [
  { kind: 'not-framed', value: (topic) => Buffer.from(`{"not":"avro","topic":"${topic}"}`, 'utf8') },
  { kind: 'unknown-schema-id', value: () => Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), Buffer.from('garbage body')]) },
];

interface Poison { readonly id: string; readonly topic: TopicName; readonly kind: string }

export function poison(name: BrokerName) {
  return async (t: ExecutionContext): Promise<void> => {
    const injected: Poison[] = [];
    let prefix = '';
    const plan: FaultPlan = {
      name: 'poison', ...LOAD,
      processorEnv: { TASK_TIMEOUT_MS: '120000' },
      isInjected: (r: ConsumedRecord) => r.headers[POISON_HEADER] !== undefined,
      async run(ctx) {
        prefix = ctx.prefix;
        await placedShare(ctx, FAULT_AT);
        // Every contract topic, also those no saga process created (chat-topic), as the processes
        // create theirs (processors/common/topics.ts); existing ones are left as they are.
        await ctx.transport.admin().createTopics(topicNames().map((topic) => ({
          name: `${ctx.prefix}${topic}`, partitions: (TOPICS[topic] as TopicContract).partitions ?? 3, kind: 'replayable' as const,
          ...((TOPICS[topic] as TopicContract).compacted ? { compacted: true } : {}),
        })));
        const producer = ctx.transport.producer();
        await producer.connect();
        try {
          const records = topicNames().flatMap((topic) => POISONS.map((p) => {
            const id = `poison-${topic}-${p.kind}`;
            injected.push({ id, topic, kind: p.kind });
            // Keyed like the topic's records (an order id, a product id): the key is not what is broken.
            return { topic: `${ctx.prefix}${topic}`, key: Buffer.from(id), value: p.value(topic), headers: { [POISON_HEADER]: id } };
          }));
          await producer.send(records);
        } finally {
          await producer.disconnect();
        }
        ctx.lap(`${injected.length} poison records written to ${topicNames().length} contract topics`);
        return `${injected.length} poison records (${POISONS.map((p) => p.kind).join(', ')}) on every contract topic at ${ctx.placed()} placed`;
      },
      deadLetterProblems: (records) => poisonProblems(injected, records, (p) => `${appIdOf(prefix, p)}-dlq`, (m) => t.log(`${name}: ${m}`)),
    };
    await runSaga(t, targetOf(name), { fault: plan });
  };
}

/**
 * Every poison record is dead-lettered once by each processor that reads its topic as a stream,
 * on that processor's dead-letter topic, naming the topic, with a reason; by no other. A topic
 * read only into a global table (users-topic) is read whole by every instance of its processors,
 * and each instance dead-letters what it cannot decode: there at least once per processor, maybe
 * more (one per instance and start). Nothing but poison is on a dead-letter topic.
 */
export function poisonProblems(injected: readonly Poison[], records: readonly EngineDeadLetter[], dlqOf: (p: ProcessorName) => string, log: (m: string) => void): string[] {
  const problems: string[] = [];
  const readers = sagaReaders();
  const byId = new Map<string, EngineDeadLetter[]>();
  for (const r of records) {
    const id = r.headers[POISON_HEADER];
    if (id === undefined) { problems.push(`${r.dlq}: not a poison record: ${r.stage ?? '?'} of ${r.sourceTopic ?? '?'} key ${r.key ?? 'null'}: ${r.error ?? ''} ${r.reason ?? ''}`); continue; }
    (byId.get(id) ?? byId.set(id, []).get(id)!).push(r);
  }
  for (const p of injected) {
    const got = byId.get(p.id) ?? [];
    const { streams, global } = readers.get(p.topic)!;
    const expected = streams.map(dlqOf).sort();
    const where = got.map((r) => r.dlq).sort();
    const globalOnly = streams.length === 0 && global.length > 0;
    const globalDlqs = [...new Set(global.map(dlqOf))].sort();
    if (globalOnly ? JSON.stringify([...new Set(where)].sort()) !== JSON.stringify(globalDlqs) : JSON.stringify(where) !== JSON.stringify(expected)) {
      problems.push(`${p.id}: dead-lettered on [${where.join(', ')}], expected [${(globalOnly ? globalDlqs : expected).join(', ')}] (read by ${streams.join(', ') || 'no stream'}${global.length ? `; global table of ${global.join(', ')}` : ''})`);
      continue;
    }
    for (const r of got) {
      if (!r.sourceTopic?.endsWith(p.topic)) problems.push(`${p.id}: dead letter on ${r.dlq} names source topic ${r.sourceTopic ?? 'none'}, not ${p.topic}`);
      if (!r.reason) problems.push(`${p.id}: dead letter on ${r.dlq} without a reason header`);
    }
  }
  const example = records.find((r) => r.headers[POISON_HEADER] !== undefined);
  if (example) log(`${records.length} dead letters; e.g. ${example.dlq}: stage ${example.stage}, ${example.error}: ${example.reason}`);
  log(`dead letters per poison record: ${topicNames().map((topic) => `${topic} ${injected.filter((p) => p.topic === topic).map((p) => (byId.get(p.id) ?? []).length).join('/')}`).join(', ')}`);
  return problems;
}
