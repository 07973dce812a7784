/**
 * CPU accounting of the peer benchmarks: a child run under bash that reports the child's CPU
 * (utime+stime as the kernel counts it, start-up included), and the CPU of a long-running process
 * (a broker of the services harness) read from /proc by pid, before and after a run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/**
 * Runs a command under bash, which reports the CPU of its waited-for children (cutime+cstime of
 * /proc/<bash>/stat) after the command exits: the app's own CPU, start-up to exit.
 */
export async function runMeasured(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; cpuSec: number }> {
  const script = '"$@"; rc=$?; echo "@@CPU $(cut -d" " -f16,17 /proc/$$/stat)"; exit $rc';
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', script, 'bash', cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /@@CPU (\d+) (\d+)/.exec(stdout);
      if (code !== 0 || !m) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr.slice(-3000)}\n${stdout.slice(-1000)}`));
      resolve({ stdout: stdout.replace(m[0], ''), cpuSec: (Number(m[1]) + Number(m[2])) / CLK_TCK });
    });
  });
}

/** The last line of a child's stdout that is a JSON object: its result. */
export function lastJson<T = Record<string, number>>(stdout: string): T {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`no JSON result in:\n${stdout.slice(-1000)}`);
  return JSON.parse(line) as T;
}

/** utime+stime of a live process in seconds (fields 14 and 15 of /proc/<pid>/stat), undefined if gone. */
export function processCpuSec(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/**
 * The pid of a harness service's broker process (scripts/services writes <dir>/pids/<name>.pid):
 * Kafka's pid is the JVM itself; RabbitMQ's is the rabbitmq-server script, whose child beam.smp
 * is the broker. Undefined when the harness has no such service running here.
 */
export function brokerPid(service: 'kafka' | 'rabbit', servicesDir = process.env.ORDERSTREAM_SERVICES_DIR ?? join(import.meta.dirname, '..', '..', '.services')): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(servicesDir, 'pids', `${service}.pid`), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (processCpuSec(pid) === undefined) return undefined;
  if (service === 'kafka') return pid;
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  return children.find((c) => readFileSync(`/proc/${c}/comm`, 'utf8').trim().startsWith('beam')) ?? pid;
}

/** CPU seconds a process burns while `run` runs (undefined without a pid or if it went away). */
export async function cpuDuring<T>(pid: number | undefined, run: () => Promise<T>): Promise<{ result: T; cpuSec: number | undefined }> {
  const before = pid === undefined ? undefined : processCpuSec(pid);
  const result = await run();
  const after = pid === undefined ? undefined : processCpuSec(pid);
  return { result, cpuSec: before === undefined || after === undefined ? undefined : Math.round((after - before) * 100) / 100 };
}

/**
 * Said in every results file and table of these benches: the machine is shared. BENCH_NOTE
 * replaces it (say, on a quiet machine).
 */
export const LOADED_MACHINE_NOTE = process.env.BENCH_NOTE
  ?? 'Measured on a shared, loaded 2-core machine (other sessions\' tests and benchmarks running beside it): read the ratios within one run, not the absolute numbers.';
