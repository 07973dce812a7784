/**
 * Our engine against its peers on the harness's Kafka, same broker, same data, interleaved:
 * (a) the engine (processors/engine), (b) a plain KafkaJS eachBatch loop as a careful user would
 * write it, (c) Apache Kafka Streams 3.9.2 with one stream thread (bench/kafka-streams/), and
 * (d) the broker's own limit (kafka-tools ProducerPerformance / ConsumerPerformance). With
 * KAFKA_PEERS_PLATFORMATIC=1 the engine runs a second time on the @platformatic/kafka transport.
 *
 * Workloads: pass-through (source → sink, 200 B values) and count by key (groupByKey().count(),
 * changelog, no record cache: one output per input), each at_least_once and exactly_once.
 * Every system runs as a child process from its own start until it has processed N inputs and
 * the output topic holds N records; its CPU is the child's utime+stime as the kernel counts it
 * (start-up included, JVM and tsx alike). On 2 shared cores the broker and the app compete, so
 * records per CPU-second is the fairer figure.
 *
 *   eval "$(bash scripts/services env)"
 *   npm run bench -- kafka-peers [passRecords=100000] [countRecords=passRecords*0.4] [repeats=3]
 *
 * Writes bench/results/kafka-peers.json and bench/results/kafka-peers.png.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin, Message } from 'kafkajs';
import { esc, renderPng } from './chart.ts';
import { BROKERS, STREAMS_CP, createTopics as createKafkaTopics, ensureJar, kafka as kafkaClient, outputEnd, waitOutput } from './lib/kafka.ts';
import { lastJson, runMeasured } from './lib/measure.ts';
import { GUARANTEES, PARTITIONS, VALUE_BYTES, countKey, engineTopology, type Guarantee, type Workload } from './lib/workloads.ts';
import { median } from './support.ts';

// ---- public shapes of the results file -------------------------------------------------------

export type { Guarantee, Workload };
export type System = 'engine' | 'engine-platformatic' | 'kafkajs' | 'kafka-streams';

/** One run of one system: wall-clock records/s and the app process's CPU seconds. */
export interface Run {
  readonly recordsPerSec: number;
  readonly ms: number;
  readonly cpuSec: number;
  /** Records/s from the first processed record to the end: without start-up and the group join. */
  readonly steadyPerSec?: number;
}

export interface Cell {
  readonly workload: Workload;
  readonly guarantee: Guarantee;
  readonly system: System;
  readonly records: number;
  readonly runs: readonly Run[];
  /** Medians over the runs. */
  readonly recordsPerSec: number;
  readonly steadyPerSec?: number;
  readonly cpuSec: number;
  /** recordsPerSec / Kafka Streams' recordsPerSec in the same row. */
  readonly ratio?: number;
}

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');

const kafka = () => kafkaClient('kafka-peers');
const createTopics = (admin: Admin, names: readonly string[], big: boolean) => createKafkaTopics(admin, names, { partitions: PARTITIONS, big });

// ---- child side: one system runs one workload, prints {records, ms, recordsPerSec, steadyPerSec}

/** Start, the first processed record (and how many were done by then), and the end, in ms. */
interface Timing { t0: number; tFirst?: number; n0: number; tEnd: number }

interface ChildArgs { system: System; workload: Workload; guarantee: Guarantee; input: string; output: string; records: number; id: string }

