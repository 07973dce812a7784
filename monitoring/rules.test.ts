/**
 * The rules load in `promtool check rules` (what Prometheus would refuse at start) and behave as
 * meant under `promtool test rules` (tests/alerts.test.yml: a stopped process, growing lag,
 * a failed commit). promtool comes with Debian's prometheus, which the harness installs.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('./', import.meta.url));
const RULES = readdirSync(`${HERE}rules`).filter((f) => f.endsWith('.yml')).map((f) => `rules/${f}`);

async function promtool(t: import('ava').ExecutionContext, ...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: HERE, timeout: 30_000 });
    return stdout + stderr;
  } catch (e) {
    const err = e as { code?: string; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') t.fail('promtool is not installed: `bash scripts/services up prometheus` installs Debian\'s prometheus');
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

test('the rule files pass promtool check rules', async (t) => {
  t.true(RULES.length > 0);
  const out = await promtool(t, 'check', 'rules', ...RULES);
  t.regex(out, /SUCCESS: \d+ rules found/);
  t.notRegex(out, /FAILED/);
});

test('the alerts fire on the series they are for (promtool test rules)', async (t) => {
  const out = await promtool(t, 'test', 'rules', 'tests/alerts.test.yml');
  t.regex(out, /SUCCESS/);
});

test('the compose files\' Prometheus configuration passes promtool check config', async (t) => {
  t.regex(await promtool(t, 'check', 'config', 'prometheus.compose.yml'), /SUCCESS/);
});
