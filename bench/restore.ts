/**
 * Restore: records/s bringing a count store of N entries (default 1,000,000, distinct keys, 8-byte
 * counts) back from its changelog, our engine against Apache Kafka Streams 3.9.2 on the same
 * broker, interleaved rounds. Each system has its own pre-filled changelog with the same records
 * (`<appId>-counts-changelog`, 6 partitions, compacted) and an empty input, so start-up is all
 * restore; every run starts with an empty store (fresh state directory) and restores it whole.
 *
 *   - ours on Kafka, in-memory store and LMDB (`persistent: true`): the engine's own restore
 *     time, `app.metrics.snapshot(task).restoreSeconds` (orderstream_state_restore_seconds_total);
 *   - Kafka Streams, in-memory store and RocksDB (bench/kafka-streams Restore): first
 *     onRestoreStart → last onRestoreEnd of a state restore listener;
 *   - ours on RabbitMQ (the changelog a stream) when the harness RabbitMQ answers.
 *
 * Per run: restore records/s and ms, wall ms from start() to restored, the app process's CPU
 * (whole process, start-up included) and its CPU over start() → restored, and the broker's CPU
 * over the run (/proc of the harness's pid).
 *
 *   eval "$(bash scripts/services env)"
 *   npm run bench -- restore [records=1000000] [repeats=3] [--systems=engine,kafka-streams,…]
 *   npm run bench -- restore --chart      # redraws the PNG from the JSON
 *
 * Writes bench/results/restore.json and bench/results/restore.png.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Transport } from '../transports/index.ts';
import { barsSvg, renderPng } from './chart.ts';
import { BROKERS, STREAMS_CP, createTopics, ensureJar, kafka, sweepKafka } from './lib/kafka.ts';
import { LOADED_MACHINE_NOTE, brokerPid, cpuDuring, lastJson, runMeasured } from './lib/measure.ts';
import { rabbitTransport, rabbitUp, sweepRabbit } from './lib/rabbit.ts';
import { PARTITIONS } from './lib/workloads.ts';
import { median } from './support.ts';

// ---- public shapes of the results file -------------------------------------------------------

export type RestoreSystem = 'engine' | 'engine-lmdb' | 'engine-rabbit' | 'kafka-streams' | 'kafka-streams-rocksdb';

export interface RestoreRun {
  readonly records: number;
  /** Restore records/s: records over the restore's own time. */
  readonly recordsPerSec: number;
  readonly restoreMs: number;
  /** start() to restored, group join and topic checks included. */
  readonly wallMs: number;
  /** The app process's CPU from its start to its exit (runtime start-up included). */
  readonly cpuSec: number;
  /** The app process's CPU from start() to restored. */
  readonly restoreCpuSec: number;
  /** The broker process's CPU over the whole run (other load on the shared broker included). */
  readonly brokerCpuSec?: number;
}

export interface RestoreCell {
  readonly system: RestoreSystem;
  readonly runs: readonly RestoreRun[];
  /** Medians over the runs. */
  readonly recordsPerSec: number;
  readonly restoreMs: number;
  readonly wallMs: number;
  readonly cpuSec: number;
  readonly restoreCpuSec: number;
  readonly brokerCpuSec?: number;
  /** recordsPerSec / Kafka Streams' (in-memory store) recordsPerSec. */
  readonly ratio?: number;
}

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');
const STORE = 'counts';
const LABEL: Record<RestoreSystem, string> = {
  engine: 'our engine, Kafka, memory store',
  'engine-lmdb': 'our engine, Kafka, LMDB store',
  'engine-rabbit': 'our engine, RabbitMQ stream, memory store',
  'kafka-streams': 'Kafka Streams 3.9.2, in-memory store',
  'kafka-streams-rocksdb': 'Kafka Streams 3.9.2, RocksDB store',
};
const COLOR: Record<RestoreSystem, string> = {
  engine: '#2563eb', 'engine-lmdb': '#0891b2', 'engine-rabbit': '#f97316', 'kafka-streams': '#16a34a', 'kafka-streams-rocksdb': '#15803d',
};
const isEngine = (s: RestoreSystem) => s.startsWith('engine');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// ---- child side: our engine restores its store, prints the run ----------------------------------