async function childEngine(a: ChildArgs): Promise<Timing> {
  const { Serdes, StreamsApp, StreamsBuilder } = await import('../processors/engine/index.ts');
  let transport;
  if (a.system === 'engine-platformatic') {
    const { PlatformaticKafkaTransport } = await import('../transports/kafka-platformatic/index.ts');
    transport = new PlatformaticKafkaTransport({ brokers: BROKERS });
  } else {
    const { KafkaTransport } = await import('../transports/index.ts');
    transport = new KafkaTransport({ brokers: BROKERS, logLevel: 'nothing' });
  }
  const b = new StreamsBuilder();
  engineTopology(b, Serdes, a.workload, a.input, a.output);
  const app = new StreamsApp(b.build(), { applicationId: a.id, transport, guarantee: a.guarantee, defaultPartitions: PARTITIONS, logger: () => {} });
  const admin = kafka().admin();
  await admin.connect();
  const t0 = performance.now();
  await app.start();
  // The engine's processed count moves in steps (per commit), so the steady rate starts at the
  // first output seen on the topic, counting the outputs already there.
  let tFirst: number | undefined;
  let n0 = 0;
  while (app.recordsProcessed() < a.records) {
    if (tFirst === undefined) {
      const end = await outputEnd(admin, a.output);
      if (end > 0) { tFirst = performance.now(); n0 = end; }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await waitOutput(admin, a.output, a.records, () => `engine output of ${a.records}`);
  const tEnd = performance.now();
  await admin.disconnect();
  await app.close();
  await transport.close();
  return { t0, tFirst, n0, tEnd };
}

/** The loop a careful user writes with KafkaJS: eachBatch, one produce per batch, commit per batch. */
async function childKafkajs(a: ChildArgs): Promise<Timing> {
  const k = kafka();
  const eos = a.guarantee === 'exactly_once';
  const changelog = `${a.output}-changelog`;
  const admin = k.admin();
  await admin.connect();
  const t0 = performance.now();
  const producer = k.producer(eos ? { transactionalId: `${a.id}-tx`, idempotent: true, maxInFlightRequests: 1 } : {});
  const consumer = k.consumer({ groupId: a.id, readUncommitted: false });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: a.input, fromBeginning: true });
  const counts = new Map<string, number>();
  let processed = 0;
  let tFirst: number | undefined;
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (batch.messages.length === 0) return;
      tFirst ??= performance.now();
      const outs: Message[] = [];
      const logs: Message[] = [];
      for (const m of batch.messages) {
        if (a.workload === 'pass') {
          outs.push({ key: m.key, value: m.value, timestamp: m.timestamp });
        } else {
          const key = m.key!.toString();
          const n = (counts.get(key) ?? 0) + 1;
          counts.set(key, n);
          const v = Buffer.alloc(8);
          v.writeBigInt64BE(BigInt(n));
          outs.push({ key: m.key, value: v, timestamp: m.timestamp });
          logs.push({ key: m.key, value: v, timestamp: m.timestamp });
        }
      }
      const topicMessages = [{ topic: a.output, messages: outs }, ...(logs.length ? [{ topic: changelog, messages: logs }] : [])];
      const next = (BigInt(batch.lastOffset()) + 1n).toString();
      if (eos) {
        const tx = await producer.transaction();
        try {
          await tx.sendBatch({ topicMessages });
          await tx.sendOffsets({ consumerGroupId: a.id, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
          await tx.commit();
        } catch (e) {
          await tx.abort().catch(() => undefined);
          throw e;
        }
      } else {
        await producer.sendBatch({ topicMessages });
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      }
      resolveOffset(batch.lastOffset());
      await heartbeat();
      processed += batch.messages.length;
    },
  });
  while (processed < a.records) await new Promise((r) => setTimeout(r, 5));
  await waitOutput(admin, a.output, a.records, () => `kafkajs output of ${a.records}`);
  const tEnd = performance.now();
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  return { t0, tFirst, n0: 0, tEnd };
}

async function child(argv: string[]): Promise<void> {
  const [system, workload, guarantee, input, output, records, id] = argv;
  const a: ChildArgs = { system: system as System, workload: workload as Workload, guarantee: guarantee as Guarantee, input: input!, output: output!, records: Number(records), id: id! };
  const t = a.system === 'kafkajs' ? await childKafkajs(a) : await childEngine(a);
  const ms = t.tEnd - t.t0;
  const steadyPerSec = Math.round((a.records - t.n0) * 1000 / Math.max(1, t.tEnd - (t.tFirst ?? t.t0)));
  process.stdout.write(`${JSON.stringify({ records: a.records, ms: Math.round(ms), recordsPerSec: Math.round(a.records * 1000 / ms), steadyPerSec })}\n`);
  process.exit(0);
}

// ---- parent side ------------------------------------------------------------------------------

/** The input of one workload, produced once and read by every run (each in its own group). */
async function produceInput(admin: Admin, workload: Workload, records: number, keys: number): Promise<string> {
  const topic = `bench-peers-in-${workload}-${randomUUID().slice(0, 8)}`;
  await createTopics(admin, [topic], false);
  const producer = kafka().producer();
  await producer.connect();
  const value = Buffer.alloc(VALUE_BYTES, 'x');
  const chunk = 2000;
  for (let i = 0; i < records; i += chunk) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(records, i + chunk); j++) {
      messages.push(workload === 'pass' ? { key: Buffer.from(`k-${j}`), value } : { key: countKey(j, keys), value: `v-${j}` });
    }
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
  return topic;
}

