/**
 * Our engine on RabbitMQ as a ratio to the same engine on Kafka, in the same run: the workloads of
 * bench/kafka-peers.ts (pass-through 200 B and count by key, changelog, no cache), at_least_once
 * and exactly_once, rounds interleaved (each round runs every row on both brokers, the order
 * alternating). On RabbitMQ at_least_once reads a work topic (quorum queues, filled afresh before
 * each run, since a work topic is consumed once) and exactly_once a stream (replayable: the engine
 * deduplicates on source positions); outputs are of the input's kind. On Kafka every run reads one
 * input per workload, each in its own group.
 *
 * Each run is a child process from its own start until it has processed N inputs and a commit
 * has completed after the last of them (the engine's commit covers outputs, changelog and
 * positions); the same end on both brokers. CPU: the child's utime+stime (start-up included), and
 * the broker process's over the run, read from /proc by the services harness's pid (other load on
 * the shared broker included).
 *
 *   eval "$(bash scripts/services env)"
 *   npm run bench -- rabbit [passRecords=100000] [countRecords=passRecords*0.4] [repeats=3]
 *   npm run bench -- rabbit --chart       # redraws the PNG from the JSON
 *
 * Writes bench/results/rabbit.json and bench/results/rabbit.png.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import type { TopicKind, Transport } from '../transports/index.ts';
import { barsSvg, renderPng } from './chart.ts';
import { BROKERS, createTopics, kafka, sweepKafka } from './lib/kafka.ts';
import { LOADED_MACHINE_NOTE, brokerPid, cpuDuring, lastJson, runMeasured } from './lib/measure.ts';
import { rabbitTransport, rabbitUp, sweepRabbit } from './lib/rabbit.ts';
import { GUARANTEES, PARTITIONS, VALUE_BYTES, WORKLOADS, engineTopology, inputRecord, type Guarantee, type Workload } from './lib/workloads.ts';
import { median } from './support.ts';

// ---- public shapes of the results file -------------------------------------------------------

export type Broker = 'kafka' | 'rabbit';

export interface BrokerRun {
  readonly recordsPerSec: number;
  readonly ms: number;
  /** Records/s from the first processed record to the end: without start-up and the group join. */
  readonly steadyPerSec: number;
  /** The app process's CPU, start to exit. */
  readonly cpuSec: number;
  /** The broker process's CPU over the run, when its pid is readable. */
  readonly brokerCpuSec?: number;
}

export interface BrokerCell {
  readonly workload: Workload;
  readonly guarantee: Guarantee;
  readonly broker: Broker;
  readonly records: number;
  /** The input's kind on this broker. */
  readonly inputKind: TopicKind;
  readonly runs: readonly BrokerRun[];
  /** Medians over the runs. */
  readonly recordsPerSec: number;
  readonly steadyPerSec: number;
  readonly cpuSec: number;
  readonly brokerCpuSec?: number;
}

export interface RabbitRow {
  readonly workload: Workload;
  readonly guarantee: Guarantee;
  readonly kafka?: BrokerCell;
  readonly rabbit?: BrokerCell;
  /** RabbitMQ's median records/s over Kafka's. */
  readonly ratio?: number;
  /** The same ratio round by round (each round ran both). */
  readonly roundRatios: readonly number[];
}

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');
const BROKERS_RUN: readonly Broker[] = ['kafka', 'rabbit'];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const inputKind = (b: Broker, g: Guarantee): TopicKind => (b === 'rabbit' && g === 'at_least_once' ? 'work' : 'replayable');

async function makeTransport(b: Broker): Promise<Transport> {
  if (b === 'rabbit') return rabbitTransport();
  const { KafkaTransport } = await import('../transports/index.ts');
  return new KafkaTransport({ brokers: BROKERS, logLevel: 'nothing' });
}

// ---- child side: the engine runs one workload on one broker, prints the run ---------------------

