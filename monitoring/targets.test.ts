import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSdGroups, removeTargets, writeTargets } from './targets.ts';

test('one file_sd group per process, labelled with the process', (t) => {
  t.deepEqual(fileSdGroups([{ process: 'order', port: 9101 }, { process: 'gateway', port: 8080, host: '::1', labels: { run: 'r1' } }]), [
    { targets: ['127.0.0.1:9101'], labels: { process: 'order' } },
    { targets: ['[::1]:8080'], labels: { run: 'r1', process: 'gateway' } },
  ]);
  t.throws(() => fileSdGroups([{ process: 'x', port: 0 }]), { message: /not a TCP port/ });
  t.throws(() => fileSdGroups([{ process: 'x', port: 1, labels: { 'bad-name': 'v' } }]), { message: /not a Prometheus label name/ });
});

test('written whole under its name (no temporary left), removed again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'targets-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = await writeTargets(dir, 'run-1', [{ process: 'stock', port: 9102 }]);
  t.deepEqual(JSON.parse(await readFile(path, 'utf8')), [{ targets: ['127.0.0.1:9102'], labels: { process: 'stock' } }]);
  t.deepEqual(await readdir(dir), ['run-1.json']);
  await removeTargets(path);
  t.deepEqual(await readdir(dir), []);
  await t.throwsAsync(writeTargets(dir, '../escape', []), { message: /letters, digits/ });
});