async function runSystem(admin: Admin, system: System, workload: Workload, guarantee: Guarantee, input: string, records: number): Promise<Run> {
  const id = `bench-peers-${system}-${workload}-${guarantee === 'exactly_once' ? 'eos' : 'alos'}-${randomUUID().slice(0, 8)}`;
  const output = `${id}-out`;
  const extra = system === 'kafkajs' && workload === 'count' ? [`${output}-changelog`] : [];
  await createTopics(admin, [output, ...extra], true);
  try {
    let res;
    if (system === 'kafka-streams') {
      res = await runMeasured('java', ['-cp', STREAMS_CP, 'orderstream.bench.Peer', workload, guarantee === 'exactly_once' ? 'exactly_once_v2' : 'at_least_once',
        BROKERS.join(','), id, input, output, String(records), join('/tmp', 'kafka-peers-state', id)]);
    } else {
      res = await runMeasured(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', system, workload, guarantee, input, output, String(records), id]);
    }
    const j = lastJson<{ ms: number; recordsPerSec: number; steadyPerSec: number }>(res.stdout);
    return { recordsPerSec: j.recordsPerSec, ms: j.ms, cpuSec: Math.round(res.cpuSec * 100) / 100, steadyPerSec: j.steadyPerSec };
  } finally {
    const internal = (await admin.listTopics()).filter((t) => t.startsWith(id));
    await admin.deleteGroups([id]).catch(() => undefined);
    await admin.deleteTopics({ topics: [...new Set([output, ...extra, ...internal])] }).catch(() => undefined);
  }
}

interface BrokerLimit { produce: Run; consume: Run }

/** The broker's own limit with client defaults: kafka-tools' ProducerPerformance and ConsumerPerformance. */
async function brokerLimit(admin: Admin, input: string, records: number): Promise<BrokerLimit> {
  const topic = `bench-peers-perf-${randomUUID().slice(0, 8)}`;
  await createTopics(admin, [topic], false);
  try {
    const p = await runMeasured('java', ['-cp', STREAMS_CP, 'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(records),
      '--record-size', String(VALUE_BYTES), '--throughput', '-1', '--producer-props', `bootstrap.servers=${BROKERS.join(',')}`]);
    const pm = /(\d+) records sent, ([\d.]+) records\/sec/.exec(p.stdout.split('\n').filter((l) => l.includes('records sent')).pop() ?? '');
    if (!pm) throw new Error(`no ProducerPerformance summary in:\n${p.stdout}`);
    const group = `bench-peers-perf-consumer-${randomUUID().slice(0, 8)}`;
    const c = await runMeasured('java', ['-cp', STREAMS_CP, 'org.apache.kafka.tools.ConsumerPerformance', '--bootstrap-server', BROKERS.join(','), '--topic', input,
      '--messages', String(records), '--group', group, '--timeout', '60000']);
    // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, …
    const row = c.stdout.trim().split('\n').filter((l) => /^\d{4}-/.test(l.trim())).pop();
    if (!row) throw new Error(`no ConsumerPerformance row in:\n${c.stdout}`);
    const cols = row.split(',').map((s) => s.trim());
    await admin.deleteGroups([group]).catch(() => undefined);
    const prate = Number(pm[2]);
    const crate = Number(cols[5]);
    return {
      produce: { recordsPerSec: Math.round(prate), ms: Math.round(records * 1000 / prate), cpuSec: p.cpuSec },
      consume: { recordsPerSec: Math.round(crate), ms: Math.round(records * 1000 / crate), cpuSec: c.cpuSec },
    };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const LABEL: Record<System, string> = { engine: 'our engine', 'engine-platformatic': 'our engine (platformatic)', kafkajs: 'plain KafkaJS loop', 'kafka-streams': 'Kafka Streams 3.9.2, 1 thread' };
const COLOR: Record<System, string> = { engine: '#2563eb', 'engine-platformatic': '#7c3aed', kafkajs: '#f59e0b', 'kafka-streams': '#16a34a' };
const rowName = (w: Workload, g: Guarantee, n: number, keys: number) =>
  `${w === 'pass' ? `pass-through, ${fmt(n)} × ${VALUE_BYTES} B` : `count by key, ${fmt(n)} over ${fmt(keys)} keys`}, ${g}`;

/** Grouped horizontal bars, one group per workload row, as an inline SVG (no CDN, no scripts). */
function chartSvg(cells: readonly Cell[], systems: readonly System[], rows: readonly { name: string; w: Workload; g: Guarantee }[], limit: BrokerLimit, title: string): string {
  const barH = 18;
  const groupH = systems.length * (barH + 4) + 26;
  const left = 250;
  const width = 1100;
  const plotW = width - left - 290;
  const max = Math.max(...cells.map((c) => c.recordsPerSec));
  const height = 70 + rows.length * groupH + 40;
  let y = 60;
  const parts: string[] = [`<text x="20" y="30" font-size="18" font-weight="bold">${esc(title)}</text>`,
    `<text x="20" y="50" font-size="12" fill="#555">records/s start to end (median), CPU s of the app process and steady records/s in brackets; broker limit: produce ${fmt(limit.produce.recordsPerSec)}/s, consume ${fmt(limit.consume.recordsPerSec)}/s</text>`];
  for (const r of rows) {
    parts.push(`<text x="20" y="${y + 14}" font-size="13" font-weight="bold">${esc(r.name)}</text>`);
    y += 20;
    for (const s of systems) {
      const c = cells.find((x) => x.workload === r.w && x.guarantee === r.g && x.system === s);
      if (!c) continue;
      const w = Math.max(1, (c.recordsPerSec / max) * plotW);
      parts.push(`<text x="${left - 8}" y="${y + 13}" font-size="12" text-anchor="end">${esc(LABEL[s])}</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLOR[s]}"/>`,
        `<text x="${left + w + 6}" y="${y + 13}" font-size="12">${fmt(c.recordsPerSec)} (${c.cpuSec.toFixed(1)} s; steady ${fmt(c.steadyPerSec ?? 0)})${c.ratio !== undefined && s !== 'kafka-streams' ? `  ${c.ratio.toFixed(2)}×` : ''}</text>`);
      y += barH + 4;
    }
    y += 6;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
}

async function main(): Promise<void> {
  const passRecords = Number(process.argv[2] ?? 100_000);
  const countRecords = Number(process.argv[3] ?? Math.round(passRecords * 0.4));
  const repeats = Number(process.argv[4] ?? 3);
  const keys = Math.max(1, Math.round(countRecords / 2));
  const systems: System[] = ['engine', 'kafkajs', 'kafka-streams'];
  if (process.env.KAFKA_PEERS_PLATFORMATIC === '1') systems.splice(1, 0, 'engine-platformatic');
  ensureJar();
  const admin = kafka().admin();
  await admin.connect();
  const inputs: Record<Workload, string> = {
    pass: await produceInput(admin, 'pass', passRecords, keys),
    count: await produceInput(admin, 'count', countRecords, keys),
  };
  const N: Record<Workload, number> = { pass: passRecords, count: countRecords };
  console.log(`kafka-peers: pass-through ${fmt(passRecords)} × ${VALUE_BYTES} B, count ${fmt(countRecords)} over ${fmt(keys)} keys, ${PARTITIONS} partitions, median of ${repeats}, interleaved`);
  const rows = (['pass', 'count'] as const).flatMap((w) => GUARANTEES.map((g) => ({ name: rowName(w, g, N[w], keys), w, g })));
  const runs = new Map<string, Run[]>();
  const key = (w: Workload, g: Guarantee, s: System) => `${w}/${g}/${s}`;
  try {
    // Interleaved: each repeat runs every system once per row, the order rotating per repeat.
    for (let r = 0; r < repeats; r++) {
      for (const row of rows) {
        const order = systems.map((_, i) => systems[(i + r) % systems.length]!);
        for (const s of order) {
          let run: Run;
          try {
            run = await runSystem(admin, s, row.w, row.g, inputs[row.w], N[row.w]);
          } catch (e) {
            // One system failing (the optional platformatic transport, say) leaves the others' numbers.
            console.log(`  [${r + 1}/${repeats}] ${row.name}: ${LABEL[s]} FAILED: ${(e as Error).message.slice(0, 400)}`);
            continue;
          }
          console.log(`  [${r + 1}/${repeats}] ${row.name}: ${LABEL[s]} ${fmt(run.recordsPerSec)}/s (steady ${fmt(run.steadyPerSec ?? 0)}/s), ${run.cpuSec.toFixed(2)} CPU s`);
          (runs.get(key(row.w, row.g, s)) ?? runs.set(key(row.w, row.g, s), []).get(key(row.w, row.g, s))!).push(run);
        }
      }
    }
    const limit = await brokerLimit(admin, inputs.pass, passRecords);
    const cells: Cell[] = [];
    for (const row of rows) {
      const ksRuns = runs.get(key(row.w, row.g, 'kafka-streams'));
      const ks = ksRuns ? median(ksRuns.map((x) => x.recordsPerSec)) : undefined;
      for (const s of systems) {
        const rs = runs.get(key(row.w, row.g, s));
        if (!rs) continue;
        const rps = median(rs.map((x) => x.recordsPerSec));
        cells.push({ workload: row.w, guarantee: row.g, system: s, records: N[row.w], runs: rs, recordsPerSec: rps, steadyPerSec: median(rs.map((x) => x.steadyPerSec ?? 0)), cpuSec: median(rs.map((x) => x.cpuSec)), ...(ks ? { ratio: Math.round((rps / ks) * 100) / 100 } : {}) });
      }
    }
    const header = `| workload (records/s, median of ${repeats}; CPU s of the app process) | ${systems.map((s) => LABEL[s]).join(' | ')} |`;
    const lines = [header, `|---|${systems.map(() => '---').join('|')}|`];
    for (const row of rows) {
      const cs = systems.map((s) => cells.find((c) => c.workload === row.w && c.guarantee === row.g && c.system === s));
      lines.push(`| ${row.name} | ${cs.map((c) => !c ? 'failed' : `${fmt(c.recordsPerSec)} (${c.cpuSec.toFixed(1)} s)${c.system === 'kafka-streams' || c.ratio === undefined ? '' : ` ${c.ratio.toFixed(2)}×`}`).join(' | ')} |`);
    }
    lines.push('', `Steady records/s (from the first processed record to the end: no start-up, no group join), ratio to Kafka Streams:`, '',
      `| workload | ${systems.map((s) => LABEL[s]).join(' | ')} |`, `|---|${systems.map(() => '---').join('|')}|`);
    for (const row of rows) {
      const cs = systems.map((s) => cells.find((c) => c.workload === row.w && c.guarantee === row.g && c.system === s));
      const ks = cs.find((c) => c?.system === 'kafka-streams')?.steadyPerSec;
      lines.push(`| ${row.name} | ${cs.map((c) => !c ? 'failed' : `${fmt(c.steadyPerSec ?? 0)}${c.system !== 'kafka-streams' && ks ? ` ${((c.steadyPerSec ?? 0) / ks).toFixed(2)}×` : ''}`).join(' | ')} |`);
    }
    lines.push('', `Broker limit (kafka-tools 3.9.2, client defaults, ${fmt(passRecords)} × ${VALUE_BYTES} B, ${PARTITIONS} partitions): ProducerPerformance ${fmt(limit.produce.recordsPerSec)} records/s (${limit.produce.cpuSec.toFixed(1)} s CPU), ConsumerPerformance ${fmt(limit.consume.recordsPerSec)} records/s (${limit.consume.cpuSec.toFixed(1)} s CPU).`);
    lines.push(`Ratios (×) are records/s against Kafka Streams in the same row.`);
    console.log(`\n${lines.join('\n')}`);
    mkdirSync(RESULTS, { recursive: true });
    const json = { date: new Date().toISOString(), brokers: BROKERS, partitions: PARTITIONS, valueBytes: VALUE_BYTES, passRecords, countRecords, keys, repeats, cells, brokerLimit: limit };
    writeFileSync(join(RESULTS, 'kafka-peers.json'), `${JSON.stringify(json, null, 2)}\n`);
    const svg = chartSvg(cells, systems, rows, limit, 'kafka-peers: our engine against KafkaJS and Kafka Streams (same broker, same data)');
    await renderPng(svg, join(RESULTS, 'kafka-peers.png'));
    console.log(`wrote ${join('bench', 'results', 'kafka-peers.json')} and ${join('bench', 'results', 'kafka-peers.png')}`);
  } finally {
    await admin.deleteTopics({ topics: Object.values(inputs) }).catch(() => undefined);
    await admin.disconnect();
  }
}

if (process.argv[2] === '--child') await child(process.argv.slice(3));
else await main();