async function child(argv: string[]): Promise<void> {
  const [broker, workload, guarantee, input, output, records, id] = argv as [Broker, Workload, Guarantee, string, string, string, string];
  const { Serdes, StreamsApp, StreamsBuilder } = await import('../processors/engine/index.ts');
  const transport = await makeTransport(broker);
  const b = new StreamsBuilder();
  engineTopology(b, Serdes, workload, input, output);
  const app = new StreamsApp(b.build(), { applicationId: id, transport, guarantee, defaultPartitions: PARTITIONS, logger: () => {} });
  const n = Number(records);
  const commits = () => app.metrics.taskIds().reduce((s, t) => s + (app.metrics.snapshot(t)?.commits ?? 0), 0);
  const t0 = performance.now();
  await app.start();
  let tFirst: number | undefined;
  let n0 = 0;
  const deadline = t0 + 600_000;
  const check = () => {
    if (performance.now() > deadline || app.state === 'ERROR') throw new Error(`processed ${app.recordsProcessed()} of ${n} (state ${app.state})`);
  };
  while (app.recordsProcessed() < n) {
    check();
    if (tFirst === undefined && app.recordsProcessed() > 0) { tFirst = performance.now(); n0 = app.recordsProcessed(); }
    await new Promise((r) => setTimeout(r, 2));
  }
  // Commits run in the app's lane after the batches they cover: one that completes from now on
  // has the last outputs, changelog entries and positions.
  const c0 = commits();
  while (commits() <= c0) { check(); await new Promise((r) => setTimeout(r, 2)); }
  const tEnd = performance.now();
  const ms = tEnd - t0;
  process.stdout.write(`${JSON.stringify({ records: n, ms: Math.round(ms), recordsPerSec: Math.round(n * 1000 / ms), steadyPerSec: Math.round((n - n0) * 1000 / Math.max(1, tEnd - (tFirst ?? t0))) })}\n`);
  await app.close();
  await transport.close();
  process.exit(0);
}

// ---- the chart (also `npm run bench -- rabbit --chart`: redrawn from the results file) -----------

interface RabbitResults { readonly note: string; readonly repeats: number; readonly keys: number; readonly passRecords: number; readonly countRecords: number; readonly rows: readonly RabbitRow[] }

async function renderChart(r: RabbitResults): Promise<void> {
  const N: Record<Workload, number> = { pass: r.passRecords, count: r.countRecords };
  const bar = (c: BrokerCell | undefined, b: Broker, ratio?: number) => ({
    label: b === 'kafka' ? 'our engine on Kafka' : 'our engine on RabbitMQ', value: c?.recordsPerSec ?? 0, color: b === 'kafka' ? '#2563eb' : '#f97316',
    note: c ? `(app ${c.cpuSec.toFixed(1)} s, broker ${c.brokerCpuSec?.toFixed(1) ?? '?'} s CPU)${ratio !== undefined ? `  ${ratio.toFixed(2)}×` : ''}` : 'failed',
  });
  const svg = barsSvg('rabbit: our engine on RabbitMQ against Kafka (same run, interleaved)',
    [`records/s start to end (median of ${r.repeats}); RabbitMQ at_least_once on work topics, exactly_once on streams; × is RabbitMQ / Kafka.`, r.note],
    r.rows.map((x) => ({ name: rowName(x.workload, x.guarantee, N, r.keys), bars: [bar(x.kafka, 'kafka'), bar(x.rabbit, 'rabbit', x.ratio)] })));
  await renderPng(svg, join(RESULTS, 'rabbit.png'));
}

// ---- parent side ------------------------------------------------------------------------------

async function fillInput(transport: Transport, topic: string, kind: TopicKind, workload: Workload, records: number, keys: number): Promise<void> {
  await transport.admin().createTopics([{ name: topic, partitions: PARTITIONS, kind }]);
  const producer = transport.producer();
  await producer.connect();
  const value = Buffer.alloc(VALUE_BYTES, 'x');
  const chunk = 10_000;
  try {
    for (let i = 0; i < records; i += chunk) {
      const batch = [];
      for (let j = i; j < Math.min(records, i + chunk); j++) batch.push({ topic, ...inputRecord(workload, j, keys, value) });
      await producer.send(batch);
    }
  } finally {
    await producer.disconnect();
  }
}

interface Context {
  readonly prefix: string;
  readonly transports: Record<Broker, Transport>;
  readonly kafkaAdmin: Admin;
  /** Inputs read by every run: Kafka's, and RabbitMQ's streams (exactly_once). */
  readonly shared: Map<string, string>;
  readonly keys: number;
  readonly N: Record<Workload, number>;
}

