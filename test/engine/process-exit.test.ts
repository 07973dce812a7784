/** A processor process whose tasks time out through retriable failures exits 2 with the reason. */
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('a process past taskTimeoutMs exits 2 and says why on stderr', async (t) => {
  const worker = fileURLToPath(new URL('./timeout-worker.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', worker], { env: { ...process.env, TASK_TIMEOUT_MS: '300' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  t.regex(stdout, /ready/);
  t.is(code, 2, stderr);
  t.regex(stderr, /re-initialising tasks/);
  t.regex(stderr, /failed: TaskTimeoutFailure: tasks made no progress for \d+ ms \(taskTimeoutMs 300\).*ECONNREFUSED/);
});