async function child(argv: string[]): Promise<void> {
  const [transportName, store, appId, input, records, stateDir] = argv as [string, string, string, string, string, string];
  const { Serdes, StreamsApp, StreamsBuilder } = await import('../processors/engine/index.ts');
  let transport: Transport;
  if (transportName === 'rabbit') transport = rabbitTransport();
  else {
    const { KafkaTransport } = await import('../transports/index.ts');
    transport = new KafkaTransport({ brokers: BROKERS, logLevel: 'nothing' });
  }
  const b = new StreamsBuilder();
  b.stream(input, { keySerde: Serdes.string(), valueSerde: Serdes.string() }).groupByKey().count({ storeName: STORE, persistent: store === 'lmdb' });
  const app = new StreamsApp(b.build(), { applicationId: appId, transport, guarantee: 'at_least_once', defaultPartitions: PARTITIONS, stateDir, logger: () => {} });
  const n = Number(records);
  const restored = () => app.metrics.taskIds().reduce((s, t) => s + (app.metrics.snapshot(t)?.restoredRecords ?? 0), 0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await app.start();
  const deadline = t0 + 600_000;
  while (restored() < n) {
    if (performance.now() > deadline || app.state === 'ERROR') throw new Error(`restored ${restored()} of ${n} (state ${app.state})`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // One restore call covers every task assigned together and books its whole time on each of them.
  const restoreMs = Math.max(1, ...app.metrics.taskIds().map((t) => (app.metrics.snapshot(t)?.restoreSeconds ?? 0) * 1000));
  const total = restored();
  process.stdout.write(`${JSON.stringify({ records: total, ms: Math.round(restoreMs), recordsPerSec: Math.round(total * 1000 / restoreMs), wallMs: Math.round(wallMs), restoreCpuSec: Math.round((cpu.user + cpu.system) / 1e4) / 100 })}\n`);
  await app.close();
  await transport.close();
  process.exit(0);
}

// ---- the chart (also `npm run bench -- restore --chart`: redrawn from the results file) ----------

interface RestoreResults { readonly note: string; readonly records: number; readonly repeats: number; readonly cells: readonly RestoreCell[] }

async function renderChart(r: RestoreResults): Promise<void> {
  const svg = barsSvg(`restore: ${fmt(r.records)} store entries from their changelog`,
    [`restore records/s (median of ${r.repeats}); CPU s of the app from start() to restored; × Kafka Streams with an in-memory store.`, r.note],
    [{ name: 'restore records/s', bars: r.cells.map((c) => ({ label: LABEL[c.system], value: c.recordsPerSec, color: COLOR[c.system], note: `(${c.restoreCpuSec.toFixed(1)} s CPU)${c.ratio !== undefined && c.system !== 'kafka-streams' ? `  ${c.ratio.toFixed(2)}×` : ''}` })) }]);
  await renderPng(svg, join(RESULTS, 'restore.png'));
}

// ---- parent side ------------------------------------------------------------------------------

/** The changelog a store of `records` counts leaves: key-i → 8-byte big-endian count, both systems' serdes. */
async function fillChangelog(transport: Transport, topic: string, records: number): Promise<void> {
  await transport.admin().createTopics([{ name: topic, partitions: PARTITIONS, kind: 'replayable', compacted: true }]);
  const producer = transport.producer();
  await producer.connect();
  const chunk = 20_000;
  try {
    for (let i = 0; i < records; i += chunk) {
      const batch = [];
      for (let j = i; j < Math.min(records, i + chunk); j++) {
        const value = Buffer.alloc(8);
        value.writeBigInt64BE(BigInt(j % 97 + 1));
        batch.push({ topic, key: Buffer.from(`key-${j}`), value });
      }
      await producer.send(batch);
    }
  } finally {
    await producer.disconnect();
  }
}

interface Setup { readonly appId: string; readonly input: string }

async function runSystem(system: RestoreSystem, setup: Setup, records: number, prefix: string): Promise<RestoreRun> {
  const stateDir = join(tmpdir(), 'bench-restore', `${prefix}-${randomUUID().slice(0, 8)}`);
  const broker = brokerPid(system === 'engine-rabbit' ? 'rabbit' : 'kafka');
  try {
    const { result: res, cpuSec: brokerCpuSec } = await cpuDuring(broker, () => (isEngine(system)
      ? runMeasured(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', system === 'engine-rabbit' ? 'rabbit' : 'kafka',
        system === 'engine-lmdb' ? 'lmdb' : 'memory', setup.appId, setup.input, String(records), stateDir])
      : runMeasured('java', ['-cp', STREAMS_CP, 'orderstream.bench.Restore', system === 'kafka-streams' ? 'memory' : 'rocksdb', BROKERS.join(','),
        setup.appId, setup.input, String(records), stateDir])));
    const j = lastJson<{ records: number; ms: number; recordsPerSec: number; wallMs: number; restoreCpuSec: number }>(res.stdout);
    if (j.records < records) throw new Error(`restored ${j.records} of ${records}`);
    return { records: j.records, recordsPerSec: j.recordsPerSec, restoreMs: j.ms, wallMs: j.wallMs, cpuSec: Math.round(res.cpuSec * 100) / 100, restoreCpuSec: j.restoreCpuSec, ...(brokerCpuSec !== undefined ? { brokerCpuSec } : {}) };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // --systems=engine,kafka-streams picks some of them (by RestoreSystem name); positionals as before.
  const only = process.argv.find((a) => a.startsWith('--systems='))?.slice('--systems='.length).split(',');
  const [recordsArg, repeatsArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const records = Number(recordsArg ?? 1_000_000);
  const repeats = Number(repeatsArg ?? 3);
  if (!(records > 0) || !(repeats > 0)) throw new Error('usage: npm run bench -- restore [records=1000000] [repeats=3] [--systems=engine,kafka-streams,…]');
  ensureJar();
  const prefix = `bench-restore-${randomUUID().slice(0, 8)}`;
  const admin = kafka('bench-restore').admin();
  await admin.connect();
  const { KafkaTransport } = await import('../transports/index.ts');
  const kafkaT = new KafkaTransport({ brokers: BROKERS, logLevel: 'nothing' });
  const wanted = (s: RestoreSystem) => !only || only.includes(s);
  const withRabbit = wanted('engine-rabbit') && await rabbitUp();
  const rabbitT = withRabbit ? rabbitTransport() : undefined;
  const systems = (['engine', 'kafka-streams', 'engine-lmdb', 'kafka-streams-rocksdb', ...(withRabbit ? ['engine-rabbit' as const] : [])] as RestoreSystem[]).filter(wanted);
  // Ours share one changelog on Kafka (memory and LMDB), Kafka Streams' two stores another.
  const setups: Record<RestoreSystem, Setup> = {
    engine: { appId: `${prefix}-ours`, input: `${prefix}-ours-in` },
    'engine-lmdb': { appId: `${prefix}-ours`, input: `${prefix}-ours-in` },
    'engine-rabbit': { appId: `${prefix}-rabbit`, input: `${prefix}-rabbit-in` },
    'kafka-streams': { appId: `${prefix}-ks`, input: `${prefix}-ks-in` },
    'kafka-streams-rocksdb': { appId: `${prefix}-ks`, input: `${prefix}-ks-in` },
  };
  const runs = new Map<RestoreSystem, RestoreRun[]>();
  try {
    console.log(`restore: ${fmt(records)} entries, ${PARTITIONS} partitions, median of ${repeats}, interleaved: ${systems.join(', ')}${wanted('engine-rabbit') && !withRabbit ? ' (RabbitMQ not reachable: skipped)' : ''}`);
    const t = performance.now();
    for (const s of ['engine', 'kafka-streams'] as const) {
      if (!systems.some((x) => setups[x].appId === setups[s].appId)) continue;
      await createTopics(admin, [setups[s].input], { partitions: PARTITIONS });
      await fillChangelog(kafkaT, `${setups[s].appId}-${STORE}-changelog`, records);
    }
    if (rabbitT) {
      const s = setups['engine-rabbit'];
      await rabbitT.admin().createTopics([{ name: s.input, partitions: PARTITIONS, kind: 'work' }]);
      await fillChangelog(rabbitT, `${s.appId}-${STORE}-changelog`, records);
    }
    console.log(`  changelogs filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    for (let r = 0; r < repeats; r++) {
      const order = systems.map((_, i) => systems[(i + r) % systems.length]!);
      for (const s of order) {
        let run: RestoreRun;
        try {
          run = await runSystem(s, setups[s], records, prefix);
        } catch (e) {
          console.log(`  [${r + 1}/${repeats}] ${LABEL[s]} FAILED: ${(e as Error).message.slice(0, 600)}`);
          continue;
        }
        console.log(`  [${r + 1}/${repeats}] ${LABEL[s]}: ${fmt(run.recordsPerSec)} records/s (${fmt(run.restoreMs)} ms; wall ${fmt(run.wallMs)} ms), CPU ${run.restoreCpuSec.toFixed(2)} s in restore / ${run.cpuSec.toFixed(2)} s process, broker ${run.brokerCpuSec?.toFixed(2) ?? '?'} s`);
        (runs.get(s) ?? runs.set(s, []).get(s)!).push(run);
      }
    }
    const ksRuns = runs.get('kafka-streams');
    const ks = ksRuns ? median(ksRuns.map((x) => x.recordsPerSec)) : undefined;
    const cells: RestoreCell[] = systems.filter((s) => runs.has(s)).map((s) => {
      const rs = runs.get(s)!;
      const rps = median(rs.map((x) => x.recordsPerSec));
      const broker = rs.flatMap((x) => (x.brokerCpuSec === undefined ? [] : [x.brokerCpuSec]));
      return {
        system: s, runs: rs, recordsPerSec: rps, restoreMs: median(rs.map((x) => x.restoreMs)), wallMs: median(rs.map((x) => x.wallMs)),
        cpuSec: median(rs.map((x) => x.cpuSec)), restoreCpuSec: median(rs.map((x) => x.restoreCpuSec)),
        ...(broker.length ? { brokerCpuSec: median(broker) } : {}), ...(ks ? { ratio: Math.round((rps / ks) * 100) / 100 } : {}),
      };
    });
    const lines = [
      `| system (${fmt(records)} entries, median of ${repeats}) | restore records/s | × Kafka Streams (memory) | restore ms | start → restored ms | CPU s start → restored | CPU s process | records per CPU-second | broker CPU s |`,
      '|---|---|---|---|---|---|---|---|---|',
      ...cells.map((c) => `| ${LABEL[c.system]} | ${fmt(c.recordsPerSec)} | ${c.ratio?.toFixed(2) ?? '–'}× | ${fmt(c.restoreMs)} | ${fmt(c.wallMs)} | ${c.restoreCpuSec.toFixed(2)} | ${c.cpuSec.toFixed(2)} | ${fmt(records / Math.max(0.01, c.restoreCpuSec))} | ${c.brokerCpuSec?.toFixed(2) ?? '–'} |`),
      '', LOADED_MACHINE_NOTE,
    ];
    console.log(`\n${lines.join('\n')}`);
    mkdirSync(RESULTS, { recursive: true });
    const json = { date: new Date().toISOString(), note: LOADED_MACHINE_NOTE, brokers: BROKERS, partitions: PARTITIONS, records, repeats, cells };
    writeFileSync(join(RESULTS, 'restore.json'), `${JSON.stringify(json, null, 2)}\n`);
    await renderChart(json);
    console.log(`wrote ${join('bench', 'results', 'restore.json')} and ${join('bench', 'results', 'restore.png')}`);
  } finally {
    await sweepKafka(admin, prefix).catch((e: unknown) => console.log(`cleaning up Kafka: ${(e as Error).message}`));
    if (rabbitT) await sweepRabbit(rabbitT, prefix).catch((e: unknown) => console.log(`cleaning up RabbitMQ: ${(e as Error).message}`));
    await admin.disconnect();
    await kafkaT.close();
    await rabbitT?.close();
  }
}

if (process.argv[2] === '--child') await child(process.argv.slice(3));
else if (process.argv[2] === '--chart') await renderChart(JSON.parse(readFileSync(join(RESULTS, 'restore.json'), 'utf8')) as RestoreResults);
else await main();
