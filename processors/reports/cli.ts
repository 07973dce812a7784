/**
 * `npm run report -- --from YYYY-MM-DD --to YYYY-MM-DD`: rebuilds the windows starting on those
 * days (inclusive) from the topics, into the storage the environment names (storage.ts), with a
 * progress line on stderr. Broker, registry and topic prefix as for any processor
 * (processors/common/process.ts); REPORT_WINDOW_MS / REPORT_GRACE_MS as the processor's.
 */
import { parseArgs } from 'node:util';
import { wiringFromEnv } from '../common/index.ts';
import { reportStorageFromEnv } from './storage.ts';
import { rebuildWindows } from './rebuild.ts';
import { reportWindowsFromEnv } from './index.ts';
import { DAY_MS } from './topology.ts';

function day(name: string, value: string | undefined): number {
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new Error(`--${name} must be a date YYYY-MM-DD, not ${JSON.stringify(value)}`);
  }
  return Date.parse(`${value}T00:00:00Z`);
}

function bar(phase: string, done: number, total: number): void {
  const width = 30;
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  process.stderr.write(`\r${phase.padEnd(6)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}   `);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' } } });
  const fromMs = day('from', values.from);
  const toMs = day('to', values.to ?? values.from) + DAY_MS;
  if (toMs <= fromMs) throw new Error('--to must not be before --from');
  const { transport, contracts } = wiringFromEnv(process.env);
  const storage = reportStorageFromEnv(process.env);
  let phase = '';
  try {
    const windows = await rebuildWindows({
      transport, contracts, storage, windows: reportWindowsFromEnv(process.env), fromMs, toMs,
      onProgress: (p) => {
        if (p.phase !== phase) { if (phase) process.stderr.write('\n'); phase = p.phase; }
        bar(p.phase, p.done, p.total);
      },
    });
    process.stderr.write('\n');
    for (const w of windows) process.stdout.write(`${new Date(w.windowStart).toISOString()}: ${Object.keys(w.orders).length} orders → ${storage.name}\n`);
    if (windows.length === 0) process.stdout.write('no orders in that range\n');
  } finally {
    await transport.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`\nreport: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