async function runOne(ctx: Context, broker: Broker, w: Workload, g: Guarantee): Promise<BrokerRun> {
  const id = `${ctx.prefix}-${broker}-${w}-${g === 'exactly_once' ? 'eos' : 'alos'}-${randomUUID().slice(0, 6)}`;
  const output = `${id}-out`;
  const kind = inputKind(broker, g);
  const t = ctx.transports[broker];
  try {
    let input = ctx.shared.get(`${broker}/${w}/${kind}`);
    if (!input) {
      // A work topic is consumed once: its input is this run's own (filled before the clock starts).
      input = `${id}-in`;
      await fillInput(t, input, kind, w, ctx.N[w], ctx.keys);
    }
    if (broker === 'kafka') await createTopics(ctx.kafkaAdmin, [output], { partitions: PARTITIONS, big: true });
    else await t.admin().createTopics([{ name: output, partitions: PARTITIONS, kind }]);
    const { result: res, cpuSec: brokerCpuSec } = await cpuDuring(brokerPid(broker), () =>
      runMeasured(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', broker, w, g, input, output, String(ctx.N[w]), id]));
    const j = lastJson<{ ms: number; recordsPerSec: number; steadyPerSec: number }>(res.stdout);
    return { recordsPerSec: j.recordsPerSec, ms: j.ms, steadyPerSec: j.steadyPerSec, cpuSec: Math.round(res.cpuSec * 100) / 100, ...(brokerCpuSec !== undefined ? { brokerCpuSec } : {}) };
  } finally {
    if (broker === 'kafka') await sweepKafka(ctx.kafkaAdmin, id).catch(() => undefined);
    else await sweepRabbit(t, id).catch(() => undefined);
  }
}

const rowName = (w: Workload, g: Guarantee, N: Record<Workload, number>, keys: number) =>
  `${w === 'pass' ? `pass-through, ${fmt(N.pass)} × ${VALUE_BYTES} B` : `count by key, ${fmt(N.count)} over ${fmt(keys)} keys`}, ${g}`;

async function main(): Promise<void> {
  const passRecords = Number(process.argv[2] ?? 100_000);
  const countRecords = Number(process.argv[3] ?? Math.round(passRecords * 0.4));
  const repeats = Number(process.argv[4] ?? 3);
  const keys = Math.max(1, Math.round(countRecords / 2));
  if (!(await rabbitUp())) throw new Error('RabbitMQ does not answer: start it with `bash scripts/services up rabbit` and export `bash scripts/services env`');
  const prefix = `bench-rabbit-${randomUUID().slice(0, 8)}`;
  const kafkaAdmin = kafka('bench-rabbit').admin();
  await kafkaAdmin.connect();
  const transports: Record<Broker, Transport> = { kafka: await makeTransport('kafka'), rabbit: await makeTransport('rabbit') };
  const N: Record<Workload, number> = { pass: passRecords, count: countRecords };
  const ctx: Context = { prefix, transports, kafkaAdmin, shared: new Map(), keys, N };
  const rows = WORKLOADS.flatMap((w) => GUARANTEES.map((g) => ({ w, g })));
  const runs = new Map<string, { round: number; run: BrokerRun }[]>();
  const key = (w: Workload, g: Guarantee, b: Broker) => `${w}/${g}/${b}`;
  try {
    console.log(`rabbit: our engine on RabbitMQ against Kafka; pass-through ${fmt(passRecords)} × ${VALUE_BYTES} B, count ${fmt(countRecords)} over ${fmt(keys)} keys, ${PARTITIONS} partitions, median of ${repeats}, interleaved`);
    for (const w of WORKLOADS) {
      const kafkaIn = `${prefix}-kafka-${w}-in`;
      await fillInput(transports.kafka, kafkaIn, 'replayable', w, N[w], keys);
      ctx.shared.set(`kafka/${w}/replayable`, kafkaIn);
      const streamIn = `${prefix}-rabbit-${w}-stream-in`;
      await fillInput(transports.rabbit, streamIn, 'replayable', w, N[w], keys);
      ctx.shared.set(`rabbit/${w}/replayable`, streamIn);
    }
    for (let r = 0; r < repeats; r++) {
      for (const { w, g } of rows) {
        for (const b of r % 2 === 0 ? BROKERS_RUN : [...BROKERS_RUN].reverse()) {
          try {
            const run = await runOne(ctx, b, w, g);
            console.log(`  [${r + 1}/${repeats}] ${rowName(w, g, N, keys)}: ${b} ${fmt(run.recordsPerSec)}/s (steady ${fmt(run.steadyPerSec)}/s), app ${run.cpuSec.toFixed(2)} CPU s, broker ${run.brokerCpuSec?.toFixed(2) ?? '?'} CPU s`);
            (runs.get(key(w, g, b)) ?? runs.set(key(w, g, b), []).get(key(w, g, b))!).push({ round: r, run });
          } catch (e) {
            console.log(`  [${r + 1}/${repeats}] ${rowName(w, g, N, keys)}: ${b} FAILED: ${(e as Error).message.slice(0, 600)}`);
          }
        }
      }
    }
    const cell = (w: Workload, g: Guarantee, b: Broker): BrokerCell | undefined => {
      const rs = runs.get(key(w, g, b))?.map((x) => x.run);
      if (!rs?.length) return undefined;
      const broker = rs.flatMap((x) => (x.brokerCpuSec === undefined ? [] : [x.brokerCpuSec]));
      return {
        workload: w, guarantee: g, broker: b, records: N[w], inputKind: inputKind(b, g), runs: rs, recordsPerSec: median(rs.map((x) => x.recordsPerSec)),
        steadyPerSec: median(rs.map((x) => x.steadyPerSec)), cpuSec: median(rs.map((x) => x.cpuSec)), ...(broker.length ? { brokerCpuSec: median(broker) } : {}),
      };
    };
    const result: RabbitRow[] = rows.map(({ w, g }) => {
      const k = cell(w, g, 'kafka');
      const rb = cell(w, g, 'rabbit');
      const ks = runs.get(key(w, g, 'kafka')) ?? [];
      const roundRatios = (runs.get(key(w, g, 'rabbit')) ?? []).flatMap((x) => {
        const other = ks.find((y) => y.round === x.round);
        return other ? [Math.round((x.run.recordsPerSec / other.run.recordsPerSec) * 100) / 100] : [];
      });
      return { workload: w, guarantee: g, ...(k ? { kafka: k } : {}), ...(rb ? { rabbit: rb } : {}), ...(k && rb ? { ratio: Math.round((rb.recordsPerSec / k.recordsPerSec) * 100) / 100 } : {}), roundRatios };
    });
    const show = (c: BrokerCell | undefined) => (c ? `${fmt(c.recordsPerSec)} (app ${c.cpuSec.toFixed(1)} s, broker ${c.brokerCpuSec?.toFixed(1) ?? '?'} s; ${fmt(c.records / Math.max(0.01, c.cpuSec + (c.brokerCpuSec ?? 0)))}/CPU-s)` : 'failed');
    const lines = [
      `| workload (records/s, median of ${repeats}; CPU s of the app and the broker; records per CPU-second of both) | our engine on Kafka | our engine on RabbitMQ | RabbitMQ / Kafka (per round) |`,
      '|---|---|---|---|',
      ...result.map((x) => `| ${rowName(x.workload, x.guarantee, N, keys)}${x.guarantee === 'at_least_once' ? ' (RabbitMQ: work topics)' : ' (RabbitMQ: streams)'} | ${show(x.kafka)} | ${show(x.rabbit)} | ${x.ratio?.toFixed(2) ?? '–'}× (${x.roundRatios.map((v) => v.toFixed(2)).join(', ')}) |`),
      '', 'Steady records/s (first processed record to the end): ',
      ...result.map((x) => `- ${rowName(x.workload, x.guarantee, N, keys)}: Kafka ${fmt(x.kafka?.steadyPerSec ?? 0)}, RabbitMQ ${fmt(x.rabbit?.steadyPerSec ?? 0)}`),
      '', LOADED_MACHINE_NOTE,
    ];
    console.log(`\n${lines.join('\n')}`);
    mkdirSync(RESULTS, { recursive: true });
    const json = { date: new Date().toISOString(), note: LOADED_MACHINE_NOTE, kafkaBrokers: BROKERS, partitions: PARTITIONS, valueBytes: VALUE_BYTES, passRecords, countRecords, keys, repeats, rows: result };
    writeFileSync(join(RESULTS, 'rabbit.json'), `${JSON.stringify(json, null, 2)}\n`);
    await renderChart(json);
    console.log(`wrote ${join('bench', 'results', 'rabbit.json')} and ${join('bench', 'results', 'rabbit.png')}`);
  } finally {
    await sweepKafka(kafkaAdmin, prefix).catch((e: unknown) => console.log(`cleaning up Kafka: ${(e as Error).message}`));
    await sweepRabbit(transports.rabbit, prefix).catch((e: unknown) => console.log(`cleaning up RabbitMQ: ${(e as Error).message}`));
    await kafkaAdmin.disconnect();
    await transports.kafka.close();
    await transports.rabbit.close();
  }
}

if (process.argv[2] === '--child') await child(process.argv.slice(3));
else if (process.argv[2] === '--chart') await renderChart(JSON.parse(readFileSync(join(RESULTS, 'rabbit.json'), 'utf8')) as RabbitResults);
else await main();
