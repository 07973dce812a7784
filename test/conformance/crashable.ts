/** Crashable consumers: a child process killed with SIGKILL, or an in-process memory consumer crashed. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MemoryConsumer, type Transport } from '../../transports/index.ts';
import type { CrashableConsumer, SeenRecord } from './suite.ts';

const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));

export async function crashableProcess(env: Record<string, string>, spec: { topic: string; groupId: string; commit: boolean }): Promise<CrashableConsumer> {
  const seen: SeenRecord[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', worker], {
    env: { ...process.env, ...env, WORKER_TOPIC: spec.topic, WORKER_GROUP: spec.groupId, WORKER_COMMIT: spec.commit ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; p: number; o: number; v: string };
      if (m.ready) resolve();
      else seen.push({ partition: m.p, offset: m.o, value: m.v });
    });
  });
  await ready;
  return {
    seen: () => seen,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function crashableInProcess(transport: Transport, spec: { topic: string; groupId: string; commit: boolean }): Promise<CrashableConsumer> {
  const seen: SeenRecord[] = [];
  const consumer = transport.consumer({ groupId: spec.groupId, topics: [spec.topic], maxBatchSize: 50 });
  if (!(consumer instanceof MemoryConsumer)) throw new Error('in-process crashes are for the memory transport');
  await consumer.connect();
  await consumer.run(async (batch) => {
    for (const r of batch.records) seen.push({ partition: r.partition, offset: r.offset, value: r.value!.toString() });
    const last = batch.records[batch.records.length - 1]!;
    if (spec.commit) await consumer.commit([{ topic: spec.topic, partition: batch.partition, offset: last.offset + 1 }]);
    await new Promise((r) => setTimeout(r, 5));
  });
  return { seen: () => seen, kill: () => consumer.crash() };
}
